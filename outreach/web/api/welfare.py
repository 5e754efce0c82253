"""API: recruitment tips (take, list, read, draft a targeted warning) and family enquiries (take, list,
read). The unverified "safe" flag lives on check-in responses (``/checkins/{id}/responses``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from flask import Blueprint, url_for
from pydantic import Field

from outreach.alerts.compose import ComposeError
from outreach.extensions import db
from outreach.models import EnquiryStatus, FamilyEnquiry, Tip, TipStatus
from outreach.registry.phones import PhoneError, normalise_phone
from outreach.reports import enquiries, tips
from outreach.web.api import api
from outreach.web.api.auth import STAFF, api_user
from outreach.web.api.errors import ApiError, get_or_404, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import ApiModel, Date, OutModel, PageOut, QueryModel, Timestamp, page_envelope
from outreach.web.pagination import paginate

bp: Blueprint = api
TIPS = "tips"
ENQUIRIES = "enquiries"

Short = Annotated[str, Field(max_length=200)]
Province = Annotated[str, Field(pattern=r"^KH-\d{1,2}$")]
Channel = Literal["sms", "whatsapp", "email"]


class TipQuery(QueryModel):
    status: TipStatus | None = None


class TipCreate(ApiModel):
    """A job lure reported to a partner or a hotline. At least one of the fields must say something."""

    advert_text: Annotated[str, Field(max_length=10000)] | None = None
    handles: Annotated[list[Short], Field(max_length=20, default_factory=list)]
    phones: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20, default_factory=list)]
    company: Short | None = None
    job: Short | None = None
    place: Short | None = None
    contact: Annotated[str, Field(max_length=254)] | None = None
    language: Literal["ko", "en", "km"] = "ko"


class TipOut(OutModel):
    id: int
    reference: str
    status: TipStatus
    via: str
    created_at: Timestamp
    advert_text: str | None
    handles: list[str] = Field(description="Normalised: lower case, without @ or t.me/.")
    phones: list[str] = Field(description="E.164.")
    company: str | None
    job: str | None
    place: str | None
    duplicate_of_id: int | None = Field(
        description="The earliest tip naming one of the same handles or numbers."
    )
    related_tip_ids: list[int]
    related_report_ids: list[int] = Field(description="Reports whose recruitment details mention them.")
    alert_id: int | None = Field(description="The targeted warning drafted from this tip.")


class TipPage(PageOut):
    items: list[TipOut]


class WarningIn(ApiModel):
    """Who the warning is for; the text is prepared from the tip in every language."""

    arrived_within_days: Annotated[int, Field(ge=1, le=365)] | None = None
    provinces: Annotated[list[Province], Field(max_length=25, default_factory=list)]
    channels: Annotated[list[Channel], Field(min_length=1, max_length=3, default_factory=lambda: ["sms"])]
    public: bool = True


class WarningOut(OutModel):
    tip_id: int
    alert_id: int = Field(description="A draft: submit and approve it through /alerts/{alert_id}.")


def tip_out(tip: Tip, *, related: bool = True) -> TipOut:
    return TipOut.model_validate(
        {
            "id": tip.id,
            "reference": tip.reference,
            "status": tip.status,
            "via": tip.via,
            "created_at": tip.created_at,
            "advert_text": tip.advert_text,
            "handles": list(tip.handles or []),
            "phones": list(tip.phones or []),
            "company": tip.company,
            "job": tip.job,
            "place": tip.place,
            "duplicate_of_id": tip.duplicate_of_id,
            "related_tip_ids": [t.id for t in tips.related_tips(tip)] if related else [],
            "related_report_ids": [r.id for r in tips.related_reports(tip)] if related else [],
            "alert_id": tip.alert_id,
        }
    )


@endpoint(bp, "GET", "/tips", tag=TIPS, query=TipQuery, response=TipPage, roles=STAFF, summary="List tips")
def list_tips(query: TipQuery) -> TipPage:
    stmt = sa.select(Tip).order_by(Tip.id.desc())
    if query.status is not None:
        stmt = stmt.where(Tip.status == query.status)
    page = paginate(stmt, query.page)
    return TipPage.model_validate(page_envelope(page, [tip_out(t, related=False) for t in page.items]))


@endpoint(
    bp,
    "POST",
    "/tips",
    tag=TIPS,
    body=TipCreate,
    response=TipOut,
    status=201,
    roles=STAFF,
    summary="Take a tip",
    description="Handles and numbers are also read from the advert text; the earliest tip naming one of "
    "them becomes duplicate_of_id.",
)
def create_tip(body: TipCreate) -> tuple[TipOut, int]:
    try:
        tip = tips.create_tip(tips.TipInput(**body.model_dump()), via="api", actor=api_user())
    except tips.TipError as exc:
        raise validation_error({"body": str(exc)}) from exc
    db.session.commit()
    return tip_out(tip), 201


@endpoint(bp, "GET", "/tips/<int:tip_id>", tag=TIPS, response=TipOut, roles=STAFF, summary="Read a tip")
def read_tip(tip_id: int) -> TipOut:
    return tip_out(get_or_404(Tip, tip_id, "There is no tip with this id."))


@endpoint(
    bp,
    "POST",
    "/tips/<int:tip_id>/warning",
    tag=TIPS,
    body=WarningIn,
    response=WarningOut,
    status=201,
    errors=(404, 409),
    roles=STAFF,
    summary="Draft a targeted warning from a tip",
    description="A draft alert with the prepared text (ko, en, km) for the chosen audience; 409 if a "
    "warning was already drafted from this tip.",
)
def tip_warning(tip_id: int, body: WarningIn) -> tuple[WarningOut, int]:
    tip = get_or_404(Tip, tip_id, "There is no tip with this id.")
    if tip.alert_id is not None:
        raise ApiError(409, "A warning was already drafted from this tip.")
    audience: dict[str, Any] = {"provinces": body.provinces, "arrived_within_days": body.arrived_within_days}
    try:
        alert = tips.draft_warning(
            tip, audience=audience, channels=list(body.channels), actor=api_user(), public=body.public
        )
    except tips.TipError as exc:
        raise ApiError(409, str(exc)) from exc
    except ComposeError as exc:
        raise validation_error({"audience": str(exc)}) from exc
    db.session.commit()
    return WarningOut(tip_id=tip.id, alert_id=alert.id), 201


# --- family enquiries ------------------------------------------------------------------------------


class EnquiryQuery(QueryModel):
    status: EnquiryStatus | None = None


class EnquiryCreate(ApiModel):
    """A family's "is my son safe?" taken by a partner or a hotline."""

    enquirer_name: Annotated[str, Field(min_length=1, max_length=100)]
    enquirer_relation: Annotated[str, Field(min_length=1, max_length=50)]
    enquirer_phone: Annotated[str, Field(max_length=40)] | None = None
    enquirer_email: Annotated[str, Field(max_length=254)] | None = None
    enquirer_language: Literal["ko", "en", "km"] = "ko"
    subject_name: Annotated[str, Field(min_length=1, max_length=100)]
    subject_phone: Annotated[str, Field(max_length=40)] | None = None
    subject_birth_date: Date | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None


