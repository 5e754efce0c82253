"""One-tap links ``/c/<code>``: valid, in the person's language, tiny; expired, tampered, changed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.checkins.links import ALPHABET, CODE_LENGTH
from outreach.checkins.operations import close_checkin, on_checkin_dispatch
from outreach.extensions import db
from outreach.models import (
    Answer,
    AnswerVia,
    Case,
    CaseEvent,
    CaseStatus,
    CheckIn,
    CheckInRecipient,
    CheckInResponse,
    Person,
    SafetyStatus,
    User,
)
from tests.checkins.conftest import case_notifications, code_for, expire, recipient, responses

MAX_PAGE_BYTES = 20 * 1024


def test_codes_are_short_unique_and_from_the_unambiguous_alphabet(
    app: Flask, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    for _ in range(30):
        make_person()
    checkin_id = make_checkin()
    with app.app_context():
        codes = list(
            db.session.scalars(
                sa.select(CheckInRecipient.code).where(CheckInRecipient.checkin_id == checkin_id)
            )
        )
        assert len(codes) == 30 and len(set(codes)) == 30
        assert all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
        assert not set("01IOL") & set(ALPHABET)
        # The dispatch hook may run again (a retried job): nobody is added twice, no code changes.
        checkin = db.session.get(CheckIn, checkin_id)
        assert checkin is not None
        on_checkin_dispatch(checkin.alert_id)
        db.session.commit()
        again = list(
            db.session.scalars(
                sa.select(CheckInRecipient.code).where(CheckInRecipient.checkin_id == checkin_id)
            )
        )
        assert sorted(again) == sorted(codes)


def test_valid_link_shows_a_tiny_page_in_the_persons_language(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    khmer = make_person(language="km")
    korean = make_person(language="ko")
    checkin_id = make_checkin()

    page = client.get(f"/c/{code_for(app, checkin_id, khmer)}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert len(page.get_data()) < MAX_PAGE_BYTES
    assert 'lang="km"' in html
    assert "តើអ្នកមានសុវត្ថិភាពទេក្រោយទឹកជំនន់" in html  # the question in Khmer
    assert "ខ្ញុំមានសុវត្ថិភាព" in html  # "I am safe" button in Khmer
    assert "<script" not in html  # works without JavaScript
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"

    page = client.get(f"/c/{code_for(app, checkin_id, korean)}")
    html = page.get_data(as_text=True)
    assert len(page.get_data()) < MAX_PAGE_BYTES
    assert 'lang="ko"' in html and "안전합니다" in html and "도움이 필요합니다" in html
    # The person may read it in another language.
    english = client.get(f"/c/{code_for(app, checkin_id, korean)}?lang=en").get_data(as_text=True)
    assert "I am safe" in english and "Are you safe after the flood" in english


def test_answering_safe_records_it_and_confirms(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person(language="en")
    checkin_id = make_checkin()
    code = code_for(app, checkin_id, person_id)

    response = client.post(f"/c/{code}", data={"safe": "1", "note": "At home", "location": "BKK1"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/c/{code}?done=1")
    confirmation = client.get(response.headers["Location"])
    assert "We have recorded that you are safe" in confirmation.get_data(as_text=True)
    assert len(confirmation.get_data()) < MAX_PAGE_BYTES

    with app.app_context():
        row = recipient(checkin_id, person_id)
        assert (
            row.answer == Answer.SAFE and row.answered_via == AnswerVia.LINK and row.answered_at is not None
        )
        (answer,) = responses(checkin_id, person_id)
        assert (answer.answer, answer.via, answer.text, answer.location) == (
            Answer.SAFE,
            AnswerVia.LINK,
            "At home",
            "BKK1",
        )
        person = db.session.get(Person, person_id)
        assert person is not None
        assert person.last_known_status == SafetyStatus.SAFE and person.last_checkin_at is not None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_a_double_tap_is_one_answer(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person()
    checkin_id = make_checkin()
    code = code_for(app, checkin_id, person_id)
    for _ in range(3):
        assert client.post(f"/c/{code}", data={"need_help": "1"}).status_code == 303
    with app.app_context():
        assert len(responses(checkin_id, person_id)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
        # The duty officer is paged once (SMS and e-mail), not three times.
        assert len(case_notifications()) == 2


def test_changed_answer_keeps_every_answer_and_the_latest_counts(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person(language="ko")
    checkin_id = make_checkin()
    code = code_for(app, checkin_id, person_id)

    assert client.post(f"/c/{code}", data={"safe": "1"}).status_code == 303
    assert (
        client.post(f"/c/{code}", data={"need_help": "1", "note": "물이 집 안까지 들어왔어요"}).status_code
        == 303
    )
    page = client.get(f"/c/{code}?done=1").get_data(as_text=True)
    assert "117" in page and "119" in page  # emergency numbers after "I need help"
    with app.app_context():
        assert recipient(checkin_id, person_id).answer == Answer.NEED_HELP
        case = db.session.scalar(sa.select(Case))
        assert case is not None and case.status == CaseStatus.OPEN and case.opened_via == "checkin_link"
        assert case.checkin_id == checkin_id

    assert client.post(f"/c/{code}", data={"safe": "1", "note": "구조됐어요"}).status_code == 303
    with app.app_context():
        history = responses(checkin_id, person_id)
        assert [r.answer for r in history] == [Answer.SAFE, Answer.NEED_HELP, Answer.SAFE]
        assert recipient(checkin_id, person_id).answer == Answer.SAFE
        person = db.session.get(Person, person_id)
        assert person is not None and person.last_known_status == SafetyStatus.SAFE
        # The case stays for an officer to close, with the new answer on its timeline.
        kinds = list(db.session.scalars(sa.select(CaseEvent.kind).order_by(CaseEvent.id)))
        assert kinds[0] == "opened" and kinds[-1] == "answered_safe"
    # The page says what the last answer was and that it can be changed.
    assert "안전합니다" in client.get(f"/c/{code}").get_data(as_text=True)


def test_expired_link_is_refused_and_writes_nothing(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person(language="en")
    checkin_id = make_checkin(grace_hours=6)
    code = code_for(app, checkin_id, person_id)

    expire(app, checkin_id, hours_ago=5)  # past the deadline, inside the grace period: still open
    assert client.get(f"/c/{code}").status_code == 200

    expire(app, checkin_id, hours_ago=7)  # past the grace period
    page = client.get(f"/c/{code}")
    assert page.status_code == 410
    assert "closed" in page.get_data(as_text=True)
    assert client.post(f"/c/{code}", data={"need_help": "1"}).status_code == 410
    with app.app_context():
        assert responses(checkin_id, person_id) == []
        assert recipient(checkin_id, person_id).answer == Answer.NO_RESPONSE


def test_closed_checkin_link_is_refused(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: User,
) -> None:
    person_id = make_person()
    checkin_id = make_checkin()
    with app.app_context():
        checkin = db.session.get(CheckIn, checkin_id)
        actor = db.session.get(User, officer.id)
        assert checkin is not None and actor is not None
        close_checkin(checkin, actor=actor)
        db.session.commit()
    assert client.post(f"/c/{code_for(app, checkin_id, person_id)}", data={"safe": "1"}).status_code == 410


def test_tampered_and_malformed_codes_find_nothing(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person()
    checkin_id = make_checkin()
    code = code_for(app, checkin_id, person_id)
    tampered = code[:-1] + ("2" if code[-1] != "2" else "3")
    for bad in (tampered, code + "2", code[:-1], "0OIL1234", "../admin", "%00"):
        response = client.post(f"/c/{bad}", data={"need_help": "1"})
        assert response.status_code == 404, bad
        assert len(response.get_data()) < MAX_PAGE_BYTES
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckInResponse)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    # Typed in lower case from a printed letter, it still works.
    assert client.get(f"/c/{code.lower()}").status_code == 200


def test_posting_without_a_choice_is_a_clear_error(
    app: Flask, client: FlaskClient, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    person_id = make_person(language="en")
    checkin_id = make_checkin()
    response = client.post(f"/c/{code_for(app, checkin_id, person_id)}", data={"note": "hello"})
    assert response.status_code == 400
    assert "not saved" in response.get_data(as_text=True)
    with app.app_context():
        assert responses(checkin_id, person_id) == []


def test_the_form_is_csrf_protected(
    make_app: Callable[..., Flask], make_person: Callable[..., int], officer: User
) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    person_id = make_person(language="en")
    from tests.checkins.conftest import QUESTIONS  # noqa: F401  (same questions as everywhere)

    with app.app_context():
        from datetime import timedelta

        from outreach.checkins.operations import create_checkin
        from outreach.models import utcnow

        checkin = create_checkin(
            title="t",
            questions={"ko": "안전하신가요?"},
            audience={},
            channels=["sms"],
            deadline=utcnow() + timedelta(hours=2),
            actor=db.session.get(User, officer.id),
        )
        on_checkin_dispatch(checkin.alert_id)
        db.session.commit()
        checkin_id = checkin.id
    code = code_for(app, checkin_id, person_id)

    forged = client.post(f"/c/{code}", data={"need_help": "1"})
    assert forged.status_code == 400  # no token: a friendly page, nothing recorded
    assert "not saved" in forged.get_data(as_text=True)
    with app.app_context():
        assert responses(checkin_id, person_id) == []

    page = client.get(f"/c/{code}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    ok = client.post(f"/c/{code}", data={"csrf_token": token.group(1), "safe": "1"})
    assert ok.status_code == 303
    with app.app_context():
        assert [r.answer for r in responses(checkin_id, person_id)] == [Answer.SAFE]


def test_failed_lookups_are_rate_limited(make_app: Callable[..., Flask]) -> None:
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    statuses = [client.get("/c/ZZZZZZZZ").status_code for _ in range(31)]
    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429


def test_forty_bad_codes_then_a_valid_need_help_tap_from_the_same_address_is_recorded(
    app: Flask,
    make_app: Callable[..., Flask],
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
) -> None:
    """One carrier-NAT address: someone's wrong codes must never cost another person their answer."""
    person_id = make_person(phone="+85512630001", language="km")
    checkin_id = make_checkin()
    code = code_for(app, checkin_id, person_id)
    limited = make_app(RATELIMIT_ENABLED=True)
    nat = {"REMOTE_ADDR": "203.0.113.7"}
    phone = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; SM-A155F)"}
    client = limited.test_client()

    bad = [f"{ALPHABET[i % len(ALPHABET)] * 7}{ALPHABET[(i + 1) % len(ALPHABET)]}" for i in range(40)]
    statuses = [client.get(f"/c/{bad_code}", environ_base=nat, headers=phone).status_code for bad_code in bad]
    assert statuses == [404] * 30 + [429] * 10
    refused = client.get("/c/ZZZZZZZZ", environ_base=nat, headers=phone)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert "1분 후에" in refused.get_data(as_text=True)  # the reason, in Korean (no known person: ko)
    # Another phone behind the same address still gets the plain "not valid" answer for a typo.
    other_phone = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)"}
    assert client.get("/c/ZZZZZZZZ", environ_base=nat, headers=other_phone).status_code == 404

    # The valid code, from the very address and browser that is over its limit: shown and recorded.
    assert client.get(f"/c/{code}", environ_base=nat, headers=phone).status_code == 200
    tapped = client.post(
        f"/c/{code}", data={"need_help": "1", "note": "locked in"}, environ_base=nat, headers=phone
    )
    assert tapped.status_code == 303
    with app.app_context():
        assert [r.answer for r in responses(checkin_id, person_id)] == [Answer.NEED_HELP]
        case = db.session.scalar(sa.select(Case).where(Case.person_id == person_id))
        assert case is not None and case.status == CaseStatus.OPEN
        assert case_notifications(), "the duty officer is paged"


