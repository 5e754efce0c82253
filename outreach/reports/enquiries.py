"""Family welfare-and-whereabouts enquiries: "is my son safe?" asked of the person, never answered
behind their back.

A family member asks through ``/report/enquiry`` (or staff take the call, or the API). If the person is
registered, they are asked in their language, through the normal send pipeline, with a one-tap page
(``/e/<key>``): may we tell your family that you are safe? — yes / no / I need help. The family's
status page says only what the person allowed: "reported themselves safe" after a yes, otherwise
only that the enquiry was passed on (also while waiting, and when nobody registered matches, so the
page never tells whether someone is registered). "I need help", or no answer within
:data:`ANSWER_WITHIN`, turns the enquiry into a report (which pages the duty officer). Everything a
family is told is a :class:`~outreach.models.WelfareDisclosure` row. Functions flush, never commit;
messages leave after the caller's commit (``queue_one``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from outreach.audit import record
from outreach.cases.operations import open_or_reopen_case
from outreach.extensions import db
from outreach.i18n import for_person_language, normalise_language
from outreach.messaging.outbound import queue_one
from outreach.models import (
    EnquiryStatus,
    FamilyEnquiry,
    Person,
    PhoneNumber,
    Report,
    ReportKind,
    SourceKind,
    User,
    WelfareDisclosure,
    utcnow,
)
from outreach.reports.operations import ReportError, ReportInput, create_report

E = EnquiryStatus

#: Silence this long after the person was asked turns the enquiry into a report.
ANSWER_WITHIN = timedelta(hours=24)

#: The person's one-tap choices.
CHOICES = ("yes", "no", "help")

#: What the family's status page may say: "reported_safe" only after the person said yes.
PUBLIC_STATES = {E.ALLOWED: "reported_safe"}

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class EnquiryError(ReportError):
    """An enquiry step that cannot be done; the message says why."""


@dataclass
class EnquiryInput:
    enquirer_name: str
    enquirer_relation: str
    enquirer_phone: str | None = None  # E.164
    enquirer_email: str | None = None
    enquirer_language: str = "ko"
    subject_name: str = ""
    subject_phone: str | None = None  # E.164
    subject_birth_date: date | None = None
    note: str | None = None


@dataclass
class NewEnquiry:
    enquiry: FamilyEnquiry
    #: The secret of the family's status link (shown once; only its hash is stored).
    status_key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def public_state(enquiry: FamilyEnquiry) -> str:
    """ "reported_safe" or "passed_on": all the family's page ever says."""
    return PUBLIC_STATES.get(enquiry.status, "passed_on")


def by_status_key(key: str) -> FamilyEnquiry | None:
    if not key or len(key) > 100:
        return None
    return db.session.scalar(sa.select(FamilyEnquiry).where(FamilyEnquiry.status_key_hash == _hash(key)))


def by_answer_key(key: str) -> FamilyEnquiry | None:
    if not key or len(key) > 100:
        return None
    return db.session.scalar(sa.select(FamilyEnquiry).where(FamilyEnquiry.answer_key_hash == _hash(key)))


def match_person(phone: str | None, name: str, birth_date: date | None) -> Person | None:
    """The registered person by number, else by name and date of birth (both needed)."""
    if phone:
        person = db.session.scalar(
            sa.select(Person)
            .join(PhoneNumber, PhoneNumber.person_id == Person.id)
            .where(PhoneNumber.e164 == phone, Person.deleted_at.is_(None))
        )
        if person is not None:
            return person
    if birth_date is not None and name.strip():
        lowered = name.strip().lower()
        return db.session.scalar(
            sa.select(Person)
            .where(
                Person.deleted_at.is_(None),
                Person.birth_date == birth_date,
                sa.or_(sa.func.lower(Person.name_ko) == lowered, sa.func.lower(Person.name_latin) == lowered),
            )
            .order_by(Person.id)
            .limit(1)
        )
    return None


