"""/metrics: the firing alerts gauge by severity (every site, no site label)."""

from __future__ import annotations

import re

from tests.factories import agent_status, alice_in_sales, chat_accepted, waiting_chat
from tests.integration.alerts.support import ALERTS, evaluated_at, rule, wait_until
from tests.support import SiteClient


def firing(site: SiteClient) -> dict[str, float]:
    text = site.http.get("/metrics").text
    found = dict(re.findall(r'^chatpulse_alerts_firing\{severity="(\w+)"\} (\S+)$', text, re.M))
    samples = [line for line in text.splitlines() if line.startswith("chatpulse_alerts_firing")]
    assert [line.split("{")[1].split("}")[0] for line in samples] == [
        'severity="warning"',
        'severity="critical"',
    ]  # no site label
    return {severity: float(value) for severity, value in found.items()}


def test_the_gauge_counts_firing_alerts_by_severity(
    site: SiteClient, other_site: SiteClient
) -> None:
    before = firing(site)  # the PostgreSQL database is shared with earlier tests: differences
    alice_in_sales(site)
    other_site.department(1, "Sales")
    queue = {"view": "Queue", "field": "currentQueueLength", "comparison": ">="}
    rule(site, warning=1, critical=2, **queue)
    rule(other_site, warning=1, critical=5, **queue)
    site.ok_events(*waiting_chat(1, -20, -10), *waiting_chat(2, -20, -10))
    other_site.ok_events(*waiting_chat(1, -20, -10))
    evaluated_at(site, 0)
    assert len(site.get(ALERTS)["alerts"]) == len(other_site.get(ALERTS)["alerts"]) == 1
    after = firing(site)
    assert after["critical"] - before.get("critical", 0) == 1
    assert after["warning"] - before.get("warning", 0) == 1
    site.ok_events(agent_status(1, 1), chat_accepted(1, 2))  # one waits: down to warning
    wait_until(lambda: [a["severity"] for a in site.get(ALERTS)["alerts"]] == ["warning"])
    again = firing(site)
    assert again["critical"] - before.get("critical", 0) == 0
    assert again["warning"] - before.get("warning", 0) == 2
