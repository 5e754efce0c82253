"""Report timers: a report that waits too long at a stage pages the duty officer, once per timer.

* not verified — still ``reported`` 2 hours after the report;
* not located — still ``reported`` or ``verifying`` 24 hours after the report;
* no news — ``referred`` and nothing heard for 48 hours (any note, contact or task-force reference
  is news; the timer starts again after it).

The page goes through the case's paging path (``notify_duty_officers`` with a case event), so it
reaches the same officers the same way as a call for help. Each firing is claimed by a guarded
UPDATE of the timer's column, so two workers never page twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from outreach.cases.notify import notify_duty_officers
from outreach.extensions import db
from outreach.models import Case, CaseEvent, Report, ReportEvent, ReportStage, utcnow

log = logging.getLogger(__name__)

NOT_VERIFIED_AFTER = timedelta(hours=2)
NOT_LOCATED_AFTER = timedelta(hours=24)
NO_NEWS_AFTER = timedelta(hours=48)


@dataclass(frozen=True)
class Timer:
    kind: str
    column: str
    condition: sa.ColumnElement[bool]
    #: What the claim writes in ``column``: the clock, or (no news) the news it fired for, so that
    #: the next word from the task force starts the timer again.
    stamp: Any = None  # a column or None


def _timers(now: datetime) -> list[Timer]:
    return [
        Timer(
            "timer_not_verified",
            "verify_escalated_at",
            sa.and_(
                Report.stage == ReportStage.REPORTED,
                Report.reported_at <= now - NOT_VERIFIED_AFTER,
                Report.verify_escalated_at.is_(None),
            ),
        ),
        Timer(
            "timer_not_located",
            "locate_escalated_at",
            sa.and_(
                Report.stage.in_([ReportStage.REPORTED, ReportStage.VERIFYING]),
                Report.reported_at <= now - NOT_LOCATED_AFTER,
                Report.locate_escalated_at.is_(None),
            ),
        ),
        Timer(
            "timer_no_news",
            "news_escalated_at",
            sa.and_(
                Report.stage == ReportStage.REFERRED,
                Report.last_news_at <= now - NO_NEWS_AFTER,
                sa.or_(Report.news_escalated_at.is_(None), Report.news_escalated_at < Report.last_news_at),
            ),
            Report.last_news_at,
        ),
    ]


def escalate_overdue(now: datetime | None = None) -> int:
    """Page the duty officer for every report whose timer ran out; returns how many pages were sent.

    ``now`` is the clock (tests move it); each report is claimed and committed on its own.
    """
    now = now or utcnow()
    done = 0
    for timer in _timers(now):
        ids = list(
            db.session.scalars(sa.select(Report.id).where(timer.condition).order_by(Report.id).limit(200))
        )
        for report_id in ids:
            claimed = db.session.execute(
                sa.update(Report)
                .where(Report.id == report_id, timer.condition)
                .values({timer.column: timer.stamp if timer.stamp is not None else now})
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            report = db.session.get(Report, report_id)
            assert report is not None
            case = db.session.get(Case, report.case_id)
            assert case is not None
            case_event = CaseEvent(case_id=case.id, kind=timer.kind, created_at=now)
            db.session.add(case_event)
            db.session.add(ReportEvent(report_id=report.id, kind=timer.kind, created_at=now))
            db.session.flush()
            notify_duty_officers(case, case_event)
            db.session.commit()
            done += 1
    if done:
        log.warning("report timers paged the duty officers %d times", done)
    return done
