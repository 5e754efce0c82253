"""Case jobs. Periodic jobs here are registered through ``outreach.checkins.jobs`` (which the
scheduler loads), so that one import wires both."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from outreach.cases.notify import notify_duty_officers
from outreach.extensions import db
from outreach.models import Case, CaseEvent, CaseStatus, utcnow
from outreach.reports import jobs as _report_jobs  # noqa: F401  (registers the report timers)
from outreach.schedule import periodic

log = logging.getLogger(__name__)

#: A case nobody acknowledged pages the duty officers again after this long.
UNACKNOWLEDGED_AFTER = timedelta(minutes=15)


@periodic("case_unacknowledged", queue="high", every_seconds=60)
def renotify_unacknowledged_cases() -> int:
    """Page the duty officers again for every case still ``open`` long after its last page.

    Idempotent: each case is re-paged at most once per :data:`UNACKNOWLEDGED_AFTER` (the guarded
    UPDATE of ``last_notified_at`` decides which run does it).
    """
    now = utcnow()
    cutoff = now - UNACKNOWLEDGED_AFTER
    ids = list(
        db.session.scalars(
            sa.select(Case.id)
            .where(Case.status == CaseStatus.OPEN, Case.last_notified_at < cutoff)
            .order_by(Case.id)
            .limit(200)
        )
    )
    done = 0
    for case_id in ids:
        claimed = db.session.execute(
            sa.update(Case)
            .where(Case.id == case_id, Case.status == CaseStatus.OPEN, Case.last_notified_at < cutoff)
            .values(last_notified_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        case = db.session.get(Case, case_id)
        assert case is not None
        event = CaseEvent(case_id=case.id, kind="unacknowledged", body=None)
        db.session.add(event)
        db.session.flush()
        notify_duty_officers(case, event)
        db.session.commit()
        done += 1
    if done:
        log.warning("re-paged duty officers for %d unacknowledged cases", done)
    return done
