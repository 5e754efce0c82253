"""What each advisory level means, in words for residents (public page, alert drafts, reminders)."""

from __future__ import annotations

from flask_babel import gettext as _

from outreach.models import Severity, ZoneLevel
from outreach.zones.map import AdvisoryLevel, level_name


def map_level(level: ZoneLevel | str | None) -> AdvisoryLevel | None:
    """The map's value for a stored level ("4" → 4, "special" stays)."""
    if level is None:
        return None
    value = ZoneLevel(level)
    if value is ZoneLevel.SPECIAL:
        return "special"
    number: AdvisoryLevel = int(value.value)  # type: ignore[assignment]  # 1–4 by the enum
    return number


def name(level: ZoneLevel | str | None) -> str:
    """ "Level 4: travel ban", in the current locale (the map's words, so both always agree)."""
    return level_name(map_level(level))


def meaning(level: ZoneLevel | str | None) -> str:
    """What a person should do at this level, in the current locale."""
    if level is None:
        return _("No advisory is in force.")
    return {
        ZoneLevel.L1: _("Take extra care for your safety and stay informed."),
        ZoneLevel.L2: _("Avoid travel there unless it is necessary, and take extra care."),
        ZoneLevel.L3: _("Leave the area unless you have an urgent reason to stay, and do not travel there."),
        ZoneLevel.L4: _(
            "Travel ban: leave the area now. Entering or staying without an exceptional passport-use"
            " permit is punishable under Korean law."
        ),
        ZoneLevel.SPECIAL: _("Special advisory: leave the area and do not travel there until it is lifted."),
    }[ZoneLevel(level)]


#: CAP severity of the alert a level change prepares.
SEVERITY: dict[ZoneLevel, Severity] = {
    ZoneLevel.L1: Severity.MINOR,
    ZoneLevel.L2: Severity.MODERATE,
    ZoneLevel.SPECIAL: Severity.SEVERE,
    ZoneLevel.L3: Severity.SEVERE,
    ZoneLevel.L4: Severity.EXTREME,
}
