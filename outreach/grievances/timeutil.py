"""Times as people in Cambodia read them, and ages of grievances."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask_babel import gettext as _

#: Cambodia keeps UTC+7 all year (no daylight saving); reports and reference years use it.
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
LOCAL_TZ_NAME = "Asia/Phnom_Penh"


def local(value: datetime) -> datetime:
    return value.astimezone(LOCAL_TZ)


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local(value).strftime(fmt) if value is not None else ""


def format_age(delta: timedelta) -> str:
    """A short age such as "3 d 4 h" or "45 min"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h", days=days, hours=hours)
    if hours:
        return _("%(hours)d h %(minutes)d min", hours=hours, minutes=mins)
    return _("%(minutes)d min", minutes=mins)


def format_hours(hours: float | None) -> str:
    if hours is None:
        return "–"
    return format_age(timedelta(hours=hours))