def create_enquiry(
    data: EnquiryInput, *, via: str, actor: User | None = None, now: datetime | None = None
) -> NewEnquiry:
    """Take an enquiry and, if the person is registered, ask them (after the commit)."""
    if not data.subject_name.strip():
        raise EnquiryError(_("Say who you are asking about: a name is needed."))
    if not (data.enquirer_name or "").strip() or not (data.enquirer_relation or "").strip():
        raise EnquiryError(_("Say who you are and how you are related."))
    if not (data.enquirer_phone or data.enquirer_email):
        raise EnquiryError(_("Give a phone number or an e-mail address so that the embassy can reach you."))
    now = now or utcnow()
    key = secrets.token_urlsafe(24)
    enquiry = FamilyEnquiry(
        reference="E-{}-{}".format(now.year, "".join(secrets.choice(_REFERENCE_ALPHABET) for _i in range(6))),
        status_key_hash=_hash(key),
        status=E.RECEIVED,
        via=via,
        entered_by_id=actor.id if actor else None,
        enquirer_name=data.enquirer_name.strip()[:100],
        enquirer_relation=data.enquirer_relation.strip()[:50],
        enquirer_phone=data.enquirer_phone,
        enquirer_email=data.enquirer_email,
        enquirer_language=normalise_language(data.enquirer_language),
        subject_name=data.subject_name.strip()[:100],
        subject_phone=data.subject_phone,
        subject_birth_date=data.subject_birth_date,
        note=(data.note or "").strip()[:2000] or None,
        created_at=now,
    )
    db.session.add(enquiry)
    db.session.flush()
    person = match_person(data.subject_phone, data.subject_name, data.subject_birth_date)
    if person is None:
        enquiry.status = E.UNMATCHED
    else:
        _ask(enquiry, person, now)
    record("enquiry.create", actor=actor, target=enquiry, via=via, matched=person is not None)
    db.session.flush()
    return NewEnquiry(enquiry=enquiry, status_key=key)


def _ask(enquiry: FamilyEnquiry, person: Person, now: datetime) -> None:
    """Put the family's question to the person in their language, with their one-tap answer link."""
    answer_key = secrets.token_urlsafe(18)
    enquiry.person_id = person.id
    enquiry.answer_key_hash = _hash(answer_key)
    enquiry.status = E.ASKED
    enquiry.asked_at = now
    enquiry.answer_due_at = now + ANSWER_WITHIN
    url = url_for("welfare_public.enquiry_answer", key=answer_key, _external=True)
    with for_person_language(person.language):
        text = question_text(enquiry) + " " + _("Answer here: %(url)s", url=url)
        subject = _("Korean Embassy: your family asked whether you are safe")
    phone = person.primary_phone
    if phone is not None:
        queue_one(
            channel="sms",
            to=phone.e164,
            body=text,
            source_kind=SourceKind.ENQUIRY,
            source_id=enquiry.id,
            person_id=person.id,
            language=person.language,
        )
    if person.email:
        queue_one(
            channel="email",
            to=person.email,
            body=text,
            subject=subject,
            source_kind=SourceKind.ENQUIRY,
            source_id=enquiry.id,
            person_id=person.id,
            language=person.language,
        )


#: Relation keys of the enquiry form, as the person reads them.
RELATION_LABELS = {
    "parent": _l("Parent"),
    "spouse": _l("Spouse or partner"),
    "sibling": _l("Brother or sister"),
    "child": _l("Son or daughter"),
    "relative": _l("Other relative"),
    "friend": _l("Friend"),
    "colleague": _l("Colleague"),
    "self": _l("It is me"),
    "other": _l("Other"),
}


def question_text(enquiry: FamilyEnquiry) -> str:
    """The question, in the current locale (the person's)."""
    relation = RELATION_LABELS.get(enquiry.enquirer_relation)
    return _(
        "Korean Embassy: your family (%(name)s, %(relation)s) asked whether you are safe. May we tell them?",
        name=enquiry.enquirer_name,
        relation=str(relation) if relation else enquiry.enquirer_relation,
    )


