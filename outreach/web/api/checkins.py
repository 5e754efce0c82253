"""``/api/v1/checkins``: create an "are you safe?" request, read its counts and its answers.

A check-in rides on an alert of kind ``checkin``: it is created as a draft and then goes through the
alert endpoints (``/alerts/{alert_id}/submit``, ``/approve``, ``/send``) like any alert. Counts come from
:func:`outreach.checkins.dashboard.counts`, the answers from :func:`outreach.checkins.dashboard.people`,
exactly what the staff dashboard shows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from flask import Blueprint
from pydantic import AwareDatetime, Field

from outreach.checkins import dashboard
from outreach.checkins.operations import (
    MAX_HOURS,
    CheckInError,
    close_checkin,
    create_checkin,
    staff_record_answer,
)
from outreach.checkins.verification import VerificationError, confirm_safe
from outreach.extensions import db
from outreach.models import (
    Alert,
    AlertStatus,
    Answer,
    AnswerVia,
    Channel,
    CheckIn,
    CheckInRecipient,
    Severity,
)
from outreach.web.api import api
from outreach.web.api.alerts import AudienceIn, compose_field
from outreach.web.api.auth import api_user
from outreach.web.api.errors import ApiError, get_or_404, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import ApiModel, Id, OutModel, PageOut, QueryModel, Timestamp, page_envelope
from outreach.web.pagination import paginate

bp: Blueprint = api
TAG = "checkins"
NOT_FOUND = "There is no check-in with this id."

Hours = Annotated[int, Field(ge=1, le=MAX_HOURS)]
Question = Annotated[str, Field(max_length=1600)]


class QuestionByLanguage(ApiModel):
    """The question per language; Korean is required. Each message adds the person's one-tap links."""

    ko: Question
    en: Question | None = None
    km: Question | None = None


class EscalationStep(ApiModel):
    after_hours: Hours
    action: Literal["email", "emergency_contact", "community_rep"]


