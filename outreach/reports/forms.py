"""The report form (public ``/report`` and the staff's phone-call entry share it) and the staff forms.

Reporters are often parents in Korea: a Korean number (010-…, +82 …) or an e-mail address is how
they are reached, so either is accepted, and the number is any valid number, not only a mobile.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from outreach.i18n import LANGUAGE_NAMES
from outreach.models import ReportStage
from outreach.registry.forms import DateText, province_choices
from outreach.registry.phones import PhoneError, normalise_phone
from outreach.reports.operations import ReportInput

RELATIONS = [
    SelectChoice("parent", _l("Parent")),
    SelectChoice("spouse", _l("Spouse or partner")),
    SelectChoice("sibling", _l("Brother or sister")),
    SelectChoice("child", _l("Son or daughter")),
    SelectChoice("relative", _l("Other relative")),
    SelectChoice("friend", _l("Friend")),
    SelectChoice("colleague", _l("Colleague")),
    SelectChoice("self", _l("It is me")),
    SelectChoice("other", _l("Other")),
]

_COORDINATES = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*[, ]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def parse_coordinates(text: str | None) -> tuple[float, float] | None:
    """``"11.5564, 104.9282"`` → (11.5564, 104.9282); None for empty; ValueError for nonsense."""
    if not text or not text.strip():
        return None
    match = _COORDINATES.match(text)
    if not match:
        raise ValueError(text)
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(text)
    return lat, lon


class ReportForm(FlaskForm):
    reporter_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    reporter_relation = SelectField(_l("You are their"), choices=RELATIONS, default="parent")
    reporter_phone = TelField(
        _l("Your phone number (a Korean number is fine, e.g. 010-1234-5678)"), validators=[Length(max=40)]
    )
    reporter_email = EmailField(_l("Your e-mail"), validators=[Optional(), Email(), Length(max=254)])
    subject_name = StringField(_l("Their name"), validators=[DataRequired(), Length(max=100)])
    subject_name_latin = StringField(
        _l("Their name in Latin letters, as in the passport"), validators=[Optional(), Length(max=100)]
    )
    subject_birth_date = DateText(_l("Their date of birth"), validators=[Optional()])
    subject_passport = StringField(
        _l("Passport number, if you know it"), validators=[Optional(), Length(max=20)]
    )
    subject_phone = TelField(_l("Their phone number (Cambodian or Korean)"), validators=[Length(max=40)])
    photo = FileField(_l("A recent photo of them (optional)"))
    province_code = SelectField(_l("Province"), choices=[], validators=[Optional()])
    area = StringField(_l("Town or area"), validators=[Optional(), Length(max=200)])
    building = StringField(_l("Compound or building name"), validators=[Optional(), Length(max=200)])
    address = StringField(_l("Address or what is near it"), validators=[Optional(), Length(max=300)])
    map_url = StringField(_l("Map link they shared"), validators=[Optional(), Length(max=500)])
    coordinates = StringField(
        _l("Coordinates (e.g. 10.6104, 103.5236)"), validators=[Optional(), Length(max=60)]
    )
    last_heard_on = DateText(_l("When did you last hear from them?"), validators=[Optional()])
    recruitment = TextAreaField(
        _l("How were they recruited? (job advert, website, what was promised)"),
        validators=[Optional(), Length(max=5000)],
    )
    messenger_handle = StringField(
        _l("Messenger account of the recruiter (Telegram, KakaoTalk, …)"),
        validators=[Optional(), Length(max=200)],
    )
    recruiter = StringField(_l("Recruiter or company name"), validators=[Optional(), Length(max=200)])
    what_said = TextAreaField(
        _l("What did they say the last time? What do you know?"), validators=[Optional(), Length(max=10000)]
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.province_code.choices = [SelectChoice(v, label) for v, label in province_choices()]

    def validate(self, extra_validators: object = None) -> bool:
        ok = super().validate()
        self._phones: dict[str, str | None] = {}
        for name in ("reporter_phone", "subject_phone"):
            f = getattr(self, name)
            raw = (f.data or "").strip()
            if not raw:
                self._phones[name] = None
                continue
            try:
                self._phones[name] = normalise_phone(raw, mobile_only=False).e164
            except PhoneError as exc:
                f.errors.append(str(exc))
                ok = False
        if ok and not (self._phones.get("reporter_phone") or (self.reporter_email.data or "").strip()):
            self.reporter_phone.errors.append(str(_l("Give a phone number or an e-mail address.")))
            ok = False
        for f in (self.subject_birth_date, self.last_heard_on):
            if f.bad():
                f.errors.append(str(_l("Enter a date like 1998-04-21.")))
                ok = False
        try:
            self._coordinates = parse_coordinates(self.coordinates.data)
        except ValueError:
            self.coordinates.errors.append(str(_l("Enter latitude and longitude, e.g. 10.6104, 103.5236.")))
            ok = False
        return ok

    def report_input(self, language: str) -> ReportInput:
        coordinates = self._coordinates
        return ReportInput(
            reporter_name=_clean(self.reporter_name.data),
            reporter_relation=self.reporter_relation.data,
            reporter_phone=self._phones.get("reporter_phone"),
            reporter_email=_clean(self.reporter_email.data),
            reporter_language=language,
            subject_name=_clean(self.subject_name.data),
            subject_name_latin=_clean(self.subject_name_latin.data),
            subject_birth_date=self.subject_birth_date.date(),
            subject_passport=_clean(self.subject_passport.data),
            subject_phone=self._phones.get("subject_phone"),
            province_code=self.province_code.data or None,
            area=_clean(self.area.data),
            building=_clean(self.building.data),
            address=_clean(self.address.data),
            map_url=_clean(self.map_url.data),
            latitude=coordinates[0] if coordinates else None,
            longitude=coordinates[1] if coordinates else None,
            last_heard_on=self.last_heard_on.date(),
            recruitment=_clean(self.recruitment.data),
            messenger_handle=_clean(self.messenger_handle.data),
            recruiter=_clean(self.recruiter.data),
            what_said=_clean(self.what_said.data),
        )


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


class StageForm(FlaskForm):
    stage = SelectField(_l("Move to"), choices=[SelectChoice(s.value, s.value) for s in ReportStage])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=5000)])


class EntryForm(FlaskForm):
    kind = SelectField(
        _l("Kind"), choices=[SelectChoice("note", _l("Note")), SelectChoice("contact", _l("Contact"))]
    )
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=5000)])


class TaskForceReferenceForm(FlaskForm):
    reference = StringField(_l("Task force reference"), validators=[DataRequired(), Length(max=64)])


class LinkPersonForm(FlaskForm):
    person_id = StringField(_l("Person number"), validators=[DataRequired(), Length(max=12)])


class UploadLinkForm(FlaskForm):
    channel = SelectField(
        _l("Send by"), choices=[SelectChoice("sms", _l("SMS")), SelectChoice("email", _l("E-mail"))]
    )
    to = StringField(_l("To"), validators=[DataRequired(), Length(max=254)])
    language = SelectField(_l("Language"), choices=[SelectChoice(k, v) for k, v in LANGUAGE_NAMES.items()])


class DisclosureForm(FlaskForm):
    purpose = TextAreaField(_l("Purpose"), validators=[DataRequired(), Length(max=2000)])
    recipient_agency = StringField(_l("Receiving agency"), validators=[DataRequired(), Length(max=200)])
    recipient_officer = StringField(_l("Receiving officer"), validators=[DataRequired(), Length(max=200)])
    legal_basis = StringField(_l("Legal basis"), validators=[DataRequired(), Length(max=300)])


class DecisionForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class UploadForm(FlaskForm):
    face_photo = FileField(_l("A recent photo of the face"))
    passport = FileField(_l("Passport copy (the photo page)"))
    building = FileField(_l("A photo of the building"))
    location = FileField(_l("The location (a map screenshot or shared location)"))
    other = FileField(_l("Anything else"))
    statement = TextAreaField(_l("Statement"), validators=[Optional(), Length(max=20000)])
    statement_language = SelectField(
        _l("Language of the statement"),
        choices=[SelectChoice("ko", "한국어"), SelectChoice("en", "English"), SelectChoice("km", "ខ្មែរ")],
        default="ko",
    )
