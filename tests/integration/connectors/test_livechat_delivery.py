"""LiveChat deliveries as platforms make them: twice, shuffled in one burst, late across
bursts (docs/connectors.md, LiveChat and "Out-of-order and surprising input"), and what the
views, the log and the drop list then say. Times as in test_livechat.py: the clock is set to
each delivery's receipt.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chatpulse.clock import FixedClock
from tests.integration.connectors.livechat_support import (
    CHAT_A,
    CHAT_B,
    CUSTOMER2,
    LiveChat,
    add_livechat,
    check_answer,
    events,
    micros,
    queue_row,
    view,
)
from tests.integration.connectors.test_livechat import (
    check_views_after_lifecycle_a,
    deliver_lifecycle_a,
)
from tests.support import OFFLINE, ONLINE, SiteClient

LIFECYCLE_A = (
    "a1_incoming_chat_queued",
    "a2_customer_message",
    "a3_agent_added",
    "a4_agent_message",
    "a5_customer_message",
    "a6_chat_deactivated",
    "a7_thread_rated_good",
)


def burst(lc: LiveChat, *names: str) -> list[dict[str, Any]]:
    """The fixtures posted at once from as many threads (they meet in one reorder batch):
    their answers, in the order of `names`."""
    start = threading.Barrier(len(names))

    def post(name: str) -> dict[str, Any]:
        start.wait()
        response = lc.post(name)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(post, names))


def drop(at: str, recorded: str, key: str, kind: str, reason: str, delivery: str | None) -> Any:
    """A drop as GET /connectors/{id}/drops lists it (its id: any integer)."""
    return {
        "id": AnyInt(),
        "recordedTime": f"2026-03-02T{recorded}Z",
        "occurredTime": f"2026-03-02T{at}Z",
        "deliveryId": delivery,
        "factKey": key,
        "type": kind,
        "reason": reason,
    }


class AnyInt:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and not isinstance(other, bool)

    def __repr__(self) -> str:
        return "<any int>"


# ---------------------------------------------------------------- redelivery


def test_a_redelivered_webhook_is_a_duplicate_and_changes_nothing(
    site: SiteClient, clock: FixedClock
) -> None:
    lc = add_livechat(site, clock)
    deliver_lifecycle_a(lc)
    stored = events(site)
    assert len(stored) == 7
    # LiveChat retries (within about a minute); the undated webhooks come back dated by their
    # new receipt, and are still the same facts (the same keys, so the same event ids)
    for name in LIFECYCLE_A:
        lc.deliver(name, at="09:17:30", duplicates=1)
    assert events(site) == stored
    check_views_after_lifecycle_a(lc)
    assert lc.drops() == {"total": 0, "list": []}


def test_a_redelivered_routing_status_repeats_the_status(
    site: SiteClient, clock: FixedClock
) -> None:
    # A routing status carries no id and no time: its key ends with the time of receipt, so
    # a copy is a new fact, which says nothing new (docs/connectors.md, Keys)
    lc = add_livechat(site, clock)
    lc.deliver("e1_routing_smith_accepting", at="10:00:00", accepted=1)
    lc.deliver("e1_routing_smith_accepting", at="10:00:20", skipped=1)
    assert [(e["type"], e["occurredAt"]) for e in events(site)] == [
        ("agent.status_changed", "2026-03-02T10:00:00.000Z")
    ]
    clock.value = micros("10:01:00")
    page = view(site, "Agents", includeStatusDistribution="true")
    assert page["list"][0]["statusDistribution"] == {OFFLINE: 36_000, ONLINE: 60}


# ---------------------------------------------------------------- out of order


def test_a_shuffled_burst_is_stored_in_time_order(site: SiteClient, clock: FixedClock) -> None:
    lc = add_livechat(site, clock, reorderMs=1000)
    clock.value = micros("09:15:15")
    # the agent added first, the thread last: without the reorder buffer the acceptance
    # would start the chat and the thread's request would be dropped
    answers = burst(lc, "a3_agent_added", "a2_customer_message", "a1_incoming_chat_queued")
    for answer in answers:
        check_answer(answer, accepted=1)  # nothing to repair: stored in LiveChat's order
    assert len({answer["lastSequence"] for answer in answers}) == 1  # one transaction
    assert [(e["type"], e["occurredAt"]) for e in events(site)] == [
        ("chat.requested", "2026-03-02T09:15:03.120431Z"),
        ("chat.message", "2026-03-02T09:15:10.502118Z"),
        ("chat.accepted", "2026-03-02T09:15:15.000Z"),
    ]
    for name, at in zip(
        LIFECYCLE_A[3:], ("09:16:06", "09:16:41", "09:17:00", "09:17:05"), strict=True
    ):
        lc.deliver(name, at=at, accepted=1)
    check_views_after_lifecycle_a(lc)  # as if delivered in order
    assert lc.drops() == {"total": 0, "list": []}


def test_an_end_before_its_start_in_one_burst_is_an_abandonment(
    site: SiteClient, clock: FixedClock
) -> None:
    lc = add_livechat(site, clock, reorderMs=1000)
    clock.value = micros("10:04:00")
    end, start = burst(lc, "b2_chat_deactivated_by_customer", "b1_incoming_chat_queued")
    check_answer(start, accepted=2)
    check_answer(end, accepted=1, repaired=1)  # chat.ended of a waiting chat: abandoned
    clock.value = micros("10:10:00")
    # waited 75.689123 s: 10:02:44.310877 -> 10:04:00
    assert view(site, "Queue") == [
        queue_row(
            lc,
            "2",
            avgWaitTimeinLast30Mins=76,
            avgWaitTimeinLast60Mins=76,
            abandonedChatsinLast30Mins=1,
        )
    ]
    assert lc.drops() == {"total": 0, "list": []}


def test_an_agent_message_after_the_end_is_dropped(
    site: SiteClient, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    lc = add_livechat(site, clock)
    lc.deliver("a1_incoming_chat_queued", at="09:15:04", accepted=1)
    lc.deliver("a2_customer_message", at="09:15:11", accepted=1)
    lc.deliver("a3_agent_added", at="09:15:15", accepted=1)
    lc.deliver("a5_customer_message", at="09:16:41", accepted=1)
    lc.deliver("a6_chat_deactivated", at="09:17:00", accepted=1)
    lc.deliver("a7_thread_rated_good", at="09:17:05", accepted=1)
    # Smith's message of 09:16:05 arrives after the end (a later batch): dropped, not moved
    lc.deliver("a4_agent_message", at="09:17:10", dropped=1)
    assert lc.drops() == {
        "total": 1,
        "list": [
            drop(
                "09:16:05.230",  # the message's own time
                "09:17:10.000",
                f"{CHAT_A}:event:K600PKZON8_4",
                "chat.message",
                "chat already ended",
                "K600PKZON8_4",
            )
        ],
    }
    assert len(events(site)) == 6
    check_views_after_lifecycle_a(lc)  # the message changed no figure
    # and the drop is logged, with what names it
    (line,) = [r for r in caplog.records if r.name == "chatpulse.connectors"]
    assert (line.levelname, line.getMessage()) == (
        "WARNING",
        f"connector {lc.id} dropped chat.message: chat already ended",
    )
    assert (line.connector, line.delivery, line.fact) == (  # type: ignore[attr-defined]
        lc.id,
        "K600PKZON8_4",
        f"{CHAT_A}:event:K600PKZON8_4",
    )


def test_a_late_message_of_an_ongoing_chat_is_moved_up(site: SiteClient, clock: FixedClock) -> None:
    lc = add_livechat(site, clock)
    lc.deliver("a1_incoming_chat_queued", at="09:15:04", accepted=1)
    lc.deliver("a2_customer_message", at="09:15:11", accepted=1)
    lc.deliver("a3_agent_added", at="09:15:15", accepted=1)
    lc.deliver("a5_customer_message", at="09:16:41", accepted=1)
    # Smith's message of 09:16:05 after the customer's of 09:16:40.007712: stored at that time
    lc.deliver("a4_agent_message", at="09:16:50", accepted=1, repaired=1)
    assert [(e["type"], e["data"].get("sender"), e["occurredAt"]) for e in events(site)][3:] == [
        ("chat.message", "visitor", "2026-03-02T09:16:40.007712Z"),
        ("chat.message", "agent", "2026-03-02T09:16:40.007712Z"),
    ]
    lc.deliver("a6_chat_deactivated", at="09:17:00", accepted=1)
    lc.deliver("a7_thread_rated_good", at="09:17:05", accepted=1)
    # the same numbers: Smith's message now answers the customer's in 0 s, a mean of 0 s
    check_views_after_lifecycle_a(lc)
    assert lc.drops() == {"total": 0, "list": []}


def test_an_end_before_its_start_across_batches_is_dropped(
    site: SiteClient, clock: FixedClock
) -> None:
    lc = add_livechat(site, clock)
    lc.deliver("b2_chat_deactivated_by_customer", at="10:04:00", dropped=1)
    lc.deliver("b1_incoming_chat_queued", at="10:04:01", accepted=2)
    assert lc.drops() == {
        "total": 1,
        "list": [
            drop(
                "10:04:00.000",  # received then (chat_deactivated carries no time)
                "10:04:00.000",
                f"{CHAT_B}:ended",
                "chat.ended",
                "unknown chat: its start was never received",
                None,  # LiveChat gives no delivery id but for incoming_event
            )
        ],
    }
    clock.value = micros("10:10:00")
    # still waiting, since 10:02:44.310877: 435.689123 s
    assert view(site, "Queue") == [queue_row(lc, "2", visitors=((CUSTOMER2, 435),))]
