"""The check-in dashboard: counts per province and answer, lists, and the phone team's call list.

Counts come from one grouped query over ``checkin_recipient`` (the latest answer of each person), so
they equal the stored answers by construction; the province is the one copied when the check-in was
sent, so a person moving province later does not move their answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import Answer, CheckInRecipient, CheckInResponse, Person, PhoneNumber, Province, utcnow

ANSWERS = (Answer.SAFE, Answer.NEED_HELP, Answer.NO_RESPONSE)


@dataclass
class Row:
    code: str | None
    name: str
    counts: dict[str, int] = field(default_factory=lambda: {a.value: 0 for a in ANSWERS})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Counts:
    rows: list[Row]
    totals: Row
    #: "Safe" answers nobody has confirmed yet (a subset of ``totals.counts["safe"]``).
    unverified: int = 0

    @property
    def answered(self) -> int:
        return self.totals.counts[Answer.SAFE.value] + self.totals.counts[Answer.NEED_HELP.value]

    def as_json(self) -> dict[str, Any]:
        return {
            "totals": self.totals.counts | {"total": self.totals.total},
            "provinces": [
                {"code": r.code or "", "name": r.name, **r.counts, "total": r.total} for r in self.rows
            ],
            "unverified": self.unverified,
            "updated_at": utcnow().isoformat(),
        }


def counts(checkin_id: int, language: str = "en") -> Counts:
    """Safe / need help / no answer per province (provinces with recipients only), most help first."""
    names = {p.code: p.name(language) for p in db.session.scalars(sa.select(Province))}
    by_province: dict[str | None, Row] = {}
    totals = Row(code=None, name="")
    for code, answer, n in db.session.execute(
        sa.select(CheckInRecipient.province_code, CheckInRecipient.answer, sa.func.count())
        .where(CheckInRecipient.checkin_id == checkin_id)
        .group_by(CheckInRecipient.province_code, CheckInRecipient.answer)
    ):
        row = by_province.setdefault(code, Row(code=code, name=names.get(code, "") if code else ""))
        key = Answer(answer).value
        row.counts[key] += int(n)
        totals.counts[key] += int(n)
    rows = sorted(
        by_province.values(),
        key=lambda r: (-r.counts[Answer.NEED_HELP.value], -r.counts[Answer.NO_RESPONSE.value], r.name),
    )
    unverified = db.session.scalar(
        sa.select(sa.func.count()).where(CheckInRecipient.checkin_id == checkin_id, unverified_clause())
    )
    return Counts(rows=rows, totals=totals, unverified=int(unverified or 0))


def unverified_clause() -> sa.ColumnElement[bool]:
    """A "safe" that counts as unverified (see ``outreach.checkins.verification``)."""
    return sa.and_(
        CheckInRecipient.answer == Answer.SAFE,
        CheckInRecipient.safe_unverified.is_(True),
        CheckInRecipient.verified_at.is_(None),
    )


@dataclass
class Bar:
    """One stacked bar of the server-drawn chart (x offsets and widths in SVG units)."""

    row: Row
    y: int
    segments: list[tuple[str, int, int, int]]  # (answer, x, width, count)


def bars(data: Counts, width: int = 480, height: int = 22, gap: int = 6) -> list[Bar]:
    """Bars scaled to the largest province; a non-zero count is always at least 1 unit wide."""
    biggest = max((r.total for r in data.rows), default=0) or 1
    out = []
    for i, row in enumerate(data.rows):
        x = 0
        segments = []
        for answer in ANSWERS:
            n = row.counts[answer.value]
            w = max(1, round(n * width / biggest)) if n else 0
            segments.append((answer.value, x, w, n))
            x += w
        out.append(Bar(row=row, y=i * (height + gap), segments=segments))
    return out


#: The people list's extra filter beside the answers: "safe" answers waiting for an officer.
UNVERIFIED = "unverified"


def people(checkin_id: int, answer: str | None = None, province: str | None = None) -> sa.Select[Any]:
    """Recipients with their person and latest note, for the filtered lists (paginate it)."""
    latest_note = (
        sa.select(CheckInResponse.text)
        .where(
            CheckInResponse.checkin_id == checkin_id, CheckInResponse.person_id == CheckInRecipient.person_id
        )
        .order_by(CheckInResponse.id.desc())
        .limit(1)
        .correlate(CheckInRecipient)
        .scalar_subquery()
    )
    latest_location = (
        sa.select(CheckInResponse.location)
        .where(
            CheckInResponse.checkin_id == checkin_id, CheckInResponse.person_id == CheckInRecipient.person_id
        )
        .order_by(CheckInResponse.id.desc())
        .limit(1)
        .correlate(CheckInRecipient)
        .scalar_subquery()
    )
    stmt = (
        sa.select(CheckInRecipient, Person, latest_note.label("note"), latest_location.label("location"))
        .join(Person, Person.id == CheckInRecipient.person_id)
        .where(CheckInRecipient.checkin_id == checkin_id)
    )
    if answer in {a.value for a in ANSWERS}:
        stmt = stmt.where(CheckInRecipient.answer == Answer(answer))
    elif answer == UNVERIFIED:
        stmt = stmt.where(unverified_clause())
    if province:
        stmt = stmt.where(CheckInRecipient.province_code == province)
    return stmt.order_by(CheckInRecipient.answered_at.desc().nulls_last(), CheckInRecipient.id)


CALL_LIST_HEADER = [
    "name_ko",
    "name_latin",
    "phone",
    "other_phones",
    "whatsapp",
    "email",
    "province",
    "district",
    "language",
    "status",
    "reminders_sent",
    "escalation_level",
    "emergency_name",
    "emergency_phone",
    "emergency_relation",
    "emergency_contact_consent",
]


def call_list_rows(checkin_id: int, chunk: int = 1000) -> Iterator[list[str]]:
    """Non-responders, province by province, with every number the phone team can try."""
    stmt = (
        sa.select(
            CheckInRecipient.province_code,
            CheckInRecipient.reminders_sent,
            CheckInRecipient.escalation_level,
            Person,
        )
        .join(Person, Person.id == CheckInRecipient.person_id)
        .where(
            CheckInRecipient.checkin_id == checkin_id,
            CheckInRecipient.answer == Answer.NO_RESPONSE,
            Person.deleted_at.is_(None),
        )
        .order_by(CheckInRecipient.province_code, Person.name_latin, Person.id)
        .execution_options(yield_per=chunk)
    )
    province_names = {p.code: p.name_en for p in db.session.scalars(sa.select(Province))}
    for batch in db.session.execute(stmt).partitions():
        ids = [row[3].id for row in batch]
        phones: dict[int, list[PhoneNumber]] = {}
        for phone in db.session.scalars(
            sa.select(PhoneNumber)
            .where(PhoneNumber.person_id.in_(ids))
            .order_by(PhoneNumber.is_primary.desc(), PhoneNumber.id)
        ):
            phones.setdefault(phone.person_id, []).append(phone)
        for code, reminded, level, person in batch:
            numbers = phones.get(person.id, [])
            # Raw values: outreach.csvexport neutralises formulas (E.164 numbers stay dialable).
            yield [
                person.name_ko,
                person.name_latin,
                numbers[0].e164 if numbers else "",
                " ".join(p.e164 for p in numbers[1:]),
                " ".join(p.e164 for p in numbers if p.is_whatsapp),
                person.email,
                province_names.get(code, code or ""),
                person.district_note,
                person.language,
                person.status.value,
                str(reminded),
                str(level),
                person.emergency_name if person.emergency_contact_consent else "",
                (person.emergency_phone or "") if person.emergency_contact_consent else "",
                person.emergency_relation if person.emergency_contact_consent else "",
                "yes" if person.emergency_contact_consent else "no",
            ]
