"""One rate limit for every worker on every host, in Redis, counted in SMS segments per second.

Twilio queues (and eventually fails) what an account sends above its throughput, and it counts
segments, not requests: a 3-segment Korean SMS costs 3. The cap is ``TWILIO_MAX_SEGMENTS_PER_SECOND``.

Built on the ``limits`` library's *moving window* strategy with Redis storage (an atomic Lua script
per hit, one list of timestamps per key): unlike a fixed window it is a true cap — no interval of
one window length ever holds more than the window's amount — so bursts at window edges cannot double
the rate. The window is one second when the cap is a whole number of segments per second, else the
shortest whole number of seconds (up to 10) that makes it one. Timestamps come from each worker's
clock, so hosts must keep their clocks in sync (NTP); a skew of a few milliseconds is harmless.

A message costing more segments than one window holds acquires them in window-sized chunks, so even
a 20-segment SMS under a 5-per-second cap keeps the cap.

Priority: a bulk alert can keep the budget full for an hour, and a duty officer's page or a reply
must not queue behind it for the next free slot. A waiter with ``priority=True`` (every queue but
``bulk``) raises a flag in Redis for as long as it waits; bulk waiters do not take a slot while the
flag is up, so the next slot that frees goes to the priority waiter. With nothing urgent waiting,
bulk has the whole budget (the flag costs one EXISTS per bulk acquire).
"""

from __future__ import annotations

import math
import random
import time

from flask import current_app
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import Redis

from outreach.extensions import redis_conn

#: Waiters wake a little after a slot frees, spread out so that workers do not stampede Redis.
_JITTER_SECONDS = 0.02
_MIN_WAIT_SECONDS = 0.002
#: The priority flag outlives the priority waiter's sleep by this much, so it never lapses while the
#: waiter sleeps; after its last wait it lapses this long after the slot is taken.
_PRIORITY_MARGIN_SECONDS = 0.1
#: How long a bulk waiter sleeps before looking at the flag again.
_YIELD_SECONDS = 0.02


def window_for(per_second: float) -> tuple[int, int]:
    """(amount, window seconds) expressing ``per_second`` exactly when possible, never above it."""
    if per_second <= 0:
        raise ValueError("the rate must be positive")
    for seconds in range(1, 11):
        amount = per_second * seconds
        if amount >= 1 and math.isclose(amount, round(amount), abs_tol=1e-9):
            return round(amount), seconds
    seconds = 10 if per_second * 10 >= 1 else math.ceil(1 / per_second)
    return max(1, math.floor(per_second * seconds)), seconds


class SegmentRateLimiter:
    """``acquire(segments)`` blocks (sleeping, bounded by a timeout) until the shared budget allows them."""

    def __init__(
        self,
        redis: Redis,
        per_second: float,
        name: str = "twilio-segments",
        *,
        window_seconds: int | None = None,
    ) -> None:
        self.per_second = per_second
        self.name = name
        if window_seconds is None:
            self.amount, self.window = window_for(per_second)
        else:  # a longer window allows longer bursts at the same average (tests, special cases)
            self.amount, self.window = max(1, math.floor(per_second * window_seconds)), window_seconds
        self.item = RateLimitItemPerSecond(self.amount, self.window, namespace="outreach")
        # The app's own connection pool: no second set of sockets to Redis per worker.
        storage = RedisStorage(
            "redis://", connection_pool=redis.connection_pool, key_prefix="outreach:ratelimit"
        )
        self.strategy = MovingWindowRateLimiter(storage)
        self.redis = redis
        self.priority_key = f"outreach:ratelimit:{name}:priority-waiting"

    def try_acquire(self, cost: int) -> bool:
        """Take ``cost`` units now if they are free (``cost`` at most one window's amount)."""
        return self.strategy.hit(self.item, self.name, cost=cost)

    def acquire(self, segments: int, timeout: float = 30.0, *, priority: bool = False) -> bool:
        """Wait until ``segments`` may be sent; False if that cannot happen within ``timeout`` seconds.

        ``priority`` (replies, check-ins, pages to the duty officer): take the next free slot before
        any bulk waiter (see the module docstring).

        On False the caller must not send (and should try again later): some units may already
        have been taken, which only slows others down a little, never exceeds the cap.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        remaining = max(int(segments), 1)
        while remaining > 0:
            chunk = min(remaining, self.amount)
            while True:
                if not priority and self.redis.exists(self.priority_key):
                    wait = _YIELD_SECONDS  # someone urgent is waiting: the next slot is theirs
                elif self.try_acquire(chunk):
                    break
                else:
                    stats = self.strategy.get_window_stats(self.item, self.name)
                    # reset_time: when the oldest entry in the window expires, i.e. the next free slot.
                    wait = min(max(stats.reset_time - time.time(), _MIN_WAIT_SECONDS), float(self.window))
                    wait += random.uniform(0, _JITTER_SECONDS)
                    if priority:
                        flag_ms = math.ceil((wait + _PRIORITY_MARGIN_SECONDS) * 1000)
                        self.redis.set(self.priority_key, "1", px=flag_ms)
                if time.monotonic() + wait > deadline:
                    return False
                time.sleep(wait)
            remaining -= chunk
        return True

    def reset(self) -> None:
        self.strategy.clear(self.item, self.name)


class Unlimited:
    """Stands in when ``TWILIO_MAX_SEGMENTS_PER_SECOND`` is 0 (no cap)."""

    def acquire(self, segments: int, timeout: float = 30.0, *, priority: bool = False) -> bool:
        return True


def get_limiter() -> SegmentRateLimiter | Unlimited:
    """The Twilio segment limiter for this app's configuration."""
    per_second = float(current_app.config.get("TWILIO_MAX_SEGMENTS_PER_SECOND") or 0)
    if per_second <= 0:
        return Unlimited()
    return SegmentRateLimiter(redis_conn(), per_second)
