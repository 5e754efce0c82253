"""A call for help typed in any step of the SMS registration, in Korean, English and Khmer: it opens a
case, pages the duty officer, is not saved as an answer, and the same question is asked again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.models import (
    Case,
    CaseStatus,
    InboundMessage,
    InboundRoute,
    Message,
    Person,
    RegistrationConversation,
    SourceKind,
    utcnow,
)
from tests.registry.conftest import future

NUMBER = "+85512777001"
OFFICER_PHONE = "+85512000901"

#: Per language: the start keyword, a call for help, the answers of each step, and words of the reply
#: and of each step's question (as the catalogs say them).
LANGUAGES: dict[str, dict[str, Any]] = {
    "ko": {
        "start": "등록",
        "help": "살려주세요",
        "answers": {
            "name": "홍길동",
            "province": "12",
            "status": "2",
            "departure": future(9),
            "consent": "예",
        },
        "told": "당직 영사에게 알렸으며",
        "asks": {
            "name": "이름을 보내 주세요",
            "province": "지역 번호를 보내 주세요",
            "status": "거주하시면 1",
            "departure": "언제 출국하세요",
            "consent": "동의하시면",
        },
        "done": "등록이 완료되었어요",
    },
    "en": {
        "start": "REGISTER",
        "help": "emergency",
        "answers": {
            "name": "HONG GILDONG",
            "province": "12",
            "status": "2",
            "departure": future(9),
            "consent": "YES",
        },
        "told": "We have told the embassy duty officer",
        "asks": {
            "name": "What is your name?",
            "province": "Where do you stay?",
            "status": "Do you live in Cambodia?",
            "departure": "When do you leave Cambodia?",
            "consent": "to agree",
        },
        "done": "you are registered",
    },
    "km": {
        "start": "ចុះឈ្មោះ",
        "help": "ជួយ",
        "answers": {
            "name": "SOK DARA",
            "province": "12",
            "status": "2",
            "departure": future(9),
            "consent": "បាទ",
        },
        "told": "យើងបានប្រាប់មន្ត្រីប្រចាំការ",
        "asks": {
            "name": "តើអ្នកឈ្មោះអ្វី?",
            "province": "អ្នកស្នាក់នៅឯណា?",
            "status": "តើអ្នករស់នៅកម្ពុជាទេ?",
            "departure": "តើអ្នកចាកចេញពីកម្ពុជានៅពេលណា?",
            "consent": "ដើម្បីយល់ព្រម",
        },
        "done": None,
    },
}
STEPS = ["name", "province", "status", "departure", "consent"]


def _conversation(app: Flask) -> RegistrationConversation | None:
    with app.app_context():
        conv = db.session.scalar(
            sa.select(RegistrationConversation).where(RegistrationConversation.address == NUMBER)
        )
        if conv is not None:
            db.session.expunge(conv)
        return conv


def _cases(app: Flask) -> list[tuple[CaseStatus, str | None, str | None]]:
    with app.app_context():
        return [
            (c.status, c.contact_address, c.opened_via)
            for c in db.session.scalars(sa.select(Case).order_by(Case.id))
        ]


def _pages(app: Flask) -> list[str | None]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(Message.to_address).where(Message.source_kind == SourceKind.CASE_NOTIFY)
            )
        )


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_a_call_for_help_in_any_step_opens_a_case_pages_and_asks_again(
    app: Flask,
    sms: Callable[..., str],
    make_user: Callable[..., Any],
    language: str,
    step: str,
) -> None:
    make_user("officer", name="당직영사", phone=OFFICER_PHONE, on_duty=True, language="ko")
    words = LANGUAGES[language]
    answers: dict[str, str] = words["answers"]
    sms(NUMBER, words["start"])
    for earlier in STEPS[: STEPS.index(step)]:
        sms(NUMBER, answers[earlier])
    before = _conversation(app)
    assert before is not None and before.step == step

    reply = sms(NUMBER, words["help"])

    # The person is told help is coming, and is asked the same question again.
    assert words["told"] in reply
    assert words["asks"][step] in reply
    # A case for the duty officer, paged at once.
    assert _cases(app) == [(CaseStatus.OPEN, NUMBER, "sos_keyword")]
    assert OFFICER_PHONE in _pages(app)  # (and an e-mail)
    # Nothing of the call for help became an answer; the conversation waits on the same step.
    after = _conversation(app)
    assert after is not None and after.step == step
    assert after.data == before.data
    assert words["help"] not in str(after.data)
    with app.app_context():
        routed = db.session.scalars(
            sa.select(InboundMessage.routed_to).order_by(InboundMessage.id.desc())
        ).first()
    assert routed == InboundRoute.KEYWORD

    # The registration goes on from there and finishes with the real answers.
    for later in STEPS[STEPS.index(step) :]:
        last = sms(NUMBER, answers[later])
    if words["done"]:
        assert words["done"] in last
    # Registered: only the optional duress-word question is left.
    conv = _conversation(app)
    assert conv is not None and conv.step == "duress"
    with app.app_context():
        person = db.session.scalar(sa.select(Person))
        assert person is not None
        assert words["help"] not in {person.name_ko, person.name_latin}
        assert (person.name_ko or person.name_latin) in {answers["name"], answers["name"].upper()}
        assert person.language == language


@pytest.mark.parametrize(
    "text", ["SOS", "sos 물이 차요", "도움", "위험해요", "살려줘", "help me", "I need help", "ជួយខ្ញុំ", "អាសន្ន"]
)
def test_every_help_word_interrupts_the_name_step(
    app: Flask, sms: Callable[..., str], make_user: Callable[..., Any], text: str
) -> None:
    make_user("officer", name="당직영사", phone=OFFICER_PHONE, on_duty=True, language="ko")
    sms(NUMBER, "등록")
    reply = sms(NUMBER, text)
    assert "당직 영사에게 알렸으며" in reply and "이름을 보내 주세요" in reply
    assert len(_cases(app)) == 1
    conv = _conversation(app)
    assert conv is not None and conv.step == "name" and "name_ko" not in conv.data


def test_two_is_still_an_answer_in_the_numbered_steps(app: Flask, sms: Callable[..., str]) -> None:
    """In the registration "2" is Battambang or "traveling", not a call for help (the check-in's 2 is)."""
    sms(NUMBER, "등록")
    sms(NUMBER, "홍길동")
    sms(NUMBER, "2")
    conv = _conversation(app)
    assert conv is not None and conv.step == "status" and conv.data["province"] == "KH-2"
    assert "출국" in sms(NUMBER, "2")
    assert _cases(app) == []


def test_a_call_for_help_in_an_expired_registration_still_opens_a_case(
    app: Flask, sms: Callable[..., str], make_user: Callable[..., Any]
) -> None:
    make_user("officer", name="당직영사", phone=OFFICER_PHONE, on_duty=True, language="ko")
    sms(NUMBER, "REGISTER")
    sms(NUMBER, "HONG GILDONG")
    with app.app_context():
        conv = db.session.scalar(sa.select(RegistrationConversation))
        assert conv is not None
        conv.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    reply = sms(NUMBER, "SOS")
    assert "We have told the embassy duty officer" in reply
    assert _cases(app) == [(CaseStatus.OPEN, NUMBER, "sos_keyword")]
    assert OFFICER_PHONE in _pages(app)
    assert _conversation(app) is None  # it had expired: it ends here
