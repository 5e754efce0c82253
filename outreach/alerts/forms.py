"""Forms for composing alerts. :class:`AudienceForm` is shared with the check-in form.

Reuse the audience builder by subclassing it (the fields are inherited) and rendering it with the
``audience_fields(form)`` macro from ``templates/alerts/_audience.html``::

    class CheckInForm(AudienceForm):
        deadline_hours = IntegerField(...)

    form.audience()  # -> {"provinces": [...], "statuses": [...], "languages": [...], "present_only": ...}
    form.load_audience(alert.audience)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from outreach.alerts.compose import AlertInput, ContentInput
from outreach.extensions import db
from outreach.i18n import LANGUAGE_NAMES, current_language
from outreach.models import Alert, CapCategory, CapCertainty, CapUrgency, Province, Severity, Zone
from outreach.zones import geo
from outreach.zones import levels as zone_levels

#: Cambodia has one time zone and no daylight saving; officers type local times.
CAMBODIA = timezone(timedelta(hours=7), "ICT")


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (more usable on a phone than a multi-select box)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def as_choices(pairs: list[tuple[str, Any]]) -> list[SelectChoice]:
    """WTForms 3.3 wants ``SelectChoice`` objects (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


def province_names(language: str | None = None) -> list[tuple[str, str]]:
    """(code, name in ``language``) of every province, in ISO order."""
    lang = language or current_language()
    return [(p.code, p.name(lang)) for p in db.session.scalars(sa.select(Province).order_by(Province.number))]


def province_choices(language: str | None = None) -> list[SelectChoice]:
    return as_choices(province_names(language))


SEVERITY_CHOICES = as_choices(
    [
        (Severity.EXTREME.value, _l("Extreme: threat to life, act now")),
        (Severity.SEVERE.value, _l("Severe: significant threat")),
        (Severity.MODERATE.value, _l("Moderate: possible threat")),
        (Severity.MINOR.value, _l("Minor: for information")),
    ]
)
URGENCY_CHOICES = as_choices(
    [
        (CapUrgency.IMMEDIATE.value, _l("Immediate")),
        (CapUrgency.EXPECTED.value, _l("Expected (within the hour)")),
        (CapUrgency.FUTURE.value, _l("Future")),
        (CapUrgency.PAST.value, _l("Past")),
        (CapUrgency.UNKNOWN.value, _l("Unknown")),
    ]
)
CERTAINTY_CHOICES = as_choices(
    [
        (CapCertainty.OBSERVED.value, _l("Observed")),
        (CapCertainty.LIKELY.value, _l("Likely")),
        (CapCertainty.POSSIBLE.value, _l("Possible")),
        (CapCertainty.UNLIKELY.value, _l("Unlikely")),
        (CapCertainty.UNKNOWN.value, _l("Unknown")),
    ]
)
CATEGORY_CHOICES = as_choices(
    [
        (CapCategory.SAFETY.value, _l("Safety")),
        (CapCategory.SECURITY.value, _l("Security (crime, unrest)")),
        (CapCategory.GEO.value, _l("Geophysical (earthquake)")),
        (CapCategory.MET.value, _l("Weather and floods")),
        (CapCategory.HEALTH.value, _l("Health")),
        (CapCategory.TRANSPORT.value, _l("Transport")),
        (CapCategory.INFRA.value, _l("Infrastructure (power, telecoms)")),
        (CapCategory.FIRE.value, _l("Fire")),
        (CapCategory.ENV.value, _l("Environment")),
        (CapCategory.RESCUE.value, _l("Rescue")),
        (CapCategory.OTHER.value, _l("Other")),
    ]
)
CHANNEL_LABELS: dict[str, LazyString] = {"sms": _l("SMS"), "whatsapp": _l("WhatsApp"), "email": _l("E-mail")}
CHANNEL_CHOICES = as_choices(list(CHANNEL_LABELS.items()))


def zone_choices(language: str | None = None) -> list[SelectChoice]:
    """Zones with a level, for targeting the people inside them."""
    lang = language or current_language()
    zones = db.session.scalars(sa.select(Zone).where(Zone.level.is_not(None)).order_by(Zone.area_code))
    return [
        SelectChoice(str(z.id), f"{geo.label(geo.area(z.area_code), lang)} · {zone_levels.name(z.level)}")
        for z in zones
    ]


class AudienceForm(FlaskForm):
    """Who to reach. Nothing ticked in a group means everyone in that group."""

    provinces = MultiCheckboxField(_l("Provinces"), choices=[])
    statuses = MultiCheckboxField(
        _l("Residents or travelers"),
        choices=as_choices([("resident", _l("Residents")), ("traveler", _l("Travelers"))]),
    )
    languages = MultiCheckboxField(_l("Languages"), choices=as_choices(list(LANGUAGE_NAMES.items())))
    present_only = BooleanField(_l("Only people in Cambodia now (by arrival and departure dates)"))
    zones = MultiCheckboxField(_l("Advisory zones (people inside)"), choices=[])
    # Not submitted by forms that predate it (and then means "not by level"): no choice check.
    min_level = SelectField(_l("People inside any zone at level"), choices=[], validate_choice=False)
    without_permit = BooleanField(_l("Only people without a valid permit for their zone"))
    stay_overlaps = BooleanField(_l("Also travellers whose stay overlaps the advisory"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provinces.choices = province_choices()
        self.zones.choices = zone_choices()
        self.min_level.choices = as_choices(
            [
                ("", _l("any (not by level)")),
                *((str(n), _l("%(level)d or above", level=n)) for n in (1, 2, 3, 4)),
            ]
        )

    def audience(self) -> dict[str, Any]:
        audience: dict[str, Any] = {
            "provinces": list(self.provinces.data or []),
            "statuses": list(self.statuses.data or []),
            "languages": list(self.languages.data or []),
            "present_only": bool(self.present_only.data),
        }
        zones = [int(z) for z in self.zones.data or [] if str(z).isdigit()]
        min_level = (
            int(self.min_level.data) if str(self.min_level.data or "") in ("1", "2", "3", "4") else None
        )
        if zones or min_level:
            audience.update(
                zones=zones,
                min_level=min_level,
                without_permit=bool(self.without_permit.data),
                stay_overlaps=bool(self.stay_overlaps.data),
            )
        return audience

    def load_audience(self, audience: dict[str, Any]) -> None:
        self.provinces.data = list(audience.get("provinces") or [])
        self.statuses.data = list(audience.get("statuses") or [])
        self.languages.data = list(audience.get("languages") or [])
        self.present_only.data = bool(audience.get("present_only"))
        self.zones.data = [str(z) for z in audience.get("zones") or []]
        self.min_level.data = str(audience["min_level"]) if audience.get("min_level") else ""
        self.without_permit.data = bool(audience.get("without_permit"))
        self.stay_overlaps.data = bool(audience.get("stay_overlaps"))


class AlertForm(AudienceForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    severity = SelectField(_l("Severity"), choices=SEVERITY_CHOICES, default=Severity.MODERATE.value)
    subject_ko = StringField(
        _l("Headline in Korean (e-mail subject; the title when empty)"), validators=[Length(max=300)]
    )
    body_ko = TextAreaField(_l("Text in Korean (required)"), validators=[DataRequired()])
    subject_en = StringField(_l("Headline in English"), validators=[Length(max=300)])
    body_en = TextAreaField(_l("Text in English (optional; Korean is sent when empty)"))
    subject_km = StringField(_l("Headline in Khmer"), validators=[Length(max=300)])
    body_km = TextAreaField(_l("Text in Khmer (optional; Korean is sent when empty)"))
    channels = MultiCheckboxField(_l("Channels"), choices=CHANNEL_CHOICES, default=["sms"])
    public = BooleanField(_l("Public: publish in the alert feed (Atom and CAP)"))
    expires_at = DateTimeLocalField(
        _l("Expires (Cambodia time, optional)"), validators=[Optional()], format="%Y-%m-%dT%H:%M"
    )
    urgency = SelectField(_l("Urgency (CAP)"), choices=URGENCY_CHOICES, default=CapUrgency.IMMEDIATE.value)
    certainty = SelectField(
        _l("Certainty (CAP)"), choices=CERTAINTY_CHOICES, default=CapCertainty.OBSERVED.value
    )
    category = SelectField(_l("Category (CAP)"), choices=CATEGORY_CHOICES, default=CapCategory.SAFETY.value)

    def validate_channels(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one channel."))

    def to_input(self) -> AlertInput:
        expires = self.expires_at.data
        return AlertInput(
            title=self.title.data or "",
            severity=self.severity.data or Severity.MODERATE.value,
            contents={
                lang: ContentInput(
                    body=getattr(self, f"body_{lang}").data or "",
                    subject=getattr(self, f"subject_{lang}").data or "",
                )
                for lang in ("ko", "en", "km")
            },
            channels=list(self.channels.data or []),
            audience=self.audience(),
            public=bool(self.public.data),
            expires_at=expires.replace(tzinfo=CAMBODIA) if isinstance(expires, datetime) else None,
            urgency=self.urgency.data or CapUrgency.IMMEDIATE.value,
            certainty=self.certainty.data or CapCertainty.OBSERVED.value,
            category=self.category.data or CapCategory.SAFETY.value,
        )

    def load(self, alert: Alert) -> None:
        self.title.data = alert.title
        self.severity.data = str(alert.severity)
        for content in alert.contents:
            getattr(self, f"body_{content.language}").data = content.body
            getattr(self, f"subject_{content.language}").data = content.subject or ""
        self.channels.data = list(alert.channels)
        self.public.data = alert.public
        self.expires_at.data = (
            alert.expires_at.astimezone(CAMBODIA).replace(tzinfo=None) if alert.expires_at else None
        )
        self.urgency.data = str(alert.urgency)
        self.certainty.data = str(alert.certainty)
        self.category.data = str(alert.category)
        self.load_audience(alert.audience)


class ReturnForm(FlaskForm):
    reason = TextAreaField(_l("What should the author change?"), validators=[Length(max=500)])
