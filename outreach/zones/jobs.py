"""Zone jobs: the daily-ish sweep that queues permit and grace reminders. Idempotent (see reminders)."""

from __future__ import annotations

import logging

from outreach.alerts.jobs import cambodia_today
from outreach.extensions import db
from outreach.schedule import periodic
from outreach.zones.reminders import send_due

log = logging.getLogger(__name__)


@periodic("zone_reminders", queue="default", every_seconds=3600)
def send_zone_reminders() -> int:
    """Queue the reminders due today (Cambodia's date); the commit releases their send jobs."""
    report = send_due(cambodia_today())
    db.session.commit()
    if report.queued:
        log.info("zone reminders: %d queued in %d rounds", report.queued, report.rounds)
    return report.queued