class CheckInCreate(ApiModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    question: QuestionByLanguage
    channels: list[Channel] = Field(min_length=1, max_length=3)
    audience: AudienceIn = Field(default_factory=AudienceIn)
    deadline: AwareDatetime = Field(description="When answers are due; in the future, at most 14 days away.")
    grace_hours: Annotated[int, Field(ge=0, le=168)] = Field(
        default=24, description="Links keep working this long after the deadline."
    )
    reminder_hours: list[Hours] = Field(
        default_factory=list,
        max_length=10,
        description="Hours after sending at which non-responders are reminded.",
    )
    escalation: list[EscalationStep] = Field(default_factory=list, max_length=3)
    severity: Severity = Severity.MODERATE
    parent_alert_id: Id | None = Field(default=None, description="The alert this check-in follows up.")


class StaffAnswerIn(ApiModel):
    """What an officer learned by phone or in person; kept like any answer (via "staff") and audited."""

    person_id: Id
    answer: Literal["safe", "need_help"]
    note: Annotated[str, Field(max_length=1000)] | None = None


class CheckInQuery(QueryModel):
    pass


class ResponseQuery(QueryModel):
    answer: Answer | None = None
    unverified: bool | None = Field(
        default=None, description='Only "safe" answers no officer has confirmed yet (true).'
    )
    province: Annotated[str, Field(max_length=8, description="ISO 3166-2:KH code, e.g. KH-12.")] | None = None


class AnswerCounts(OutModel):
    safe: int
    need_help: int
    no_response: int
    total: int


class ProvinceCounts(AnswerCounts):
    code: str = Field(description="ISO 3166-2:KH code; empty for people without a province.")
    name: str


class CheckInOut(OutModel):
    id: int
    alert_id: int = Field(description="Submit, approve and send the check-in through /alerts/{alert_id}.")
    status: AlertStatus = Field(description="The status of the check-in's alert.")
    title: str
    parent_alert_id: int | None
    deadline: Timestamp
    grace_hours: int
    reminder_hours: list[int]
    escalation: list[EscalationStep]
    sent_at: Timestamp | None
    closed_at: Timestamp | None
    created_at: Timestamp
    totals: AnswerCounts = Field(description="Latest answer of every person asked.")
    provinces: list[ProvinceCounts] = Field(description="The same per province, most calls for help first.")
    unverified: int = Field(
        description='"Safe" answers from people with an open case or report (or given with their '
        "duress word) that no officer has confirmed yet; counted in totals.safe too."
    )


class ResponseOut(OutModel):
    person_id: int
    name_ko: str | None
    name_latin: str | None
    phone: str | None
    province_code: str | None = Field(description="The province when the check-in was sent.")
    answer: Answer
    answered_at: Timestamp | None
    answered_via: AnswerVia | None
    note: str | None = Field(description="What the person wrote with their latest answer.")
    location: str | None
    reminders_sent: int
    escalation_level: int
    safe_unverified: bool = Field(
        description='A "safe" that may have been written by someone else and is not confirmed yet.'
    )
    verified_at: Timestamp | None = Field(description='When an officer confirmed the "safe".')
    verified_how: str | None = Field(description="call, video, in_person or question.")


class ConfirmSafeIn(ApiModel):
    """How an officer made sure an unverified "safe" is real."""

    how: Literal["call", "video", "in_person", "question"]
    note: Annotated[str, Field(max_length=300)] | None = None


class ResponsePage(PageOut):
    items: list[ResponseOut]


class CheckInPage(PageOut):
    items: list[CheckInOut]


def response_out(
    recipient: CheckInRecipient, person: Any, note: str | None, location: str | None
) -> ResponseOut:
    phone = person.primary_phone
    return ResponseOut(
        person_id=person.id,
        name_ko=person.name_ko,
        name_latin=person.name_latin,
        phone=phone.e164 if phone else None,
        province_code=recipient.province_code,
        answer=recipient.answer,
        answered_at=recipient.answered_at,
        answered_via=recipient.answered_via,
        note=note,
        location=location,
        reminders_sent=recipient.reminders_sent,
        escalation_level=recipient.escalation_level,
        safe_unverified=bool(
            recipient.answer == Answer.SAFE and recipient.safe_unverified and recipient.verified_at is None
        ),
        verified_at=recipient.verified_at,
        verified_how=recipient.verified_how,
    )


def _get(checkin_id: int) -> CheckIn:
    return get_or_404(CheckIn, checkin_id, NOT_FOUND)


def checkin_out(checkin: CheckIn) -> CheckInOut:
    alert = db.session.get(Alert, checkin.alert_id)
    assert alert is not None
    counts = dashboard.counts(checkin.id, api_user().language or "en").as_json()
    data: dict[str, Any] = {
        "id": checkin.id,
        "alert_id": checkin.alert_id,
        "status": alert.status,
        "title": alert.title,
        "parent_alert_id": checkin.parent_alert_id,
        "deadline": checkin.deadline,
        "grace_hours": checkin.grace_hours,
        "reminder_hours": list(checkin.reminder_hours or []),
        "escalation": list(checkin.escalation or []),
        "sent_at": checkin.sent_at,
        "closed_at": checkin.closed_at,
        "created_at": checkin.created_at,
        "totals": counts["totals"],
        "provinces": counts["provinces"],
        "unverified": counts["unverified"],
    }
    return CheckInOut.model_validate(data)


def _field(name: str | None) -> str:
    if name and name.startswith("body_"):
        return "question." + name[len("body_") :]
    return compose_field(name)


@endpoint(
    bp,
    "POST",
    "/checkins",
    tag=TAG,
    body=CheckInCreate,
    response=CheckInOut,
    status=201,
    summary="Create a check-in (draft)",
    description="Creates the check-in and its alert as a draft; send it with "
    "POST /alerts/{alert_id}/submit (then /approve when needed, and /send).",
)
def create_checkin_endpoint(body: CheckInCreate) -> tuple[CheckInOut, int]:
    questions = {
        lang: text
        for lang, text in (("ko", body.question.ko), ("en", body.question.en), ("km", body.question.km))
        if text is not None
    }
    try:
        checkin = create_checkin(
            title=body.title,
            questions=questions,
            audience=body.audience.model_dump(mode="json"),
            channels=[c.value for c in body.channels],
            deadline=body.deadline,
            grace_hours=body.grace_hours,
            reminder_hours=list(body.reminder_hours),
            escalation=[s.model_dump() for s in body.escalation],
            severity=body.severity,
            parent_alert_id=body.parent_alert_id,
            actor=api_user(),
        )
    except CheckInError as exc:
        raise validation_error({_field(exc.field): str(exc)}) from exc
    db.session.commit()
    return checkin_out(checkin), 201


@endpoint(
    bp,
    "GET",
    "/checkins/<int:checkin_id>",
    tag=TAG,
    response=CheckInOut,
    summary="Read a check-in and its counts per province and answer",
)
def read_checkin(checkin_id: int) -> CheckInOut:
    return checkin_out(_get(checkin_id))


@endpoint(
    bp,
    "GET",
    "/checkins/<int:checkin_id>/responses",
    tag=TAG,
    query=ResponseQuery,
    response=ResponsePage,
    summary="The people asked and their latest answers",
    description="Optionally only one answer (e.g. need_help) or one province. Latest answers first.",
)
def list_checkin_responses(checkin_id: int, query: ResponseQuery) -> ResponsePage:
    _get(checkin_id)
    province = query.province.strip().upper() if query.province else None
    answer = query.answer.value if query.answer else None
    if query.unverified:
        answer = dashboard.UNVERIFIED
    stmt = dashboard.people(checkin_id, answer, province)
    page = paginate(stmt, query.page, per_page=100, scalars=False)
    items = [
        response_out(recipient, person, note, location) for recipient, person, note, location in page.items
    ]
    return ResponsePage.model_validate(page_envelope(page, items))


@endpoint(
    bp,
    "GET",
    "/checkins",
    tag=TAG,
    query=CheckInQuery,
    response=CheckInPage,
    summary="List check-ins",
    description="Newest first, each with its counts.",
)
def list_checkins(query: CheckInQuery) -> CheckInPage:
    page = paginate(sa.select(CheckIn).order_by(CheckIn.id.desc()), query.page, per_page=20)
    return CheckInPage.model_validate(page_envelope(page, [checkin_out(c) for c in page.items]))


@endpoint(
    bp,
    "POST",
    "/checkins/<int:checkin_id>/responses",
    tag=TAG,
    body=StaffAnswerIn,
    response=ResponseOut,
    status=201,
    summary="Record an answer an officer learned",
    description="For a person asked in this check-in (404 otherwise). 'need_help' opens a case like any "
    "call for help. Works after the deadline too.",
)
def record_staff_answer(checkin_id: int, body: StaffAnswerIn) -> tuple[ResponseOut, int]:
    _get(checkin_id)
    recipient = db.session.scalar(
        sa.select(CheckInRecipient).where(
            CheckInRecipient.checkin_id == checkin_id, CheckInRecipient.person_id == body.person_id
        )
    )
    if recipient is None:
        raise ApiError(404, "This person was not asked in this check-in.")
    try:
        staff_record_answer(recipient, body.answer, actor=api_user(), note=body.note)
    except CheckInError as exc:
        raise validation_error({_field(exc.field) if exc.field else "answer": str(exc)}) from exc
    db.session.commit()
    stmt = dashboard.people(checkin_id).where(CheckInRecipient.person_id == body.person_id)
    recipient_row, person, note, location = db.session.execute(stmt).one()
    return response_out(recipient_row, person, note, location), 201


@endpoint(
    bp,
    "POST",
    "/checkins/<int:checkin_id>/responses/<int:person_id>/confirm",
    tag=TAG,
    body=ConfirmSafeIn,
    response=ResponseOut,
    errors=(404, 409),
    summary='Confirm an unverified "safe"',
    description="After a call, a video or meeting the person; audited. 409 when there is no unverified "
    '"safe" to confirm (already confirmed, or the latest answer is not safe).',
)
def confirm_safe_endpoint(checkin_id: int, person_id: int, body: ConfirmSafeIn) -> ResponseOut:
    _get(checkin_id)
    recipient = db.session.scalar(
        sa.select(CheckInRecipient).where(
            CheckInRecipient.checkin_id == checkin_id, CheckInRecipient.person_id == person_id
        )
    )
    if recipient is None:
        raise ApiError(404, "This person was not asked in this check-in.")
    if recipient.answer != Answer.SAFE:
        raise ApiError(409, 'The latest answer is not "safe".')
    try:
        confirm_safe(recipient, actor=api_user(), how=body.how, note=body.note)
    except VerificationError as exc:
        raise ApiError(409, str(exc)) from exc
    db.session.commit()
    stmt = dashboard.people(checkin_id).where(CheckInRecipient.person_id == person_id)
    recipient_row, person, note, location = db.session.execute(stmt).one()
    return response_out(recipient_row, person, note, location)


@endpoint(
    bp,
    "POST",
    "/checkins/<int:checkin_id>/close",
    tag=TAG,
    response=CheckInOut,
    errors=(409,),
    summary="Close a check-in",
    description="Stops taking answers and cancels the remaining reminders and escalation steps; "
    "409 if it is already closed.",
)
def close_checkin_endpoint(checkin_id: int) -> CheckInOut:
    checkin = _get(checkin_id)
    try:
        close_checkin(checkin, actor=api_user())
    except CheckInError as exc:
        raise ApiError(409, str(exc)) from exc
    db.session.commit()
    return checkin_out(checkin)
