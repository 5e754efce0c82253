"""Run an Outreach worker: ``python worker.py [--queues high,default,bulk] [--simple] [--burst]``.

Queues are served in priority order, so replies, check-ins and help notifications (``high``) never
wait behind an alert fan-out (``bulk``). Every job must be idempotent: the worker can be killed at any
moment, and stuck messages are reconciled with the provider when a worker starts and on a schedule.
"""

from __future__ import annotations

import argparse
import logging
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from outreach import create_app
from outreach.extensions import QUEUE_NAMES
from outreach.jobs import make_worker
from outreach.logs import quiet_periodic_jobs
from outreach.schedule import Ticker

log = logging.getLogger("outreach.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--queues", default=",".join(QUEUE_NAMES), help="comma-separated, highest priority first"
    )
    parser.add_argument("--simple", action="store_true", help="run jobs in this process (no fork per job)")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--no-periodic", action="store_true", help="do not enqueue periodic jobs from here")
    args = parser.parse_args(argv)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = set(queues) - set(QUEUE_NAMES)
    if unknown:
        parser.error(f"unknown queue(s): {', '.join(sorted(unknown))}; known: {', '.join(QUEUE_NAMES)}")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_periodic_jobs()
    app = create_app()
    worker = make_worker(app, queues, simple=args.simple)
    ticker = None
    if not args.no_periodic and not args.burst:
        ticker = Ticker(app.extensions["redis"], config=app.config)
        ticker.start()
    try:
        while True:
            try:
                worker.work(burst=args.burst, with_scheduler=True)
                break
            except (RedisConnectionError, RedisTimeoutError) as exc:
                # RQ gives up when Redis goes away in the middle of its bookkeeping; the worker must
                # outlive a Redis restart, so wait for Redis and start a fresh RQ worker. The job that
                # was running is covered: its lease expires and the messaging sweep settles it.
                log.warning("lost Redis (%s); starting again once it answers", exc)
                wait_for_redis(app.extensions["redis"])
                worker = make_worker(app, queues, simple=args.simple)
    finally:
        if ticker:
            ticker.stop()
    return 0


def wait_for_redis(conn: Redis, longest_pause: float = 5.0) -> None:
    pause = 0.5
    while True:
        try:
            conn.ping()
            return
        except (RedisConnectionError, RedisTimeoutError):
            time.sleep(pause)
            pause = min(pause * 2, longest_pause)


if __name__ == "__main__":
    raise SystemExit(main())
