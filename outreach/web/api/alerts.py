"""``/api/v1/alerts``: compose a draft, submit, approve, send, cancel, follow the counts, export CAP.

Each endpoint calls one operation of :mod:`outreach.alerts` (``compose``, ``workflow``, ``progress``,
``cap``), commits, and answers. The lifecycle is the operations' own: a step the alert's status does
not allow (sending an unapproved alert, approving one's own) is a 409 with the operations' reason.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from flask import Blueprint, Response
from pydantic import AwareDatetime, Field

from outreach.alerts import cap, compose, workflow
from outreach.alerts.compose import AlertInput, ComposeError, ContentInput
from outreach.alerts.progress import alert_progress
from outreach.extensions import db
from outreach.models import (
    Alert,
    AlertKind,
    AlertStatus,
    CapCategory,
    CapCertainty,
    CapUrgency,
    Channel,
    Language,
    Message,
    MessageStatus,
    PersonStatus,
    Severity,
    SourceKind,
)
from outreach.registry.presence import cambodia_today
from outreach.web.api import api
from outreach.web.api.auth import api_user
from outreach.web.api.errors import ApiError, get_or_404, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import ApiModel, OutModel, PageOut, QueryModel, Timestamp, page_envelope
from outreach.web.pagination import paginate

bp: Blueprint = api
TAG = "alerts"
NOT_FOUND = "There is no alert with this id."
CAP_MEDIA = "application/cap+xml"

ProvinceCode = Annotated[str, Field(min_length=1, max_length=8, examples=["KH-12"])]


class AudienceIn(ApiModel):
    """Who is reached; an empty list means no restriction. Only consenting, registered people."""

    provinces: list[ProvinceCode] = Field(
        default_factory=list, max_length=25, description="ISO 3166-2:KH codes."
    )
    statuses: list[PersonStatus] = Field(default_factory=list, max_length=2)
    languages: list[Language] = Field(default_factory=list, max_length=3)
    present_only: bool = Field(default=False, description="Only people in Cambodia today.")


class ContentIn(ApiModel):
    body: Annotated[
        str, Field(max_length=compose.MAX_SMS_CHARS * 4, description="The text (SMS and e-mail).")
    ]
    subject: Annotated[str, Field(max_length=300)] = Field(
        default="", description="E-mail subject / headline."
    )


class ContentByLanguage(ApiModel):
    """Text per language: Korean is required; people reading an empty language get the Korean text."""

    ko: ContentIn
    en: ContentIn | None = None
    km: ContentIn | None = None


class AlertCreate(ApiModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    severity: Severity = Severity.MODERATE
    content: ContentByLanguage
    channels: list[Channel] = Field(min_length=1, max_length=3)
    audience: AudienceIn = Field(default_factory=AudienceIn)
    public: bool = Field(default=False, description="Shown in the public feed and CAP scope Public.")
    expires_at: AwareDatetime | None = None
    urgency: CapUrgency = CapUrgency.IMMEDIATE
    certainty: CapCertainty = CapCertainty.OBSERVED
    category: CapCategory = CapCategory.SAFETY


class AlertUpdate(ApiModel):
    """Changes to a draft; only the fields given change (``content`` replaces all the texts).

    Only ``expires_at`` may be null (no expiry); the other fields are left out to keep them.
    """

    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    severity: Severity | None = None
    content: ContentByLanguage | None = None
    channels: Annotated[list[Channel], Field(min_length=1, max_length=3)] | None = None
    audience: AudienceIn | None = None
    public: bool | None = None
    expires_at: AwareDatetime | None = None
    urgency: CapUrgency | None = None
    certainty: CapCertainty | None = None
    category: CapCategory | None = None


class ReturnIn(ApiModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="What the author should change (kept in the audit log)."
    )


class AlertQuery(QueryModel):
    status: AlertStatus | None = None


class MessageQuery(QueryModel):
    status: MessageStatus | None = None


class ContentOut(OutModel):
    language: str
    body: str
    subject: str | None


class AudienceOut(OutModel):
    provinces: list[str]
    statuses: list[str]
    languages: list[str]
    present_only: bool


class FailureOut(OutModel):
    code: str | None
    count: int
    explanation: str


class CountsOut(OutModel):
    """Messages of the alert by status."""

    pending: int
    sending: int
    sent: int
    delivered: int
    undelivered: int
    failed: int
    skipped: int


class ProgressOut(OutModel):
    total: int = Field(description="Messages created for the alert (one per person and channel).")
    counts: CountsOut
    done: int = Field(description="Messages finished one way or another.")
    percent: float
    rate: float = Field(description="Messages handed to the provider per second, recently.")
    seconds_left: int | None = Field(description="At the current rate; null when unknown.")
    failures: list[FailureOut]


class AlertOut(OutModel):
    id: int
    kind: AlertKind
    status: AlertStatus
    title: str
    severity: Severity
    urgency: CapUrgency
    certainty: CapCertainty
    category: CapCategory
    channels: list[str]
    audience: AudienceOut
    content: list[ContentOut]
    public: bool
    expires_at: Timestamp | None
    approval_required: bool = Field(description="Decided on submit: a second officer must approve.")
    recipient_count: int | None = Field(description="People counted when the alert was submitted.")
    created_by_id: int | None
    approved_by_id: int | None
    sent_by_id: int | None
    cancelled_by_id: int | None
    created_at: Timestamp
    submitted_at: Timestamp | None
    approved_at: Timestamp | None
    dispatch_started_at: Timestamp | None
    completed_at: Timestamp | None
    cancelled_at: Timestamp | None


class AlertDetail(AlertOut):
    progress: ProgressOut


class AlertPage(PageOut):
    items: list[AlertOut]


class MessageOut(OutModel):
    id: int
    person_id: int | None
    channel: str
    to_address: str | None
    language: str
    status: MessageStatus
    error_code: str | None
    error_message: str | None
    attempts: int
    segments: int | None
    created_at: Timestamp
    sent_at: Timestamp | None
    delivered_at: Timestamp | None
    failed_at: Timestamp | None


class MessagePage(PageOut):
    items: list[MessageOut]


# --- helpers --------------------------------------------------------------------------------------


def _fields(alert: Alert) -> dict[str, Any]:
    audience = alert.audience or {}
    return {
        "id": alert.id,
        "kind": alert.kind,
        "status": alert.status,
        "title": alert.title,
        "severity": alert.severity,
        "urgency": alert.urgency,
        "certainty": alert.certainty,
        "category": alert.category,
        "channels": list(alert.channels or []),
        "audience": {
            "provinces": list(audience.get("provinces") or []),
            "statuses": list(audience.get("statuses") or []),
            "languages": list(audience.get("languages") or []),
            "present_only": bool(audience.get("present_only", False)),
        },
        "content": [ContentOut.model_validate(c) for c in alert.contents],
        "public": alert.public,
        "expires_at": alert.expires_at,
        "approval_required": alert.approval_required,
        "recipient_count": alert.recipient_count,
        "created_by_id": alert.created_by_id,
        "approved_by_id": alert.approved_by_id,
        "sent_by_id": alert.sent_by_id,
        "cancelled_by_id": alert.cancelled_by_id,
        "created_at": alert.created_at,
        "submitted_at": alert.submitted_at,
        "approved_at": alert.approved_at,
        "dispatch_started_at": alert.dispatch_started_at,
        "completed_at": alert.completed_at,
        "cancelled_at": alert.cancelled_at,
    }


def alert_detail(alert: Alert) -> AlertDetail:
    progress = alert_progress(alert).as_json()
    return AlertDetail.model_validate(_fields(alert) | {"progress": progress})


def get_alert(alert_id: int) -> Alert:
    return get_or_404(Alert, alert_id, NOT_FOUND)


def compose_field(name: str | None) -> str:
    """The API's name for a field the compose operation names by its form field."""
    if not name:
        return "body"
    for prefix, part in (("body_", "body"), ("subject_", "subject")):
        if name.startswith(prefix):
            return f"content.{name[len(prefix) :]}.{part}"
    return {"provinces": "audience"}.get(name, name)


