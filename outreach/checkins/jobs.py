"""Check-in jobs: the periodic runner of reminder and escalation steps.

Jobs take ids, run in a fresh app context (the worker pushes one) and are idempotent: a step is
claimed by a guarded UPDATE of its ``done_at`` in the transaction that does its work.
"""

from __future__ import annotations

import logging

# The scheduler loads this module and the send pipeline imports it before its first send: importing
# the case jobs registers their periodic entries, and the hooks register the dispatch hook, the body
# extra, the renderers and the inbound handlers in workers that never import the web views.
from outreach.cases import jobs as _case_jobs  # noqa: F401
from outreach.checkins import hooks as _hooks  # noqa: F401
from outreach.checkins.reminders import due_step_ids, run_step
from outreach.extensions import db
from outreach.schedule import periodic

log = logging.getLogger(__name__)


@periodic("checkin_steps", queue="default", every_seconds=60)
def run_due_checkin_steps() -> int:
    """Run every reminder and escalation step that is due, each in its own transaction."""
    ran = 0
    for step_id in due_step_ids():
        try:
            affected = run_step(step_id)
            db.session.commit()  # releases the step's send jobs
        except Exception:
            db.session.rollback()
            log.exception("check-in step %s failed; it will be tried again on the next tick", step_id)
            continue
        if affected is not None:
            ran += 1
    return ran


def run_checkin_step(step_id: int) -> int | None:
    """Run one step now if it is due (used by staff "send reminder now" and by tests)."""
    affected = run_step(step_id)
    db.session.commit()
    return affected
