"""The project's own scenario runner: a scenario file (events in, numbers out; the format of
docs/testing.md) played over real HTTP against a real server, with the clock pinned.

The server runs in this process over the test's database, on a clock that starts at the
scenario's T and then runs with real time, so a scenario reads the same at any hour and on any
date the suite runs, and T can be chosen (the end of a year, a DST night)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatpulse.store import sites
from tests.support import Server

TIME_TOKEN = re.compile(r"\{([TL])([+-]\d+(?:\.\d+)?)?\}")
TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$")
METHODS = ("get", "post", "put", "delete", "events")
EVENTS_PATH = "/api/v3/livechat/events"


@dataclass(frozen=True, slots=True)
class Moment:
    """The scenario's T (UTC, whole second) and the offset that shows T at `localTimeAtT`."""

    t: dt.datetime
    offset_minutes: int

    @classmethod
    def at(cls, t: dt.datetime, local_time_at_t: str) -> Moment:
        hours, minutes = (int(part) for part in local_time_at_t.split(":"))
        offset = hours * 60 + minutes - (t.hour * 60 + t.minute)
        # Into the range utcOffset accepts, -720…840 minutes (the largest that fits).
        while offset > 840:
            offset -= 1440
        while offset < -720:
            offset += 1440
        return cls(t.replace(microsecond=0), offset)

    def utc(self, seconds: float) -> str:
        moment = self.t + dt.timedelta(seconds=seconds)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def local(self, seconds: float) -> str:
        moment = self.t + dt.timedelta(seconds=seconds, minutes=self.offset_minutes)
        return moment.strftime("%Y-%m-%dT%H:%M:%S")

    def local_date(self) -> str:
        return (self.t + dt.timedelta(minutes=self.offset_minutes)).strftime("%Y-%m-%d")


def substitute(value: Any, moment: Moment, ids: dict[str, int | None]) -> Any:
    """{T±s}, {L±s}, {DATE}, {OFFSET}, {SITE} and {OTHER_SITE} filled in, recursively. A string
    that is exactly {OFFSET}, {SITE} or {OTHER_SITE} becomes the integer itself."""
    if isinstance(value, dict):
        return {key: substitute(item, moment, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, moment, ids) for item in value]
    if not isinstance(value, str):
        return value
    whole = {"{OFFSET}": moment.offset_minutes, **{"{" + k + "}": v for k, v in ids.items()}}
    if value in whole:
        return whole[value]

    def one(match: re.Match[str]) -> str:
        seconds = float(match.group(2) or 0)
        return moment.utc(seconds) if match.group(1) == "T" else moment.local(seconds)

    text = TIME_TOKEN.sub(one, value)
    text = text.replace("{OFFSET}", str(moment.offset_minutes)).replace(
        "{DATE}", moment.local_date()
    )
    for key, number in ids.items():
        text = text.replace("{" + key + "}", "" if number is None else str(number))
    return text


# ---------------------------------------------------------------- matching


def timespan_seconds(text: object) -> float | None:
    """Seconds of a .NET TimeSpan text (`[-][d.]hh:mm:ss[.fffffff]`), None if it is not one."""
    match = TIMESPAN.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    sign, days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds) > 59:
        return None
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    total += int((fraction or "0").ljust(7, "0")) / 10_000_000
    return -total if sign else total


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(value: object) -> str:
    return json.dumps(value)[:200]


def mismatches(expected: Any, actual: Any, path: str = "body") -> list[str]:
    """Every way `actual` differs from `expected` (exact JSON, or a `$` matcher)."""
    if isinstance(expected, dict) and expected and next(iter(expected)).startswith("$"):
        return _matcher(expected, actual, path)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_show(actual)}"]
        out = [f"{path}.{key}: missing" for key in expected.keys() - actual.keys()]
        out += [f"{path}.{key}: unexpected field" for key in actual.keys() - expected.keys()]
        for key in expected.keys() & actual.keys():
            out += mismatches(expected[key], actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {_show(actual)}"]
        out = []
        if len(expected) != len(actual):
            out.append(f"{path}: expected {len(expected)} items, got {len(actual)}")
        for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
            out += mismatches(want, got, f"{path}[{i}]")
        return out
    if _number(expected) and _number(actual):
        close = math.isclose(expected, actual, rel_tol=0, abs_tol=1e-9)
        return [] if close else [f"{path}: expected {expected}, got {actual}"]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: expected {_show(expected)}, got {_show(actual)}"]
    return []


TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "null": type(None),
}


