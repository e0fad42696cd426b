"""Alert webhooks end to end, on SQLite and PostgreSQL: a real server (its dispatcher sending
over real HTTP) and real receivers; transitions written by the real storage (store/alerts.py)."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from chatpulse.domain.alert_webhooks import verify
from chatpulse.store import alert_webhooks as store
from tests.fakes.webhook_receiver import Answer, Received, always, failing_first, receiving
from tests.integration.alerts.webhook_support import (
    WEBHOOKS,
    Flipper,
    create_webhook,
    deliveries,
    outbox,
    settled,
    wait_until,
)
from tests.support import T_MICROS, RunningClock, Server, SiteClient, new_site, running_server

DOCS = Path(__file__).resolve().parents[3] / "docs" / "alert_webhooks.md"
FAST = {
    # The tests move the rules' states by hand (webhook_support.Flipper): no evaluator judging
    # the same rules from the figures.
    "alert_evaluation": False,
    "alert_webhooks_allow_private": True,  # the receivers are on loopback
    "alert_webhook_retry_base_ms": 50,
    "alert_webhook_retry_cap_ms": 200,
    "alert_webhook_timeout_ms": 2000,
}


@pytest.fixture
def clock() -> RunningClock:
    return RunningClock(T_MICROS)


@pytest.fixture
def serve(engine: Engine, clock: RunningClock) -> Iterator[Callable[..., Server]]:
    """Start a server with FAST settings, overridden by the keywords given."""
    with ExitStack() as stack:

        def start(**settings: Any) -> Server:
            return stack.enter_context(running_server(engine, clock, **{**FAST, **settings}))

        yield start


@pytest.fixture
def hooks(serve: Callable[..., Server]) -> Iterator[SiteClient]:
    client = new_site(serve())
    yield client
    client.http.close()


def flipper(site: SiteClient) -> Flipper:
    return Flipper(site.server.engine, site.site_id, site.server.clock)


def metric(site: SiteClient, outcome: str) -> float:
    text = site.http.get("/metrics").text
    pattern = rf'^chatpulse_alert_webhook_deliveries_total\{{outcome="{outcome}"\}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


# ---------------------------------------------------------------- configuration


def test_a_webhook_is_created_listed_read_and_deleted(hooks: SiteClient) -> None:
    created = create_webhook(
        hooks, "https://hooks.example/in", secret="s" * 16, severities=["critical"]
    )
    webhook_id = created["id"]
    assert created == {
        "id": webhook_id,
        "name": "Ops",
        "url": "https://hooks.example/in",
        "severities": ["critical"],
        "createdTime": created["createdTime"],
        "secret": "s" * 16,
    }
    assert created["createdTime"].startswith("2026-11-24T12:00:")
    public = {k: v for k, v in created.items() if k != "secret"}
    assert hooks.get(WEBHOOKS) == [public]
    assert hooks.get(f"{WEBHOOKS}/{webhook_id}") == {**public, "pending": 0, "lastDelivery": None}
    assert hooks.get(f"{WEBHOOKS}/{webhook_id}/deliveries") == {"list": [], "nextAfter": 0}
    assert hooks.http.delete(f"{WEBHOOKS}/{webhook_id}").status_code == 204
    assert hooks.get(WEBHOOKS) == []
    for method, path in (
        ("GET", f"{WEBHOOKS}/{webhook_id}"),
        ("DELETE", f"{WEBHOOKS}/{webhook_id}"),
        ("GET", f"{WEBHOOKS}/{webhook_id}/deliveries"),
        ("GET", f"{WEBHOOKS}/not-a-uuid"),
    ):
        response = hooks.http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["errors"] == [{"field": "id", "message": "not found"}]


def test_a_generated_secret_and_both_severities_by_default(hooks: SiteClient) -> None:
    given_id = str(uuid.uuid4()).upper()
    created = create_webhook(hooks, "http://127.0.0.1:9/x", id=given_id)
    assert created["id"] == given_id.lower()
    assert created["severities"] == ["warning", "critical"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", created["secret"])
    again = hooks.http.post(WEBHOOKS, json={"name": "x", "url": "http://a.example", "id": given_id})
    assert again.status_code == 409
    assert again.json()["errors"] == [{"field": "id", "message": "is already taken"}]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"url": "https://a.example"}, [{"field": "name", "message": "is required"}]),
        ({"name": "x"}, [{"field": "url", "message": "is required"}]),
        (
            {"name": "x", "url": "https://a.example", "colour": "red"},
            [{"field": "colour", "message": "is not a known field"}],
        ),
        (
            {"name": " ", "url": "ftp://a.example", "secret": "short", "severities": []},
            [
                {"field": "name", "message": "must not be empty"},
                {"field": "url", "message": "must be an http:// or https:// URL with a host"},
                {"field": "secret", "message": "must be 16 to 200 characters"},
                {"field": "severities", "message": "must name warning, critical or both"},
            ],
        ),
        (
            {"name": "n" * 201, "url": "https://a.example/" + "p" * 2000, "severities": ["ok"]},
            [
                {"field": "name", "message": "must be at most 200 characters"},
                {"field": "url", "message": "must be at most 2000 characters"},
                {"field": "severities", "message": "'ok' is not warning or critical"},
            ],
        ),
        (
            {"name": "x", "url": "https://a.example", "id": "nope"},
            [{"field": "id", "message": "must be a UUID"}],
        ),
        (
            {"name": 5, "url": "https://a.example"},
            [{"field": "name", "message": "must be a string"}],
        ),
    ],
)
def test_an_invalid_body_is_a_422_naming_each_field(
    hooks: SiteClient, body: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    response = hooks.http.post(WEBHOOKS, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == errors
    assert hooks.get(WEBHOOKS) == []


def test_private_and_loopback_addresses_are_refused_unless_allowed(
    serve: Callable[..., Server],
) -> None:
    site = new_site(serve(alert_webhooks_allow_private=False))
    cases = {
        "http://127.0.0.1:8080/hook": "127.0.0.1: loopback",
        "http://localhost/hook": ": loopback",
        "https://[::1]/hook": "::1: loopback",
        "http://169.254.169.254/latest/meta-data": "169.254.169.254: link-local",
        "http://10.1.2.3/": "10.1.2.3: private",
        "http://100.64.0.1/": "100.64.0.1: shared (carrier-grade NAT)",
        "http://[::ffff:192.168.0.1]/": "192.168.0.1: private",
        "http://0.0.0.0/": "0.0.0.0: unspecified",
    }
    for url, reason in cases.items():
        response = site.http.post(WEBHOOKS, json={"name": "x", "url": url})
        assert response.status_code == 422, url
        (error,) = response.json()["errors"]
        assert error["field"] == "url"
        assert error["message"].startswith("resolves to a private or loopback address ("), url
        assert reason in error["message"], (url, error)
        assert error["message"].endswith(
            "allowed only when CHATPULSE_ALERT_WEBHOOKS_ALLOW_PRIVATE is true"
        )
    unknown = site.http.post(WEBHOOKS, json={"name": "x", "url": "https://no-such-host.invalid/"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "url", "message": "host no-such-host.invalid does not resolve"}
    ]
    assert site.get(WEBHOOKS) == []
    public = site.http.post(WEBHOOKS, json={"name": "x", "url": "https://93.184.215.14/hook"})
    assert public.status_code == 201, public.text
    site.http.close()


# ---------------------------------------------------------------- delivery


def test_a_delivery_is_signed_and_logged_and_the_docs_snippet_verifies_it(
    hooks: SiteClient,
) -> None:
    delivered_before = metric(hooks, "delivered")
    with receiving(always(200)) as receiver:
        hook = create_webhook(hooks, receiver.url)
        transition = flipper(hooks).to("warning", 7)
        receiver.wait_for(lambda got: len(got) == 1)
        wait_until(settled(hooks, hook["id"], 1), what="delivered")
    (request,) = receiver.received()
    (row,) = outbox(hooks.server.engine, hook["id"])
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.body == row.body.encode()  # the stored body, byte for byte
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "ChatPulse-Alerts/1"
    assert request.headers["chatpulse-delivery"] == row.id
    header = request.headers["chatpulse-signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert re.fullmatch(rf"t={timestamp},v1=[0-9a-f]{{64}}", header)
    assert verify(hook["secret"], header, request.body, timestamp)
    assert not verify(hook["secret"] + "x", header, request.body, timestamp)
    assert not verify(hook["secret"], header, request.body + b" ", timestamp)
    assert not verify(hook["secret"], header, request.body, timestamp + 301)
    # The snippet docs/alert_webhooks.md gives receivers, run as written.
    snippet = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert snippet is not None
    scope: dict[str, Any] = {}
    exec(snippet.group(1), scope)  # our own documentation
    assert scope["verify_chatpulse_signature"](
        hook["secret"].encode(), request.body, header, now=timestamp + 10
    )
    assert not scope["verify_chatpulse_signature"](
        b"wrong secret", request.body, header, now=timestamp
    )
    body = request.json()
    alert = body["alert"]
    assert body == {
        "type": "alert.transition",
        "deliveryId": row.id,
        "siteId": hooks.site_id,
        "webhookId": hook["id"],
        "alert": alert,
    }
    assert (alert["transitionId"], alert["from"], alert["to"], alert["value"]) == (
        transition,
        "ok",
        "warning",
        7,
    )
    (logged,) = deliveries(hooks, hook["id"])
    assert logged == {
        "deliveryId": row.id,
        "transitionId": transition,
        "status": "delivered",
        "attempts": 1,
        "createdTime": logged["createdTime"],
        "lastAttemptTime": logged["lastAttemptTime"],
        "nextAttemptTime": None,
        "lastStatus": 200,
        "lastError": None,
        "deliveredTime": logged["lastAttemptTime"],
        "alert": alert,
    }
    assert hooks.get(f"{WEBHOOKS}/{hook['id']}")["lastDelivery"] == {
        "deliveryId": row.id,
        "transitionId": transition,
        "status": "delivered",
        "attempts": 1,
        "lastAttemptTime": logged["lastAttemptTime"],
        "lastStatus": 200,
        "lastError": None,
    }
    assert metric(hooks, "delivered") == delivered_before + 1


def test_a_500_is_retried_with_the_same_delivery_id(hooks: SiteClient) -> None:
    retried_before = metric(hooks, "retried")
    with receiving(failing_first(1, 500)) as receiver:
        hook = create_webhook(hooks, receiver.url)
        flipper(hooks).to("critical", 12)
        wait_until(settled(hooks, hook["id"], 1), what="delivered after a retry")
    first, second = receiver.received()
    assert first.delivery_id == second.delivery_id
    assert first.body == second.body
    (logged,) = deliveries(hooks, hook["id"])
    assert (logged["status"], logged["attempts"], logged["lastStatus"]) == ("delivered", 2, 200)
    assert logged["lastError"] is None
    assert metric(hooks, "retried") == retried_before + 1


def test_a_timeout_is_retried(serve: Callable[..., Server]) -> None:
    site = new_site(serve(alert_webhook_timeout_ms=300))

    def slow_first(request: Received, seen: int) -> Answer:
        return Answer(200, delay_s=1.0 if seen == 0 else 0.0)

    with receiving(slow_first) as receiver:
        hook = create_webhook(site, receiver.url)
        flipper(site).to("warning")
        wait_until(settled(site, hook["id"], 1), what="delivered after a timeout")
        (logged,) = deliveries(site, hook["id"])
    assert [r.delivery_id for r in receiver.received()] == [logged["deliveryId"]] * 2
    assert (logged["status"], logged["attempts"], logged["lastStatus"]) == ("delivered", 2, 200)
    site.http.close()


def test_a_failing_attempt_is_logged_with_its_reason_and_next_time(
    serve: Callable[..., Server],
) -> None:
    site = new_site(serve(alert_webhook_retry_base_ms=60_000, alert_webhook_retry_cap_ms=60_000))
    with receiving(always(503)) as receiver:
        hook = create_webhook(site, receiver.url)
        flipper(site).to("warning")
        wait_until(lambda: deliveries(site, hook["id"])[0]["attempts"] == 1, what="an attempt")
    (logged,) = deliveries(site, hook["id"])
    assert logged["status"] == "pending"
    assert (logged["lastStatus"], logged["lastError"]) == (503, "HTTP 503")
    assert logged["nextAttemptTime"] > logged["lastAttemptTime"]
    assert site.get(f"{WEBHOOKS}/{hook['id']}")["pending"] == 1
    site.http.close()


def test_deliveries_of_one_endpoint_arrive_in_transition_order(hooks: SiteClient) -> None:
    with receiving(failing_first(3, 500)) as receiver:
        hook = create_webhook(hooks, receiver.url)
        rule = flipper(hooks)
        transitions = [rule.to("warning"), rule.to("critical"), rule.to("ok")]
        wait_until(settled(hooks, hook["id"], 3), what="three delivered")
    rows = outbox(hooks.server.engine, hook["id"])
    ids = [row.id for row in rows]
    assert [row.transition_id for row in rows] == transitions
    # Each one's four attempts (three 500s, then 200) before any attempt of the next.
    assert [r.delivery_id for r in receiver.received()] == [i for i in ids for _ in range(4)]
    assert [d["attempts"] for d in deliveries(hooks, hook["id"])] == [4, 4, 4]


def test_a_dead_endpoint_does_not_delay_another(hooks: SiteClient) -> None:
    release = threading.Event()
    try:
        with (
            receiving(lambda _r, _s: Answer(200, hold=release)) as stuck,
            receiving(always(200)) as healthy,
        ):
            stuck_hook = create_webhook(hooks, stuck.url)
            healthy_hook = create_webhook(hooks, healthy.url)
            rule = flipper(hooks)
            rule.to("warning")
            rule.to("critical")
            rule.to("ok")
            wait_until(settled(hooks, healthy_hook["id"], 3), what="the healthy one's three")
            # Meanwhile the stuck endpoint has its first request open, and nothing else.
            assert len(stuck.received()) == 1
            assert [d["status"] for d in deliveries(hooks, stuck_hook["id"])] == ["pending"] * 3
            release.set()
            wait_until(settled(hooks, stuck_hook["id"], 3), what="the stuck one's, once freed")
    finally:
        release.set()
    assert len(healthy.ids_in_order()) == 3
    assert stuck.ids_in_order() == [r.id for r in outbox(hooks.server.engine, stuck_hook["id"])]


def test_an_endpoint_gets_only_the_severities_it_asked_for(hooks: SiteClient) -> None:
    with receiving(always(200)) as receiver:
        hook = create_webhook(hooks, receiver.url, severities=["critical"])
        rule = flipper(hooks)
        rule.to("warning")  # ok → warning: not critical's business
        rule.to("critical")
        rule.to("warning")
        rule.to("ok")  # warning → ok: neither
        wait_until(settled(hooks, hook["id"], 2), what="two delivered")
    sent = [r.json()["alert"] for r in receiver.received()]
    alerts = [(a["from"], a["to"], a["severity"]) for a in sent]
    assert alerts == [("warning", "critical", "critical"), ("critical", "warning", "warning")]


def test_a_deleted_webhook_stops(hooks: SiteClient) -> None:
    with receiving(always(500)) as receiver:
        hook = create_webhook(hooks, receiver.url)
        rule = flipper(hooks)
        rule.to("warning")
        receiver.wait_for(lambda got: len(got) >= 1)
        assert hooks.http.delete(f"{WEBHOOKS}/{hook['id']}").status_code == 204
        rule.to("critical")  # queued for no one: the webhook is gone
        (row,) = outbox(hooks.server.engine, hook["id"])
        assert (row.status, row.last_error) == ("failed", "webhook deleted")


def test_a_delivery_is_given_up_after_its_retry_time_and_the_next_goes(
    serve: Callable[..., Server],
) -> None:
    site = new_site(serve(alert_webhook_retry_for_s=0.5))
    failed_before = metric(site, "failed")
    doomed: list[str] = []

    def script(request: Received, _seen: int) -> Answer:
        return Answer(500 if request.delivery_id in doomed else 200)

    with receiving(script) as receiver:
        hook = create_webhook(site, receiver.url)
        rule = flipper(site)
        rule.to("warning")
        doomed.append(outbox(site.server.engine, hook["id"])[0].id)
        rule.to("ok")
        wait_until(settled(site, hook["id"], 2), what="one given up, one delivered")
    first, second = deliveries(site, hook["id"])
    assert (first["status"], first["lastStatus"], first["lastError"]) == ("failed", 500, "HTTP 500")
    assert first["attempts"] >= 2
    assert (second["status"], second["attempts"]) == ("delivered", 1)
    ids = [r.delivery_id for r in receiver.received()]
    assert ids == [first["deliveryId"]] * first["attempts"] + [second["deliveryId"]]
    assert metric(site, "failed") == failed_before + 1
    site.http.close()


def test_an_address_refused_at_sending_time_is_a_failed_attempt(
    serve: Callable[..., Server],
) -> None:
    site = new_site(serve(alert_webhooks_allow_private=False, alert_webhook_retry_base_ms=60_000))
    # Stored directly: the API would refuse it; a name can also change its address later.
    hook = store.Webhook(
        str(uuid.uuid4()), site.site_id, "Inside",
        "http://127.0.0.1:9/hook", "s" * 16, ("warning", "critical"), site.server.clock.now(),
        None,
    )  # fmt: skip
    assert store.create(site.server.engine, hook)
    refused_before = metric(site, "refused")
    flipper(site).to("warning")
    wait_until(lambda: deliveries(site, hook.id)[0]["attempts"] == 1, what="a refused attempt")
    (logged,) = deliveries(site, hook.id)
    assert logged["status"] == "pending"
    assert (logged["lastStatus"], logged["lastError"]) == (
        None,
        "address 127.0.0.1 refused: loopback",
    )
    assert metric(site, "refused") == refused_before + 1
    site.http.close()


def test_the_delivery_log_pages_by_transition(hooks: SiteClient) -> None:
    with receiving(always(200)) as receiver:
        hook = create_webhook(hooks, receiver.url)
        rule = flipper(hooks)
        transitions = [rule.to(level) for level in ("warning", "critical", "warning", "ok")]
        wait_until(settled(hooks, hook["id"], 4), what="four delivered")
    path = f"{WEBHOOKS}/{hook['id']}/deliveries"
    page = hooks.get(path, limit=3)
    assert [d["transitionId"] for d in page["list"]] == transitions[:3]
    assert page["nextAfter"] == transitions[2]
    rest = hooks.get(path, limit=3, after=page["nextAfter"])
    assert [d["transitionId"] for d in rest["list"]] == transitions[3:]
    for bad in ({"limit": "0"}, {"limit": "1001"}, {"after": "-1"}, {"after": "x"}):
        response = hooks.http.get(path, params=bad)
        assert response.status_code == 400, bad
    assert len(receiver.received()) == 4


def test_the_evaluator_can_wake_the_dispatcher(hooks: SiteClient) -> None:
    runtime = hooks.server.app.state.runtime
    assert runtime.outbox_listeners == [hooks.server.app.state.dispatcher.wake]
    with receiving(always(200)) as receiver:
        hook = create_webhook(hooks, receiver.url)
        flipper(hooks).to("warning")
        runtime.outbox_filled()
        wait_until(settled(hooks, hook["id"], 1), what="delivered")
    assert len(receiver.received()) == 1


def test_the_metric_has_one_series_per_outcome(hooks: SiteClient) -> None:
    text = httpx.get(hooks.server.base_url + "/metrics").text
    lines = [line for line in text.splitlines() if "chatpulse_alert_webhook" in line]
    assert lines[:2] == [
        lines[0],
        "# TYPE chatpulse_alert_webhook_deliveries_total counter",
    ]
    assert sorted(line.split(" ")[0] for line in lines[2:]) == [
        f'chatpulse_alert_webhook_deliveries_total{{outcome="{outcome}"}}'
        for outcome in ("delivered", "failed", "refused", "retried")
    ]
