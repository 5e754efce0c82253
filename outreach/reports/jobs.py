"""Report jobs. The periodic timer run is registered through ``outreach.cases.jobs`` (which the
scheduler loads through ``outreach.checkins.jobs``), so that one import wires them all."""

from __future__ import annotations

from outreach.reports.timers import escalate_overdue
from outreach.schedule import periodic


@periodic("report_timers", queue="high", every_seconds=300)
def run_report_timers() -> int:
    """Page the duty officers for reports waiting too long at their stage (idempotent: see timers)."""
    return escalate_overdue()
