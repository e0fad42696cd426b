"""RightNow's cache computes a missed key once, however many requests miss it at once."""

from __future__ import annotations

import threading

import pytest

from chatpulse.views.request import _RightNowCache

KEY = (1, None, 42, 1)


def test_requests_that_miss_together_share_one_computation() -> None:
    cache = _RightNowCache()
    calls: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def compute() -> dict[str, int]:
        calls.append(1)
        entered.set()
        release.wait(10)
        return {"answer": len(calls)}

    results: list[object] = []
    leader = threading.Thread(target=lambda: results.append(cache.get_or_compute(KEY, compute)))
    leader.start()
    assert entered.wait(10)  # the leader holds the key
    followers = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute(KEY, compute)))
        for _ in range(7)
    ]
    for thread in followers:
        thread.start()
    release.set()
    for thread in (leader, *followers):
        thread.join(10)
    assert (len(calls), results) == (1, [{"answer": 1}] * 8)
    assert cache.get(KEY) == {"answer": 1}


def test_a_failed_computation_leaves_the_key_to_the_next_request() -> None:
    cache = _RightNowCache()

    def broken() -> object:
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        cache.get_or_compute(KEY, broken)
    assert cache.get_or_compute(KEY, lambda: {"answer": 2}) == {"answer": 2}
