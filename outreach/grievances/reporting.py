"""The staff triage queue (filters, age, overdue), the CSV export and the summary of grievances.

Overdue: a grievance that is still open and has had no first response (no reply and no status change
the representative could see) within ``GRIEVANCE_RESPONSE_HOURS`` (default 72) of its submission.
Months in the summary and years in reference codes are Cambodian (UTC+7, no daylight saving).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from outreach.audit import record
from outreach.csvexport import csv_bytes
from outreach.extensions import db
from outreach.grievances.timeutil import LOCAL_TZ, LOCAL_TZ_NAME, format_local
from outreach.grievances.workflow import OPEN_STATUSES, require_staff
from outreach.models import (
    Grievance,
    GrievanceCategory,
    GrievanceStatus,
    Organisation,
    Province,
    Urgency,
    User,
    utcnow,
)

DEFAULT_RESPONSE_HOURS = 72

#: Most urgent first in the queue.
URGENCY_RANK = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.NORMAL: 2, Urgency.LOW: 3}

STATUS_FILTERS = ("open", "all", *(s.value for s in GrievanceStatus))


def response_target_hours() -> int:
    """The configured response target in hours (``GRIEVANCE_RESPONSE_HOURS``)."""
    try:
        hours = int(current_app.config.get("GRIEVANCE_RESPONSE_HOURS") or DEFAULT_RESPONSE_HOURS)
    except (TypeError, ValueError):
        hours = DEFAULT_RESPONSE_HOURS
    return max(1, hours)


def overdue_clause(now: datetime, hours: int) -> sa.ColumnElement[bool]:
    """SQL: open, never answered, and older than the response target."""
    return sa.and_(
        Grievance.status.in_(OPEN_STATUSES),
        Grievance.first_response_at.is_(None),
        Grievance.created_at < now - timedelta(hours=hours),
    )


def is_overdue(grievance: Grievance, now: datetime, hours: int) -> bool:
    """The same rule as :func:`overdue_clause`, for one loaded grievance."""
    return (
        grievance.status in OPEN_STATUSES
        and grievance.first_response_at is None
        and grievance.created_at < now - timedelta(hours=hours)
    )


def age(grievance: Grievance, now: datetime) -> timedelta:
    """How long the grievance has waited: until its first response, or until now."""
    end = grievance.first_response_at or now
    return end - grievance.created_at


def _urgency_rank() -> sa.Case[Any]:
    return sa.case({u.value: rank for u, rank in URGENCY_RANK.items()}, value=Grievance.urgency, else_=9)


@dataclass
class GrievanceFilters:
    """The queue's filters, parsed from query arguments; invalid values mean "any"."""

    status: str = "open"
    category: str = ""
    province_code: str = ""
    urgency: str = ""
    #: "", "me", "none" or a user id.
    assignee: str = ""
    overdue: bool = False
    #: Matches the reference code or the title.
    q: str = ""
    #: Resolved from ``assignee`` ("me" → the viewer's id).
    _assignee_id: int | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: Mapping[str, Any], *, viewer: User | None = None) -> GrievanceFilters:
        def one(name: str) -> str:
            return str(args.get(name) or "").strip()

        f = cls()
        status = one("status") or "open"
        f.status = status if status in STATUS_FILTERS else "open"
        f.category = one("category") if one("category") in {c.value for c in GrievanceCategory} else ""
        f.urgency = one("urgency") if one("urgency") in {u.value for u in Urgency} else ""
        province = one("province")
        f.province_code = province if province and db.session.get(Province, province) is not None else ""
        assignee = one("assignee")
        if assignee == "me" and viewer is not None:
            f.assignee, f._assignee_id = "me", viewer.id
        elif assignee == "none":
            f.assignee = "none"
        elif assignee.isdigit():
            f.assignee, f._assignee_id = assignee, int(assignee)
        f.overdue = one("overdue") in {"1", "true", "yes", "on"}
        f.q = one("q")[:100]
        return f

    def as_args(self) -> dict[str, str]:
        """Non-empty filters as query arguments (for links, the pager and the export form)."""
        values = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        out = {("province" if k == "province_code" else k): str(v) for k, v in values.items() if v}
        if self.overdue:
            out["overdue"] = "1"
        return out

    def apply(self, stmt: sa.Select[Any], *, now: datetime, hours: int) -> sa.Select[Any]:
        if self.status == "open":
            stmt = stmt.where(Grievance.status.in_(OPEN_STATUSES))
        elif self.status != "all":
            stmt = stmt.where(Grievance.status == GrievanceStatus(self.status))
        if self.category:
            stmt = stmt.where(Grievance.category == GrievanceCategory(self.category))
        if self.province_code:
            stmt = stmt.where(Grievance.province_code == self.province_code)
        if self.urgency:
            stmt = stmt.where(Grievance.urgency == Urgency(self.urgency))
        if self.assignee == "none":
            stmt = stmt.where(Grievance.assignee_id.is_(None))
        elif self._assignee_id is not None:
            stmt = stmt.where(Grievance.assignee_id == self._assignee_id)
        if self.overdue:
            stmt = stmt.where(overdue_clause(now, hours))
        if self.q:
            pattern = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(
                sa.or_(
                    Grievance.reference.ilike(pattern, escape="\\"),
                    Grievance.title.ilike(pattern, escape="\\"),
                )
            )
        return stmt


