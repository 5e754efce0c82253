"""SMS / WhatsApp replies through ``POST /twilio/sms``: every keyword in Korean, English and Khmer,
unknown replies, replies with no open check-in, SOS and STATUS."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.checkins.replies import PASS_THROUGH_WORDS, parse_reply
from outreach.extensions import db
from outreach.models import (
    Answer,
    AnswerVia,
    Case,
    CaseStatus,
    InboundMessage,
    InboundRoute,
    Person,
    SafetyStatus,
)
from tests.checkins.conftest import case_notifications, expire, recipient, responses, sms, twiml_text

SAFE_REPLIES = [
    "1", "SAFE", "safe", "Ok", "OK!", "I'm safe", "안전", "괜찮아요", "안전합니다", "괜찮아요.",
    "១", "សុខសប្បាយ", "ខ្ញុំមានសុវត្ថិភាព", "មិនអីទេ", "１",
]  # fmt: skip
HELP_REPLIES = [
    "2", "SOS", "sos", "Need help", "DANGER", "도움", "위험", "도와주세요", "도움 필요",
    "២", "ជួយ", "ជួយផង", "គ្រោះថ្នាក់", "ត្រូវការជំនួយ",
]  # fmt: skip


@pytest.mark.parametrize("text", SAFE_REPLIES)
def test_safe_keywords(text: str) -> None:
    assert parse_reply(text).answer == Answer.SAFE


@pytest.mark.parametrize("text", HELP_REPLIES)
def test_help_keywords(text: str) -> None:
    assert parse_reply(text).answer == Answer.NEED_HELP


@pytest.mark.parametrize("text", ["HELP", "help", "INFO", "STOP", "hello", "12", "1 2 3?", "", "안녕하세요"])
def test_other_texts_are_not_answers(text: str) -> None:
    # HELP is the carriers' keyword: they answer it themselves; it is never a call for help here.
    assert parse_reply(text).answer is None


def test_first_word_answers_and_the_rest_is_a_note() -> None:
    parsed = parse_reply("2 water up to the roof")
    assert (parsed.answer, parsed.note) == (Answer.NEED_HELP, "water up to the roof")
    assert parse_reply("SOS 물이 집 안까지 들어왔어요").answer == Answer.NEED_HELP
    assert parse_reply("안전 감사합니다").answer == Answer.SAFE


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("ko", "안전", "안전하다고 기록했습니다"),
        ("en", "SAFE", "We have recorded that you are safe"),
        ("km", "សុខសប្បាយ", "យើងបានកត់ត្រាថាអ្នកមានសុវត្ថិភាព"),
        ("ko", "1", "안전하다고 기록했습니다"),
    ],
)
def test_safe_reply_is_recorded_and_answered_in_the_persons_language(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    language: str,
    text: str,
    expected: str,
) -> None:
    person_id = make_person(phone="+85512345001", language=language)
    checkin_id = make_checkin()
    reply = sms(client, "+85512345001", text)
    assert expected in twiml_text(reply)
    with app.app_context():
        assert recipient(checkin_id, person_id).answer == Answer.SAFE
        (answer,) = responses(checkin_id, person_id)
        assert answer.via == AnswerVia.SMS and answer.text == text and answer.inbound_id is not None
        inbound = db.session.get(InboundMessage, answer.inbound_id)
        assert inbound is not None and inbound.routed_to == InboundRoute.CHECKIN
        person = db.session.get(Person, person_id)
        assert person is not None and person.last_known_status == SafetyStatus.SAFE
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("ko", "도움", "당직 영사에게 알렸으며"),
        ("ko", "위험", "117"),
        ("en", "SOS", "duty officer"),
        ("en", "2", "duty officer"),
        ("km", "ជួយ", "មន្ត្រីប្រចាំការ"),
        ("km", "២", "មន្ត្រីប្រចាំការ"),
    ],
)
def test_help_reply_opens_a_case_and_pages_the_duty_officer(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    language: str,
    text: str,
    expected: str,
) -> None:
    person_id = make_person(phone="+85512345002", language=language)
    checkin_id = make_checkin()
    assert expected in twiml_text(sms(client, "+85512345002", text))
    with app.app_context():
        assert recipient(checkin_id, person_id).answer == Answer.NEED_HELP
        case = db.session.scalar(sa.select(Case))
        assert case is not None
        assert (case.person_id, case.status, case.opened_via, case.checkin_id) == (
            person_id,
            CaseStatus.OPEN,
            "checkin_sms",
            checkin_id,
        )
        notes = case_notifications()
        assert sorted(m.channel for m in notes) == ["email", "sms"]
        assert {m.to_address for m in notes if m.channel == "sms"} == {"+85512000001"}
        # Rendered in the officer's language (Korean) with a link to the case.
        sms_body = next(m.body for m in notes if m.channel == "sms")
        assert sms_body is not None and "도움 요청" in sms_body and f"/staff/cases/{case.id}" in sms_body


def test_whatsapp_reply_is_an_answer_by_whatsapp(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person(phone="+821012345678", language="ko", whatsapp=True)
    checkin_id = make_checkin(channels=("sms", "whatsapp"))
    sms(client, "whatsapp:+821012345678", "괜찮아요")
    with app.app_context():
        (answer,) = responses(checkin_id, person_id)
        assert (answer.answer, answer.via) == (Answer.SAFE, AnswerVia.WHATSAPP)


def test_latest_reply_counts_and_every_reply_is_kept(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person(phone="+85512345003", language="en")
    checkin_id = make_checkin()
    sms(client, "+85512345003", "2 the road is flooded")
    sms(client, "+85512345003", "1")
    with app.app_context():
        history = responses(checkin_id, person_id)
        assert [(r.answer, r.text) for r in history] == [
            (Answer.NEED_HELP, "2 the road is flooded"),
            (Answer.SAFE, "1"),
        ]
        assert recipient(checkin_id, person_id).answer == Answer.SAFE
        case = db.session.scalar(sa.select(Case))
        assert case is not None and "the road is flooded" in (case.summary or "")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ko", "안전하시면 1, 도움이 필요하시면 2로 답장해 주세요"),
        ("en", "Reply 1 if you are safe or 2 if you need help"),
        ("km", "ឆ្លើយ 1 បើអ្នកមានសុវត្ថិភាព"),
    ],
)
def test_unknown_reply_goes_to_the_inbox_with_a_clarification(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    language: str,
    expected: str,
) -> None:
    person_id = make_person(phone="+85512345004", language=language)
    checkin_id = make_checkin()
    reply = sms(client, "+85512345004", "Is the airport open?")
    assert expected in twiml_text(reply)
    with app.app_context():
        inbound = db.session.scalar(sa.select(InboundMessage))
        assert inbound is not None
        assert inbound.routed_to == InboundRoute.INBOX and inbound.body == "Is the airport open?"
        assert inbound.person_id == person_id
        assert responses(checkin_id, person_id) == []
        assert recipient(checkin_id, person_id).answer == Answer.NO_RESPONSE
    # The staff inbox shows it.
    from outreach.models import User

    with app.app_context():
        officer = db.session.scalar(sa.select(User))
        assert officer is not None
    from tests.conftest import login

    login(client, officer)
    assert "Is the airport open?" in client.get("/staff/inbox").get_data(as_text=True)


def test_reply_without_an_open_checkin_reaches_the_inbox(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person(phone="+85512345005", language="en")
    checkin_id = make_checkin(grace_hours=1)
    expire(app, checkin_id, hours_ago=2)  # closed: a "1" now is not an answer
    sms(client, "+85512345005", "1")
    with app.app_context():
        inbound = db.session.scalar(sa.select(InboundMessage))
        assert inbound is not None and inbound.routed_to == InboundRoute.INBOX
        assert responses(checkin_id, person_id) == []


def test_unknown_number_with_no_checkin_reaches_the_inbox(app: Flask, client: FlaskClient) -> None:
    sms(client, "+85599000111", "hello embassy")
    with app.app_context():
        inbound = db.session.scalar(sa.select(InboundMessage))
        assert inbound is not None and inbound.routed_to == InboundRoute.INBOX and inbound.person_id is None


def test_sos_without_a_checkin_still_opens_a_case_at_once(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], officer: object
) -> None:
    person_id = make_person(phone="+85512345006", language="ko")
    assert "당직 영사에게 알렸으며" in twiml_text(sms(client, "+85512345006", "SOS 교통사고가 났어요"))
    with app.app_context():
        case = db.session.scalar(sa.select(Case))
        assert case is not None
        assert (case.person_id, case.opened_via, case.checkin_id) == (person_id, "sos_keyword", None)
        inbound = db.session.scalar(sa.select(InboundMessage))
        assert inbound is not None and inbound.routed_to == InboundRoute.KEYWORD
        assert len(case_notifications()) == 2
        person = db.session.get(Person, person_id)
        assert person is not None


def test_sos_from_an_unregistered_number_opens_a_case_for_that_number(
    app: Flask, client: FlaskClient, officer: object
) -> None:
    reply = sms(client, "+85599000222", "위험")
    assert "117" in twiml_text(reply)
    with app.app_context():
        case = db.session.scalar(sa.select(Case))
        assert case is not None
        assert case.person_id is None and case.contact_address == "+85599000222"
        assert case.opened_via == "sos_keyword"
        assert len(case_notifications()) == 2
    # A second call from the same number joins the same case.
    sms(client, "+85599000222", "SOS")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_status_keyword_answers_with_the_persons_status(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    make_person(phone="+85512345007", language="en", name_ko=None, name_latin="KIM MINSU")
    make_checkin()
    text = twiml_text(sms(client, "+85512345007", "STATUS"))
    assert "KIM MINSU" in text and "Phnom Penh" in text and "A check-in is open" in text
    assert "not registered" in twiml_text(sms(client, "+85599000333", "status"))
    with app.app_context():
        routes = set(db.session.scalars(sa.select(InboundMessage.routed_to)))
        assert routes == {InboundRoute.KEYWORD}


def test_other_areas_keywords_pass_through_the_checkin_handler() -> None:
    from outreach.checkins.replies import normalise

    for word in ("REGISTER", "등록", "STOP", "START", "STATUS", "HELP"):
        assert normalise(word) in PASS_THROUGH_WORDS
