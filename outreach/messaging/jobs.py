"""RQ entry points of the messaging pipeline. Thin: they take ids and call the core in ``send``.

Both are idempotent: a send batch claims atomically (a message is handed over once however often
the job runs), and reconciliation only moves messages through guarded transitions.
"""

from __future__ import annotations

from rq import Retry

from outreach.messaging import recovery, send
from outreach.schedule import periodic

#: A send job that crashed before claiming (database unreachable) runs again; after the claim a
#: re-run finds nothing to claim, and reconciliation settles what the crashed run left in ``sending``.
SEND_RETRY = Retry(max=3, interval=[10, 30, 90])


def send_batch_job(message_ids: list[int]) -> dict[str, int]:
    """Send one batch of messages (queue ``high`` or ``bulk``; timeout ``SENDING_STUCK_SECONDS``)."""
    return send.send_batch(message_ids).as_dict()


@periodic("messaging.reconcile", queue="default", every_seconds=60, on_start=True)
def reconcile_job() -> dict[str, int]:
    """Settle messages stuck in ``sending`` and re-enqueue lost retries (every minute, and at start)."""
    return send.reconcile_stuck().as_dict()


@periodic("messaging.sweep", queue="default", every_seconds=5, setting="SEND_SWEEP_SECONDS", on_start=True)
def sweep_job() -> dict[str, object]:
    """Settle dead jobs' messages, re-queue pending ones Redis lost, apply spooled status callbacks
    (every ``SEND_SWEEP_SECONDS``, and at start); see ``outreach.messaging.recovery``."""
    return recovery.sweep().as_dict()
