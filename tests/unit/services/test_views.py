"""The answer cache: one computation for requests that miss together, ages, latest state only."""

from __future__ import annotations

import threading

import pytest

from chatpulse.services.views import Answer, AnswerCache

SLOT = (1, "Queue", None)
KEY = (*SLOT, (1, 42))  # (site, view, query, (configuration version, last sequence))
T = 1_000_000_000
SECOND = 1_000_000


def made(body: bytes, at: int = T, sequence: int = 42) -> Answer:
    return Answer(sequence, body, (1, sequence), at)


class HeldComputation:
    """A computation that says when it has started and finishes only when released."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.calls = 0
        self.answer = answer
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self) -> Answer:
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        return self.answer or made(b"%d" % self.calls)


def test_requests_that_miss_together_share_one_computation() -> None:
    cache = AnswerCache()
    compute = HeldComputation()
    entered, release = compute.entered, compute.release

    results: list[Answer] = []

    def ask() -> None:
        results.append(cache.get_or_compute(KEY, T, None, compute))

    leader = threading.Thread(target=ask)
    leader.start()
    assert entered.wait(10)  # the leader holds the key
    followers = [threading.Thread(target=ask) for _ in range(7)]
    for thread in followers:
        thread.start()
    release.set()
    for thread in (leader, *followers):
        thread.join(10)
    assert (compute.calls, [r.body for r in results]) == (1, [b"1"] * 8)
    assert cache.lookup(KEY, T, None) == (made(b"1"), False)


def test_a_failed_computation_leaves_the_key_to_the_next_request() -> None:
    cache = AnswerCache()

    def broken() -> Answer:
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        cache.get_or_compute(KEY, T, None, broken)
    assert cache.get_or_compute(KEY, T, None, lambda: made(b"2")).body == b"2"


def test_a_timed_answer_is_served_under_its_max_age_and_due_past_half() -> None:
    cache = AnswerCache()
    cache.put(KEY, made(b"a"))
    assert cache.lookup(KEY, T + SECOND // 2 - 1, SECOND) == (made(b"a"), False)
    assert cache.lookup(KEY, T + SECOND // 2, SECOND) == (made(b"a"), True)
    assert cache.lookup(KEY, T + SECOND - 1, SECOND) == (made(b"a"), True)
    assert cache.lookup(KEY, T + SECOND, SECOND) == (None, False)
    assert cache.lookup(KEY, T - 1, SECOND) == (None, False)  # a clock set back: recompute
    assert cache.lookup(KEY, T + 3600 * SECOND, None) == (made(b"a"), False)  # RightNow


def test_only_the_latest_state_of_a_query_is_kept() -> None:
    cache = AnswerCache()
    cache.put(KEY, made(b"old"))
    newer = (*SLOT, (1, 43))
    cache.put(newer, made(b"new", sequence=43))
    assert cache.lookup(KEY, T, None) == (None, False)
    assert cache.lookup(newer, T, None) == (made(b"new", sequence=43), False)
    cache.put(KEY, made(b"old"))  # a slow computation of an older state does not win
    assert cache.lookup(newer, T, None)[0] == made(b"new", sequence=43)


def test_a_refresh_replaces_the_answer_once_however_many_ask() -> None:
    cache = AnswerCache()
    cache.put(KEY, made(b"a"))
    compute = HeldComputation(made(b"b", at=T + SECOND // 2))
    entered, release = compute.entered, compute.release

    first = threading.Thread(target=cache.refresh, args=(KEY, compute))
    first.start()
    assert entered.wait(10)
    cache.refresh(KEY, compute)  # somebody is already at it: returns at once
    assert cache.lookup(KEY, T + SECOND // 2, SECOND) == (made(b"a"), True)  # still served
    release.set()
    first.join(10)
    assert compute.calls == 1
    assert cache.lookup(KEY, T + SECOND // 2, SECOND) == (made(b"b", at=T + SECOND // 2), False)
