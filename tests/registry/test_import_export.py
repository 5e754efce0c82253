"""CSV import (dry run, bad rows with line/field/reason, idempotent import keyed on phone), the
``import-people`` command, the staff upload page, and the audited export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import AuditEvent, ConsentMethod, OptOut, Person, PersonStatus, PhoneNumber
from outreach.registry.importer import COLUMNS, import_people
from tests.conftest import login
from tests.registry.conftest import future, text_of

HEADER = ",".join(COLUMNS) + "\n"
GOOD = (
    HEADER
    + "홍길동,Hong Gildong,012 345 678,010-1234-5678,,gildong@example.org,ko,12,BKK1,traveler,"
    + f"{future(-3)},{future(10)},홍판서,010-9876-5432,아버지\n"
    + "김민수,,+855 97 123 4567,,+855 97 123 4567,,en,Siem Reap,,resident,,,,,\n"
    + "박서준,PARK SEOJUN,010-2222-3333,,,,km,KH-18,,거주,,,,,\n"
)
BAD = (
    HEADER
    + f"홍길동,Hong Gildong,012 345 678,,,,ko,12,,traveler,,{future(10)},,,\n"  # line 2: fine
    + "이몽룡,,023 211 900,,,,ko,12,,resident,,,,,\n"  # line 3: landline
    + ",,012 777 777,,,,ko,12,,resident,,,,,\n"  # line 4: a new person needs a name
    + "성춘향,,012 888 888,,,,ko,Atlantis,,resident,,,,,\n"  # line 5: province
    + "변학도,,012 999 999,,,,ko,12,,traveler,,31/12/2099,,,\n"  # line 6: date format
    + "심청,,012 345 678,,,,ko,12,,resident,,,,,\n"  # line 7: number already on line 2
    + '"Kim, ""Tom""",,012 666 666,,,not-an-email,xx,12,,tourist,,,,,\n'  # line 8: three problems
    + "놀부,,012 555 555,,,,ko,12,,traveler,,,,,\n"  # line 9: traveler without departure
)


def _count(app: Flask, model: Any = Person) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_dry_run_reports_every_bad_row_and_writes_nothing(app: Flask) -> None:
    with app.app_context():
        report = import_people(BAD.encode(), dry_run=True)
        db.session.rollback()
    problems = [(e.line, e.field) for e in report.errors]
    assert problems == [
        (3, "phone"),
        (4, "name_ko"),
        (5, "province"),
        (6, "departure_date"),
        (7, "phone"),
        (8, "email"),
        (8, "language"),
        (8, "name_ko"),
        (8, "status"),
        (9, "departure_date"),
    ]
    reasons = {(e.line, e.field): e.reason for e in report.errors}
    assert reasons[(7, "phone")] == "이 번호는 2번째 줄에도 있어요."
    assert "유선 전화" in reasons[(3, "phone")]
    assert (report.rows, report.created, report.bad_lines, report.dry_run) == (8, 1, 7, True)
    assert _count(app) == 0
    assert _count(app, AuditEvent) == 0


def test_import_writes_good_rows_and_is_idempotent(app: Flask, make_person: Callable[..., int]) -> None:
    existing = make_person(phone="+855971234567", name_ko="김민수", email="kim@example.org", language="ko")
    with app.app_context():
        first = import_people(GOOD.encode(), dry_run=False, filename="people.csv")
        db.session.commit()
    assert (first.rows, first.created, first.updated, first.unchanged, first.errors) == (3, 2, 1, 0, [])
    with app.app_context():
        people = {p.name_ko: p for p in db.session.scalars(sa.select(Person))}
        hong = people["홍길동"]
        assert hong.name_latin == "HONG GILDONG" and hong.status == PersonStatus.TRAVELER
        assert (hong.consent_method, hong.source, hong.province_code) == (
            ConsentMethod.IMPORT,
            "import",
            "KH-12",
        )
        assert sorted((p.e164, p.is_primary) for p in hong.phones) == [
            ("+821012345678", False),
            ("+85512345678", True),
        ]
        assert people["박서준"].status == PersonStatus.RESIDENT and people["박서준"].language == "km"
        kim = db.session.get(Person, existing)
        assert kim is not None
        # Keyed on the phone number: the existing record is updated, its e-mail kept (empty cell).
        assert (kim.language, kim.province_code, kim.email) == ("en", "KH-17", "kim@example.org")
        assert [(p.e164, p.is_whatsapp) for p in kim.phones] == [("+855971234567", True)]
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "registry.import")).one()
        assert event.details["created"] == 2 and event.details["filename"] == "people.csv"
    with app.app_context():
        second = import_people(GOOD.encode(), dry_run=False)
        db.session.commit()
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert _count(app) == 3
    assert _count(app, PhoneNumber) == 4


