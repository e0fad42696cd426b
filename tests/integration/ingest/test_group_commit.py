"""Group commit (services/ingest.py): requests that arrive while a batch of their site is being
committed go together in the next transaction, each still all or nothing and each answered only
after its commit; a group that cannot go as one (a rejected batch, a duplicate) goes batch by
batch, in arrival order, with exactly the answers each batch would get alone. Real HTTP; the
first request is held at the site's write lock so that the others queue behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine

from chatpulse.services.ingest import group_state
from chatpulse.store.eventlog import IngestTransaction
from tests.factories import chat_requested
from tests.support import SiteClient, ev, uid

EVENTS = "/api/v3/livechat/events"
QUEUE = "/api/v3/livechat/realTime/Queue"


def requested(n: int, seconds: float = -10) -> dict[str, Any]:
    return chat_requested(n, seconds, event_id=uid("event", n))


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "the requests did not queue in time"
        time.sleep(0.002)  # polling a condition, with a deadline


class Posts:
    """Requests sent from threads, one at a time, each queued before the next is sent."""

    def __init__(self, site: SiteClient, engine: Engine) -> None:
        self.site, self.engine = site, engine
        self.threads: list[threading.Thread] = []
        self.answers: dict[int, httpx.Response] = {}

    def send(self, n: int, events: list[dict[str, Any]], queued: int) -> None:
        def post() -> None:
            with self.site.server.client(self.site.token) as http:
                self.answers[n] = http.post(EVENTS, json=events)

        thread = threading.Thread(target=post)
        thread.start()
        self.threads.append(thread)
        wait_for(lambda: group_state(self.engine, self.site.site_id)[:2] == (True, queued))

    def join(self) -> dict[int, tuple[int, Any]]:
        for thread in self.threads:
            thread.join(30)
        return {n: (r.status_code, r.json()) for n, r in sorted(self.answers.items())}


@contextmanager
def held(engine: Engine, site_id: int) -> Iterator[None]:
    """The site's write lock, as an ingest holds it: writers of the site wait for it."""
    with IngestTransaction(engine, site_id):
        yield


def ok(accepted: int, duplicates: int, last: int) -> tuple[int, dict[str, int]]:
    return 200, {"accepted": accepted, "duplicates": duplicates, "lastSequence": last}


def test_batches_that_queue_are_committed_together_in_arrival_order(
    site: SiteClient, engine: Engine
) -> None:
    site.department(1, "Sales")
    posts = Posts(site, engine)
    with held(engine, site.site_id):
        posts.send(1, [requested(1)], queued=0)  # the leader: waits for the lock
        posts.send(2, [requested(2), requested(3)], queued=1)
        posts.send(3, [requested(4)], queued=2)
        posts.send(4, [requested(5), requested(6), requested(7)], queued=3)
    assert posts.join() == {1: ok(1, 0, 1), 2: ok(2, 0, 3), 3: ok(1, 0, 4), 4: ok(3, 0, 7)}
    assert group_state(engine, site.site_id) == (False, 0, 1)  # one group of three batches
    (row,) = site.get(QUEUE)
    assert [v["waitTime"] for v in row["visitors"]] == [10] * 7


def test_a_group_with_a_bad_batch_goes_batch_by_batch_with_each_answer_as_alone(
    site: SiteClient, engine: Engine
) -> None:
    site.department(1, "Sales")
    unknown = uid("chat", 99)
    bad = ev("chat.accepted", -5, chatId=unknown, agentId=uid("agent", 1))
    posts = Posts(site, engine)
    with held(engine, site.site_id):
        posts.send(1, [requested(1)], queued=0)
        posts.send(2, [requested(2)], queued=1)
        posts.send(3, [requested(3), bad], queued=2)  # rejected whole: chat 3 is not stored
        posts.send(4, [requested(1), requested(4)], queued=3)  # event 1 again: a duplicate
        posts.send(5, [requested(5, seconds=-4)], queued=4)
    answers = posts.join()
    assert answers[3][0] == 422
    assert [(e["field"], e["index"]) for e in answers[3][1]["errors"]] == [("data.chatId", 1)]
    assert answers[3][1]["errors"][0]["message"] == f"unknown chat {unknown}"
    del answers[3]
    assert answers == {1: ok(1, 0, 1), 2: ok(1, 0, 2), 4: ok(1, 1, 3), 5: ok(1, 0, 4)}
    assert group_state(engine, site.site_id) == (False, 0, 0)  # nothing went together
    (row,) = site.get(QUEUE)
    assert [v["waitTime"] for v in row["visitors"]] == [10, 10, 10, 4]
    assert site.http.get(EVENTS, params={"after": 0}).json()["lastSequence"] == 4