def queue_query(
    filters: GrievanceFilters, *, now: datetime | None = None, hours: int | None = None
) -> sa.Select[Any]:
    """The staff queue: filtered, the most urgent first, then the oldest."""
    now = now or utcnow()
    hours = hours or response_target_hours()
    stmt = filters.apply(sa.select(Grievance), now=now, hours=hours)
    return stmt.order_by(_urgency_rank(), Grievance.created_at, Grievance.id)


# --- CSV export ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "reference",
    "submitted_at",
    "status",
    "category",
    "urgency",
    "province",
    "organisation",
    "submitted_by",
    "people_affected",
    "title",
    "description",
    "contact_consent",
    "contact_info",
    "police_sharing_consent",
    "assignee",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "overdue",
)


def export_csv(filters: GrievanceFilters, actor: User | None) -> tuple[bytes, int]:
    """The filtered queue as CSV (UTF-8 with a byte-order mark, so spreadsheets read Korean correctly).

    The export itself is an audit event: who exported how many grievances with which filters.
    """
    staff = require_staff(actor)
    now = utcnow()
    hours = response_target_hours()
    stmt = queue_query(filters, now=now, hours=hours).options(
        sa.orm.selectinload(Grievance.organisation),
        sa.orm.selectinload(Grievance.submitted_by),
        sa.orm.selectinload(Grievance.assignee),
    )
    rows: list[tuple[Any, ...]] = [
        (
            g.reference,
            format_local(g.created_at, "%Y-%m-%d %H:%M:%S%z"),
            g.status.value,
            g.category.value,
            g.urgency.value,
            g.province_code,
            g.organisation.name if g.organisation else "",
            g.submitted_by.email if g.submitted_by else "",
            g.people_affected,
            g.title,
            g.description,
            "yes" if g.contact_consent else "no",
            g.contact_info,
            "yes" if g.police_sharing_consent else "no",
            (g.assignee.name or g.assignee.email) if g.assignee else "",
            format_local(g.first_response_at, "%Y-%m-%d %H:%M:%S%z"),
            format_local(g.resolved_at, "%Y-%m-%d %H:%M:%S%z"),
            format_local(g.closed_at, "%Y-%m-%d %H:%M:%S%z"),
            "yes" if is_overdue(g, now, hours) else "no",
        )
        for g in db.session.scalars(stmt)
    ]
    count = len(rows)
    record("grievance.export", actor=staff, target_type="grievance", count=count, filters=filters.as_args())
    return csv_bytes(CSV_COLUMNS, rows), count