class EnquiryOut(OutModel):
    id: int
    reference: str
    status: EnquiryStatus = Field(
        description="received, unmatched, asked, allowed, refused, need_help or escalated "
        "(no answer in 24 h)."
    )
    family_may_know: Literal["reported_safe", "passed_on"] = Field(
        description="Exactly what the family's status page says."
    )
    via: str
    created_at: Timestamp
    person_id: int | None
    report_id: int | None
    enquirer_name: str
    enquirer_relation: str
    subject_name: str
    asked_at: Timestamp | None
    answer_due_at: Timestamp | None
    answered_at: Timestamp | None


class EnquiryCreated(EnquiryOut):
    status_url: str = Field(description="The family's status link; shown once, never stored.")


class EnquiryPage(PageOut):
    items: list[EnquiryOut]


def enquiry_fields(enquiry: FamilyEnquiry) -> dict[str, Any]:
    return {
        "id": enquiry.id,
        "reference": enquiry.reference,
        "status": enquiry.status,
        "family_may_know": enquiries.public_state(enquiry),
        "via": enquiry.via,
        "created_at": enquiry.created_at,
        "person_id": enquiry.person_id,
        "report_id": enquiry.report_id,
        "enquirer_name": enquiry.enquirer_name,
        "enquirer_relation": enquiry.enquirer_relation,
        "subject_name": enquiry.subject_name,
        "asked_at": enquiry.asked_at,
        "answer_due_at": enquiry.answer_due_at,
        "answered_at": enquiry.answered_at,
    }


def _phone(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return normalise_phone(value, mobile_only=False).e164
    except PhoneError as exc:
        raise validation_error({name: str(exc)}) from exc


@endpoint(
    bp,
    "GET",
    "/enquiries",
    tag=ENQUIRIES,
    query=EnquiryQuery,
    response=EnquiryPage,
    roles=STAFF,
    summary="List family enquiries",
)
def list_enquiries(query: EnquiryQuery) -> EnquiryPage:
    stmt = sa.select(FamilyEnquiry).order_by(FamilyEnquiry.id.desc())
    if query.status is not None:
        stmt = stmt.where(FamilyEnquiry.status == query.status)
    page = paginate(stmt, query.page)
    items = [EnquiryOut.model_validate(enquiry_fields(e)) for e in page.items]
    return EnquiryPage.model_validate(page_envelope(page, items))


@endpoint(
    bp,
    "POST",
    "/enquiries",
    tag=ENQUIRIES,
    body=EnquiryCreate,
    response=EnquiryCreated,
    status=201,
    roles=STAFF,
    summary="Take a family enquiry",
    description="If the person is registered they are asked in their language whether the family may "
    "be told they are safe; the family learns only what they allow.",
)
def create_enquiry(body: EnquiryCreate) -> tuple[EnquiryCreated, int]:
    data = body.model_dump()
    data["enquirer_phone"] = _phone(body.enquirer_phone, "enquirer_phone")
    data["subject_phone"] = _phone(body.subject_phone, "subject_phone")
    try:
        new = enquiries.create_enquiry(enquiries.EnquiryInput(**data), via="api", actor=api_user())
    except enquiries.EnquiryError as exc:
        raise validation_error({"body": str(exc)}) from exc
    db.session.commit()
    url = url_for("welfare_public.enquiry_status", key=new.status_key, _external=True)
    return EnquiryCreated.model_validate(enquiry_fields(new.enquiry) | {"status_url": url}), 201


@endpoint(
    bp,
    "GET",
    "/enquiries/<int:enquiry_id>",
    tag=ENQUIRIES,
    response=EnquiryOut,
    roles=STAFF,
    summary="Read a family enquiry",
)
def read_enquiry(enquiry_id: int) -> EnquiryOut:
    enquiry = get_or_404(FamilyEnquiry, enquiry_id, "There is no enquiry with this id.")
    return EnquiryOut.model_validate(enquiry_fields(enquiry))
