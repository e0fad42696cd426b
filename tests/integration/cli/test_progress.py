"""Progress of `chatpulse rebuild` and `chatpulse check` without a terminal: plain lines on
stderr at the interval of $CHATPULSE_PROGRESS_INTERVAL, a one-line summary, stdout as before."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import SiteClient, ev, uid

CLI = (sys.executable, "-m", "chatpulse")
VISITORS = 1250  # 2,500 events: the replay reads them in chunks of 1,000
# A plain progress line; the rate and the time left depend on the machine's speed.
RATE_AND_LEFT = r"(\d+|\d\.\d) events/s, (\d+ s|\d+ min \d+ s|\d+ h \d\d min) left"
TOOK = r"in \d+\.\d s"


def _run(*args: str, interval: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CHATPULSE_PROGRESS_INTERVAL"}
    if interval is not None:
        env["CHATPULSE_PROGRESS_INTERVAL"] = interval
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def busy_site(site: SiteClient) -> SiteClient:
    """A site whose log holds 2,500 events: 1,250 visitors who came and went."""
    events = []
    for n in range(VISITORS):
        events.append(ev("visitor.arrived", -3 * 3600 + n, visitorId=uid("visitor", n)))
        events.append(ev("visitor.left", -3 * 3600 + n + 0.5, visitorId=uid("visitor", n)))
    for start in range(0, len(events), 1000):
        assert site.ok_events(*events[start : start + 1000])["accepted"] == len(
            events[start : start + 1000]
        )
    return site


def test_rebuild_prints_a_line_per_chunk_then_its_summary(
    busy_site: SiteClient, database_url: str
) -> None:
    site = busy_site.site_id
    result = _run("rebuild", "--site", str(site), "--database", database_url, interval="0")
    assert (result.returncode, result.stdout) == (
        0,
        f"site {site}: rebuilt from 2500 events\n",
    ), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 4, result.stderr
    counts = ("1000/2500 events (40%)", "2000/2500 events (80%)", "2500/2500 events (100%)")
    for line, count in zip(lines[:3], counts, strict=True):
        assert re.fullmatch(rf"rebuild site {site}: {re.escape(count)}, {RATE_AND_LEFT}", line)
    assert lines[2].endswith(", 0 s left")
    assert re.fullmatch(rf"rebuild site {site}: rebuilt from 2500 events {TOOK}", lines[3])


def test_check_prints_only_its_summary_within_the_interval(
    busy_site: SiteClient, database_url: str
) -> None:
    site = busy_site.site_id
    result = _run("check", "--site", str(site), "--database", database_url, interval="3600")
    assert (result.returncode, result.stdout) == (
        0,
        f"site {site}: ok (2500 events replayed)\n",
    ), result.stderr
    assert re.fullmatch(rf"check site {site}: ok, 2500 events replayed {TOOK}\n", result.stderr), (
        result.stderr
    )


def test_check_of_an_empty_site_summarises_zero_events(site: SiteClient, database_url: str) -> None:
    result = _run("check", "--site", str(site.site_id), "--database", database_url, interval="0")
    assert (result.returncode, result.stdout) == (
        0,
        f"site {site.site_id}: ok (0 events replayed)\n",
    )
    # Nothing done, nothing to report until the summary.
    assert re.fullmatch(
        rf"check site {site.site_id}: ok, 0 events replayed {TOOK}\n", result.stderr
    ), result.stderr


def test_a_bad_progress_interval_is_one_line(database_url: str) -> None:
    result = _run("check", "--database", database_url, interval="soon")
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "chatpulse: CHATPULSE_PROGRESS_INTERVAL must be a number of seconds ≥ 0, not 'soon'\n",
    )