def test_import_skips_bad_rows_and_keeps_good_ones(app: Flask) -> None:
    with app.app_context():
        report = import_people(BAD.encode(), dry_run=False)
        db.session.commit()
    assert report.created == 1 and report.bad_lines == 7
    with app.app_context():
        assert db.session.scalars(sa.select(Person.name_ko)).all() == ["홍길동"]


def test_file_problems(app: Flask) -> None:
    with app.app_context():
        no_phone = import_people(b"name,email\nKim,k@example.org\n", dry_run=True)
        assert [(e.line, e.field) for e in no_phone.errors] == [(1, "phone")]
        unknown = import_people(HEADER.strip().encode() + b",shoe_size\n", dry_run=True)
        assert [(e.line, e.field) for e in unknown.errors] == [(1, "shoe_size")]
        binary = import_people(b"\xff\xfe\x00\x81\x00", dry_run=True)
        assert [e.field for e in binary.errors] == ["file"]


def test_excel_files_in_cp949_and_utf8_with_bom(app: Flask) -> None:
    with app.app_context():
        cp949 = import_people(GOOD.encode("cp949"), dry_run=True)
        bom = import_people(b"\xef\xbb\xbf" + GOOD.encode(), dry_run=True)
    assert cp949.errors == [] and cp949.created == 3
    assert bom.errors == [] and bom.created == 3


def test_cli_dry_run_and_import(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    result = runner.invoke(args=["import-people", str(bad), "--dry-run"])
    assert result.exit_code == 1
    assert "line 3: phone: This is a landline or internet number" in result.output
    assert "line 7: phone: This number is also on line 2." in result.output
    assert "dry run" in result.output
    assert _count(app) == 0
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(args=["import-people", str(good)])
    assert result.exit_code == 0, result.output
    assert "created 3" in result.output
    result = runner.invoke(args=["import-people", str(good)])
    assert result.exit_code == 0 and "unchanged 3" in result.output
    assert _count(app) == 3


@pytest.fixture
def officer_client(client: FlaskClient, make_user: Callable[..., Any]) -> FlaskClient:
    login(client, make_user("officer", language="en", email="officer@test.outreach"))
    return client


def test_upload_page_dry_run_then_import(officer_client: FlaskClient, app: Flask) -> None:
    assert officer_client.get("/staff/people/import").status_code == 200
    check = officer_client.post(
        "/staff/people/import",
        data={"file": (io.BytesIO(BAD.encode()), "bad.csv"), "action": "check"},
        content_type="multipart/form-data",
    )
    text = text_of(check.data)
    assert "Dry run: nothing was written" in text
    assert "3 phone This is a landline or internet number" in text
    assert _count(app) == 0
    done = officer_client.post(
        "/staff/people/import",
        data={"file": (io.BytesIO(GOOD.encode()), "good.csv"), "action": "import"},
        content_type="multipart/form-data",
    )
    assert "3 rows: 3 new, 0 updated, 0 unchanged, 0 with problems." in text_of(done.data)
    assert _count(app) == 3
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "registry.import")).one()
        assert event.actor_id is not None


def _csv(response: Any) -> list[dict[str, str]]:
    body = response.data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_export_of_the_current_filter_is_audited(officer_client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        import_people(GOOD.encode(), dry_run=False)
        owner = db.session.scalar(sa.select(PhoneNumber.person_id).where(PhoneNumber.e164 == "+855971234567"))
        # As the STOP keyword handler records it for a registered number.
        db.session.add(OptOut(channel="sms", address="+855971234567", source="keyword", person_id=owner))
        db.session.commit()
    response = officer_client.post("/staff/people/export.csv", data={"province": "KH-17"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert [(r["name_ko"], r["phone"], r["province"], r["opted_out"]) for r in rows] == [
        ("김민수", "+855971234567", "KH-17", "1")
    ]
    everyone = _csv(officer_client.post("/staff/people/export.csv"))
    assert len(everyone) == 3
    with app.app_context():
        events = list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "registry.export").order_by(AuditEvent.id)
            )
        )
        assert [(e.details["rows"], e.details["filter"]) for e in events] == [
            (1, {"province": "KH-17"}),
            (3, {}),
        ]
        assert all(e.actor_id is not None and e.created_at is not None for e in events)


def test_export_then_import_round_trips(officer_client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        import_people(GOOD.encode(), dry_run=False)
        db.session.commit()
    exported = officer_client.post("/staff/people/export.csv").data
    with app.app_context():
        report = import_people(exported, dry_run=True)
    assert report.errors == []
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
