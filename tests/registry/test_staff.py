"""Staff registry: access, search and filters, keyset pages, the person page, edit, merge, delete."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import (
    Alert,
    Answer,
    AnswerVia,
    AuditEvent,
    Case,
    CaseEvent,
    CheckIn,
    CheckInRecipient,
    CheckInResponse,
    InboundMessage,
    InboundRoute,
    Message,
    MessageStatus,
    OptOut,
    Person,
    PersonStatus,
    PhoneNumber,
    SourceKind,
    utcnow,
)
from tests.conftest import login
from tests.registry.conftest import errors_of, future, registration, text_of


@pytest.fixture
def officer_client(client: FlaskClient, make_user: Callable[..., Any]) -> FlaskClient:
    login(client, make_user("officer", language="en"))
    return client


def _ids(html: bytes) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/staff/people/(\d+)">\d+</a></td>', html.decode())]


def test_only_officers_and_admins_see_the_registry(
    app: Flask, make_user: Callable[..., Any], make_person: Callable[..., int]
) -> None:
    pid = make_person()
    anonymous = app.test_client()
    assert anonymous.get("/staff/people").status_code == 302
    rep = app.test_client()
    login(rep, make_user("community_rep"))
    for path in ("/staff/people", f"/staff/people/{pid}", "/staff/people/import"):
        assert rep.get(path).status_code == 403
    assert rep.post("/staff/people/export.csv").status_code == 403
    admin = app.test_client()
    login(admin, make_user("admin"))
    assert admin.get("/staff/people").status_code == 200


def test_search_by_hangul_latin_phone_and_email(
    officer_client: FlaskClient, make_person: Callable[..., int]
) -> None:
    hong = make_person(
        phone="+85512345678", name_ko="홍길동", name_latin="HONG GILDONG", email="gildong@example.org"
    )
    kim = make_person(
        phone="+821055551234", name_ko="김민수", name_latin="KIM MINSU", email="minsu@mail.example"
    )
    park = make_person(phone="+85597000111", name_ko="박서준", name_latin="PARK SEOJUN")
    oh = make_person(phone="+85597000222", name_ko="오서연", name_latin="OH SEOYEON")

    def found(q: str) -> list[int]:
        response = officer_client.get("/staff/people", query_string={"q": q})
        assert response.status_code == 200
        return _ids(response.data)

    assert found("길동") == [hong]
    assert found("gildong hong") == [hong]  # every word, any order, any case
    assert found("Minsu") == [kim]
    assert found("012 345 678") == [hong]  # a whole number in local format
    assert found("010-5555-1234") == [kim]
    assert found("5551") == [kim]  # part of a number
    assert found("mail.example") == [kim]
    assert found("@example.org") == [hong]
    assert found("없는사람") == []
    assert found("100%_") == []  # LIKE wildcards are searched for literally
    assert sorted(found("")) == sorted([hong, kim, park, oh])
    # Short words: two syllables match a given name or a surname-and-first-syllable, two letters
    # the start of a word of the Latin name.
    assert found("서연") == [oh]
    assert found("박서") == [park]
    assert found("오") == [oh]
    assert found("oh") == [oh]
    assert found("seo") == [oh, park]


def test_filters(officer_client: FlaskClient, app: Flask, make_person: Callable[..., int]) -> None:
    today = utcnow().date()
    here = make_person(
        province_code="KH-17",
        status=PersonStatus.TRAVELER,
        language="en",
        arrival_date=today - timedelta(days=2),
        departure_date=today + timedelta(days=3),
    )
    gone = make_person(
        province_code="KH-17",
        status=PersonStatus.TRAVELER,
        language="ko",
        arrival_date=today - timedelta(days=20),
        departure_date=today - timedelta(days=2),
    )
    coming = make_person(
        province_code="KH-12",
        status=PersonStatus.TRAVELER,
        language="ko",
        arrival_date=today + timedelta(days=5),
        departure_date=today + timedelta(days=9),
    )
    resident = make_person(province_code="KH-12", status=PersonStatus.RESIDENT, language="km")
    stopped = make_person(phone="+85599111222", province_code="KH-18")
    with app.app_context():
        # What the STOP keyword handler records for a registered number.
        db.session.add(OptOut(channel="sms", address="+85599111222", source="keyword", person_id=stopped))
        db.session.commit()

    def found(**args: str) -> set[int]:
        return set(_ids(officer_client.get("/staff/people", query_string=args).data))

    assert found(province="KH-17") == {here, gone}
    assert found(status="resident") == {resident, stopped}
    assert found(language="en") == {here}
    assert found(present="1") == {here, resident, stopped}
    assert found(present="1", status="traveler") == {here}
    assert found(opted_out="1") == {stopped}
    assert found(province="KH-12", status="traveler") == {coming}
    # Junk in a filter is ignored, not a 500.
    assert found(province="KH-99", status="alien") == {here, gone, coming, resident, stopped}
    page = officer_client.get("/staff/people?province=KH-17").data.decode()
    assert "2 people" in text_of(page)


def test_keyset_pages_walk_forward_and_back(
    officer_client: FlaskClient, make_person: Callable[..., int]
) -> None:
    ids = [make_person() for _ in range(57)]
    first = officer_client.get("/staff/people")
    assert _ids(first.data) == sorted(ids, reverse=True)[:50]
    assert "1–50 of 57" in text_of(first.data)
    next_link = re.search(r'href="(/staff/people\?before=\d+[^"]*)"', first.data.decode())
    assert next_link is not None
    second = officer_client.get(next_link.group(1).replace("&amp;", "&"))
    assert _ids(second.data) == sorted(ids, reverse=True)[50:]
    assert "51–57 of 57" in text_of(second.data)
    assert "?before=" not in second.data.decode()
    prev_link = re.search(r'href="(/staff/people\?after=\d+[^"]*)"', second.data.decode())
    assert prev_link is not None
    back = officer_client.get(prev_link.group(1).replace("&amp;", "&"))
    assert _ids(back.data) == _ids(first.data)
    # The filter rides along in the page links.
    filtered = officer_client.get("/staff/people?province=KH-12").data.decode()
    assert re.search(r'href="/staff/people\?before=\d+[^"]*province=KH-12"', filtered)
    assert officer_client.get("/staff/people?before=abc").status_code == 200


def _seed_history(app: Flask, pid: int) -> None:
    with app.app_context():
        alert = Alert(title="홍수 안부 확인")
        db.session.add(alert)
        db.session.flush()
        checkin = CheckIn(alert_id=alert.id, deadline=utcnow() + timedelta(hours=4))
        db.session.add(checkin)
        db.session.flush()
        db.session.add(
            Message(
                source_kind=SourceKind.CHECKIN,
                source_id=checkin.id,
                person_id=pid,
                channel="sms",
                to_address="+85512345678",
                body="안전하신가요?",
                status=MessageStatus.DELIVERED,
            )
        )
        db.session.add(
            InboundMessage(
                provider_sid="SMh1",
                channel="sms",
                from_address="+85512345678",
                body="도와주세요 물이 차올라요",
                person_id=pid,
                routed_to=InboundRoute.CHECKIN,
            )
        )
        db.session.add(
            CheckInResponse(
                checkin_id=checkin.id,
                person_id=pid,
                answer=Answer.NEED_HELP,
                via=AnswerVia.SMS,
                text="물이 차올라요",
            )
        )
        case = Case(person_id=pid, opened_via="checkin_sms", summary="침수 지역 고립")
        db.session.add(case)
        db.session.flush()
        db.session.add(CaseEvent(case_id=case.id, kind="note", body="현지 경찰에 연락함"))
        db.session.commit()


def test_person_page_shows_numbers_consent_and_one_timeline(
    officer_client: FlaskClient, app: Flask, make_person: Callable[..., int]
) -> None:
    pid = make_person(phone="+85512345678", whatsapp=True)
    _seed_history(app, pid)
    page = officer_client.get(f"/staff/people/{pid}")
    assert page.status_code == 200
    text = text_of(page.data)
    assert "+85512345678" in text and "WhatsApp" in text
    assert "version test" in text
    for expected in (
        "안전하신가요?",
        "도와주세요 물이 차올라요",
        "Check-in answer: need_help",
        "물이 차올라요",
        "침수 지역 고립",
        "현지 경찰에 연락함",
    ):
        assert expected in text, expected
    # Newest first: the case note was added last.
    assert text.index("현지 경찰에 연락함") < text.index("안전하신가요?")
    assert officer_client.get("/staff/people/999999").status_code == 404


def test_edit_is_saved_with_an_audit_event(
    officer_client: FlaskClient, app: Flask, make_person: Callable[..., int]
) -> None:
    pid = make_person(phone="+85512345678")
    form = officer_client.get(f"/staff/people/{pid}/edit")
    assert form.status_code == 200 and "+85512345678" in form.data.decode()
    data = registration(
        name_ko="홍길순",
        phone="+85512345678",
        phone_other="",
        whatsapp="",
        status="resident",
        departure_date="",
        arrival_date="",
    )
    response = officer_client.post(f"/staff/people/{pid}/edit", data=data)
    assert response.status_code == 302
    with app.app_context():
        person = db.session.get(Person, pid)
        assert person is not None and person.name_ko == "홍길순"
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "person.update")).one()
        assert event.actor_id is not None and event.target_id == pid
        assert "name_ko" in event.details["fields"] and event.details["via"] == "staff"


def test_edit_refuses_a_number_of_another_person(
    officer_client: FlaskClient, app: Flask, make_person: Callable[..., int]
) -> None:
    make_person(phone="+85512999999")
    pid = make_person(phone="+85512345678")
    response = officer_client.post(f"/staff/people/{pid}/edit", data=registration(phone="012 999 999"))
    assert "This number is already registered to another person." in errors_of(response.data)


def test_merge_moves_everything_to_the_kept_record(
    officer_client: FlaskClient, app: Flask, make_person: Callable[..., int]
) -> None:
    keep = make_person(phone="+85512345678", name_ko="홍길동", name_latin=None, email=None)
    drop = make_person(
        phone="+821012345678", name_ko="홍길동", name_latin="HONG GILDONG", email="hong@example.org"
    )
    _seed_history(app, drop)
    with app.app_context():
        checkin_id = db.session.scalar(sa.select(CheckIn.id))
        # Both records got the same check-in SMS (the reason duplicates must be merged).
        db.session.add(
            Message(
                source_kind=SourceKind.CHECKIN,
                source_id=checkin_id,
                person_id=keep,
                channel="sms",
                to_address="+85512345678",
                body="안전하신가요?",
                status=MessageStatus.DELIVERED,
            )
        )
        db.session.add(CheckInRecipient(checkin_id=checkin_id, person_id=keep, code="KEEP1"))
        db.session.add(
            CheckInRecipient(
                checkin_id=checkin_id,
                person_id=drop,
                code="DROP1",
                answer=Answer.NEED_HELP,
                answered_at=utcnow(),
            )
        )
        db.session.commit()
    compare = officer_client.get(f"/staff/people/{keep}/merge?other_id={drop}")
    assert "HONG GILDONG" in compare.data.decode()
    unconfirmed = officer_client.post(f"/staff/people/{keep}/merge", data={"other_id": str(drop)})
    assert "Tick the box to confirm." in errors_of(unconfirmed.data)
    response = officer_client.post(
        f"/staff/people/{keep}/merge", data={"other_id": str(drop), "confirm": "y"}
    )
    assert response.status_code == 302
    with app.app_context():
        kept = db.session.get(Person, keep)
        gone = db.session.get(Person, drop)
        assert kept is not None and gone is not None
        assert sorted(p.e164 for p in kept.phones) == ["+821012345678", "+85512345678"]
        assert [p.e164 for p in kept.phones if p.is_primary] == ["+85512345678"]
        assert (kept.name_latin, kept.email) == ("HONG GILDONG", "hong@example.org")
        assert gone.deleted_at is not None and gone.merged_into_id == keep and gone.name_ko is None
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.person_id == keep)) == 1
        )
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(CheckInResponse)
                .where(CheckInResponse.person_id == keep)
            )
            == 1
        )
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(InboundMessage).where(InboundMessage.person_id == keep)
            )
            == 1
        )
        [recipient] = db.session.scalars(sa.select(CheckInRecipient)).all()
        assert (recipient.person_id, recipient.answer) == (keep, Answer.NEED_HELP)
        # The duplicate check-in SMS stays on the tombstone (one message per source and person)...
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Message).where(Message.person_id == drop)
            )
            == 1
        )
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "person.merge")).one()
        assert event.details == {"merged_id": drop} and event.actor_id is not None
    # ...and still shows on the kept record's timeline.
    page = text_of(officer_client.get(f"/staff/people/{keep}").data)
    assert page.count("안전하신가요?") == 2
    merged_page = text_of(officer_client.get(f"/staff/people/{drop}").data)
    assert f"#{keep}" in merged_page
    # A merged record cannot be merged again.
    again = officer_client.post(f"/staff/people/{keep}/merge", data={"other_id": str(drop), "confirm": "y"})
    assert "Choose another record that is not deleted." in errors_of(again.data)


def test_merge_refuses_itself_and_unknown_records(
    officer_client: FlaskClient, make_person: Callable[..., int]
) -> None:
    pid = make_person()
    same = officer_client.post(f"/staff/people/{pid}/merge", data={"other_id": str(pid), "confirm": "y"})
    assert "Choose another record that is not deleted." in errors_of(same.data)
    unknown = officer_client.post(f"/staff/people/{pid}/merge", data={"other_id": "99999", "confirm": "y"})
    assert "No record with that number." in errors_of(unknown.data)


def test_staff_delete_and_send_link(
    officer_client: FlaskClient, app: Flask, make_person: Callable[..., int]
) -> None:
    pid = make_person(phone="+85512345678")
    assert officer_client.post(f"/staff/people/{pid}/send-link").status_code == 302
    with app.app_context():
        assert db.session.scalars(sa.select(Message.source_kind)).all() == [SourceKind.CONFIRMATION]
    officer_client.post(f"/staff/people/{pid}/delete", data={})
    with app.app_context():
        assert db.session.get(Person, pid).deleted_at is None  # type: ignore[union-attr]
    officer_client.post(f"/staff/people/{pid}/delete", data={"confirm": "y"})
    with app.app_context():
        person = db.session.get(Person, pid)
        assert person is not None and person.deleted_at is not None and person.name_ko is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneNumber)) == 0
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "person.delete")).one()
        assert event.actor_id is not None and event.details["via"] == "staff"
    # Deleted people are not listed.
    assert _ids(officer_client.get("/staff/people").data) == []


def test_registered_on_the_web_is_found_by_staff(officer_client: FlaskClient, app: Flask) -> None:
    public = app.test_client()
    assert public.post("/register", data=registration(departure_date=future(4))).status_code == 302
    assert len(_ids(officer_client.get("/staff/people?q=홍길동&present=1").data)) == 1


def test_opted_out_filter_follows_numbers_through_edits_and_imports(
    officer_client: FlaskClient, app: Flask, make_person: Callable[..., int]
) -> None:
    from outreach.registry.importer import import_people

    pid = make_person(phone="+85512345678")
    with app.app_context():
        db.session.add(PhoneNumber(person_id=pid, e164="+821012345678"))
        db.session.add(OptOut(channel="sms", address="+821012345678", source="keyword", person_id=pid))
        db.session.add(OptOut(channel="sms", address="+85597000333", source="keyword"))
        db.session.commit()
    assert _ids(officer_client.get("/staff/people?opted_out=1").data) == [pid]
    # The opted-out number is taken off the record: the record is no longer opted out.
    data = registration(
        phone="+85512345678", phone_other="", whatsapp="", status="resident", departure_date=""
    )
    assert officer_client.post(f"/staff/people/{pid}/edit", data=data).status_code == 302
    assert _ids(officer_client.get("/staff/people?opted_out=1").data) == []
    # An imported person whose number had sent STOP is listed as opted out.
    with app.app_context():
        import_people(b"name_ko,phone\n\xec\x9d\xb4\xec\x88\x98\xec\xa7\x84,097 000 333\n", dry_run=False)
        db.session.commit()
        new_id = db.session.scalar(sa.select(PhoneNumber.person_id).where(PhoneNumber.e164 == "+85597000333"))
    assert _ids(officer_client.get("/staff/people?opted_out=1").data) == [new_id]
