"""Report jobs. The periodic timer run is registered through ``outreach.cases.jobs`` (which the
scheduler loads through ``outreach.checkins.jobs``), so that one import wires them all."""

from __future__ import annotations

from outreach.reports.enquiries import escalate_unanswered
from outreach.reports.timers import escalate_overdue
from outreach.schedule import periodic


@periodic("report_timers", queue="high", every_seconds=300)
def run_report_timers() -> int:
    """Page the duty officers for reports waiting too long at their stage (idempotent: see timers)."""
    return escalate_overdue()


@periodic("enquiry_timers", queue="high", every_seconds=300)
def run_enquiry_timers() -> int:
    """Family enquiries unanswered for 24 hours become reports (idempotent: a guarded status move)."""
    return escalate_unanswered()
