"""Who is "present in Cambodia today" — the one definition every audience uses.

"Today" is Cambodia's date (Asia/Phnom_Penh, UTC+7 all year): between 00:00 and 07:00 in Phnom Penh
the UTC date is still yesterday's, and a traveler who leaves today must still be reached. Alert
dispatch, check-in dispatch, audience counts and the staff "present" filter all call
:func:`present_conditions` with :func:`cambodia_today` (``Person.is_present`` is the same rule for
one loaded person), so a count, its recipients and its messages
never disagree about who is here.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from outreach.models import Person, utcnow

CAMBODIA_TZ = ZoneInfo("Asia/Phnom_Penh")


def cambodia_today(now: datetime | None = None) -> date:
    """The date in Phnom Penh at ``now`` (default: the current time)."""
    return (now or utcnow()).astimezone(CAMBODIA_TZ).date()


def present_conditions(today: date) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on ``Person``: arrived (or no arrival date known) and not yet left on ``today``."""
    return [
        sa.or_(Person.arrival_date.is_(None), Person.arrival_date <= today),
        sa.or_(Person.departure_date.is_(None), Person.departure_date >= today),
    ]


__all__ = ["CAMBODIA_TZ", "cambodia_today", "present_conditions"]