def answer(enquiry: FamilyEnquiry, choice: str, *, now: datetime | None = None) -> FamilyEnquiry:
    """The person's answer (guarded: only an enquiry still waiting takes one, and only once)."""
    if choice not in CHOICES:
        raise EnquiryError(_("Choose one of the answers."))
    now = now or utcnow()
    to = {"yes": E.ALLOWED, "no": E.REFUSED, "help": E.NEED_HELP}[choice]
    _move(enquiry, E.ASKED, to, answered_at=now)
    person = db.session.get(Person, enquiry.person_id) if enquiry.person_id else None
    if to == E.ALLOWED:
        _tell_family(enquiry, "reported_safe", basis="person_allowed")
    elif to == E.REFUSED:
        # Honoured: the family learns nothing about the person, only that the enquiry went on.
        _tell_family(enquiry, "passed_on", basis="person_refused")
    else:
        call = open_or_reopen_case(
            person,
            "enquiry",
            note=_(
                "Asked through a family enquiry (%(reference)s): needs help.", reference=enquiry.reference
            ),
        )
        enquiry.report_id = db.session.scalar(
            sa.select(Report.id).where(Report.case_id == call.case.id).order_by(Report.id.desc()).limit(1)
        )
        _tell_family(enquiry, "passed_on", basis="report_opened")
    record("enquiry.answer", target=enquiry, status=to.value)
    return enquiry


def _move(enquiry: FamilyEnquiry, current: EnquiryStatus, to: EnquiryStatus, **values: object) -> None:
    db.session.flush()
    result = db.session.execute(
        sa.update(FamilyEnquiry)
        .where(FamilyEnquiry.id == enquiry.id, FamilyEnquiry.status == current)
        .values(status=to, updated_at=utcnow(), **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(enquiry)
        raise EnquiryError(_("This question was already answered. Thank you."))
    db.session.refresh(enquiry)


def _tell_family(enquiry: FamilyEnquiry, told: str, *, basis: str) -> None:
    """Tell the family (SMS or e-mail, in their language) and record it as a disclosure."""
    recipient = enquiry.enquirer_phone or enquiry.enquirer_email or ""
    db.session.add(
        WelfareDisclosure(
            enquiry_id=enquiry.id, person_id=enquiry.person_id, told=told, basis=basis, recipient=recipient
        )
    )
    db.session.flush()
    with for_person_language(enquiry.enquirer_language):
        body = family_text(enquiry, told)
        subject = _("Korean Embassy: your enquiry %(reference)s", reference=enquiry.reference)
    channel = "sms" if enquiry.enquirer_phone else "email"
    queue_one(
        channel=channel,
        to=recipient,
        body=body,
        subject=subject if channel == "email" else None,
        source_kind=SourceKind.ENQUIRY_ANSWER,
        source_id=enquiry.id,
        language=enquiry.enquirer_language,
    )
    record("enquiry.disclosure", target=enquiry, told=told, basis=basis)


def family_text(enquiry: FamilyEnquiry, told: str) -> str:
    if told == "reported_safe":
        return _(
            "Korean Embassy: %(name)s reported themselves safe and agreed that we tell you "
            "(enquiry %(reference)s).",
            name=enquiry.subject_name,
            reference=enquiry.reference,
        )
    return _(
        "Korean Embassy: your enquiry %(reference)s about %(name)s was passed on.",
        reference=enquiry.reference,
        name=enquiry.subject_name,
    )


def escalate_unanswered(now: datetime | None = None) -> int:
    """Enquiries asked :data:`ANSWER_WITHIN` ago with no answer become reports (idempotent)."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            sa.select(FamilyEnquiry)
            .where(FamilyEnquiry.status == E.ASKED, FamilyEnquiry.answer_due_at <= now)
            .order_by(FamilyEnquiry.id)
            .limit(200)
        )
    )
    done = 0
    for enquiry in due:
        try:
            _move(enquiry, E.ASKED, E.ESCALATED)
        except EnquiryError:
            continue  # answered meanwhile
        new = create_report(
            ReportInput(
                reporter_name=enquiry.enquirer_name,
                reporter_relation=enquiry.enquirer_relation,
                reporter_phone=enquiry.enquirer_phone,
                reporter_email=enquiry.enquirer_email,
                reporter_language=enquiry.enquirer_language,
                subject_name=enquiry.subject_name,
                subject_phone=enquiry.subject_phone,
                subject_birth_date=enquiry.subject_birth_date,
                what_said=_(
                    "No answer to a family enquiry (%(reference)s) within 24 hours.",
                    reference=enquiry.reference,
                ),
            ),
            kind=ReportKind.FAMILY,
            now=now,
        )
        enquiry.report_id = new.report.id
        if new.report.person_id is None and enquiry.person_id is not None:
            new.report.person_id = enquiry.person_id
        record("enquiry.escalate", target=enquiry, report=new.report.reference)
        done += 1
    db.session.flush()
    return done