# --- summary ---------------------------------------------------------------------------------------


@dataclass
class Summary:
    total: int
    people_affected: int
    by_status: list[tuple[GrievanceStatus, int]]
    #: Every category, in the enum's order, zeros included.
    by_category: list[tuple[GrievanceCategory, int]]
    #: Provinces with at least one grievance, most first; ``None`` is "no province".
    by_province: list[tuple[str | None, int]]
    #: Each month ("2026-03") from the first to the last with a grievance, zeros included.
    by_month: list[tuple[str, int]]
    #: Median hours from submission to first response, over the grievances that had one.
    median_first_response_hours: float | None
    responded: int
    overdue: int
    response_hours: int
    since: date | None = None
    until: date | None = None


def _month_key(dialect: str) -> sa.ColumnElement[str]:
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone(LOCAL_TZ_NAME, Grievance.created_at), "YYYY-MM")
    # SQLite stores UTC without a zone; Cambodia is UTC+7 all year.
    return sa.func.strftime("%Y-%m", Grievance.created_at, "+7 hours")


def _months_between(first: str, last: str) -> list[str]:
    year, month = (int(x) for x in first.split("-"))
    end = tuple(int(x) for x in last.split("-"))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return months


def local_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ)


def summary(
    *,
    since: date | None = None,
    until: date | None = None,
    organisation_id: int | None = None,
    now: datetime | None = None,
) -> Summary:
    """Counts by status, category, province and month, and the median time to first response.

    ``since``/``until`` are Cambodian calendar days, both included. Every figure is one aggregate query.
    """
    now = now or utcnow()
    hours = response_target_hours()
    conditions: list[sa.ColumnElement[bool]] = []
    if since is not None:
        conditions.append(Grievance.created_at >= local_day_start(since))
    if until is not None:
        conditions.append(Grievance.created_at < local_day_start(until + timedelta(days=1)))
    if organisation_id is not None:
        conditions.append(Grievance.organisation_id == organisation_id)
    where = sa.and_(sa.true(), *conditions)

    def grouped(column: Any) -> list[tuple[Any, int]]:
        stmt = sa.select(column, sa.func.count(Grievance.id)).where(where).group_by(column)
        return [(key, int(n)) for key, n in db.session.execute(stmt)]

    total, people = db.session.execute(
        sa.select(
            sa.func.count(Grievance.id), sa.func.coalesce(sa.func.sum(Grievance.people_affected), 0)
        ).where(where)
    ).one()
    status_counts = dict(grouped(Grievance.status))
    category_counts = dict(grouped(Grievance.category))
    province_counts = grouped(Grievance.province_code)
    month_key = _month_key(db.session.get_bind().dialect.name).label("month")
    month_counts = dict(grouped(month_key))
    months = _months_between(min(month_counts), max(month_counts)) if month_counts else []

    responded_rows = db.session.execute(
        sa.select(Grievance.created_at, Grievance.first_response_at).where(
            where, Grievance.first_response_at.is_not(None)
        )
    ).all()
    waits = [(answered - created).total_seconds() / 3600 for created, answered in responded_rows]
    overdue = db.session.scalar(
        sa.select(sa.func.count(Grievance.id)).where(where, overdue_clause(now, hours))
    )
    return Summary(
        total=int(total),
        people_affected=int(people),
        by_status=[(s, status_counts.get(s, 0)) for s in GrievanceStatus],
        by_category=[(c, category_counts.get(c, 0)) for c in GrievanceCategory],
        by_province=sorted(province_counts, key=lambda kv: (-kv[1], kv[0] or "")),
        by_month=[(m, month_counts.get(m, 0)) for m in months],
        median_first_response_hours=statistics.median(waits) if waits else None,
        responded=len(waits),
        overdue=int(overdue or 0),
        response_hours=hours,
        since=since,
        until=until,
    )


def organisations() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).order_by(Organisation.name)))
