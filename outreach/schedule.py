"""Periodic jobs (reconciliation, reminders, retention), enqueued by whichever worker gets there first.

RQ's own ``CronScheduler`` wants a process of its own per host and does not coordinate between hosts;
we run any number of workers on any number of hosts, so each worker ticks, and a Redis ``SET NX EX``
per job and period makes exactly one of them enqueue it. The jobs are idempotent anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Queue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    func: Callable[..., Any]
    queue: str
    every_seconds: int
    #: Also run when a worker starts (e.g. reconcile messages a crashed worker left in ``sending``).
    on_start: bool = False
    #: A config key that, when set, gives the period instead of ``every_seconds``.
    setting: str | None = None

    def period(self, config: Mapping[str, Any] | None) -> int:
        if self.setting and config is not None and config.get(self.setting):
            return max(1, int(config[self.setting]))
        return self.every_seconds


PERIODIC: dict[str, Periodic] = {}


def periodic(
    name: str, queue: str, every_seconds: int, *, on_start: bool = False, setting: str | None = None
) -> Callable[[Any], Any]:
    """Decorator: run the job function every ``every_seconds`` (or config ``setting``) on ``queue``."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        PERIODIC[name] = Periodic(name, func, queue, every_seconds, on_start, setting)
        return func

    return decorator


def load_periodic_jobs() -> dict[str, Periodic]:
    """Import the modules that declare periodic jobs."""
    import importlib

    for module in (
        "outreach.messaging.jobs",
        "outreach.alerts.jobs",
        "outreach.checkins.jobs",
        "outreach.registry.jobs",
        "outreach.grievances.jobs",
        "outreach.zones.jobs",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return PERIODIC


def tick(conn: Redis, *, starting: bool = False, config: Mapping[str, Any] | None = None) -> list[str]:
    """Enqueue each periodic job whose period has come round; returns the names enqueued."""
    enqueued = []
    for job in load_periodic_jobs().values():
        due = conn.set(f"outreach:periodic:{job.name}", "1", nx=True, ex=job.period(config))
        if due or (starting and job.on_start):
            Queue(job.queue, connection=conn).enqueue(
                job.func, job_id=None, description=f"periodic {job.name}"
            )
            enqueued.append(job.name)
    return enqueued


class Ticker(threading.Thread):
    """Background thread in each worker process that calls :func:`tick` every few seconds."""

    def __init__(self, conn: Redis, interval: float = 1.0, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(name="outreach-periodic", daemon=True)
        self.conn = conn
        # Every second: the messaging sweep runs every few seconds, and a tick is one SET NX per job.
        self.interval = interval
        self.config = config
        self.stopped = threading.Event()

    def run(self) -> None:
        starting = True
        while not self.stopped.is_set():
            try:
                names = tick(self.conn, starting=starting, config=self.config)
                if names:
                    log.debug("enqueued periodic jobs: %s", ", ".join(names))
                starting = False
            except Exception:  # a Redis blip must not kill the ticker; the next tick tries again
                log.exception("periodic tick failed")
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
