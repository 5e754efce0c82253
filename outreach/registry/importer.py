"""CSV import and export of the registry.

Import is keyed on phone number: a row whose number is registered updates that person (empty cells
change nothing), any other row creates one. Running the same file twice changes nothing the second
time. A dry run checks every row and reports each problem as (line, field, reason) without writing;
a real import writes the good rows and reports the bad ones the same way.

The columns are those of the export, so an export can be edited and imported back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import orm as so

from outreach.audit import record
from outreach.csvexport import csv_chunks
from outreach.extensions import db
from outreach.models import ConsentMethod, OptOut, Person, PersonStatus, PhoneNumber, User, utcnow
from outreach.registry.dates import parse_date
from outreach.registry.operations import (
    EDITABLE_COLUMNS,
    CleanPerson,
    PersonInput,
    PhoneInput,
    RegistryError,
    validate,
)
from outreach.registry.phones import PhoneError, kind_of_e164, normalise_phone

COLUMNS = (
    "name_ko",
    "name_latin",
    "phone",
    "phone_other",
    "whatsapp",
    "email",
    "language",
    "province",
    "district_note",
    "status",
    "arrival_date",
    "departure_date",
    "emergency_name",
    "emergency_phone",
    "emergency_relation",
)
#: Columns the export adds that the import reads past (they are not the person's to set by file).
EXPORT_ONLY = ("id", "province_name", "consent_at", "consent_version", "last_known_status", "opted_out")
EXPORT_COLUMNS = (
    "id",
    *COLUMNS[:8],
    "province_name",
    *COLUMNS[8:],
    "consent_at",
    "consent_version",
    "last_known_status",
    "opted_out",
)
STATUS_WORDS = {
    "resident": "resident",
    "거주": "resident",
    "거주자": "resident",
    "1": "resident",
    "traveler": "traveler",
    "traveller": "traveler",
    "여행": "traveler",
    "여행자": "traveler",
    "2": "traveler",
}
MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_lines(self) -> int:
        return len({e.line for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "bad_rows": self.bad_lines,
        }


@dataclass
class _Row:
    line: int
    clean: CleanPerson
    owner_id: int | None


def decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else CP949: Korean Excel saves CSV in it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp949")


def _records(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    start = 2
    for row in reader:
        yield start, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        start = reader.line_num + 1


def _input(line: int, row: dict[str, str], errors: list[RowError]) -> PersonInput:
    def date_of(name: str) -> Any:
        raw = row.get(name, "")
        if not raw:
            return None
        value = parse_date(raw)
        if value is None:
            errors.append(RowError(line, name, str(_l("Enter the date as YYYY-MM-DD, e.g. 2025-12-31."))))
        return value

    status = row.get("status", "")
    if status:
        status = STATUS_WORDS.get(status.lower(), status)
    phones = []
    if row.get("phone"):
        phones.append(PhoneInput(row["phone"], "phone"))
    if row.get("phone_other"):
        phones.append(PhoneInput(row["phone_other"], "phone_other"))
    if row.get("whatsapp"):
        phones.append(PhoneInput(row["whatsapp"], "whatsapp", is_whatsapp=True))
    return PersonInput(
        name_ko=row.get("name_ko") or None,
        name_latin=row.get("name_latin") or None,
        email=row.get("email") or None,
        language=row.get("language") or None,
        province=row.get("province") or None,
        district_note=row.get("district_note") or None,
        status=status or None,
        arrival_date=date_of("arrival_date"),
        departure_date=date_of("departure_date"),
        emergency_name=row.get("emergency_name") or None,
        emergency_phone=row.get("emergency_phone") or None,
        emergency_relation=row.get("emergency_relation") or None,
        phones=phones,
    )


def _numbers(entered: PersonInput) -> list[str]:
    out = []
    for phone in entered.phones:
        try:
            out.append(normalise_phone(phone.raw).e164)
        except PhoneError:
            continue
    return out


def check(data: bytes) -> tuple[ImportReport, list[_Row]]:
    """Read and validate every row; nothing is written."""
    report = ImportReport(dry_run=True)
    if len(data) > MAX_BYTES:
        report.errors.append(RowError(0, "file", str(_l("The file is larger than 20 MB; split it."))))
        return report, []
    try:
        text = decode(data)
    except UnicodeDecodeError:
        report.errors.append(
            RowError(0, "file", str(_l("The file is not text in UTF-8 or CP949; save it as CSV UTF-8.")))
        )
        return report, []
    header = next(csv.reader(io.StringIO(text)), [])
    names = {h.strip().lower() for h in header}
    if "phone" not in names:
        report.errors.append(
            RowError(1, "phone", str(_l("The first line must name the columns, including “phone”.")))
        )
        return report, []
    unknown = sorted(names - set(COLUMNS) - set(EXPORT_ONLY) - {""})
    for name in unknown:
        report.errors.append(
            RowError(
                1,
                name,
                str(
                    _l(
                        "Unknown column; it would be ignored. Known columns: %(cols)s",
                        cols=", ".join(COLUMNS),
                    )
                ),
            )
        )
    parsed: list[tuple[int, PersonInput, list[str]]] = []
    seen: dict[str, int] = {}
    for line, row in _records(text):
        if not any(row.values()):
            continue
        report.rows += 1
        row_errors: list[RowError] = []
        entered = _input(line, row, row_errors)
        # One number may fill two columns of a row (phone and whatsapp); only other rows clash.
        numbers = list(dict.fromkeys(_numbers(entered)))
        for number in numbers:
            if number in seen:
                row_errors.append(
                    RowError(
                        line, "phone", str(_l("This number is also on line %(line)s.", line=seen[number]))
                    )
                )
            else:
                seen[number] = line
        parsed.append((line, entered, numbers))
        report.errors.extend(row_errors)

    owners = _owners([n for _, _, numbers in parsed for n in numbers])
    people = (
        {
            p.id: p
            for p in db.session.scalars(
                sa.select(Person)
                .where(Person.id.in_(set(owners.values())))
                .options(so.selectinload(Person.phones))
            )
        }
        if owners
        else {}
    )
    good: list[_Row] = []
    bad_lines = {e.line for e in report.errors}
    for line, entered, numbers in parsed:
        owner_ids = {owners[n] for n in numbers if n in owners}
        if len(owner_ids) > 1:
            report.errors.append(
                RowError(
                    line,
                    "phone",
                    str(
                        _l(
                            "These numbers belong to different registrations (%(ids)s); merge them first.",
                            ids=", ".join(f"#{i}" for i in sorted(owner_ids)),
                        )
                    ),
                )
            )
            continue
        owner = people.get(owner_ids.pop()) if owner_ids else None
        require = {"phone", "departure_for_traveler"} | (set() if owner else {"name"})
        try:
            clean = validate(
                entered,
                person=owner,
                partial=True,
                require=frozenset(require),
                allow_past_departure=True,
                check_owners=False,
            )
        except RegistryError as exc:
            # A field already reported as unreadable (a bad date) is not reported again as missing.
            reported = {e.field for e in report.errors if e.line == line}
            report.errors.extend(
                RowError(line, e.field, str(e.message)) for e in exc.errors if e.field not in reported
            )
            continue
        if line in bad_lines:
            continue
        good.append(_Row(line, clean, owner.id if owner else None))
    report.errors.sort(key=lambda e: (e.line, e.field))
    return report, good


def _owners(numbers: list[str]) -> dict[str, int]:
    owners: dict[str, int] = {}
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start : start + 1000]
        owners.update(
            db.session.execute(
                sa.select(PhoneNumber.e164, PhoneNumber.person_id).where(PhoneNumber.e164.in_(chunk))
            )
            .tuples()
            .all()
        )
    return owners


def import_people(
    data: bytes, *, dry_run: bool, actor: User | None = None, filename: str = ""
) -> ImportReport:
    """Check the file and count what it would do; unless ``dry_run``, write its good rows (bulk
    statements) and audit the import. Flushes, never commits."""
    report, rows = check(data)
    report.dry_run = dry_run
    now = utcnow()
    creates = [r for r in rows if r.owner_id is None]
    updates = [r for r in rows if r.owner_id is not None]
    report.created = len(creates)
    if creates and not dry_run:
        values = []
        for r in creates:
            v = {name: r.clean.values.get(name) for name in EDITABLE_COLUMNS}
            v["language"] = v["language"] or "ko"
            v["status"] = v["status"] or PersonStatus.RESIDENT
            v["emergency_contact_consent"] = bool(v["emergency_contact_consent"])
            values.append(
                {
                    **v,
                    "consent_at": now,
                    "consent_method": ConsentMethod.IMPORT,
                    "consent_version": "import",
                    "source": "import",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        ids = db.session.scalars(
            sa.insert(Person).returning(Person.id, sort_by_parameter_order=True), values
        ).all()
        db.session.execute(
            sa.insert(PhoneNumber),
            [
                {
                    "person_id": pid,
                    "e164": p.e164,
                    "kind": kind_of_e164(p.e164),
                    "is_primary": p.is_primary,
                    "is_whatsapp": p.is_whatsapp,
                    "created_at": now,
                }
                for pid, r in zip(ids, creates, strict=True)
                for p in r.clean.phones
            ],
        )
        assert len(ids) == len(creates)
    if updates:
        people = {
            p.id: p
            for p in db.session.scalars(
                sa.select(Person)
                .where(Person.id.in_([r.owner_id for r in updates]))
                .options(so.selectinload(Person.phones))
            )
        }
        person_changes: list[dict[str, Any]] = []
        new_phones: list[dict[str, Any]] = []
        flag_phones: list[dict[str, Any]] = []
        for r in updates:
            person = people[r.owner_id]  # type: ignore[index]
            changes = {
                k: v
                for k, v in r.clean.values.items()
                if k in EDITABLE_COLUMNS and k != "emergency_contact_consent" and getattr(person, k) != v
            }
            have = {p.e164: p for p in person.phones}
            added = [
                {
                    "person_id": person.id,
                    "e164": p.e164,
                    "kind": kind_of_e164(p.e164),
                    "is_primary": not have and p.is_primary,
                    "is_whatsapp": p.is_whatsapp,
                    "created_at": now,
                }
                for p in r.clean.phones
                if p.e164 not in have
            ]
            flagged = [
                {"id": have[p.e164].id, "is_whatsapp": True}
                for p in r.clean.phones
                if p.e164 in have and p.is_whatsapp and not have[p.e164].is_whatsapp
            ]
            if changes:
                person_changes.append({"id": person.id, **changes, "updated_at": now})
            new_phones.extend(added)
            flag_phones.extend(flagged)
            if changes or added or flagged:
                report.updated += 1
            else:
                report.unchanged += 1
        if dry_run:
            return report
        if person_changes:
            db.session.execute(sa.update(Person), person_changes)
        if new_phones:
            db.session.execute(sa.insert(PhoneNumber), new_phones)
        if flag_phones:
            db.session.execute(sa.update(PhoneNumber), flag_phones)
    if dry_run:
        return report
    db.session.flush()
    _link_opt_outs([p.e164 for r in rows for p in r.clean.phones])
    record("registry.import", actor=actor, target_type="person", filename=filename[:200], **report.as_dict())
    return report


def _link_opt_outs(numbers: list[str]) -> None:
    """Set-based :func:`~outreach.registry.operations.link_opt_outs` for the numbers of an import."""
    owner = sa.select(PhoneNumber.person_id).where(PhoneNumber.e164 == OptOut.address).scalar_subquery()
    for start in range(0, len(numbers), 1000):
        db.session.execute(
            sa.update(OptOut)
            .where(OptOut.channel.in_(["sms", "whatsapp"]), OptOut.address.in_(numbers[start : start + 1000]))
            .values(person_id=owner)
            .execution_options(synchronize_session=False)
        )


def export_csv(people: Iterable[Person], opted_out_ids: set[int] | None = None) -> Iterator[str]:
    """CSV text of ``people`` in pieces (the header first), for a streamed download.

    Cells are written raw: :mod:`outreach.csvexport` neutralises formulas planted through the public
    form or an SMS registration.
    """
    return csv_chunks(EXPORT_COLUMNS, _export_rows(people, opted_out_ids or set()))


def _export_rows(people: Iterable[Person], opted_out_ids: set[int]) -> Iterator[list[Any]]:
    for person in people:
        primary = person.primary_phone
        others = [p for p in person.phones if p is not primary]
        whatsapp = next((p.e164 for p in person.phones if p.is_whatsapp), "")
        yield [
            person.id,
            person.name_ko or "",
            person.name_latin or "",
            primary.e164 if primary else "",
            others[0].e164 if others else "",
            whatsapp,
            person.email or "",
            person.language,
            person.province_code or "",
            person.province.name_en if person.province else "",
            person.district_note or "",
            person.status.value,
            person.arrival_date.isoformat() if person.arrival_date else "",
            person.departure_date.isoformat() if person.departure_date else "",
            person.emergency_name or "",
            person.emergency_phone or "",
            person.emergency_relation or "",
            person.consent_at.isoformat(timespec="seconds") if person.consent_at else "",
            person.consent_version or "",
            person.last_known_status.value,
            "1" if person.id in opted_out_ids else "",
        ]