def _contents(content: ContentByLanguage) -> dict[str, ContentInput]:
    return {
        lang: ContentInput(body=item.body, subject=item.subject)
        for lang, item in (("ko", content.ko), ("en", content.en), ("km", content.km))
        if item is not None
    }


def alert_input(body: AlertCreate) -> AlertInput:
    return AlertInput(
        title=body.title,
        severity=body.severity,
        contents=_contents(body.content),
        channels=[c.value for c in body.channels],
        audience=body.audience.model_dump(mode="json"),
        public=body.public,
        expires_at=body.expires_at,
        urgency=body.urgency,
        certainty=body.certainty,
        category=body.category,
    )


def updated_input(alert: Alert, body: AlertUpdate) -> AlertInput:
    """The draft as it stands, with the fields the client gave replaced."""
    given = body.model_fields_set
    nulls = sorted(name for name in given - {"expires_at"} if getattr(body, name) is None)
    if nulls:
        raise validation_error({name: "cannot be null; leave it out to keep it" for name in nulls})
    data = AlertInput(
        title=alert.title,
        severity=alert.severity,
        contents={c.language: ContentInput(body=c.body, subject=c.subject or "") for c in alert.contents},
        channels=list(alert.channels or []),
        audience=dict(alert.audience or {}),
        public=alert.public,
        expires_at=alert.expires_at,
        urgency=alert.urgency,
        certainty=alert.certainty,
        category=alert.category,
    )
    for name in given:
        value = getattr(body, name)
        if name == "content":
            data.contents = _contents(value)
        elif name == "channels":
            data.channels = [c.value for c in value]
        elif name == "audience":
            data.audience = value.model_dump(mode="json")
        else:
            setattr(data, name, value)
    return data


