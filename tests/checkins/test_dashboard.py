"""The dashboard: counts per province equal the stored answers, the chart is drawn on the server,
the live JSON, filtered lists, staff answers and the audited call list."""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from outreach.checkins.operations import record_answer
from outreach.extensions import db
from outreach.models import (
    Answer,
    AnswerVia,
    AuditEvent,
    CheckInEvent,
    CheckInRecipient,
    CheckInResponse,
    User,
)
from tests.checkins.conftest import recipient
from tests.conftest import login

PROVINCES = ["KH-12", "KH-17", "KH-18"]


def _answer_randomly(app: Flask, checkin_id: int, people: list[int], seed: int = 7) -> None:
    rng = random.Random(seed)
    with app.app_context():
        for person_id in people:
            for _ in range(rng.randint(0, 3)):  # nobody, once, or a changed mind
                choice = rng.choice([Answer.SAFE, Answer.NEED_HELP])
                record_answer(
                    recipient(checkin_id, person_id), choice, rng.choice(list(AnswerVia)), f"n{rng.random()}"
                )
        db.session.commit()


def _expected(checkin_id: int) -> dict[tuple[str, str], int]:
    """Count from the stored answers themselves: each person's latest response, else no answer."""
    latest: dict[int, str] = {}
    for response in db.session.scalars(
        sa.select(CheckInResponse)
        .where(CheckInResponse.checkin_id == checkin_id)
        .order_by(CheckInResponse.id)
    ):
        latest[response.person_id] = response.answer.value
    counts: Counter[tuple[str, str]] = Counter()
    for person_id, province in db.session.execute(
        sa.select(CheckInRecipient.person_id, CheckInRecipient.province_code).where(
            CheckInRecipient.checkin_id == checkin_id
        )
    ):
        counts[(province, latest.get(person_id, "no_response"))] += 1
    return dict(counts)


