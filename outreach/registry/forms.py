"""Forms of the registry: public registration, self-service, staff edit and import.

The forms only check shapes (lengths, CSRF); what makes a registration acceptable is decided in
:func:`outreach.registry.operations.validate`, whose errors are put back on these fields.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TelField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import DateInput

from outreach.extensions import db
from outreach.i18n import LANGUAGE_NAMES, current_language
from outreach.models import Province
from outreach.registry.dates import parse_date
from outreach.registry.operations import PersonInput, RegistryError, phone_inputs
from outreach.zones.forms import area_choices, short_area_choices


class DateText(StringField):
    """``<input type="date">`` (a picker on phones, no JavaScript) read with our own date parser.

    WTForms' DateField would answer a bad value with its own untranslated message; here the value
    is kept as typed and :meth:`date` returns None for anything that is not a date.
    """

    widget = DateInput()

    def date(self) -> date | None:
        return parse_date(self.data)

    def bad(self) -> bool:
        return bool(self.data and self.data.strip()) and self.date() is None


def province_choices(with_blank: bool = True) -> list[tuple[str, str]]:
    lang = current_language()
    provinces = db.session.scalars(sa.select(Province)).all()
    items = sorted(((p.code, p.name(lang)) for p in provinces), key=lambda item: item[1])
    return ([("", str(_l("Choose…")))] if with_blank else []) + items


def language_choices() -> list[tuple[str, str]]:
    return list(LANGUAGE_NAMES.items())


class PersonFields(FlaskForm):
    name_ko = StringField(_l("Name in Hangul"), validators=[Optional(), Length(max=100)])
    name_latin = StringField(
        _l("Name in Latin letters, as in the passport"), validators=[Optional(), Length(max=100)]
    )
    phone = TelField(_l("Mobile number"), validators=[Length(max=40)])
    phone_other = TelField(_l("Second mobile number (e.g. your Korean number)"), validators=[Length(max=40)])
    whatsapp = TelField(_l("WhatsApp number (may be the same)"), validators=[Length(max=40)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    language = SelectField(_l("Language for messages"), choices=[])
    province = SelectField(_l("Province where you stay"), choices=[])
    # Checked by the registry (``validate``), which names the problem; no choice check here.
    area = SelectField(_l("District, city or commune (optional)"), choices=[], validate_choice=False)
    district_note = StringField(_l("District, address or hotel"), validators=[Optional(), Length(max=300)])
    status = RadioField(
        _l("I am"),
        choices=[
            SelectChoice("resident", _l("living in Cambodia")),
            SelectChoice("traveler", _l("traveling in Cambodia")),
        ],
        default="resident",
    )
    arrival_date = DateText(_l("Arrival date"))
    departure_date = DateText(_l("Departure date (travelers)"))
    emergency_name = StringField(_l("Emergency contact: name"), validators=[Optional(), Length(max=100)])
    emergency_phone = TelField(_l("Emergency contact: phone"), validators=[Optional(), Length(max=40)])
    emergency_relation = StringField(
        _l("Emergency contact: relation (e.g. mother)"), validators=[Optional(), Length(max=50)]
    )
    emergency_contact_consent = BooleanField(_l("The Embassy may contact this person if it cannot reach me"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # WTForms 3.3 wants SelectChoice objects (tuples are deprecated).
        self.language.choices = [SelectChoice(v, label) for v, label in language_choices()]
        self.province.choices = [SelectChoice(v, label) for v, label in province_choices()]
        self.area.choices = {"": [SelectChoice("", str(_l("Not given")))]} | self.area_list(
            current_language()
        )
        if not self.language.data:
            self.language.data = current_language()

    def area_list(self, language: str) -> dict[str, list[SelectChoice]]:
        """Public forms offer the short list (a small page); staff get every district."""
        return short_area_choices(language)

    def to_input(self) -> PersonInput:
        return PersonInput(
            name_ko=self.name_ko.data,
            name_latin=self.name_latin.data,
            email=self.email.data,
            language=self.language.data,
            province=self.province.data,
            area=self.area.data or "",
            district_note=self.district_note.data,
            status=self.status.data,
            arrival_date=self.arrival_date.date(),
            departure_date=self.departure_date.date(),
            emergency_name=self.emergency_name.data,
            emergency_phone=self.emergency_phone.data,
            emergency_relation=self.emergency_relation.data,
            emergency_contact_consent=bool(self.emergency_contact_consent.data),
            phones=phone_inputs(self.phone.data, self.phone_other.data, self.whatsapp.data),
        )

    def date_errors(self) -> bool:
        """Put "not a date" on date fields typed badly; True when there was one."""
        found = False
        for f in (self.arrival_date, self.departure_date):
            if f.bad():
                f.errors = [*f.errors, str(_l("Enter the date as YYYY-MM-DD, e.g. 2025-12-31."))]
                found = True
        return found

    def show_errors(self, exc: RegistryError) -> None:
        aliases = {"province_code": "province", "person": "name_ko"}
        for error in exc.errors:
            target: Field | None = getattr(self, aliases.get(error.field, error.field), None)
            if target is None:
                target = self.name_ko
            target.errors = [*target.errors, str(error.message)]

    def fill_from(self, person: Any) -> None:
        """Prefill from a person (self-service and staff edit)."""
        for name in (
            "name_ko",
            "name_latin",
            "email",
            "district_note",
            "emergency_name",
            "emergency_relation",
        ):
            getattr(self, name).data = getattr(person, name) or ""
        self.language.data = person.language
        self.province.data = person.province_code or ""
        self.area.data = person.area_code or ""
        self.status.data = person.status.value
        self.arrival_date.data = person.arrival_date.isoformat() if person.arrival_date else ""
        self.departure_date.data = person.departure_date.isoformat() if person.departure_date else ""
        self.emergency_phone.data = person.emergency_phone or ""
        self.emergency_contact_consent.data = person.emergency_contact_consent
        phones = list(person.phones)
        primary = person.primary_phone
        others = [p for p in phones if p is not primary]
        self.phone.data = primary.e164 if primary else ""
        self.phone_other.data = others[0].e164 if others else ""
        whatsapp = next((p for p in phones if p.is_whatsapp), None)
        self.whatsapp.data = whatsapp.e164 if whatsapp else ""


DURESS_HELP = _l(
    "Optional. A private word only you know. If you are ever forced to answer that you are safe, "
    "write this word in your answer: you will see the usual reply, but the embassy will know you "
    "need help. It is stored scrambled and nobody at the embassy can read it."
)


class RegistrationForm(PersonFields):
    duress_word = PasswordField(
        _l("Duress word (optional)"),
        validators=[Optional(), Length(max=100)],
        render_kw={"autocomplete": "off"},
    )
    consent = BooleanField(
        _l("I agree to the purposes above"),
        validators=[DataRequired(message=_l("You need to agree to the purposes to register."))],
    )


class SelfServiceForm(PersonFields):
    pass


class StaffPersonForm(PersonFields):
    def area_list(self, language: str) -> dict[str, list[SelectChoice]]:
        return area_choices(language, with_provinces=False)


class DuressForm(FlaskForm):
    duress_word = PasswordField(
        _l("New duress word"), validators=[Optional(), Length(max=100)], render_kw={"autocomplete": "off"}
    )
    remove = BooleanField(_l("Remove my duress word"))


class DepartureForm(FlaskForm):
    departure_date = DateText(
        _l("New departure date"), validators=[DataRequired(message=_l("Enter a date."))]
    )


class ChannelsForm(FlaskForm):
    sms = BooleanField(_l("SMS"))
    whatsapp = BooleanField(_l("WhatsApp"))
    email = BooleanField(_l("E-mail"))


class DeleteForm(FlaskForm):
    confirm = BooleanField(
        _l("Yes, delete my registration and my personal data"),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )


class ConfirmPhoneForm(FlaskForm):
    """Only the CSRF token: the button itself is the confirmation."""


class RequestLinkForm(FlaskForm):
    contact = StringField(
        _l("Your registered mobile number or e-mail"),
        validators=[DataRequired(message=_l("Enter your mobile number or e-mail.")), Length(max=254)],
    )


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[DataRequired(message=_l("Choose a CSV file."))])


class MergeForm(FlaskForm):
    other_id = StringField(_l("Number of the other record (#)"), validators=[DataRequired(), Length(max=12)])
    confirm = BooleanField(_l("I checked that both records are the same person"))