def test_sms_body_carries_the_personal_link(
    app: Flask, make_person: Callable[..., int], make_checkin: Callable[..., int]
) -> None:
    from outreach.checkins.render import link_extra

    korean = make_person(language="ko")
    english = make_person(language="en")
    checkin_id = make_checkin(channels=("sms", "email"))
    with app.app_context():
        checkin = db.session.get(CheckIn, checkin_id)
        assert checkin is not None
        extras = link_extra(checkin.alert, [korean, english], {korean: "ko", english: "en"}, "sms")
        assert f"http://localhost/c/{code_for(app, checkin_id, korean)}" in extras[korean]
        assert "1 = 안전" in extras[korean]
        assert extras[english].startswith("Reply 1 = safe, 2 = need help")
        # Short enough to sit beside the question in an SMS.
        assert len(extras[english]) < 80
        email = link_extra(checkin.alert, [english], {english: "en"}, "email")[english]
        assert code_for(app, checkin_id, english) in email and "Cambodia time" in email


def test_a_code_that_collides_is_replaced(
    app: Flask,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from outreach.checkins import operations

    first = make_person()
    second = make_person()
    earlier = make_checkin()
    taken = code_for(app, earlier, first)
    real = operations.new_codes
    rounds: list[int] = []

    def colliding(count: int) -> list[str]:
        rounds.append(count)
        # First round: the first person draws a code another check-in already uses.
        return [taken, *real(count - 1)] if len(rounds) == 1 else real(count)

    monkeypatch.setattr(operations, "new_codes", colliding)
    later = make_checkin()
    assert rounds == [2, 1]  # one retry, for the one person whose code collided
    with app.app_context():
        codes = dict(
            db.session.execute(
                sa.select(CheckInRecipient.person_id, CheckInRecipient.code).where(
                    CheckInRecipient.checkin_id == later
                )
            )
            .tuples()
            .all()
        )
    assert set(codes) == {first, second} and taken not in codes.values()
