"""Live progress of a broadcast: counts by status, current rate, time left, failures by error code.

Everything is a grouped query over the alert's messages (an index on ``(source_kind, source_id,
status)`` serves it), cheap enough to poll every couple of seconds while 100,000 messages go out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from outreach.extensions import db
from outreach.messaging import errors
from outreach.models import Alert, AlertStatus, Message, MessageStatus, Person, SourceKind, utcnow

#: The rate is measured over this window: long enough to be steady, short enough to follow throttling.
RATE_WINDOW_SECONDS = 30

STATUSES = [s.value for s in MessageStatus]


ALERT_STATUS_LABELS: dict[AlertStatus, LazyString] = {
    AlertStatus.DRAFT: _l("Draft"),
    AlertStatus.PENDING_APPROVAL: _l("Waiting for approval"),
    AlertStatus.APPROVED: _l("Approved"),
    AlertStatus.DISPATCHING: _l("Preparing recipients"),
    AlertStatus.SENDING: _l("Sending"),
    AlertStatus.COMPLETED: _l("Completed"),
    AlertStatus.CANCELLED: _l("Cancelled"),
}
MESSAGE_STATUS_LABELS: dict[str, LazyString] = {
    "pending": _l("Waiting"),
    "sending": _l("Being sent"),
    "sent": _l("Sent"),
    "delivered": _l("Delivered"),
    "undelivered": _l("Undelivered"),
    "failed": _l("Failed"),
    "skipped": _l("Skipped"),
}


#: Audit actions on an alert, as the history on the alert page names them.
ACTION_LABELS: dict[str, LazyString] = {
    "alert.create": _l("Written"),
    "alert.update": _l("Edited"),
    "alert.test_send": _l("Test sent"),
    "alert.submit": _l("Submitted"),
    "alert.approve": _l("Approved"),
    "alert.return": _l("Returned to the author"),
    "alert.send": _l("Sending started"),
    "alert.dispatched": _l("Recipients prepared"),
    "alert.complete": _l("Completed"),
    "alert.cancel": _l("Cancelled"),
    "alert.export_failures": _l("Failures exported"),
}


def explain(code: str | None) -> str:
    """What an error code means, for the officer following up (in the staff member's language)."""
    if not code:
        return _("No error code was given.")
    return errors.explain(code)


@dataclass
class FailureGroup:
    code: str | None
    count: int
    explanation: str


@dataclass
class Progress:
    alert_id: int
    status: str
    total: int
    counts: dict[str, int]
    #: Messages finished one way or another (sent, delivered, failed, undelivered, skipped).
    done: int
    percent: float
    #: Messages handed to the provider per second over the last ``RATE_WINDOW_SECONDS``.
    rate: float
    #: Seconds until the remaining messages are sent at the current rate; None when unknown.
    seconds_left: float | None
    failures: list[FailureGroup] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "status": self.status,
            "total": self.total,
            "counts": self.counts,
            "done": self.done,
            "percent": round(self.percent, 1),
            "rate": round(self.rate, 1),
            "seconds_left": None if self.seconds_left is None else round(self.seconds_left),
            "failures": [
                {"code": f.code, "count": f.count, "explanation": f.explanation} for f in self.failures
            ],
        }


def _for_alert(alert_id: int) -> list[sa.ColumnElement[bool]]:
    return [Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id]


FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.SKIPPED)


def alert_progress(alert: Alert) -> Progress:
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in db.session.execute(
        sa.select(Message.status, sa.func.count()).where(*_for_alert(alert.id)).group_by(Message.status)
    ):
        counts[MessageStatus(status).value] = int(n)
    total = sum(counts.values())
    waiting = counts["pending"] + counts["sending"]
    done = total - waiting
    now = utcnow()
    since = now - timedelta(seconds=RATE_WINDOW_SECONDS)
    recent, first = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(Message.sent_at)).where(
            *_for_alert(alert.id), Message.sent_at.is_not(None), Message.sent_at >= since
        )
    ).one()
    # Over the window, or over the time since the first of these was sent when that is shorter
    # (a broadcast that started ten seconds ago has ten seconds of history, not thirty).
    span = RATE_WINDOW_SECONDS
    if first is not None:
        span = min(RATE_WINDOW_SECONDS, max(1.0, (now - first).total_seconds()))
    rate = int(recent or 0) / span
    running = alert.status in (AlertStatus.DISPATCHING, AlertStatus.SENDING)
    seconds_left = waiting / rate if (rate > 0 and running) else (0.0 if not waiting else None)
    failures = [
        FailureGroup(code=code, count=int(n), explanation=explain(code))
        for code, n in db.session.execute(
            sa.select(Message.error_code, sa.func.count())
            .where(*_for_alert(alert.id), Message.status.in_(FAILED))
            .group_by(Message.error_code)
            .order_by(sa.func.count().desc(), Message.error_code)
        )
    ]
    return Progress(
        alert_id=alert.id,
        status=AlertStatus(alert.status).value,
        total=total,
        counts=counts,
        done=done,
        percent=(100.0 * done / total) if total else (100.0 if not running else 0.0),
        rate=rate,
        seconds_left=seconds_left,
        failures=failures,
    )


CSV_HEADER = [
    "message_id",
    "person_id",
    "name_ko",
    "name_latin",
    "channel",
    "address",
    "language",
    "province",
    "status",
    "error_code",
    "explanation",
    "emergency_name",
    "emergency_phone",
]


def failure_rows(alert_id: int, chunk: int = 2000) -> Iterator[list[str]]:
    """Failed, undelivered and skipped messages with who to call, streamed in chunks (CSV export)."""
    stmt = (
        sa.select(Message, Person)
        .outerjoin(Person, Person.id == Message.person_id)
        .where(*_for_alert(alert_id), Message.status.in_(FAILED))
        .order_by(Message.id)
        .execution_options(yield_per=chunk)
    )
    for message, person in db.session.execute(stmt):
        yield [
            str(message.id),
            str(message.person_id or ""),
            (person.name_ko if person else "") or "",
            (person.name_latin if person else "") or "",
            message.channel,
            message.to_address or "",
            message.language,
            (person.province_code if person else "") or "",
            MessageStatus(message.status).value,
            message.error_code or "",
            explain(message.error_code),
            (person.emergency_name if person else "") or "",
            (person.emergency_phone if person else "") or "",
        ]
