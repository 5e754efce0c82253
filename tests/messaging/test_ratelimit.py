"""The shared Redis rate limiter: a true cap across limiter instances and threads (counted, not timed)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from redis import Redis

from outreach.messaging.ratelimit import SegmentRateLimiter, window_for
from tests.conftest import TEST_REDIS_URL


def _limiters(
    n: int, per_second: float, window: int | None = None
) -> tuple[list[Redis], list[SegmentRateLimiter]]:
    # Separate connections: as separate workers on separate hosts would have.
    conns = [Redis.from_url(TEST_REDIS_URL) for _ in range(n)]
    return conns, [SegmentRateLimiter(c, per_second, name="test", window_seconds=window) for c in conns]


def _in_threads(n: int, target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_window_for_rates() -> None:
    assert window_for(10) == (10, 1)
    assert window_for(10.5) == (21, 2)
    assert window_for(0.5) == (1, 2)
    assert window_for(0.05) == (1, 20)
    amount, seconds = window_for(0.37)
    assert amount / seconds <= 0.37


def test_a_burst_from_many_workers_never_exceeds_the_cap(redis_conn: Redis) -> None:
    # 10 segments per 10-second window: a burst of tries from 4 workers on 4 connections, far
    # shorter than the window, may take 10 segments and not one more.
    conns, limiters = _limiters(4, 1.0, window=10)
    taken: list[int] = []
    lock = threading.Lock()
    rng = random.Random(3)
    costs = [[rng.randint(1, 3) for _ in range(15)] for _ in limiters]

    def worker(i: int) -> None:
        for cost in costs[i]:
            if limiters[i].acquire(cost, timeout=0):
                with lock:
                    taken.append(cost)

    try:
        _in_threads(4, worker)
        assert 8 <= sum(taken) <= 10  # full up to the last cost that still fitted
        assert not limiters[0].acquire(1, timeout=0)
    finally:
        for c in conns:
            c.close()


def test_waiting_acquires_get_their_turn_and_the_cap_holds(redis_conn: Redis) -> None:
    # 5 per second; 3 workers want 4 each (12 in all): all get them by waiting, none busy-loops
    # past its deadline, and right after the last one the window is full.
    conns, limiters = _limiters(3, 5.0)
    results: list[bool] = []

    def worker(i: int) -> None:
        for _ in range(4):
            results.append(limiters[i].acquire(1, timeout=30))

    try:
        _in_threads(3, worker)
        assert results == [True] * 12
        window = limiters[0].strategy.get_window_stats(limiters[0].item, "test")
        assert window.remaining <= 5
    finally:
        for c in conns:
            c.close()


def test_acquire_gives_up_at_its_deadline(redis_conn: Redis) -> None:
    conns, (limiter,) = _limiters(1, 1.0, window=10)
    try:
        assert limiter.acquire(10, timeout=0)
        assert not limiter.acquire(1, timeout=0.05)  # the window frees only after 10 s
    finally:
        conns[0].close()


def test_messages_larger_than_the_window_take_it_in_chunks(redis_conn: Redis) -> None:
    conns, (limiter,) = _limiters(1, 0.5, window=10)  # 5 per 10 s
    try:
        assert not limiter.acquire(7, timeout=0)  # 5 taken in a chunk, 2 more cannot fit now
        assert not limiter.acquire(1, timeout=0)  # and nothing was over-granted
    finally:
        conns[0].close()


def test_a_priority_waiter_takes_the_next_free_slot_before_bulk_waiters(redis_conn: Redis) -> None:
    # 2 per second, the window already full with bulk. A page to the duty officer starts waiting,
    # then three bulk sends do: when the window frees, the page goes first.
    conns, limiters = _limiters(5, 2.0)
    order: list[str] = []
    lock = threading.Lock()

    def take(i: int, who: str, priority: bool) -> None:
        assert limiters[i].acquire(1, timeout=10, priority=priority)
        with lock:
            order.append(who)

    try:
        assert limiters[0].acquire(2, timeout=0)
        urgent = threading.Thread(target=take, args=(1, "page", True))
        urgent.start()
        deadline = time.monotonic() + 5
        while not redis_conn.exists(limiters[0].priority_key):  # the page is waiting now
            assert time.monotonic() < deadline, "the priority waiter never raised its flag"
            time.sleep(0.005)
        bulk = [threading.Thread(target=take, args=(2 + i, f"bulk{i}", False)) for i in range(3)]
        for t in bulk:
            t.start()
        for t in [urgent, *bulk]:
            t.join()
        assert order[0] == "page"
        assert sorted(order[1:]) == ["bulk0", "bulk1", "bulk2"]
    finally:
        for c in conns:
            c.close()
