"""Web self-registration at /register: rendering in three languages, every validation error, the
confirmation it sends, and the rate limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    ConsentMethod,
    Message,
    OutboxEntry,
    Person,
    PersonStatus,
    PhoneNumber,
    SourceKind,
)
from outreach.registry.consent import CURRENT_VERSION
from tests.conftest import run_jobs
from tests.registry.conftest import errors_of, future, registration, text_of


def _people(app: Flask) -> list[Person]:
    with app.app_context():
        people = list(db.session.scalars(sa.select(Person).order_by(Person.id)))
        for p in people:
            _ = p.phones
        db.session.expunge_all()
        return people


def test_form_is_korean_by_default_small_and_without_javascript(client: FlaskClient) -> None:
    response = client.get("/register")
    assert response.status_code == 200
    html = response.data.decode()
    assert '<html lang="ko">' in html
    assert "등록" in text_of(html)
    assert "<script" not in html
    # A cheap phone on a slow connection: the whole page, styles included, stays small.
    assert len(response.data) < 20_000
    # The consent text shown is the current version.
    assert CURRENT_VERSION in text_of(html)


@pytest.mark.parametrize(
    ("lang", "expected", "absent"),
    [
        ("ko", "휴대전화 번호", "Mobile number"),
        ("en", "Mobile number", "휴대전화 번호"),
        ("km", "លេខទូរស័ព្ទដៃ", "Mobile number"),
    ],
)
def test_form_renders_in_each_language(client: FlaskClient, lang: str, expected: str, absent: str) -> None:
    html = client.get(f"/register?lang={lang}").data.decode()
    assert f'<html lang="{lang}">' in html
    assert expected in html
    assert absent not in html


def test_browser_language_picks_english(client: FlaskClient) -> None:
    html = client.get("/register", headers={"Accept-Language": "en-US,en;q=0.9"}).data.decode()
    assert "Mobile number" in html


def test_registering_creates_one_person_with_e164_numbers_and_consent(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post("/register", data=registration())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/done")
    [person] = _people(app)
    assert person.name_ko == "홍길동"
    assert person.name_latin == "HONG GILDONG"
    assert person.status == PersonStatus.TRAVELER
    assert person.province_code == "KH-12"
    assert person.email == "gildong@example.org"
    assert person.emergency_phone == "+821098765432"
    assert person.emergency_contact_consent is True
    assert person.consent_method == ConsentMethod.WEB
    assert person.consent_version == CURRENT_VERSION
    assert person.consent_at is not None
    numbers = {(p.e164, p.kind.value, p.is_primary, p.is_whatsapp) for p in person.phones}
    assert numbers == {("+85512345678", "kh", True, True), ("+821012345678", "kr", False, False)}
    done = client.get("/register/done")
    assert "링크" in text_of(done.data)


def test_registration_sends_a_confirmation_sms_and_email_in_the_persons_language(
    app: Flask, client: FlaskClient
) -> None:
    client.post("/register?lang=ko", data=registration(language="en"))
    with app.app_context():
        messages = list(db.session.scalars(sa.select(Message).order_by(Message.channel)))
        assert [(m.channel, m.source_kind, m.to_address) for m in messages] == [
            ("email", SourceKind.CONFIRMATION, "gildong@example.org"),
            ("sms", SourceKind.CONFIRMATION, "+85512345678"),
        ]
        person_id = db.session.scalar(sa.select(Person.id))
        assert all(m.person_id == person_id for m in messages)
        sms = next(m for m in messages if m.channel == "sms")
        # The person chose English for messages, though the form was filled in Korean.
        assert sms.language == "en"
        # A web-typed number is not proven yet: the SMS carries its confirmation link (registry.confirm).
        assert "reply YES" in (sms.body or "")
        assert "http://localhost/register/confirm/" in (sms.body or "")
    run_jobs(app)
    with app.app_context():
        sent = {e.channel: e for e in db.session.scalars(sa.select(OutboxEntry))}
        assert set(sent) == {"sms", "email"}
        assert "/me/" in sent["email"].body


def test_confirmation_in_korean_carries_a_working_link(app: Flask, client: FlaskClient) -> None:
    client.post("/register", data=registration(email=None))
    with app.app_context():
        [sms] = db.session.scalars(sa.select(Message)).all()
        assert sms.language == "ko"
        assert "안전 알림" in (sms.body or "")
        link = (sms.body or "").split("http://localhost", 1)[1].split()[0]
    assert client.get(link).status_code == 200  # the confirmation button
    page = client.post(link, follow_redirects=True)  # confirms, then opens the person's page
    assert page.status_code == 200
    assert "홍길동" in page.data.decode()


EXAMPLES = "캄보디아 휴대전화는 012 345 678, 한국 휴대전화는 010-1234-5678과 같은 형식이에요."
WRONG_DIGITS = "번호의 자릿수가 맞지 않아요. " + EXAMPLES
NO_SUCH_NUMBER = "없는 번호예요. 숫자를 확인해 주세요. " + EXAMPLES

REQUIRED_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"name_ko": "", "name_latin": ""}, "name_ko", "이름을 한글이나 로마자로 입력해 주세요."),
    ({"name_ko": "Hong"}, "name_ko", "이 칸에는 한글 이름을 써 주세요. 로마자 이름은 아래 칸에 써 주세요."),
    ({"name_latin": "홍길동"}, "name_latin", "여권과 같이 로마자로만 써 주세요 (예: HONG GILDONG)."),
    ({"phone": "", "phone_other": "", "whatsapp": ""}, "phone", "휴대전화 번호를 입력해 주세요."),
    (
        {"phone": "023 211 900"},
        "phone",
        "유선 전화나 인터넷 전화 번호예요. 문자를 받을 수 있는 휴대전화 번호를 입력해 주세요.",
    ),
    (
        {"phone": "12345"},
        "phone",
        WRONG_DIGITS,
    ),
    (
        {"phone": "+855 20 123 456"},
        "phone",
        NO_SUCH_NUMBER,
    ),
    ({"phone": "abc"}, "phone", "전화번호가 아니에요. 숫자가 없어요."),
    (
        {"phone_other": "02-123-4567"},
        "phone_other",
        "유선 전화나 인터넷 전화 번호예요. 문자를 받을 수 있는 휴대전화 번호를 입력해 주세요.",
    ),
    ({"email": "gildong@"}, "email", "올바른 이메일 주소가 아니에요 (예: name@example.com)."),
    ({"province": ""}, "province", "머무르는 지역을 선택해 주세요."),
    ({"province": "KH-99"}, "province", "Not a valid choice."),
    ({"departure_date": ""}, "departure_date", "여행자는 출국 날짜가 필요해요."),
    ({"departure_date": future(-5)}, "departure_date", "출국 날짜가 도착 날짜보다 빨라요."),
    ({"arrival_date": "", "departure_date": future(-1)}, "departure_date", "출국 날짜가 이미 지났어요."),
    (
        {"departure_date": "next week"},
        "departure_date",
        "날짜를 YYYY-MM-DD 형식으로 입력해 주세요 (예: 2025-12-31).",
    ),
    (
        {"emergency_phone": "12"},
        "emergency_phone",
        WRONG_DIGITS,
    ),
    ({"emergency_phone": "012 345 678"}, "emergency_phone", "비상연락처는 본인 번호와 다른 번호여야 해요."),
    ({"consent": None}, "consent", "등록하려면 목적에 동의해 주세요."),
]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    REQUIRED_ERRORS,
    ids=[e[1] + str(i) for i, e in enumerate(REQUIRED_ERRORS)],
)
def test_each_validation_error_is_shown_on_its_field(
    app: Flask, client: FlaskClient, change: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/register?lang=ko", data=registration(**change))
    assert response.status_code == 200
    html = response.data.decode()
    if message == "Not a valid choice.":
        # WTForms' own choice check: an invented province code never reaches the registry.
        assert 'class="fld bad"' in html
    else:
        assert message in errors_of(response.data), errors_of(response.data)
        # The message sits in the block of the field it is about.
        block = html.split(f'id="{field}"', 1)[1].split('<div class="fld', 1)[0]
        assert message in block.replace("&#39;", "'").replace("&amp;", "&") or message in text_of(block)
    # The form keeps what was typed.
    assert "BKK1" in html
    assert _people(app) == []


def test_validation_messages_in_english_and_khmer(client: FlaskClient) -> None:
    en = client.post("/register?lang=en", data=registration(phone="023 211 900"))
    assert "This is a landline or internet number; enter a mobile number that can receive SMS." in errors_of(
        en.data
    )
    km = client.post("/register?lang=km", data=registration(consent=None))
    [message] = errors_of(km.data)
    assert message != "You need to agree to the purposes to register."
    assert any("\u1780" <= ch <= "\u17ff" for ch in message)


def test_a_number_registered_to_someone_else_is_not_overwritten(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    owner = make_person(phone="+85512345678", name_ko="김철수", email="owner@example.org")
    response = client.post("/register", data=registration(phone_other=None, whatsapp=None))
    # The same page as for a new registration: the form must not tell who is registered.
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/done")
    people = _people(app)
    assert [p.id for p in people] == [owner]
    assert people[0].name_ko == "김철수"
    with app.app_context():
        # The owner gets their link instead, on their own number and e-mail.
        messages = list(db.session.scalars(sa.select(Message)))
        assert {(m.channel, m.to_address, m.person_id) for m in messages} == {
            ("sms", "+85512345678", owner),
            ("email", "owner@example.org", owner),
        }
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneNumber)) == 1


def test_submitting_twice_creates_one_person(app: Flask, client: FlaskClient) -> None:
    client.post("/register", data=registration())
    client.post("/register", data=registration())
    assert len(_people(app)) == 1


def test_registration_is_audited(app: Flask, client: FlaskClient) -> None:
    client.post("/register", data=registration())
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[:2] == ["person.register", "person.confirmation"]


def test_resident_needs_no_dates(app: Flask, client: FlaskClient) -> None:
    response = client.post(
        "/register",
        data=registration(status="resident", arrival_date="", departure_date="", phone_other=None),
    )
    assert response.status_code == 302
    [person] = _people(app)
    assert person.status == PersonStatus.RESIDENT
    assert person.departure_date is None


def test_consent_page_in_three_languages(client: FlaskClient) -> None:
    assert "동의" in client.get("/register/consent?lang=ko").data.decode()
    assert "I agree" in client.get("/register/consent?lang=en").data.decode()
    assert "យល់ព្រម" in client.get("/register/consent?lang=km").data.decode()


def test_rate_limit_answers_429_with_a_clear_page(make_app: Callable[..., Flask]) -> None:
    app = make_app(RATELIMIT_ENABLED=True, REGISTER_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.post("/register?lang=ko", data=registration(phone="bad")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.post("/register?lang=en", data=registration(phone="bad"))
    assert response.status_code == 429
    assert "Too many attempts from your network. Please wait a few minutes and try again." in text_of(
        response.data
    )
    # Reading the form is never limited.
    assert client.get("/register").status_code == 200


def test_departure_date_is_in_the_future_for_travelers(app: Flask, client: FlaskClient) -> None:
    response = client.post("/register", data=registration(departure_date=future(30)))
    assert response.status_code == 302
    [person] = _people(app)
    assert person.departure_date is not None and person.departure_date.isoformat() == future(30)


def test_a_stop_sent_before_registering_follows_the_number(app: Flask, client: FlaskClient) -> None:
    from outreach.models import OptOut

    with app.app_context():
        db.session.add(OptOut(channel="sms", address="+85512345678", source="keyword"))
        db.session.commit()
    client.post("/register", data=registration(email=None))
    with app.app_context():
        person_id = db.session.scalar(sa.select(Person.id))
        assert db.session.scalars(sa.select(OptOut.person_id)).one() == person_id
        # No confirmation SMS goes to a number that said STOP.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
