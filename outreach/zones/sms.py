"""The area step of SMS registration: a numbered menu of the named places and districts of a province.

Used by ``outreach.registry.conversation`` right after the province, and only when an advisory zone
covers part of that province (a district or commune zone): elsewhere the answer would change nothing
about the person's zone, and every SMS question is one more answer to wait for. The menu lists the
zones' areas and named places (Bavet, Poipet, Bokor…) first, then the province's districts when there
are few enough to read in an SMS. "0" skips the step; a name is accepted too.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.data.kh_places import PLACES
from outreach.extensions import db
from outreach.models import Zone
from outreach.zones import geo

#: More districts than this make the SMS too long to read; such provinces offer named places only.
MAX_DISTRICTS = 14
SKIP = ("0", "០")


def area_menu(province_code: str) -> list[geo.Area]:
    """The menu for ``province_code`` (empty: skip the step)."""
    if geo.get(province_code) is None:
        return []
    zoned = [
        a
        for code in db.session.scalars(sa.select(Zone.area_code).where(Zone.level.is_not(None)))
        if (a := geo.get(code)) and a.level is not geo.Level.PROVINCE and geo.is_within(a.code, province_code)
    ]
    if not zoned:
        return []
    named = [a for p in PLACES if (a := geo.get(p.code)) and a.level is not geo.Level.PROVINCE]
    named = sorted(
        {a.code: a for a in zoned + named if geo.is_within(a.code, province_code)}.values(),
        key=lambda a: a.code,
    )
    districts = list(geo.children(province_code)) if geo.get(province_code) else []
    if len(districts) > MAX_DISTRICTS:
        districts = []
    seen = {a.code for a in named}
    return named + [d for d in districts if d.code not in seen]


def area_prompt(areas: list[geo.Area], language: str) -> str:
    return _(
        "Which city or district? Send its number, or 0 to skip:\n%(menu)s",
        menu="\n".join(f"{i} {a.name(language)}" for i, a in enumerate(areas, start=1)),
    )


def read_answer(areas: list[geo.Area], answer: str, province_code: str) -> tuple[bool, str | None]:
    """(understood, area code or None for "skip") for an answer to :func:`area_prompt`."""
    text = answer.strip()
    if text in SKIP:
        return True, None
    chosen = geo.menu_choice(areas, text)
    if chosen is not None:
        return True, chosen.code
    found = geo.search(text, limit=2, levels=(geo.Level.DISTRICT, geo.Level.COMMUNE), within=province_code)
    if len(found) == 1 or (found and geo.search_key(found[0].name_en) == geo.search_key(text)):
        return True, found[0].code
    return False, None


def area_reprompt(areas: list[geo.Area], language: str) -> str:
    return (
        _("Please send a number from 1 to %(n)d, or 0 to skip.", n=len(areas))
        + "\n"
        + area_prompt(areas, language)
    )
