"""The family enquiry form ("I am asking whether they are safe"), public and staff alike."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from outreach.registry.forms import DateText
from outreach.registry.phones import PhoneError, normalise_phone
from outreach.reports.enquiries import EnquiryInput
from outreach.reports.forms import RELATIONS


class EnquiryForm(FlaskForm):
    enquirer_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    enquirer_relation = SelectField(_l("You are their"), choices=RELATIONS, default="parent")
    enquirer_phone = TelField(
        _l("Your phone number (a Korean number is fine, e.g. 010-1234-5678)"), validators=[Length(max=40)]
    )
    enquirer_email = EmailField(_l("Your e-mail"), validators=[Optional(), Email(), Length(max=254)])
    subject_name = StringField(_l("Their name"), validators=[DataRequired(), Length(max=100)])
    subject_phone = TelField(_l("Their phone number (Cambodian or Korean)"), validators=[Length(max=40)])
    subject_birth_date = DateText(_l("Their date of birth"), validators=[Optional()])
    note = TextAreaField(_l("Anything the embassy should know"), validators=[Optional(), Length(max=2000)])

    def validate(self, extra_validators: object = None) -> bool:
        ok = super().validate()
        self._phones: dict[str, str | None] = {}
        for name in ("enquirer_phone", "subject_phone"):
            f = getattr(self, name)
            raw = (f.data or "").strip()
            self._phones[name] = None
            if raw:
                try:
                    self._phones[name] = normalise_phone(raw, mobile_only=False).e164
                except PhoneError as exc:
                    f.errors.append(str(exc))
                    ok = False
        if ok and not (self._phones.get("enquirer_phone") or (self.enquirer_email.data or "").strip()):
            self.enquirer_phone.errors.append(str(_l("Give a phone number or an e-mail address.")))
            ok = False
        if self.subject_birth_date.bad():
            self.subject_birth_date.errors.append(str(_l("Enter a date like 1998-04-21.")))
            ok = False
        return ok

    def enquiry_input(self, language: str) -> EnquiryInput:
        return EnquiryInput(
            enquirer_name=self.enquirer_name.data or "",
            enquirer_relation=self.enquirer_relation.data or "other",
            enquirer_phone=self._phones.get("enquirer_phone"),
            enquirer_email=(self.enquirer_email.data or "").strip() or None,
            enquirer_language=language,
            subject_name=self.subject_name.data or "",
            subject_phone=self._phones.get("subject_phone"),
            subject_birth_date=self.subject_birth_date.date(),
            note=self.note.data,
        )