def _workflow_step(alert_id: int, step: str, reason: str = "") -> AlertDetail:
    alert = get_alert(alert_id)
    user = api_user()
    try:
        if step == "return":
            workflow.return_to_draft(alert, actor=user, reason=reason)
        elif step == "submit":
            workflow.submit(alert, actor=user, today=cambodia_today())
        elif step == "approve":
            workflow.approve(alert, actor=user)
        elif step == "send":
            workflow.send(alert, actor=user)
        else:
            workflow.cancel(alert, actor=user)
    except workflow.WorkflowError as exc:
        raise ApiError(409, str(exc)) from exc
    db.session.commit()
    return alert_detail(alert)


# --- endpoints ------------------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    "/alerts",
    tag=TAG,
    query=AlertQuery,
    response=AlertPage,
    summary="List alerts",
    description="Newest first, optionally by status. Check-in broadcasts are included (kind 'checkin').",
)
def list_alerts(query: AlertQuery) -> AlertPage:
    stmt = sa.select(Alert).order_by(Alert.id.desc())
    if query.status is not None:
        stmt = stmt.where(Alert.status == query.status)
    page = paginate(stmt, query.page)
    return AlertPage.model_validate(
        page_envelope(page, [AlertOut.model_validate(_fields(a)) for a in page.items])
    )


@endpoint(
    bp,
    "POST",
    "/alerts",
    tag=TAG,
    body=AlertCreate,
    response=AlertDetail,
    status=201,
    summary="Create a draft alert",
    description="The alert is a draft: submit it, have it approved when needed, then send it.",
)
def create_alert(body: AlertCreate) -> tuple[AlertDetail, int]:
    try:
        alert = compose.create_alert(alert_input(body), author=api_user())
    except ComposeError as exc:
        raise validation_error({compose_field(exc.field): str(exc)}) from exc
    db.session.commit()
    return alert_detail(alert), 201


@endpoint(
    bp,
    "GET",
    "/alerts/<int:alert_id>",
    tag=TAG,
    response=AlertDetail,
    summary="Read an alert, its status and its message counts",
    description="`progress.counts` has the alert's messages per status; poll it while the alert is sending.",
)
def read_alert(alert_id: int) -> AlertDetail:
    return alert_detail(get_alert(alert_id))


