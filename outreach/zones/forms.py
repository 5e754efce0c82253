"""Forms for zones, permits and grace deadlines, and the area list people and staff choose from."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from outreach.data.kh_places import PLACES
from outreach.extensions import db
from outreach.models import Zone, ZoneLevel
from outreach.zones import geo, levels

_NAMED = {p.code for p in PLACES}


def area_choices(language: str, *, with_provinces: bool) -> dict[str, list[SelectChoice]]:
    """Areas grouped by province for a select list: (the whole province,) its districts, and the
    communes advisories name (Bokor's, Bavet's…). A person picks a district or named commune; a zone
    may also be a whole province."""
    groups: dict[str, list[SelectChoice]] = {}
    for province in sorted(geo.provinces(), key=lambda a: geo.search_key(a.name(language))):
        items: list[SelectChoice] = []
        if with_provinces:
            items.append(SelectChoice(province.code, f"{province.name(language)} ({province.unit_name})"))
        districts = sorted(geo.children(province.code), key=lambda a: geo.search_key(a.name(language)))
        for district in districts:
            items.append(SelectChoice(district.code, f"{district.name(language)} ({district.unit_name})"))
            for commune in geo.children(district.code):
                if commune.code in _NAMED:
                    items.append(
                        SelectChoice(
                            commune.code,
                            f"{commune.name(language)} ({commune.unit_name}), {district.name(language)}",
                        )
                    )
        groups[province.name(language)] = items
    return groups


def short_area_choices(language: str) -> dict[str, list[SelectChoice]]:
    """The public forms' area list, kept short for a cheap phone on a slow link: the named places
    advisories use, and the districts of provinces where a zone covers only part of the province
    (there the district decides whether someone is inside). Staff choose from the full list."""
    zoned = {
        geo.parents(code)[-1].code
        for code in db.session.scalars(sa.select(Zone.area_code).where(Zone.level.is_not(None)))
        if (a := geo.get(code)) is not None and a.level is not geo.Level.PROVINCE
    }
    groups: dict[str, list[SelectChoice]] = {}
    for province in sorted(geo.provinces(), key=lambda a: geo.search_key(a.name(language))):
        areas = [
            a
            for p in PLACES
            if (a := geo.get(p.code))
            and a.level is not geo.Level.PROVINCE
            and geo.is_within(a.code, province.code)
        ]
        if province.code in zoned:
            areas += [d for d in geo.children(province.code) if d.code not in {a.code for a in areas}]
        if areas:
            groups[province.name(language)] = [
                SelectChoice(a.code, f"{a.name(language)} ({a.unit_name})") for a in areas
            ]
    return groups


def level_choices() -> list[SelectChoice]:
    return [SelectChoice(level.value, levels.name(level)) for level in ZoneLevel]


class LevelForm(FlaskForm):
    area_code = SelectField(_l("Area"), validators=[DataRequired()])
    level = SelectField(_l("Level"), validators=[DataRequired()])
    effective_from = DateField(_l("Effective from"), validators=[DataRequired()])
    expires_on = DateField(_l("Expires on (required for a special advisory)"), validators=[Optional()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])

    def __init__(self, *args: Any, language: str = "ko", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.area_code.choices = area_choices(language, with_provinces=True)
        self.level.choices = level_choices()


class EndForm(FlaskForm):
    reason = StringField(_l("Reason for lifting the advisory"), validators=[DataRequired(), Length(max=2000)])


class PermitForm(FlaskForm):
    person_id = IntegerField(_l("Person number (#)"), validators=[DataRequired()])
    number = StringField(_l("Permit number"), validators=[DataRequired(), Length(max=64)])
    issued_on = DateField(_l("Issued on"), validators=[Optional()])
    valid_from = DateField(_l("Valid from"), validators=[DataRequired()])
    valid_to = DateField(_l("Valid to"), validators=[DataRequired()])


class GraceForm(FlaskForm):
    person_id = IntegerField(
        _l("Person number (#); empty for every resident inside"), validators=[Optional()]
    )
    ends_on = DateField(_l("Grace ends on"), validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])


class DecideForm(FlaskForm):
    decision = HiddenField()
