"""Send leases: how a running send job shows it is alive, so that a dead one is known within seconds.

A send job writes a ``send_lease`` row in the transaction that claims its batch (every claimed
message records the lease's id) and renews it from a background thread every ``SEND_LEASE_SECONDS``
/ 5 while it renders and hands off. When the job ends it deletes the row. A lease whose
``expires_at`` has passed — the worker was SIGKILLed, its host died, or it lost the database for a
whole lease period — belongs to nobody, and the messaging sweep settles its ``sending`` messages by
asking the provider (``send.settle_expired_leases``).

The fence. A job must never hand a message over once the sweep may consider its lease dead, or the
sweep's provider look-up could miss a message that is still on its way and send it again. So before
each hand-off the job asks :meth:`LeaseKeeper.holds`: true while its last successful renewal started
less than ``lease - margin`` ago, where ``margin`` (half the lease, at most the provider's request
timeout) leaves a request handed over at the last moment time to reach the provider before the lease
can expire. Renewals measure from before the UPDATE and the sweep compares ``expires_at`` (set from
the same host's clock, a full lease after the UPDATE) with its own clock, so the job always gives up
first; hosts' clocks must agree to well under the margin (NTP), as the rate limiter already needs.
While the database is away renewals fail: the job pauses its hand-offs (``wait_until_held``) and
goes on when a renewal succeeds again, or gives the rest back when the lease is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa

from outreach.extensions import DB_UNAVAILABLE, db
from outreach.models import SendLease, utcnow

log = logging.getLogger(__name__)

LEASE = cast(sa.Table, SendLease.__table__)
#: Renewals per lease period: one lost renewal (a slow database) never costs the lease.
RENEWALS_PER_LEASE = 5


@dataclass(frozen=True)
class LeaseSettings:
    seconds: float
    #: How long before the lease's expiry the job stops handing over (see the module docstring).
    margin: float

    @property
    def renew_every(self) -> float:
        return self.seconds / RENEWALS_PER_LEASE

    @classmethod
    def from_config(cls, config: Any) -> LeaseSettings:
        from outreach.config import Settings

        seconds = float(config.get("SEND_LEASE_SECONDS") or Settings.SEND_LEASE_SECONDS)
        timeout = float(config.get("TWILIO_TIMEOUT_SECONDS") or Settings.TWILIO_TIMEOUT_SECONDS)
        return cls(seconds=seconds, margin=min(timeout, seconds / 2))


def owner_name() -> str:
    """host:pid and the RQ job id: who held a lease, for the operator and the benchmark."""
    from rq import get_current_job

    job = get_current_job()
    return f"{socket.gethostname()}:{os.getpid()}:{job.id if job is not None else '-'}"[:200]


def create_lease(settings: LeaseSettings) -> int:
    """Insert a lease in the current transaction (the claim's); returns its id."""
    now = utcnow()
    return int(
        db.session.execute(
            sa.insert(LEASE)
            .values(owner=owner_name(), created_at=now, expires_at=now + timedelta(seconds=settings.seconds))
            .returning(LEASE.c.id)
        ).scalar_one()
    )


def delete_lease(lease_id: int) -> None:
    db.session.execute(sa.delete(LEASE).where(LEASE.c.id == lease_id))


def renew(engine: sa.Engine, lease_id: int, seconds: float) -> bool:
    """Push the lease's expiry a full period on, in its own short transaction; False once it has
    expired or been deleted (the sweep may own its messages now)."""
    now = utcnow()
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(LEASE)
            .where(LEASE.c.id == lease_id, LEASE.c.expires_at > now)
            .values(expires_at=now + timedelta(seconds=seconds))
        )
        return bool(result.rowcount)


class LeaseKeeper(threading.Thread):
    """Renews one lease in the background while its job works; answers "may I still hand over?"."""

    def __init__(self, engine: sa.Engine, lease_id: int, settings: LeaseSettings, taken_at: float) -> None:
        super().__init__(name=f"outreach-lease-{lease_id}", daemon=True)
        self.engine = engine
        self.lease_id = lease_id
        self.settings = settings
        #: ``time.monotonic()`` at the start of the last renewal that succeeded (first: the claim).
        self.last_renewed = taken_at
        #: The lease is gone for good: never hand anything over again.
        self.lost = False
        self._stopped = threading.Event()
        self._renewed = threading.Condition()

    def holds(self) -> bool:
        if self.lost:
            return False
        return time.monotonic() < self.last_renewed + self.settings.seconds - self.settings.margin

    def wait_until_held(self, timeout: float) -> bool:
        """Wait (the database is away, renewals fail) until the lease is held again; False on loss or
        timeout."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._renewed:
            while not self.holds():
                remaining = deadline - time.monotonic()
                if self.lost or remaining <= 0:
                    return False
                self._renewed.wait(min(remaining, 0.25))
        return True

    def run(self) -> None:
        while not self._stopped.wait(self.settings.renew_every):
            started = time.monotonic()
            try:
                held = renew(self.engine, self.lease_id, self.settings.seconds)
            except DB_UNAVAILABLE as exc:
                log.warning("lease %s: renewal failed (database unavailable): %s", self.lease_id, exc)
                continue
            except Exception:
                log.exception("lease %s: renewal failed", self.lease_id)
                continue
            with self._renewed:
                if held:
                    self.last_renewed = started
                else:
                    log.warning(
                        "lease %s expired before it could be renewed; handing nothing more over",
                        self.lease_id,
                    )
                    self.lost = True
                self._renewed.notify_all()
            if not held:
                return

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout=self.settings.seconds)