@endpoint(
    bp,
    "PATCH",
    "/alerts/<int:alert_id>",
    tag=TAG,
    body=AlertUpdate,
    response=AlertDetail,
    errors=(409,),
    summary="Change a draft",
    description="Only a draft can change (what was approved is what goes out): 409 otherwise.",
)
def update_alert(alert_id: int, body: AlertUpdate) -> AlertDetail:
    alert = get_alert(alert_id)
    if alert.status != AlertStatus.DRAFT:
        raise ApiError(409, "Only a draft can be edited.")
    data = updated_input(alert, body)
    try:
        compose.update_alert(alert, data, actor=api_user())
    except ComposeError as exc:
        raise validation_error({compose_field(exc.field): str(exc)}) from exc
    db.session.commit()
    return alert_detail(alert)


@endpoint(
    bp,
    "POST",
    "/alerts/<int:alert_id>/return",
    tag=TAG,
    body=ReturnIn,
    response=AlertDetail,
    errors=(409,),
    summary="Return an alert waiting for approval to its author",
    description="It becomes a draft again, with the reason in the audit log; 409 if not 'pending_approval'.",
)
def return_alert(alert_id: int, body: ReturnIn) -> AlertDetail:
    return _workflow_step(alert_id, "return", body.reason)


@endpoint(
    bp,
    "POST",
    "/alerts/<int:alert_id>/submit",
    tag=TAG,
    response=AlertDetail,
    errors=(409,),
    summary="Submit a draft",
    description="Freezes the draft and counts its recipients. Large or Severe/Extreme alerts go to "
    "'pending_approval' (a second officer approves); others become 'approved' at once.",
)
def submit_alert(alert_id: int) -> AlertDetail:
    return _workflow_step(alert_id, "submit")


@endpoint(
    bp,
    "POST",
    "/alerts/<int:alert_id>/approve",
    tag=TAG,
    response=AlertDetail,
    errors=(409,),
    summary="Approve an alert waiting for approval",
    description="By an officer other than the author; 409 if the alert is not 'pending_approval'.",
)
def approve_alert(alert_id: int) -> AlertDetail:
    return _workflow_step(alert_id, "approve")


@endpoint(
    bp,
    "POST",
    "/alerts/<int:alert_id>/send",
    tag=TAG,
    response=AlertDetail,
    errors=(409,),
    summary="Send an approved alert",
    description="Starts the broadcast in the background (status 'dispatching', then 'sending'); "
    "409 if the alert is not approved.",
)
def send_alert(alert_id: int) -> AlertDetail:
    return _workflow_step(alert_id, "send")


@endpoint(
    bp,
    "POST",
    "/alerts/<int:alert_id>/cancel",
    tag=TAG,
    response=AlertDetail,
    errors=(409,),
    summary="Cancel an alert",
    description="Messages not yet handed to the provider are skipped; 409 once completed or cancelled.",
)
def cancel_alert(alert_id: int) -> AlertDetail:
    return _workflow_step(alert_id, "cancel")


@endpoint(
    bp,
    "GET",
    "/alerts/<int:alert_id>/messages",
    tag=TAG,
    query=MessageQuery,
    response=MessagePage,
    summary="List an alert's messages",
    description="One per person and channel, optionally by status.",
)
def list_alert_messages(alert_id: int, query: MessageQuery) -> MessagePage:
    get_alert(alert_id)
    stmt = (
        sa.select(Message)
        .where(Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id)
        .order_by(Message.id)
    )
    if query.status is not None:
        stmt = stmt.where(Message.status == query.status)
    page = paginate(stmt, query.page, per_page=100)
    return MessagePage.model_validate(page_envelope(page, [MessageOut.model_validate(m) for m in page.items]))


@endpoint(
    bp,
    "GET",
    "/alerts/<int:alert_id>/cap",
    tag=TAG,
    content={CAP_MEDIA: {"type": "string", "description": "A CAP 1.2 <alert> document."}},
    summary="The alert as CAP 1.2 XML",
    description="OASIS Common Alerting Protocol 1.2; one <info> per language the alert is written in.",
)
def alert_cap(alert_id: int) -> Response:
    return Response(cap.alert_to_cap(get_alert(alert_id)), mimetype=CAP_MEDIA)
