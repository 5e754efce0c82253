"""``/api/v1/grievances``: representatives submit and read their organisation's; staff read and act.

Calls :mod:`outreach.grievances.operations`; visibility (a representative sees only their
organisation's grievances, and never internal entries) is the operations' ``visible_grievances_for``
and ``entries_for``, so the API and the pages cannot disagree.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint
from pydantic import Field

from outreach.extensions import db
from outreach.grievances import operations as ops
from outreach.grievances.errors import GrievanceError, NotAllowed, TransitionError, ValidationError
from outreach.grievances.workflow import STATUS_MESSAGE_MAX, allowed_next
from outreach.models import Grievance, GrievanceCategory, GrievanceStatus, Role, Urgency, User
from outreach.web.api import api
from outreach.web.api.auth import EVERYONE, STAFF, api_user
from outreach.web.api.errors import ApiError, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import ApiModel, Id, OutModel, PageOut, QueryModel, Timestamp, page_envelope
from outreach.web.pagination import paginate

bp: Blueprint = api
TAG = "grievances"
NOT_FOUND = "There is no grievance with this id that this token may see."


class GrievanceCreate(ApiModel):
    """A new grievance, submitted by a community representative for their organisation."""

    category: GrievanceCategory
    province_code: Annotated[str, Field(min_length=1, max_length=8, examples=["KH-12"])]
    title: Annotated[str, Field(min_length=1, max_length=ops.TITLE_MAX)]
    description: Annotated[str, Field(min_length=1, max_length=ops.DESCRIPTION_MAX)]
    people_affected: Annotated[int, Field(ge=1, le=ops.PEOPLE_MAX)] = 1
    urgency: Urgency = Urgency.NORMAL
    contact_consent: bool = Field(default=False, description="The affected people agree to be contacted.")
    contact_info: Annotated[str, Field(max_length=ops.CONTACT_MAX)] | None = Field(
        default=None, description="Only with contact_consent."
    )
    police_sharing_consent: bool = Field(
        description="May this grievance be shared with the police / task force?"
    )


class GrievanceUpdate(ApiModel):
    """Staff actions on a grievance; give any of them, they are applied in this order."""

    assignee_id: Id | None = Field(default=None, description="Assign to this officer; null unassigns.")
    status: GrievanceStatus | None = Field(
        default=None, description="Move to this status (see allowed_next)."
    )
    message: Annotated[str, Field(max_length=STATUS_MESSAGE_MAX)] | None = Field(
        default=None, description="Shown to the representative with the status change."
    )
    reply: Annotated[str, Field(min_length=1, max_length=ops.ENTRY_MAX)] | None = Field(
        default=None, description="A reply the representative sees (and is e-mailed)."
    )
    note: Annotated[str, Field(min_length=1, max_length=ops.ENTRY_MAX)] | None = Field(
        default=None, description="An internal note, never shown to the representative."
    )


class GrievanceQuery(QueryModel):
    status: GrievanceStatus | None = None
    category: GrievanceCategory | None = None
    urgency: Urgency | None = None
    province: Annotated[str, Field(max_length=8, description="ISO 3166-2:KH code, e.g. KH-12.")] | None = None


class OrganisationOut(OutModel):
    id: int
    name: str


class EntryOut(OutModel):
    id: int
    kind: str = Field(description="reply, note, status or assign.")
    body: str | None
    internal: bool = Field(description="Internal entries are never shown to representatives.")
    from_status: str | None
    to_status: str | None
    author_id: int | None
    created_at: Timestamp


class GrievanceOut(OutModel):
    id: int
    reference: str | None
    status: GrievanceStatus
    category: GrievanceCategory
    urgency: Urgency
    province_code: str | None
    title: str
    description: str
    people_affected: int
    contact_consent: bool
    contact_info: str | None
    police_sharing_consent: bool
    organisation: OrganisationOut | None
    submitted_by_id: int | None
    assignee_id: int | None
    created_at: Timestamp
    updated_at: Timestamp
    first_response_at: Timestamp | None
    resolved_at: Timestamp | None
    closed_at: Timestamp | None
    allowed_next: list[GrievanceStatus] = Field(description="Statuses staff may move it to next.")


class GrievanceDetail(GrievanceOut):
    entries: list[EntryOut] = Field(description="The timeline this token may see.")


class GrievancePage(PageOut):
    items: list[GrievanceOut]


def grievance_out(grievance: Grievance) -> GrievanceOut:
    return GrievanceOut.model_validate(_fields(grievance))


def _fields(grievance: Grievance) -> dict[str, Any]:
    return {
        "id": grievance.id,
        "reference": grievance.reference,
        "status": grievance.status,
        "category": grievance.category,
        "urgency": grievance.urgency,
        "province_code": grievance.province_code,
        "title": grievance.title,
        "description": grievance.description,
        "people_affected": grievance.people_affected,
        "contact_consent": grievance.contact_consent,
        "contact_info": grievance.contact_info,
        "police_sharing_consent": grievance.police_sharing_consent,
        "organisation": grievance.organisation,
        "submitted_by_id": grievance.submitted_by_id,
        "assignee_id": grievance.assignee_id,
        "created_at": grievance.created_at,
        "updated_at": grievance.updated_at,
        "first_response_at": grievance.first_response_at,
        "resolved_at": grievance.resolved_at,
        "closed_at": grievance.closed_at,
        "allowed_next": allowed_next(grievance.status),
    }


def grievance_detail(grievance: Grievance, user: User) -> GrievanceDetail:
    entries = [EntryOut.model_validate(e) for e in ops.entries_for(user, grievance)]
    return GrievanceDetail.model_validate(_fields(grievance) | {"entries": entries})


def _raise(exc: GrievanceError) -> ApiError:
    if isinstance(exc, ValidationError):
        return validation_error(exc.errors)
    if isinstance(exc, NotAllowed):
        return ApiError(403, str(exc))
    if isinstance(exc, TransitionError):
        return ApiError(409, str(exc))
    return ApiError(422, str(exc))


def _visible(grievance_id: int) -> Grievance:
    grievance = ops.get_visible(api_user(), grievance_id)
    if grievance is None:
        raise ApiError(404, NOT_FOUND)
    return grievance


@endpoint(
    bp,
    "GET",
    "/grievances",
    tag=TAG,
    roles=EVERYONE,
    query=GrievanceQuery,
    response=GrievancePage,
    summary="List grievances",
    description="Newest first. Staff see all; a community representative sees their organisation's only.",
)
def list_grievances(query: GrievanceQuery) -> GrievancePage:
    stmt = ops.visible_grievances_for(api_user())
    if query.status is not None:
        stmt = stmt.where(Grievance.status == query.status)
    if query.category is not None:
        stmt = stmt.where(Grievance.category == query.category)
    if query.urgency is not None:
        stmt = stmt.where(Grievance.urgency == query.urgency)
    if query.province:
        stmt = stmt.where(Grievance.province_code == query.province.strip().upper())
    page = paginate(stmt.order_by(Grievance.created_at.desc(), Grievance.id.desc()), query.page)
    return GrievancePage.model_validate(page_envelope(page, [grievance_out(g) for g in page.items]))


@endpoint(
    bp,
    "POST",
    "/grievances",
    tag=TAG,
    roles={Role.COMMUNITY_REP},
    body=GrievanceCreate,
    response=GrievanceDetail,
    status=201,
    summary="Submit a grievance",
    description="Community representatives only; the grievance belongs to their organisation and gets a "
    "public reference (G-<year>-<number>). The representative is e-mailed a confirmation.",
)
def create_grievance(body: GrievanceCreate) -> tuple[GrievanceDetail, int]:
    user = api_user()
    try:
        grievance = ops.submit_grievance(user, body.model_dump(mode="json"))
    except GrievanceError as exc:
        raise _raise(exc) from exc
    db.session.commit()
    return grievance_detail(grievance, user), 201


@endpoint(
    bp,
    "GET",
    "/grievances/<int:grievance_id>",
    tag=TAG,
    roles=EVERYONE,
    response=GrievanceDetail,
    summary="Read a grievance and its timeline",
    description="A representative reads only their organisation's grievances, without internal entries.",
)
def get_grievance(grievance_id: int) -> GrievanceDetail:
    return grievance_detail(_visible(grievance_id), api_user())


@endpoint(
    bp,
    "PATCH",
    "/grievances/<int:grievance_id>",
    tag=TAG,
    roles=STAFF,
    body=GrievanceUpdate,
    response=GrievanceDetail,
    errors=(409,),
    summary="Act on a grievance",
    description="Assign, change status (only along the lifecycle: 409 otherwise), reply, or add an "
    "internal note — all in one request, applied together or not at all.",
)
def update_grievance(grievance_id: int, body: GrievanceUpdate) -> GrievanceDetail:
    user = api_user()
    grievance = _visible(grievance_id)
    given = body.model_fields_set
    if not given - {"message"}:
        raise validation_error({"body": "give at least one of assignee_id, status, reply, note"})
    if "message" in given and body.status is None:
        raise validation_error({"message": "a message goes with a status change; give status too"})
    try:
        if "assignee_id" in given:
            assignee = None
            if body.assignee_id is not None:
                assignee = db.session.get(User, body.assignee_id)
                if assignee is None:
                    raise validation_error({"assignee_id": "there is no user with this id"})
            ops.assign(grievance, assignee, user)
        if body.status is not None:
            ops.transition(grievance, body.status, user, message=body.message)
        if body.reply is not None:
            ops.add_reply(grievance, user, body.reply)
        if body.note is not None:
            ops.add_note(grievance, user, body.note)
    except GrievanceError as exc:
        raise _raise(exc) from exc
    db.session.commit()
    return grievance_detail(grievance, user)
