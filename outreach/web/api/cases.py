"""``/api/v1/cases``: people who asked for help; read them, acknowledge, assign, note, resolve.

Every change goes through :mod:`outreach.cases.operations` (``transition``, ``assign``, ``add_note``);
a status move the case's lifecycle does not allow is a 409 with the operation's reason.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from flask import Blueprint
from pydantic import Field

from outreach.cases import operations as ops
from outreach.extensions import db
from outreach.models import Case, CaseEvent, CaseStatus, Person, User
from outreach.web.api import api
from outreach.web.api.auth import api_user
from outreach.web.api.errors import ApiError, get_or_404, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import ApiModel, Id, OutModel, PageOut, QueryModel, Timestamp, page_envelope
from outreach.web.pagination import paginate

bp: Blueprint = api
TAG = "cases"
NOT_FOUND = "There is no case with this id."


class CaseQuery(QueryModel):
    status: CaseStatus | None = None
    assigned_to_id: Id | None = Field(default=None, description="Only cases assigned to this officer.")


class CaseCreate(ApiModel):
    """A call for help that reached the embassy some other way (another system, a hotline)."""

    person_id: Id = Field(description="The registered person who needs help.")
    note: Annotated[str, Field(max_length=5000)] | None = Field(default=None, description="What is known.")


class CaseUpdate(ApiModel):
    """Give any of these; they are applied together (assign, then status, then note) or not at all."""

    status: CaseStatus | None = Field(
        default=None, description="open → acknowledged → resolved; resolved → open."
    )
    assigned_to_id: Id | None = Field(default=None, description="An active officer; null unassigns.")
    note: Annotated[str, Field(min_length=1, max_length=5000)] | None = Field(
        default=None, description="A note on the timeline (with a status change, the reason for it)."
    )


class PersonSummary(OutModel):
    id: int
    name_ko: str | None
    name_latin: str | None
    phone: str | None
    province_code: str | None
    language: str


class CaseEventOut(OutModel):
    id: int
    kind: str
    body: str | None
    author_id: int | None
    created_at: Timestamp


class CaseOut(OutModel):
    id: int
    status: CaseStatus
    person: PersonSummary | None = Field(description="Null for a call from a number nobody registered.")
    contact_address: str | None = Field(description="The number or address the call for help came from.")
    opened_via: str
    checkin_id: int | None
    assigned_to_id: int | None
    summary: str | None
    opened_at: Timestamp
    acknowledged_at: Timestamp | None
    resolved_at: Timestamp | None
    updated_at: Timestamp


class CaseDetail(CaseOut):
    events: list[CaseEventOut] = Field(description="The timeline, oldest first.")


class CasePage(PageOut):
    items: list[CaseOut]


def _fields(case: Case) -> dict[str, Any]:
    person = None
    if case.person is not None:
        phone = case.person.primary_phone
        person = {
            "id": case.person.id,
            "name_ko": case.person.name_ko,
            "name_latin": case.person.name_latin,
            "phone": phone.e164 if phone else None,
            "province_code": case.person.province_code,
            "language": case.person.language,
        }
    return {
        "id": case.id,
        "status": case.status,
        "person": person,
        "contact_address": case.contact_address,
        "opened_via": case.opened_via,
        "checkin_id": case.checkin_id,
        "assigned_to_id": case.assigned_to_id,
        "summary": case.summary,
        "opened_at": case.opened_at,
        "acknowledged_at": case.acknowledged_at,
        "resolved_at": case.resolved_at,
        "updated_at": case.updated_at,
    }


def case_detail(case: Case) -> CaseDetail:
    events = db.session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    )
    return CaseDetail.model_validate(
        _fields(case) | {"events": [CaseEventOut.model_validate(e) for e in events]}
    )


def _get(case_id: int) -> Case:
    return get_or_404(Case, case_id, NOT_FOUND)


@endpoint(
    bp,
    "GET",
    "/cases",
    tag=TAG,
    query=CaseQuery,
    response=CasePage,
    summary="List cases",
    description="Newest first, optionally by status or assignee.",
)
def list_cases(query: CaseQuery) -> CasePage:
    stmt = sa.select(Case).order_by(Case.opened_at.desc(), Case.id.desc())
    if query.status is not None:
        stmt = stmt.where(Case.status == query.status)
    if query.assigned_to_id is not None:
        stmt = stmt.where(Case.assigned_to_id == query.assigned_to_id)
    page = paginate(stmt, query.page)
    return CasePage.model_validate(
        page_envelope(page, [CaseOut.model_validate(_fields(c)) for c in page.items])
    )


@endpoint(
    bp,
    "POST",
    "/cases",
    tag=TAG,
    body=CaseCreate,
    response=CaseDetail,
    status=201,
    summary="Open a case for a person who needs help",
    description="Like a call for help: opens a case (or adds to the person's open one, or re-opens their "
    "resolved one) and notifies the duty officers. The answer is that case.",
)
def open_case(body: CaseCreate) -> tuple[CaseDetail, int]:
    person = db.session.get(Person, body.person_id)
    if person is None or person.deleted_at is not None:
        raise validation_error({"person_id": "there is no registered person with this id"})
    try:
        call = ops.open_or_reopen_case(person, "api", note=body.note, actor=api_user())
    except ops.CaseError as exc:
        raise validation_error({"body": str(exc)}) from exc
    db.session.commit()
    return case_detail(call.case), 201


@endpoint(
    bp, "GET", "/cases/<int:case_id>", tag=TAG, response=CaseDetail, summary="Read a case and its timeline"
)
def read_case(case_id: int) -> CaseDetail:
    return case_detail(_get(case_id))


@endpoint(
    bp,
    "PATCH",
    "/cases/<int:case_id>",
    tag=TAG,
    body=CaseUpdate,
    response=CaseDetail,
    errors=(409,),
    summary="Acknowledge, assign, note or resolve a case",
    description="A status move the lifecycle does not allow (or that someone else made first) is a 409.",
)
def update_case(case_id: int, body: CaseUpdate) -> CaseDetail:
    case = _get(case_id)
    user = api_user()
    given = body.model_fields_set
    if not given:
        raise validation_error({"body": "give at least one of status, assigned_to_id, note"})
    if "status" in given and body.status is None:
        raise validation_error({"status": "a case always has a status; give open, acknowledged or resolved"})
    if "assigned_to_id" in given and body.assigned_to_id != case.assigned_to_id:
        assignee = None
        if body.assigned_to_id is not None:
            assignee = db.session.get(User, body.assigned_to_id)
            if assignee is None:
                raise validation_error({"assigned_to_id": "there is no user with this id"})
        try:
            ops.assign(case, assignee, actor=user)
        except ops.CaseError as exc:
            raise validation_error({"assigned_to_id": str(exc)}) from exc
    if body.status is not None:
        try:
            # The note goes with the status change as its reason.
            ops.transition(case, body.status, actor=user, note=body.note)
        except ops.CaseError as exc:
            raise ApiError(409, str(exc)) from exc
    elif body.note is not None:
        try:
            ops.add_note(case, body.note, actor=user)
        except ops.CaseError as exc:
            raise validation_error({"note": str(exc)}) from exc
    db.session.commit()
    return case_detail(case)
