"""Forms for recruitment tips (public ``/tip`` and staff) and the targeted warning drafted from one."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from outreach.registry.forms import province_choices
from outreach.reports.tips import TipInput


class TipForm(FlaskForm):
    advert_text = TextAreaField(
        _l("The job advert or message, as you saw it"), validators=[Optional(), Length(max=10000)]
    )
    handles = StringField(
        _l("Messenger accounts (Telegram, KakaoTalk, …), separated by commas"),
        validators=[Optional(), Length(max=500)],
    )
    phones = StringField(_l("Phone numbers, separated by commas"), validators=[Optional(), Length(max=300)])
    company = StringField(_l("Company or recruiter name"), validators=[Optional(), Length(max=200)])
    job = StringField(_l("The job promised"), validators=[Optional(), Length(max=200)])
    place = StringField(_l("Where (city, compound)"), validators=[Optional(), Length(max=200)])
    contact = StringField(
        _l("Your phone or e-mail, if the embassy may contact you (optional)"),
        validators=[Optional(), Length(max=254)],
    )

    def tip_input(self, language: str) -> TipInput:
        def split(value: str | None) -> list[str]:
            return [part.strip() for part in (value or "").split(",") if part.strip()]

        return TipInput(
            advert_text=self.advert_text.data,
            handles=split(self.handles.data),
            phones=split(self.phones.data),
            company=self.company.data,
            job=self.job.data,
            place=self.place.data,
            contact=self.contact.data,
            language=language,
        )


class WarningForm(FlaskForm):
    arrived_within_days = IntegerField(
        _l("People who arrived in the last N days"), validators=[Optional(), NumberRange(min=1, max=365)]
    )
    provinces = SelectMultipleField(_l("Provinces (none: everywhere)"), choices=[])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.provinces.choices = [SelectChoice(v, label) for v, label in province_choices(with_blank=False)]
