"""The signed self-service link: view and update, departure date, channel opt-outs, delete, and links
that are expired, tampered with or dead."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    InboundMessage,
    Message,
    MessageStatus,
    OptOut,
    OutboxEntry,
    Person,
    PhoneNumber,
    SourceKind,
    utcnow,
)
from outreach.registry.links import SALT, make_token
from tests.registry.conftest import errors_of, future, registration, text_of


def _token(app: Flask, person_id: int) -> str:
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        return make_token(person)


def _person(app: Flask, person_id: int) -> Person:
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        _ = person.phones
        db.session.expunge_all()
        return person


def _details(**overrides: str | None) -> dict[str, str]:
    data = registration(**overrides)
    data.pop("consent", None)
    return data


def test_link_shows_the_registration_in_the_persons_language(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    pid = make_person(language="en", name_latin="KIM MINSU", name_ko="김민수")
    page = client.get(f"/me/{_token(app, pid)}")
    assert page.status_code == 200
    html = page.data.decode()
    assert '<html lang="en">' in html
    assert "My registration" in html
    assert "김민수" in html
    korean = client.get(f"/me/{_token(app, pid)}?lang=ko").data.decode()
    assert "내 등록 정보" in korean


def test_update_details_is_saved_and_audited_without_personal_values(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    pid = make_person(phone="+85512345678")
    token = _token(app, pid)
    response = client.post(
        f"/me/{token}", data=_details(name_ko="홍길순", province="KH-17", email="new@example.org")
    )
    assert response.status_code == 302
    assert "saved=1" in response.headers["Location"]
    person = _person(app, pid)
    assert (person.name_ko, person.province_code, person.email) == ("홍길순", "KH-17", "new@example.org")
    assert {p.e164 for p in person.phones} == {"+85512345678", "+821012345678"}
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "person.update")).one()
        assert event.details["via"] == "self_service"
        assert {"name_ko", "province_code", "email", "phones"} <= set(event.details["fields"])
        assert "홍길순" not in str(event.details)
    assert "변경 내용을 저장했어요" in text_of(client.get(response.headers["Location"]).data)


def test_update_with_a_bad_number_changes_nothing(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    other = make_person(phone="+85512999999")
    pid = make_person(phone="+85512345678")
    token = _token(app, pid)
    bad = client.post(f"/me/{token}?lang=en", data=_details(phone_other="023 211 900", name_ko="바뀐이름"))
    assert bad.status_code == 200
    assert "This is a landline or internet number; enter a mobile number that can receive SMS." in errors_of(
        bad.data
    )
    taken = client.post(f"/me/{token}?lang=en", data=_details(phone_other="012 999 999", name_ko="바뀐이름"))
    assert "This number is already registered to another person." in errors_of(taken.data)
    assert _person(app, pid).name_ko != "바뀐이름"
    assert [p.e164 for p in _person(app, other).phones] == ["+85512999999"]


def test_set_and_extend_departure(app: Flask, client: FlaskClient, make_person: Callable[..., int]) -> None:
    pid = make_person(status="traveler", departure_date=utcnow().date() + timedelta(days=3))
    token = _token(app, pid)
    assert client.post(f"/me/{token}/departure", data={"departure_date": future(20)}).status_code == 302
    assert _person(app, pid).departure_date.isoformat() == future(20)  # type: ignore[union-attr]
    past = client.post(f"/me/{token}/departure?lang=en", data={"departure_date": future(-3)})
    assert "The departure date is in the past." in errors_of(past.data)
    garbled = client.post(f"/me/{token}/departure?lang=en", data={"departure_date": "soon"})
    assert "Enter the date as YYYY-MM-DD, e.g. 2025-12-31." in errors_of(garbled.data)
    assert _person(app, pid).departure_date.isoformat() == future(20)  # type: ignore[union-attr]


def test_opt_out_of_a_channel_and_back(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    pid = make_person(phone="+85512345678", email="me@example.org")
    with app.app_context():
        db.session.add(PhoneNumber(person_id=pid, e164="+821012345678", is_whatsapp=True))
        db.session.commit()
    token = _token(app, pid)
    # Unticking SMS (WhatsApp and e-mail stay ticked).
    assert client.post(f"/me/{token}/channels", data={"whatsapp": "y", "email": "y"}).status_code == 302
    with app.app_context():
        rows = {(o.channel, o.address, o.person_id, o.source) for o in db.session.scalars(sa.select(OptOut))}
        assert rows == {
            ("sms", "+85512345678", pid, "self_service"),
            ("sms", "+821012345678", pid, "self_service"),
        }
        # The messaging package honours it: no SMS is even created for an opted-out number.
        from outreach.messaging.outbound import queue_one

        assert (
            queue_one(
                channel="sms",
                to="+85512345678",
                body="x",
                source_kind=SourceKind.TEST,
                source_id=1,
                person_id=pid,
            )
            is None
        )
        db.session.rollback()
    page = client.get(f"/me/{token}").data.decode()
    # The page shows SMS unticked, the others ticked.
    assert '<input id="sms" name="sms" type="checkbox"' in page
    assert '<input checked id="email" name="email" type="checkbox"' in page
    assert client.post(f"/me/{token}/channels", data={"sms": "y", "whatsapp": "y"}).status_code == 302
    with app.app_context():
        rows = {(o.channel, o.address) for o in db.session.scalars(sa.select(OptOut))}
        assert rows == {("email", "me@example.org")}


def test_delete_leaves_an_anonymous_tombstone(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    pid = make_person(
        phone="+85512345678", email="me@example.org", emergency_name="엄마", district_note="BKK1"
    )
    with app.app_context():
        message = Message(
            source_kind=SourceKind.ALERT,
            source_id=1,
            person_id=pid,
            channel="sms",
            to_address="+85512345678",
            body="홍길동님 안전하세요?",
            status=MessageStatus.SENT,
        )
        db.session.add(message)
        db.session.flush()
        db.session.add(
            OutboxEntry(
                message_id=message.id,
                channel="sms",
                to_address="+85512345678",
                body="홍길동님 안전하세요?",
                sid="CONSOLE-X",
            )
        )
        db.session.add(
            InboundMessage(
                provider_sid="SMx1",
                channel="sms",
                from_address="+85512345678",
                body="저 홍길동인데요",
                person_id=pid,
                params={"From": "+85512345678"},
            )
        )
        # A message from the number before it was linked to the person (e.g. an SMS registration).
        db.session.add(
            InboundMessage(provider_sid="SMx2", channel="sms", from_address="+85512345678", body="등록")
        )
        db.session.add(OptOut(channel="email", address="me@example.org", person_id=pid, source="keyword"))
        db.session.commit()
    token = _token(app, pid)
    confirm_page = client.get(f"/me/{token}/delete")
    assert confirm_page.status_code == 200
    unconfirmed = client.post(f"/me/{token}/delete?lang=en", data={})
    assert "Tick the box to confirm." in errors_of(unconfirmed.data)
    assert _person(app, pid).deleted_at is None

    response = client.post(f"/me/{token}/delete", data={"confirm": "y"})
    assert response.status_code == 302
    assert "삭제" in text_of(client.get(response.headers["Location"]).data)
    tomb = _person(app, pid)
    assert tomb.deleted_at is not None
    assert tomb.phones == []
    for column in (
        "name_ko",
        "name_latin",
        "email",
        "province_code",
        "district_note",
        "emergency_name",
        "departure_date",
        "consent_at",
        "consent_version",
    ):
        assert getattr(tomb, column) is None, column
    with app.app_context():
        msg = db.session.scalars(sa.select(Message)).one()
        assert (msg.person_id, msg.to_address, msg.body) == (pid, None, None)
        assert db.session.scalars(sa.select(OutboxEntry.body)).one() == ""
        inbound = list(db.session.scalars(sa.select(InboundMessage)))
        assert [(i.body, i.from_address, i.params) for i in inbound] == [("", "", {}), ("", "", {})]
        # The opt-out stays (a STOP is honoured whoever owns the address next) but is unlinked.
        assert db.session.scalars(sa.select(OptOut.person_id)).one() is None
        assert (
            db.session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc())) == "person.delete"
        )
    # The old link is dead, and the number may register again as a new person.
    dead = client.get(f"/me/{token}")
    assert dead.status_code == 404
    assert (
        client.post(
            "/register", data=registration(phone="+85512345678", phone_other=None, whatsapp=None)
        ).status_code
        == 302
    )
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Person).where(Person.deleted_at.is_(None))
            )
            == 1
        )


def test_expired_link_gets_a_clear_page_and_a_way_to_a_new_one(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    pid = make_person()

    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 31 * 24 * 3600

    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT, signer=Yesterday).dumps([pid, 0])
    for path in (f"/me/{old}", f"/me/{old}/delete"):
        response = client.get(path + "?lang=en")
        assert response.status_code == 410
        assert "This link has expired" in response.data.decode()
        assert 'action="/register/link"' in response.data.decode()
    posted = client.post(f"/me/{old}/departure", data={"departure_date": future(3)})
    assert posted.status_code == 410


def test_tampered_links_are_refused_without_a_500(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    pid = make_person()
    other = make_person()
    token = _token(app, pid)
    payload, stamp, signature = token.split(".")
    # Change a character in the middle: the last base64 character carries padding bits, so
    # changing it can leave the decoded signature as it was.
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    other_payload = _token(app, other).split(".")[0]
    for bad in (
        f"{payload}.{stamp}.{flipped}",
        f"{other_payload}.{stamp}.{signature}",
        "nonsense",
        token[:-5],
    ):
        response = client.get(f"/me/{bad}?lang=en")
        assert response.status_code == 404, bad
        assert "This link is not valid" in response.data.decode()
    signed_elsewhere = URLSafeTimedSerializer("another-secret", salt=SALT).dumps([pid, 0])
    assert client.get(f"/me/{signed_elsewhere}").status_code == 404
    wrong_shape = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).dumps({"p": pid})
    assert client.get(f"/me/{wrong_shape}").status_code == 404
    deleted = client.post(f"/me/{token}/delete", data={"confirm": "y"})
    assert deleted.status_code == 302
    assert client.post(f"/me/{token}/delete", data={"confirm": "y"}).status_code == 404


def test_request_a_new_link(app: Flask, client: FlaskClient, make_person: Callable[..., int]) -> None:
    pid = make_person(phone="+85512345678", email="me@example.org", language="km")
    by_phone = client.post("/register/link", data={"contact": "012 345 678"})
    assert by_phone.status_code == 200
    by_email = client.post("/register/link", data={"contact": "ME@example.org"})
    unknown = client.post("/register/link", data={"contact": "012 888 888"})
    # Known or not, the answer is the same page.
    assert text_of(by_phone.data) == text_of(by_email.data) == text_of(unknown.data)
    with app.app_context():
        messages = list(db.session.scalars(sa.select(Message).order_by(Message.id)))
        assert [(m.channel, m.to_address, m.person_id, m.language) for m in messages] == [
            ("sms", "+85512345678", pid, "km"),
            ("email", "me@example.org", pid, "km"),
        ]
        assert "/me/" in (messages[0].body or "")
    bad = client.post("/register/link?lang=en", data={"contact": "12"})
    assert bad.status_code == 200
    assert errors_of(bad.data)


def test_links_are_not_sent_again_within_ten_minutes(
    app: Flask, client: FlaskClient, make_person: Callable[..., int]
) -> None:
    # Anyone can type someone's number into the forms; they must not be able to flood that phone.
    pid = make_person(phone="+85512345678")
    for _ in range(3):
        client.post("/register/link", data={"contact": "012 345 678"})
        client.post("/register", data=registration(phone_other=None, whatsapp=None, email=None))
    with app.app_context():
        assert db.session.scalars(sa.select(Message.person_id)).all() == [pid]
        # Ten minutes later, a new one may go.
        db.session.execute(sa.update(Message).values(created_at=utcnow() - timedelta(minutes=11)))
        db.session.commit()
    client.post("/register/link", data={"contact": "012 345 678"})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 2
