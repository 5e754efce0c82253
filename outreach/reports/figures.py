"""Report figures: the dashboard (open reports by stage and province, time waited at the stage) and
the weekly summary (reports, located, rescued, repatriated, median hours report → located and
located → rescued), as a server-drawn SVG chart and a CSV. Weeks are Cambodia weeks, Monday first.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.extensions import db
from outreach.grievances.timeutil import LOCAL_TZ
from outreach.models import Person, Report, ReportStage, utcnow

OPEN_STAGES = [s for s in ReportStage if s != ReportStage.CLOSED]
#: The dashboard lists this many reports, longest waiting first; the counts cover all of them.
WAITING_SHOWN = 100


@dataclass
class Waiting:
    report: Report
    waited: timedelta
    province_code: str | None


@dataclass
class Board:
    by_stage: dict[ReportStage, int]
    by_province: list[tuple[str, int]]
    #: (stage, province) → count, for the grid.
    grid: dict[tuple[ReportStage, str], int]
    waiting: list[Waiting]
    provinces: list[str] = field(default_factory=list)


def format_wait(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 48:
        return _("%(hours)d h", hours=hours)
    return _("%(days)d days", days=hours // 24)


def dashboard(now: datetime | None = None) -> Board:
    """Counts by stage and province in one grouped query; the longest waits in one limited query."""
    now = now or utcnow()
    province = sa.func.coalesce(Report.province_code, Person.province_code, "-")
    open_reports = (
        sa.select(Report)
        .outerjoin(Person, Person.id == Report.person_id)
        .where(Report.stage != ReportStage.CLOSED)
    )
    counts = db.session.execute(
        open_reports.with_only_columns(Report.stage, province, sa.func.count()).group_by(
            Report.stage, province
        )
    ).all()
    by_stage: Counter[ReportStage] = Counter()
    by_province: Counter[str] = Counter()
    grid: Counter[tuple[ReportStage, str]] = Counter()
    for stage, place, n in counts:
        by_stage[stage] += n
        by_province[place] += n
        grid[(stage, place)] += n
    longest = db.session.execute(
        open_reports.with_only_columns(Report, province)
        .order_by(Report.stage_changed_at)
        .limit(WAITING_SHOWN)
    ).all()
    waiting = [Waiting(report, now - report.stage_changed_at, place) for report, place in longest]
    return Board(
        by_stage={s: by_stage[s] for s in OPEN_STAGES},
        by_province=sorted(by_province.items()),
        grid=dict(grid),
        waiting=waiting,
        provinces=sorted(by_province),
    )


@dataclass
class Week:
    start: date
    reports: int = 0
    located: int = 0
    rescued: int = 0
    repatriated: int = 0
    to_located_hours: list[float] = field(default_factory=list)
    to_rescued_hours: list[float] = field(default_factory=list)

    @property
    def median_to_located(self) -> float | None:
        return round(statistics.median(self.to_located_hours), 1) if self.to_located_hours else None

    @property
    def median_to_rescued(self) -> float | None:
        return round(statistics.median(self.to_rescued_hours), 1) if self.to_rescued_hours else None


def _week_of(moment: datetime) -> date:
    day = moment.astimezone(LOCAL_TZ).date()
    return day - timedelta(days=day.weekday())


def weekly(weeks: int = 12, now: datetime | None = None) -> list[Week]:
    """The last ``weeks`` Cambodia weeks (oldest first), counted from report timestamps."""
    now = now or utcnow()
    last = _week_of(now)
    first = last - timedelta(weeks=weeks - 1)
    table = {first + timedelta(weeks=i): Week(first + timedelta(weeks=i)) for i in range(weeks)}
    since = datetime.combine(first, datetime.min.time(), tzinfo=LOCAL_TZ)
    stmt = sa.select(Report.reported_at, Report.located_at, Report.rescued_at, Report.repatriated_at).where(
        sa.or_(
            Report.reported_at >= since,
            Report.located_at >= since,
            Report.rescued_at >= since,
            Report.repatriated_at >= since,
        )
    )
    for reported, located, rescued, repatriated in db.session.execute(stmt):
        if (w := table.get(_week_of(reported))) is not None:
            w.reports += 1
        if located is not None and (w := table.get(_week_of(located))) is not None:
            w.located += 1
            w.to_located_hours.append((located - reported).total_seconds() / 3600)
        if rescued is not None and (w := table.get(_week_of(rescued))) is not None:
            w.rescued += 1
            if located is not None:
                w.to_rescued_hours.append((rescued - located).total_seconds() / 3600)
        if repatriated is not None and (w := table.get(_week_of(repatriated))) is not None:
            w.repatriated += 1
    return [table[k] for k in sorted(table)]


def weekly_table(weeks: list[Week]) -> tuple[list[str], list[list[str]]]:
    header = [
        "week_start",
        "reports",
        "located",
        "rescued",
        "repatriated",
        "median_hours_report_to_located",
        "median_hours_located_to_rescued",
    ]
    rows = [
        [
            w.start.isoformat(),
            str(w.reports),
            str(w.located),
            str(w.rescued),
            str(w.repatriated),
            "" if w.median_to_located is None else str(w.median_to_located),
            "" if w.median_to_rescued is None else str(w.median_to_rescued),
        ]
        for w in weeks
    ]
    return header, rows


SERIES = (("reports", "#3b6ea5"), ("located", "#d9a400"), ("rescued", "#2e8b57"), ("repatriated", "#8a4f9e"))


def chart(weeks: list[Week]) -> str:
    """Grouped bars per week, as SVG markup (every text escaped; no script, nothing external)."""
    labels = {
        "reports": _("Reports"),
        "located": _("Located"),
        "rescued": _("Rescued"),
        "repatriated": _("Repatriated"),
    }
    peak = max([1] + [getattr(w, name) for w in weeks for name, _c in SERIES])
    group, bar, height, top, left = 44, 9, 160, 24, 30
    width = left + group * len(weeks) + 10
    title = escape(_("Reports per week"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {top + height + 40}" width="{width}" '
        f'height="{top + height + 40}" role="img" aria-labelledby="weekly-title">',
        f'<title id="weekly-title">{title}</title>',
    ]
    for n, (name, colour) in enumerate(SERIES):
        parts.append(
            f'<rect x="{left + n * 110}" y="4" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + n * 110 + 14}" y="13" font-size="11">{escape(labels[name])}</text>'
        )
    base = top + height
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#999"/>')
    parts.append(f'<text x="{left - 4}" y="{top + 10}" font-size="10" text-anchor="end">{peak}</text>')
    for i, week in enumerate(weeks):
        x0 = left + i * group + 4
        for n, (name, colour) in enumerate(SERIES):
            value = getattr(week, name)
            h = round(value / peak * height, 1)
            parts.append(
                f'<rect x="{x0 + n * bar}" y="{base - h}" width="{bar - 1}" height="{h}" fill="{colour}">'
                f"<title>{escape(str(labels[name]))} {week.start.isoformat()}: {value}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + 2 * bar}" y="{base + 14}" font-size="9" text-anchor="middle">'
            f"{week.start.strftime('%m-%d')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
