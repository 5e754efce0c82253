"""``/api/v1/people``: the registry, for programs (a nightly import, another system's lookups).

Validation and every rule are the registry's (:func:`outreach.registry.operations.validate`,
``register_person``, ``update_person``, ``delete_registration``) and the search is the staff search
(:mod:`outreach.registry.search`), so a program and a person are refused the same things for the same
reasons. A deleted registration is an anonymous tombstone and answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint
from pydantic import AfterValidator, EmailStr, Field
from sqlalchemy import orm as so

from outreach.extensions import db
from outreach.models import (
    ConsentMethod,
    Language,
    Person,
    PersonStatus,
    PhoneKind,
    SafetyStatus,
)
from outreach.registry import operations as registry
from outreach.registry.consent import CURRENT_VERSION
from outreach.registry.provinces import CODES
from outreach.registry.search import PeopleFilter, people_select
from outreach.web.api import api
from outreach.web.api.auth import api_user
from outreach.web.api.errors import ApiError, validation_error
from outreach.web.api.routing import endpoint
from outreach.web.api.schemas import (
    ApiModel,
    Date,
    Id,
    OutModel,
    PageOut,
    QueryModel,
    Timestamp,
    page_envelope,
)
from outreach.web.pagination import paginate

bp: Blueprint = api
TAG = "people"
NOT_FOUND = "There is no person with this id (or the registration was deleted)."
PROVINCE_CODES = sorted(CODES)


def _known_province(value: str) -> str:
    code = value.strip().upper()
    if code not in CODES:
        raise ValueError("unknown province; use an ISO 3166-2:KH code such as KH-12")
    return code


ProvinceFilter = Annotated[
    str, AfterValidator(_known_province), Field(json_schema_extra={"enum": PROVINCE_CODES})
]


class PeopleQuery(QueryModel):
    province: ProvinceFilter | None = Field(default=None, description="ISO 3166-2:KH code, e.g. KH-12.")
    status: PersonStatus | None = None
    language: Language | None = None
    safety: SafetyStatus | None = Field(default=None, description="Last known safety status.")
    q: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Name (Hangul or Latin), e-mail, or phone number (any common format)."
    )
    present: bool = Field(default=False, description="Only people in Cambodia today.")


class PhoneIn(ApiModel):
    number: Annotated[str, Field(min_length=1, max_length=40, examples=["+855 12 345 678"])]
    whatsapp: bool = Field(default=False, description="The person reads WhatsApp on this number.")


Phones = Annotated[
    list[PhoneIn],
    Field(min_length=1, max_length=5, description="Mobile numbers; the first is the primary one."),
]


class _PersonFields(ApiModel):
    name_ko: Annotated[str, Field(max_length=100)] | None = Field(default=None, description="Name in Hangul.")
    name_latin: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Name in Latin letters, as in the passport."
    )
    email: Annotated[EmailStr, Field(max_length=254)] | None = None
    language: Language | None = Field(default=None, description="Language of messages; ko when not given.")
    province_code: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="ISO 3166-2:KH code, e.g. KH-12 (a province name is accepted too)."
    )
    district_note: Annotated[str, Field(max_length=300)] | None = None
    status: PersonStatus | None = Field(default=None, description="resident when not given.")
    arrival_date: Date | None = None
    departure_date: Date | None = Field(default=None, description="Required for travelers; not in the past.")
    emergency_name: Annotated[str, Field(max_length=100)] | None = None
    emergency_phone: Annotated[str, Field(max_length=40)] | None = None
    emergency_relation: Annotated[str, Field(max_length=50)] | None = None
    emergency_contact_consent: bool | None = Field(
        default=None,
        description="The embassy may call the emergency contact if the person cannot be reached.",
    )


class PersonCreate(_PersonFields):
    """A new registration. A name (Hangul or Latin), a mobile number and a province are required."""

    phones: Phones
    consent: Literal[True] = Field(
        description="The person agreed to the current consent text (the registry's purposes and retention)."
    )


class PersonUpdate(_PersonFields):
    """Only the fields given change; null clears an optional field. ``phones`` replaces the whole list."""

    phones: Phones | None = None


class PhoneOut(OutModel):
    e164: str
    kind: PhoneKind
    primary: bool
    whatsapp: bool


class PersonOut(OutModel):
    id: int
    name_ko: str | None
    name_latin: str | None
    email: str | None
    language: str
    province_code: str | None
    district_note: str | None
    status: PersonStatus
    arrival_date: Date | None
    departure_date: Date | None
    emergency_name: str | None
    emergency_phone: str | None
    emergency_relation: str | None
    emergency_contact_consent: bool
    phones: list[PhoneOut]
    consent_at: Timestamp | None
    consent_method: ConsentMethod | None
    consent_version: str | None
    last_checkin_at: Timestamp | None
    last_known_status: SafetyStatus
    source: str
    created_at: Timestamp
    updated_at: Timestamp


class PersonDetail(PersonOut):
    opted_out: list[str] = Field(description="Channels the person opted out of (sms, whatsapp, email).")


class PersonPage(PageOut):
    items: list[PersonOut]


#: What the API shows of a person: what a registration sets, and the record around it.
_COLUMNS = (
    "id",
    *registry.EDITABLE_COLUMNS,
    "consent_at",
    "consent_method",
    "consent_version",
    "last_checkin_at",
    "last_known_status",
    "source",
    "created_at",
    "updated_at",
)


def _fields(person: Person) -> dict[str, Any]:
    data = {name: getattr(person, name) for name in _COLUMNS}
    data["phones"] = [
        {"e164": p.e164, "kind": p.kind, "primary": p.is_primary, "whatsapp": p.is_whatsapp}
        for p in person.phones
    ]
    return data


def person_detail(person: Person) -> PersonDetail:
    return PersonDetail.model_validate(
        _fields(person) | {"opted_out": sorted(registry.opted_out_channels(person))}
    )


def _get(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None or person.deleted_at is not None:
        raise ApiError(404, NOT_FOUND)
    return person


#: Registry field names → the API's.
_FIELD_NAMES = {"province": "province_code", "phone": "phones"}


def _registry_error(exc: registry.RegistryError) -> ApiError:
    return validation_error(
        [{"field": _FIELD_NAMES.get(e.field, e.field), "message": str(e.message)} for e in exc.errors]
    )


def _phone_inputs(phones: list[PhoneIn]) -> list[registry.PhoneInput]:
    return [
        registry.PhoneInput(p.number, f"phones.{i}.number", is_whatsapp=p.whatsapp)
        for i, p in enumerate(phones)
    ]


def _person_input(values: dict[str, Any], phones: list[registry.PhoneInput]) -> registry.PersonInput:
    return registry.PersonInput(
        name_ko=values.get("name_ko"),
        name_latin=values.get("name_latin"),
        email=values.get("email"),
        language=values.get("language"),
        province=values.get("province_code"),
        district_note=values.get("district_note"),
        status=values.get("status"),
        arrival_date=values.get("arrival_date"),
        departure_date=values.get("departure_date"),
        emergency_name=values.get("emergency_name"),
        emergency_phone=values.get("emergency_phone"),
        emergency_relation=values.get("emergency_relation"),
        emergency_contact_consent=values.get("emergency_contact_consent"),
        phones=phones,
    )


def _given(body: _PersonFields) -> dict[str, Any]:
    """The fields the client sent, as plain values (enums as their strings)."""
    dumped = body.model_dump(mode="python", include=body.model_fields_set - {"phones", "consent"})
    return {k: (v.value if hasattr(v, "value") else v) for k, v in dumped.items()}


@endpoint(
    bp,
    "GET",
    "/people",
    tag=TAG,
    query=PeopleQuery,
    response=PersonPage,
    summary="Search the registry",
    description="Newest registration first; every filter is optional. Deleted registrations never appear.",
)
def list_people(query: PeopleQuery) -> PersonPage:
    search = PeopleFilter(
        q=" ".join((query.q or "").split()),
        province=query.province or "",
        status=query.status.value if query.status else "",
        language=query.language.value if query.language else "",
        safety=query.safety.value if query.safety else "",
        present=query.present,
    )
    stmt = people_select(search).options(so.selectinload(Person.phones)).order_by(Person.id.desc())
    page = paginate(stmt, query.page)
    return PersonPage.model_validate(page_envelope(page, [_fields(p) for p in page.items]))


@endpoint(
    bp,
    "POST",
    "/people",
    tag=TAG,
    body=PersonCreate,
    response=PersonDetail,
    status=201,
    errors=(409,),
    summary="Register a person",
    description="Validated exactly like the registration form. A number that already belongs to someone "
    "is a 409 naming that person's id (their record is not changed). Consent is recorded as given "
    "through the API with the current consent text.",
)
def create_person(body: PersonCreate) -> tuple[PersonDetail, int]:
    data = _person_input(_given(body), _phone_inputs(body.phones))
    try:
        clean = registry.validate(data)
        person, _created = registry.register_person(
            clean,
            method=ConsentMethod.API,
            consent_version=CURRENT_VERSION,
            on_existing="refuse",
            actor=api_user(),
            source="api",
        )
    except registry.RegistryError as exc:
        raise _registry_error(exc) from exc
    except registry.AlreadyRegistered as exc:
        raise ApiError(
            409, f"A number is already registered to person {exc.person.id}; update that person instead."
        ) from exc
    db.session.commit()
    return person_detail(person), 201


@endpoint(bp, "GET", "/people/<int:person_id>", tag=TAG, response=PersonDetail, summary="Read a person")
def read_person(person_id: int) -> PersonDetail:
    return person_detail(_get(person_id))


@endpoint(
    bp,
    "PATCH",
    "/people/<int:person_id>",
    tag=TAG,
    body=PersonUpdate,
    response=PersonDetail,
    summary="Change a person's registration",
    description="The record with the given fields changed is validated as a whole, like the staff editor.",
)
def update_person(person_id: int, body: PersonUpdate) -> PersonDetail:
    """Only the fields given are checked and changed (like an SMS re-registration). Clearing a field
    (null) re-checks the whole record, like the staff editor, so a required field cannot be cleared."""
    person = _get(person_id)
    given = _given(body)
    phones = _phone_inputs(body.phones) if body.phones is not None else []
    try:
        if any(value is None for value in given.values()):
            current = {name: getattr(person, name) for name in registry.EDITABLE_COLUMNS}
            current["status"] = person.status.value
            if body.phones is None:
                ordered = sorted(person.phones, key=lambda p: (not p.is_primary, p.id))
                phones = [registry.PhoneInput(p.e164, "phones", is_whatsapp=p.is_whatsapp) for p in ordered]
            clean = registry.validate(
                _person_input(current | given, phones),
                person=person,
                require=frozenset({"name", "phone", "departure_for_traveler"}),
                # As in the staff editor: staff may record a departure that has already happened.
                allow_past_departure=True,
            )
        else:
            clean = registry.validate(
                _person_input(given, phones),
                person=person,
                require=frozenset(
                    {"departure_for_traveler"} | ({"phone"} if body.phones is not None else set())
                ),
                partial=True,
                allow_past_departure=True,
            )
        registry.update_person(
            person,
            clean.values,
            phones=clean.phones if body.phones is not None else None,
            actor=api_user(),
            via="api",
        )
    except registry.RegistryError as exc:
        raise _registry_error(exc) from exc
    db.session.commit()
    return person_detail(person)


@endpoint(
    bp,
    "DELETE",
    "/people/<int:person_id>",
    tag=TAG,
    status=204,
    summary="Delete a registration",
    description="Personal data is erased for good; an anonymous tombstone keeps counts intact.",
)
def delete_person(person_id: int) -> None:
    registry.delete_registration(_get(person_id), actor=api_user(), via="api")
    db.session.commit()


class MergeIn(ApiModel):
    drop_id: Id = Field(description="The duplicate record to merge into this one; it becomes a tombstone.")


@endpoint(
    bp,
    "POST",
    "/people/<int:person_id>/merge",
    tag=TAG,
    body=MergeIn,
    response=PersonDetail,
    errors=(409,),
    summary="Merge a duplicate record into this one",
    description="Numbers, messages, answers, cases and opt-outs move here; blanks here are filled from the "
    "duplicate, which becomes an anonymous tombstone.",
)
def merge_person(person_id: int, body: MergeIn) -> PersonDetail:
    keep = _get(person_id)
    drop = db.session.get(Person, body.drop_id)
    if drop is None or drop.deleted_at is not None:
        raise validation_error({"drop_id": "there is no registered person with this id"})
    try:
        registry.merge_people(keep, drop, actor=api_user())
    except registry.MergeError as exc:
        raise ApiError(409, str(exc)) from exc
    db.session.commit()
    return person_detail(keep)