def _matcher(spec: dict[str, Any], actual: Any, path: str) -> list[str]:
    kind, arg = next(iter(spec.items()))
    tolerance = spec.get("tol", 0) + 1e-9
    if kind == "$any":
        return []
    if kind == "$approx":
        ok = _number(actual) and abs(actual - arg) <= tolerance
        return [] if ok else [f"{path}: expected {arg} ± {spec.get('tol', 0)}, got {_show(actual)}"]
    if kind == "$timespan":
        seconds = timespan_seconds(actual)
        ok = seconds is not None and abs(seconds - arg) <= tolerance
        return [] if ok else [f"{path}: expected a TimeSpan of {arg} s, got {_show(actual)}"]
    if kind in ("$ge", "$le"):
        ok = _number(actual) and (actual >= arg if kind == "$ge" else actual <= arg)
        return [] if ok else [f"{path}: expected {kind[1:]} {arg}, got {_show(actual)}"]
    if kind == "$type":
        ok = _number(actual) if arg == "number" else isinstance(actual, TYPES[arg])
        return [] if ok else [f"{path}: expected a {arg}, got {_show(actual)}"]
    if kind == "$len":
        ok = isinstance(actual, list | dict | str) and len(actual) == arg
        return [] if ok else [f"{path}: expected length {arg}, got {_show(actual)}"]
    if kind == "$partial":
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_show(actual)}"]
        out = []
        for key, want in arg.items():
            out += (
                mismatches(want, actual[key], f"{path}.{key}")
                if key in actual
                else [f"{path}.{key}: missing"]
            )
        return out
    if kind == "$has":
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {_show(actual)}"]
        return [
            f"{path}: no item matches {_show(want)}"
            for want in arg
            if not any(not mismatches(_partial(want), item) for item in actual)
        ]
    return [f"{path}: unknown matcher {kind}"]


def _partial(wanted: Any) -> Any:
    plain_object = isinstance(wanted, dict) and not next(iter(wanted), "").startswith("$")
    return {"$partial": wanted} if plain_object else wanted


# ---------------------------------------------------------------- running


@dataclass
class Run:
    """One scenario's site, tokens and collected failures."""

    name: str
    moment: Moment
    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, int | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _token(server: Server, site_id: int, scopes: list[str]) -> str:
    _, secret = sites.create_token(server.engine, site_id, "scenario", tuple(scopes), 0)
    return secret


def _prepare(scenario: dict[str, Any], name: str, server: Server, t: dt.datetime) -> Run:
    run = Run(name, Moment.at(t, scenario.get("localTimeAtT", "12:00")))
    now = server.clock.now()
    site = sites.create_site(
        server.engine, scenario.get("name", name), scenario.get("timeZone", "UTC"), now
    )
    scopes = scenario.get("scopes", list(sites.ALL_SCOPES))
    run.tokens = {"none": None, "default": _token(server, site.id, scopes)}
    for label, extra in scenario.get("tokens", {}).items():
        run.tokens[label] = _token(server, site.id, extra)
    run.ids = {"SITE": site.id, "OTHER_SITE": None}
    if scenario.get("otherSite"):
        other = sites.create_site(server.engine, f"{name} (other)", "UTC", now)
        run.tokens["other"] = _token(server, other.id, scopes)
        run.ids["OTHER_SITE"] = other.id
    return run


def _envelopes(run: Run, events: list[dict[str, Any]], step: int) -> list[dict[str, Any]]:
    out = []
    for i, event in enumerate(events):
        envelope = {key: value for key, value in event.items() if key != "at"}
        if "at" in event:
            envelope["occurredAt"] = run.moment.utc(float(event["at"]))
        envelope.setdefault("id", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run.name}/{step}/{i}")))
        out.append(envelope)
    return out


def _query(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}


def play(path: Path, server: Server, t: dt.datetime) -> list[str]:
    """Run one scenario file at T = `t` against `server`; the list of failures (empty: passed)."""
    scenario = json.loads(path.read_text())
    run = _prepare(scenario, path.stem, server, t)
    with server.client() as http:
        for n, raw_step in enumerate(scenario["steps"]):
            step = substitute(raw_step, run.moment, run.ids)
            label = step.get("label", f"step {n + 1}")
            kind = next(m for m in METHODS if m in step)
            method, target = (
                ("POST", EVENTS_PATH) if kind == "events" else (kind.upper(), step[kind])
            )
            headers = dict(step.get("headers", {}))
            token = run.tokens[step.get("as", "default")]
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            content: bytes | None = None
            if kind == "events":
                content = json.dumps(_envelopes(run, step["events"], n)).encode()
                headers["Content-Type"] = "application/json"
            elif "rawBody" in step:
                content = step["rawBody"].encode()
                headers["Content-Type"] = step.get("contentType", "application/json")
            elif "body" in step:
                content = json.dumps(step["body"]).encode()
                headers["Content-Type"] = "application/json"
            response = http.request(
                method,
                target,
                params=_query(step.get("query", {})),
                content=content,
                headers=headers,
            )
            body = response.json() if response.content else None
            problems = []
            if response.status_code != step.get("status", 200):
                problems.append(
                    f"status: expected {step.get('status', 200)}, got {response.status_code}: "
                    f"{response.text[:300]}"
                )
            if "expect" in step:
                problems += mismatches(step["expect"], body)
            run.failures += [f"{label} ({method} {target}): {p}" for p in problems]
    return run.failures
