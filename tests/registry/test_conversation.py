"""Registration by SMS and WhatsApp through the signed webhook ``POST /twilio/sms``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.messaging.segments import count_segments
from outreach.models import (
    ConsentMethod,
    InboundMessage,
    InboundRoute,
    Person,
    PersonStatus,
    RegistrationConversation,
    utcnow,
)
from outreach.registry.consent import CURRENT_VERSION
from outreach.registry.conversation import province_prompt
from tests.registry.conftest import future

NUMBER = "+85512345678"


def _people(app: Flask) -> list[Person]:
    with app.app_context():
        people = list(
            db.session.scalars(sa.select(Person).where(Person.deleted_at.is_(None)).order_by(Person.id))
        )
        for p in people:
            _ = p.phones
        db.session.expunge_all()
        return people


def _conversation(app: Flask, address: str = NUMBER) -> RegistrationConversation | None:
    with app.app_context():
        conv = db.session.scalar(
            sa.select(RegistrationConversation).where(RegistrationConversation.address == address)
        )
        if conv is not None:
            db.session.expunge(conv)
        return conv


def _last_route(app: Flask) -> InboundRoute:
    with app.app_context():
        return db.session.scalars(
            sa.select(InboundMessage.routed_to).order_by(InboundMessage.id.desc())
        ).first()


def test_happy_path_in_korean(app: Flask, sms: Callable[..., str]) -> None:
    assert "이름" in sms(NUMBER, "등록")
    prompt = sms(NUMBER, "홍길동")
    assert "12 프놈펜" in prompt and "다른 지역은 이름을 보내 주세요" in prompt
    assert "거주하시면 1" in sms(NUMBER, "12")
    assert "출국" in sms(NUMBER, "2")
    consent = sms(NUMBER, future(9))
    assert "동의" in consent and "예를 보내 주세요" in consent and "/register/consent?lang=ko" in consent
    done = sms(NUMBER, "예")
    assert "등록이 완료되었어요" in done and "http://localhost/me/" in done
    [person] = _people(app)
    assert (person.name_ko, person.name_latin, person.province_code) == ("홍길동", None, "KH-12")
    assert person.status == PersonStatus.TRAVELER
    assert person.departure_date is not None and person.departure_date.isoformat() == future(9)
    assert (person.language, person.consent_method, person.consent_version) == (
        "ko",
        ConsentMethod.SMS,
        CURRENT_VERSION,
    )
    assert [(p.e164, p.is_primary, p.is_whatsapp) for p in person.phones] == [(NUMBER, True, False)]
    # Registered; one optional question is left: the duress word (skipped here).
    conv = _conversation(app)
    assert conv is not None and conv.step == "duress"
    assert "건너뛰기" in done
    assert "나중에" in sms(NUMBER, "건너뛰기")
    assert _conversation(app) is None
    assert person.duress_hash is None
    with app.app_context():
        # Every message of the conversation is on the person's record and routed to registration.
        rows = db.session.execute(sa.select(InboundMessage.person_id, InboundMessage.routed_to)).all()
        assert len(rows) == 7
        assert set(rows) == {(person.id, InboundRoute.REGISTRATION)}
    # The link in the reply works.
    link = done.split("http://localhost", 1)[1].split()[0]
    assert app.test_client().get(link).status_code == 200


def test_happy_path_in_english_as_a_resident_over_whatsapp(app: Flask, sms: Callable[..., str]) -> None:
    assert "What is your name?" in sms(NUMBER, "register", whatsapp=True)
    assert "Where do you stay?" in sms(NUMBER, "Hong Gildong", whatsapp=True)
    assert "Send 1 if you live here" in sms(NUMBER, "siem reap", whatsapp=True)
    consent = sms(NUMBER, "1", whatsapp=True)
    assert "Send YES to agree" in consent
    assert "Thank you, you are registered" in sms(NUMBER, "YES", whatsapp=True)
    [person] = _people(app)
    assert (person.name_ko, person.name_latin, person.province_code) == (None, "HONG GILDONG", "KH-17")
    assert (person.status, person.departure_date, person.language) == (PersonStatus.RESIDENT, None, "en")
    assert person.consent_method == ConsentMethod.WHATSAPP
    assert [(p.e164, p.is_whatsapp) for p in person.phones] == [(NUMBER, True)]


def test_khmer_keyword_speaks_khmer(app: Flask, sms: Callable[..., str]) -> None:
    reply = sms(NUMBER, "ចុះឈ្មោះ")
    assert any("\u1780" <= ch <= "\u17ff" for ch in reply)
    assert "SOK DARA" in reply
    assert "ភ្នំពេញ" in sms(NUMBER, "Sok Dara")
    assert _conversation(app).language == "km"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("answers", "wrong", "expected"),
    [
        ([], "12345", "이름을 숫자 없이 한글이나 로마자로 보내 주세요"),
        ([], "!!!", "이름을 숫자 없이 한글이나 로마자로 보내 주세요"),
        (["홍길동"], "아틀란티스", "알 수 없는 지역이에요. 번호(예: 프놈펜은 12)나 지역 이름을 보내 주세요."),
        (["홍길동"], "99", "알 수 없는 지역이에요."),
        (["홍길동", "12"], "글쎄요", "캄보디아에 거주하시면 1, 여행 중이시면 2를 보내 주세요."),
        (["홍길동", "12", "2"], "곧", "출국 날짜를"),
        (["홍길동", "12", "2"], "2020-01-01", "이미 지난 날짜예요."),
        (
            ["홍길동", "12", "2"],
            (utcnow().date() + timedelta(days=500)).isoformat(),
            "1년이 넘게 남은 날짜예요.",
        ),
        (["홍길동", "12", "1"], "글쎄요", "동의하고 마치려면 예, 취소하려면 아니오를 보내 주세요."),
    ],
)
def test_every_wrong_answer_gets_a_reprompt_and_the_step_stays(
    app: Flask, sms: Callable[..., str], answers: list[str], wrong: str, expected: str
) -> None:
    sms(NUMBER, "등록")
    for answer in answers:
        sms(NUMBER, answer)
    step = _conversation(app).step  # type: ignore[union-attr]
    reply = sms(NUMBER, wrong)
    assert expected in reply
    # Short: one or two segments.
    assert count_segments(reply).segments <= 2
    assert _conversation(app).step == step  # type: ignore[union-attr]
    assert _people(app) == []


def test_english_reprompts(app: Flask, sms: Callable[..., str]) -> None:
    sms(NUMBER, "REGISTER")
    assert "Please send your name in Hangul or Latin letters" in sms(NUMBER, "007")
    sms(NUMBER, "Kim")
    assert "We do not know that province" in sms(NUMBER, "Narnia")
    sms(NUMBER, "12")
    assert "Please send 1 if you live in Cambodia, or 2 if you are traveling." in sms(NUMBER, "maybe")
    sms(NUMBER, "2")
    assert "Please send your departure date like" in sms(NUMBER, "next week")
    sms(NUMBER, "12/31")
    assert "Send YES to agree and finish, or NO to cancel." in sms(NUMBER, "sure")


def test_answering_no_cancels_and_saves_nothing(app: Flask, sms: Callable[..., str]) -> None:
    for text in ("REGISTER", "Kim Minsu", "12", "1"):
        sms(NUMBER, text)
    assert "Registration cancelled. Nothing was saved." in sms(NUMBER, "no")
    assert _people(app) == []
    assert _conversation(app) is None


def test_stop_midway_ends_the_conversation(app: Flask, sms: Callable[..., str]) -> None:
    sms(NUMBER, "등록")
    sms(NUMBER, "홍길동")
    stop = sms(NUMBER, "STOP")
    assert _last_route(app) == InboundRoute.OPT_OUT
    assert stop  # the opt-out handler's confirmation
    # The next message is not taken as the province answer.
    reply = sms(NUMBER, "12")
    assert _last_route(app) != InboundRoute.REGISTRATION
    assert "거주" not in reply
    assert _conversation(app) is None
    assert _people(app) == []


def test_help_keywords_are_never_taken_as_an_answer(app: Flask, sms: Callable[..., str]) -> None:
    sms(NUMBER, "등록")
    sms(NUMBER, "SOS")
    assert _last_route(app) != InboundRoute.REGISTRATION
    conv = _conversation(app)
    assert conv is not None and conv.step == "name"


def test_conversation_expires_after_24_hours(app: Flask, sms: Callable[..., str]) -> None:
    sms(NUMBER, "등록")
    sms(NUMBER, "홍길동")
    with app.app_context():
        conv = db.session.scalars(sa.select(RegistrationConversation)).one()
        assert conv.expires_at - utcnow() > timedelta(hours=23)
        conv.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    reply = sms(NUMBER, "12")
    assert "24시간 안에 등록을 마치지 않아 취소되었어요" in reply and "등록" in reply
    assert _conversation(app) is None
    assert _people(app) == []
    # Starting again works.
    assert "이름" in sms(NUMBER, "등록")
    assert _conversation(app).step == "name"  # type: ignore[union-attr]


def test_each_answer_pushes_the_expiry_back(app: Flask, sms: Callable[..., str]) -> None:
    sms(NUMBER, "등록")
    with app.app_context():
        conv = db.session.scalars(sa.select(RegistrationConversation)).one()
        conv.expires_at = utcnow() + timedelta(minutes=5)
        db.session.commit()
    sms(NUMBER, "홍길동")
    assert _conversation(app).expires_at - utcnow() > timedelta(hours=23)  # type: ignore[union-attr]


def test_keyword_midway_starts_over(app: Flask, sms: Callable[..., str]) -> None:
    sms(NUMBER, "등록")
    sms(NUMBER, "홍길동")
    assert "What is your name?" in sms(NUMBER, "REGISTER")
    conv = _conversation(app)
    assert conv is not None and (conv.step, conv.language) == ("name", "en")
    assert "name_ko" not in conv.data


def test_a_registered_number_updates_its_record(
    app: Flask, sms: Callable[..., str], make_person: Callable[..., int]
) -> None:
    pid = make_person(
        phone=NUMBER, name_ko="김철수", email="kim@example.org", province_code="KH-12", language="ko"
    )
    assert "새로 고칠게요" in sms(NUMBER, "등록")
    for text in ("김철수 KIM CHEOLSU", "시엠립", "2", future(5)):
        sms(NUMBER, text)
    assert "등록 정보를 새로 고쳤어요" in sms(NUMBER, "네")
    [person] = _people(app)
    assert person.id == pid
    assert (person.name_ko, person.name_latin, person.province_code) == ("김철수", "KIM CHEOLSU", "KH-17")
    assert person.status == PersonStatus.TRAVELER
    # What the conversation does not ask about is kept.
    assert person.email == "kim@example.org"
    assert [p.e164 for p in person.phones] == [NUMBER]
    assert person.consent_method == ConsentMethod.SMS


def test_korean_province_menu_fits_two_segments(app: Flask) -> None:
    from outreach.i18n import for_person_language

    with app.test_request_context(), for_person_language("ko"):
        prompt = province_prompt("ko")
    info = count_segments(prompt)
    assert info.encoding == "UCS-2"
    assert len(prompt) <= 134 and info.segments <= 2
    for number, name in (("12", "프놈펜"), ("17", "시엠립"), ("18", "시아누크빌")):
        assert f"{number} {name}" in prompt


def test_unsigned_webhook_writes_nothing(app: Flask) -> None:
    client = app.test_client()
    response = client.post(
        "/twilio/sms",
        data={"MessageSid": "SM1", "From": NUMBER, "Body": "등록"},
        headers={"X-Twilio-Signature": "bad"},
    )
    assert response.status_code == 403
    assert _conversation(app) is None