def test_counts_equal_the_stored_answers(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: User,
) -> None:
    people = [make_person(province_code=PROVINCES[i % 3]) for i in range(36)]
    checkin_id = make_checkin()
    _answer_randomly(app, checkin_id, people)
    login(client, officer)

    data = client.get(f"/staff/checkins/{checkin_id}/counts.json").get_json()
    with app.app_context():
        expected = _expected(checkin_id)
    got = {
        (p["code"], answer): p[answer]
        for p in data["provinces"]
        for answer in ("safe", "need_help", "no_response")
        if p[answer]
    }
    assert got == expected
    assert sum(expected.values()) == data["totals"]["total"] == 36
    for answer in ("safe", "need_help", "no_response"):
        assert data["totals"][answer] == sum(n for (_, a), n in expected.items() if a == answer)
    assert {p["code"] for p in data["provinces"]} == set(PROVINCES)
    assert (
        next(p for p in data["provinces"] if p["code"] == "KH-17")["name"] == "시엠립"
    )  # officer reads Korean

    page = client.get(f"/staff/checkins/{checkin_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # Drawn on the server: one bar group per province, no external script or stylesheet.
    assert html.count("<g data-province=") == 3 and '<rect class="need_help"' in html
    assert "cdn" not in html.lower() and 'rel="stylesheet"' not in html
    # Its one script is our own static file (the CSP allows no inline script).
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/checkin-dashboard.js" defer>']
    assert '<noscript><meta http-equiv="refresh"' in html
    need_help_total = data["totals"]["need_help"]
    assert f'<strong data-k="|need_help">{need_help_total}</strong>' in html


def test_filtered_lists_show_only_that_answer(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: User,
) -> None:
    safe = make_person(name_ko="안전한사람")
    helpme = make_person(name_ko="도움필요한사람")
    make_person(name_ko="무응답인사람", province_code="KH-17")
    checkin_id = make_checkin()
    with app.app_context():
        record_answer(recipient(checkin_id, safe), Answer.SAFE, AnswerVia.LINK)
        record_answer(
            recipient(checkin_id, helpme), Answer.NEED_HELP, AnswerVia.LINK, "다리를 다쳤어요", "Toul Kork"
        )
        db.session.commit()
    login(client, officer)
    need = client.get(f"/staff/checkins/{checkin_id}/people?answer=need_help").get_data(as_text=True)
    assert "도움필요한사람" in need and "다리를 다쳤어요" in need and "Toul Kork" in need
    assert "안전한사람" not in need and "무응답인사람" not in need
    none = client.get(f"/staff/checkins/{checkin_id}/people?answer=no_response&province=KH-17").get_data(
        as_text=True
    )
    assert "무응답인사람" in none and "도움필요한사람" not in none
    assert client.get(f"/staff/checkins/{checkin_id}/people?answer=maybe").status_code == 400
    # The dashboard lists who asked for help.
    assert "다리를 다쳤어요" in client.get(f"/staff/checkins/{checkin_id}").get_data(as_text=True)


def test_staff_record_an_answer_learned_by_phone(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: User,
) -> None:
    person_id = make_person()
    checkin_id = make_checkin()
    login(client, officer)
    response = client.post(
        f"/staff/checkins/{checkin_id}/people/{person_id}/answer",
        data={"answer": "safe", "note": "called, at home", "next": f"/staff/checkins/{checkin_id}/people"},
    )
    assert response.status_code == 302
    with app.app_context():
        row = recipient(checkin_id, person_id)
        assert row.answer == Answer.SAFE and row.answered_via == AnswerVia.STAFF
        event = db.session.scalar(sa.select(CheckInEvent))
        assert event is not None and event.kind == "staff_answer"
        assert db.session.scalar(
            sa.select(AuditEvent.action).where(AuditEvent.action == "checkin.staff_answer")
        )
    # An open redirect is not possible through ``next``.
    bad = client.post(
        f"/staff/checkins/{checkin_id}/people/{person_id}/answer",
        data={"answer": "safe", "next": "https://evil.example/"},
    )
    assert bad.headers["Location"].startswith("/staff/")


def test_call_list_is_non_responders_only_and_audited(
    app: Flask,
    client: FlaskClient,
    make_person: Callable[..., int],
    make_checkin: Callable[..., int],
    officer: User,
) -> None:
    answered = make_person(phone="+85512500001")
    silent = make_person(
        phone="+85512500002",
        name_latin="=HYPERLINK(evil)",
        emergency_name="Mom",
        emergency_phone="+821055556666",
        emergency_contact_consent=True,
    )
    no_consent = make_person(phone="+85512500003", emergency_name="Dad", emergency_phone="+821077778888")
    checkin_id = make_checkin()
    with app.app_context():
        record_answer(recipient(checkin_id, answered), Answer.SAFE, AnswerVia.SMS, "1")
        db.session.commit()
    login(client, officer)
    response = client.get(f"/staff/checkins/{checkin_id}/call-list.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(r["phone"] for r in rows) == ["+85512500002", "+85512500003"]
    by_phone = {r["phone"]: r for r in rows}
    assert by_phone["+85512500002"]["name_latin"] == "'=HYPERLINK(evil)"  # no formula in a spreadsheet
    assert by_phone["+85512500002"]["emergency_phone"] == "+821055556666"
    # Without consent the emergency contact is not handed to the phone team.
    assert (
        by_phone["+85512500003"]["emergency_phone"] == ""
        and by_phone["+85512500003"]["emergency_contact_consent"] == "no"
    )
    with app.app_context():
        audit = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "checkin.call_list_export")
        )
        assert audit is not None and audit.actor_id == officer.id and audit.details["rows"] == 2
        assert audit.target_id == checkin_id
    del no_consent, silent


def test_community_reps_cannot_see_checkins(
    app: Flask, client: FlaskClient, make_user: Callable[..., Any], make_checkin: Callable[..., int]
) -> None:
    checkin_id = make_checkin()
    rep = make_user("community_rep", province_code="KH-12")
    login(client, rep)
    for url in (
        f"/staff/checkins/{checkin_id}",
        f"/staff/checkins/{checkin_id}/counts.json",
        f"/staff/checkins/{checkin_id}/call-list.csv",
    ):
        assert client.get(url).status_code == 403
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "checkin.call_list_export")
            )
            == 0
        )
