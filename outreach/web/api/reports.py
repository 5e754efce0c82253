"""``/api/v1/reports``: reports and task-force cases, with the staff pages' need-to-know rules.

Officers read the welfare side (who, how to reach the reporter, stage); the task-force side
(location, recruitment, passport, task-force reference, evidence, disclosures) is ``task_force`` in
a report, filled in for liaison officers and admins only, and its own endpoint refuses anyone else.
Community representatives get 403 everywhere here. Stage moves go through the one guarded
``transition``: a skipped step (or one somebody made first) is a 409 with the reason.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from flask import Blueprint, url_for
from pydantic import Field

from outreach.extensions import db
from outreach.models import EvidenceFile, Person, Province, Report, ReportEvent, ReportKind, ReportStage
from outreach.registry.phones import PhoneError, normalise_phone
from outreach.reports import kit
from outreach.reports import operations as ops
from outreach.web.api import api
from outreach.web.api.auth import STAFF, TASK_FORCE, api_user
from outreach.web.api.errors import ApiError, get_or_404, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import (
    ApiModel,
    Date,
    OutModel,
    PageOut,
    QueryModel,
    Timestamp,
    page_envelope,
)
from outreach.web.pagination import paginate

bp: Blueprint = api
TAG = "reports"
NOT_FOUND = "There is no report with this id."
#: Timeline lines an officer without the liaison role may read (as on the staff page).
WELFARE_KINDS = frozenset(
    {"reported", "stage", "contact", "linked", "timer_not_verified", "timer_not_located"}
)

Text = Annotated[str, Field(max_length=5000)]
Short = Annotated[str, Field(max_length=200)]


class ReportQuery(QueryModel):
    stage: ReportStage | None = None


class ReportCreate(ApiModel):
    """A report that reached the embassy some other way (a hotline system, a partner)."""

    reporter_name: Annotated[str, Field(min_length=1, max_length=100)]
    reporter_relation: Annotated[str, Field(max_length=50)] | None = None
    reporter_phone: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="Any valid number; a Korean one (+82…) is usual."
    )
    reporter_email: Annotated[str, Field(max_length=254)] | None = None
    reporter_language: Annotated[str, Field(pattern="^(ko|en|km)$")] = "ko"
    subject_name: Annotated[str, Field(min_length=1, max_length=100)]
    subject_name_latin: Annotated[str, Field(max_length=100)] | None = None
    subject_birth_date: Date | None = None
    subject_passport: Annotated[str, Field(max_length=20)] | None = None
    subject_phone: Annotated[str, Field(max_length=40)] | None = None
    province_code: Annotated[str, Field(pattern=r"^KH-\d{1,2}$")] | None = None
    area: Short | None = None
    building: Short | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    map_url: Annotated[str, Field(max_length=500)] | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    last_heard_on: Date | None = None
    recruitment: Text | None = None
    messenger_handle: Short | None = None
    recruiter: Short | None = None
    what_said: Annotated[str, Field(max_length=10000)] | None = None


class ReportUpdate(ApiModel):
    person_id: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = Field(
        default=None, description="Confirm who the report is about: a registered person's id."
    )
    stage: ReportStage | None = Field(default=None, description="The next stage; the lifecycle decides.")
    note: Annotated[str, Field(min_length=1, max_length=5000)] | None = Field(
        default=None, description="With a stage, its reason; alone, a contact line on the timeline."
    )


class EventOut(OutModel):
    id: int
    kind: str
    body: str | None
    author_id: int | None
    created_at: Timestamp


class EvidenceOut(OutModel):
    id: int
    role: str
    media_type: str
    size: int
    sha256: str
    original_name: str
    created_at: Timestamp


class DisclosureOut(OutModel):
    id: int
    reference: str
    status: str
    purpose: str
    recipient_agency: str
    recipient_officer: str
    legal_basis: str
    files: list[dict[str, Any]]
    requested_by_id: int
    decided_by_id: int | None
    disclosed_by_id: int | None
    requested_at: Timestamp
    disclosed_at: Timestamp | None


class TaskForceOut(OutModel):
    task_force_reference: str | None
    subject_passport: str | None
    province_code: str | None
    area: str | None
    building: str | None
    address: str | None
    map_url: str | None
    latitude: float | None
    longitude: float | None
    last_heard_on: Date | None
    recruitment: str | None
    messenger_handle: str | None
    recruiter: str | None
    what_said: str | None
    statement: str | None
    evidence: list[EvidenceOut]
    disclosures: list[DisclosureOut]


class ReportOut(OutModel):
    id: int
    reference: str
    case_id: int
    kind: ReportKind
    stage: ReportStage
    stage_changed_at: Timestamp
    reported_at: Timestamp
    person_id: int | None = Field(description="The registered person, when confirmed (or suggested).")
    person_confirmed: bool
    reporter_name: str | None
    reporter_relation: str | None
    reporter_phone: str | None
    reporter_email: str | None
    subject_name: str | None
    subject_name_latin: str | None
    subject_birth_date: Date | None
    subject_phone: str | None


class ReportDetail(ReportOut):
    events: list[EventOut] = Field(description="The timeline, oldest first (the welfare lines for officers).")
    task_force: TaskForceOut | None = Field(
        description="Only for liaison officers and admins; null otherwise."
    )


class ReportPage(PageOut):
    items: list[ReportOut]


class ReportCreated(ReportDetail):
    status_url: str = Field(description="The reporter's private status link (shown once).")


def _fields(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "reference": report.reference,
        "case_id": report.case_id,
        "kind": report.kind,
        "stage": report.stage,
        "stage_changed_at": report.stage_changed_at,
        "reported_at": report.reported_at,
        "person_id": report.person_id,
        "person_confirmed": report.person_confirmed_at is not None,
        "reporter_name": report.reporter_name,
        "reporter_relation": report.reporter_relation,
        "reporter_phone": report.reporter_phone,
        "reporter_email": report.reporter_email,
        "subject_name": report.subject_name,
        "subject_name_latin": report.subject_name_latin,
        "subject_birth_date": report.subject_birth_date,
        "subject_phone": report.subject_phone,
    }


def task_force_of(report: Report) -> TaskForceOut:
    evidence = db.session.scalars(
        sa.select(EvidenceFile).where(EvidenceFile.report_id == report.id).order_by(EvidenceFile.id)
    )
    return TaskForceOut.model_validate(
        {
            "task_force_reference": report.task_force_reference,
            "subject_passport": report.subject_passport,
            "province_code": report.province_code,
            "area": report.area,
            "building": report.building,
            "address": report.address,
            "map_url": report.map_url,
            "latitude": report.latitude,
            "longitude": report.longitude,
            "last_heard_on": report.last_heard_on,
            "recruitment": report.recruitment,
            "messenger_handle": report.messenger_handle,
            "recruiter": report.recruiter,
            "what_said": report.what_said,
            "statement": report.statement,
            "evidence": [EvidenceOut.model_validate(e) for e in evidence],
            "disclosures": [
                DisclosureOut.model_validate(_disclosure_fields(d)) for d in kit.disclosures_of(report)
            ],
        }
    )


def _disclosure_fields(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "reference": d.reference,
        "status": d.status.value,
        "purpose": d.purpose,
        "recipient_agency": d.recipient_agency,
        "recipient_officer": d.recipient_officer,
        "legal_basis": d.legal_basis,
        "files": d.files,
        "requested_by_id": d.requested_by_id,
        "decided_by_id": d.decided_by_id,
        "disclosed_by_id": d.disclosed_by_id,
        "requested_at": d.requested_at,
        "disclosed_at": d.disclosed_at,
    }


def detail(report: Report) -> dict[str, Any]:
    full = ops.may_see_task_force(api_user())
    stmt = sa.select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    if not full:
        stmt = stmt.where(ReportEvent.kind.in_(WELFARE_KINDS))
    events = []
    for e in db.session.scalars(stmt):
        out = EventOut.model_validate(e)
        if not full and e.kind == "stage" and out.body:
            out.body = out.body.split(":")[0]  # the move, not the liaison's reason
        events.append(out)
    return _fields(report) | {"events": events, "task_force": task_force_of(report) if full else None}


def _get(report_id: int) -> Report:
    return get_or_404(Report, report_id, NOT_FOUND)


@endpoint(
    bp,
    "GET",
    "/reports",
    tag=TAG,
    query=ReportQuery,
    response=ReportPage,
    roles=STAFF,
    summary="List reports",
)
def list_reports(query: ReportQuery) -> ReportPage:
    """Newest first, optionally at one stage. The welfare fields only (see a report for the rest)."""
    stmt = sa.select(Report).order_by(Report.reported_at.desc(), Report.id.desc())
    if query.stage is not None:
        stmt = stmt.where(Report.stage == query.stage)
    page = paginate(stmt, query.page)
    return ReportPage.model_validate(
        page_envelope(page, [ReportOut.model_validate(_fields(r)) for r in page.items])
    )


def _phone(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return normalise_phone(value, mobile_only=False).e164
    except PhoneError as exc:
        raise validation_error({name: str(exc)}) from exc


@endpoint(
    bp,
    "POST",
    "/reports",
    tag=TAG,
    body=ReportCreate,
    response=ReportCreated,
    status=201,
    roles=STAFF,
    summary="Take a report",
    description="Like the public form: records the report and its welfare case, suggests the registered "
    "person it is about, and pages the duty officers.",
)
def create(body: ReportCreate) -> tuple[ReportCreated, int]:
    data = body.model_dump()
    data["reporter_phone"] = _phone(body.reporter_phone, "reporter_phone")
    data["subject_phone"] = _phone(body.subject_phone, "subject_phone")
    if body.province_code is not None and db.session.get(Province, body.province_code) is None:
        raise validation_error({"province_code": "not a province of Cambodia (KH-1 … KH-25)"})
    try:
        new = ops.create_report(ops.ReportInput(**data), kind=ReportKind.API, actor=api_user())
    except ops.ReportError as exc:
        raise validation_error({"body": str(exc)}) from exc
    db.session.commit()
    url = url_for("reports_public.status", key=new.status_key, _external=True)
    return ReportCreated.model_validate(detail(new.report) | {"status_url": url}), 201


@endpoint(
    bp,
    "GET",
    "/reports/<int:report_id>",
    tag=TAG,
    response=ReportDetail,
    roles=STAFF,
    summary="Read a report",
)
def read(report_id: int) -> ReportDetail:
    """The welfare side and its timeline; ``task_force`` is filled in for liaison officers and admins."""
    return ReportDetail.model_validate(detail(_get(report_id)))


@endpoint(
    bp,
    "GET",
    "/reports/<int:report_id>/task-force",
    tag=TAG,
    response=TaskForceOut,
    roles=TASK_FORCE,
    summary="Read a report's task-force details",
    description="Location, recruitment, evidence and disclosures: liaison officers and admins only.",
)
def read_task_force(report_id: int) -> TaskForceOut:
    return task_force_of(_get(report_id))


@endpoint(
    bp,
    "PATCH",
    "/reports/<int:report_id>",
    tag=TAG,
    body=ReportUpdate,
    response=ReportDetail,
    roles=STAFF,
    errors=(409,),
    summary="Move a report to its next stage, or add a contact line",
    description="A stage the lifecycle does not allow from the current one (a skipped step) is a 409.",
)
def update(report_id: int, body: ReportUpdate) -> ReportDetail:
    report = _get(report_id)
    if body.stage is None and body.note is None and body.person_id is None:
        raise validation_error({"body": "give a person_id, a stage, a note, or several"})
    if body.person_id is not None:
        person = db.session.get(Person, body.person_id)
        if person is None:
            raise validation_error({"person_id": "there is no registered person with this id"})
        try:
            ops.confirm_person(report, person, actor=api_user())
        except ops.ReportError as exc:
            raise validation_error({"person_id": str(exc)}) from exc
    if body.stage is not None:
        try:
            ops.transition(report, body.stage, actor=api_user(), note=body.note)
        except ops.ReportError as exc:
            db.session.rollback()
            raise ApiError(409, str(exc)) from exc
    elif body.note is not None:
        try:
            ops.add_entry(report, "contact", body.note, actor=api_user())
        except ops.ReportError as exc:
            raise validation_error({"note": str(exc)}) from exc
    db.session.commit()
    return ReportDetail.model_validate(detail(report))
