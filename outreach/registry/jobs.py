"""Registry jobs: retention (anonymise departed travelers, drop stale registration conversations)."""

from __future__ import annotations

import logging

from flask import current_app

from outreach.extensions import db
from outreach.registry.conversation import purge_expired
from outreach.registry.operations import anonymise_departed_travelers
from outreach.schedule import periodic

log = logging.getLogger(__name__)


@periodic("retention", queue="default", every_seconds=3600)
def retention() -> int:
    """Anonymise travelers ``RETENTION_DAYS_AFTER_DEPARTURE`` days after departure (not while a case
    about them is open). Idempotent: a second run finds no one left to anonymise. Returns the count."""
    days = int(current_app.config["RETENTION_DAYS_AFTER_DEPARTURE"])
    ids = anonymise_departed_travelers(days)
    purged = purge_expired()
    db.session.commit()
    log.info(
        "retention job: %d travelers anonymised, %d stale registration conversations removed",
        len(ids),
        purged,
    )
    return len(ids)
