"""Demo data: realistic people across the provinces and languages, and one login per role."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from outreach.accounts import create_user
from outreach.extensions import db
from outreach.models import (
    ConsentMethod,
    Person,
    PersonStatus,
    PhoneKind,
    PhoneNumber,
    Province,
    Role,
    User,
    utcnow,
)

SURNAMES = [
    ("김", "KIM"),
    ("이", "LEE"),
    ("박", "PARK"),
    ("최", "CHOI"),
    ("정", "JUNG"),
    ("강", "KANG"),
    ("조", "CHO"),
    ("윤", "YOON"),
    ("장", "JANG"),
    ("임", "LIM"),
    ("한", "HAN"),
    ("오", "OH"),
]
GIVEN = [
    ("민", "MIN"),
    ("서", "SEO"),
    ("지", "JI"),
    ("현", "HYUN"),
    ("준", "JUN"),
    ("우", "WOO"),
    ("영", "YOUNG"),
    ("수", "SU"),
    ("하", "HA"),
    ("진", "JIN"),
    ("은", "EUN"),
    ("호", "HO"),
]
# Where Koreans in Cambodia live and travel: mostly Phnom Penh, Siem Reap and Sihanoukville.
PROVINCE_WEIGHTS = {"KH-12": 50, "KH-17": 15, "KH-18": 12, "KH-8": 5, "KH-2": 3, "KH-7": 3, "KH-23": 2}

DEMO_PASSWORD = "demo-password-1"  # printed demo logins for a local machine only
DEMO_LOGINS = [
    (Role.ADMIN, "admin@demo.outreach", "관리자"),
    (Role.OFFICER, "officer@demo.outreach", "영사 담당관"),
    (Role.COMMUNITY_REP, "rep@demo.outreach", "한인회 대표"),
]


def _demo_users() -> list[tuple[str, str, str]]:
    logins = []
    for role, email, name in DEMO_LOGINS:
        existing = db.session.scalar(sa.select(User).where(User.email == email))
        if existing is None:
            create_user(
                email=email,
                role=role,
                name=name,
                password=DEMO_PASSWORD,
                # Outside the demo people's +85512xxxxxx range: a number belongs to one person.
                phone="+85517000001" if role == Role.OFFICER else None,
                on_duty=role == Role.OFFICER,
                organisation="재캄보디아 한인회" if role == Role.COMMUNITY_REP else None,
                province_code="KH-12" if role == Role.COMMUNITY_REP else None,
            )
        logins.append((role.value, email, DEMO_PASSWORD))
    return logins


def seed_demo(count: int, seed: int = 2025) -> tuple[int, list[tuple[str, str, str]]]:
    """Add up to ``count`` demo people and the demo logins; returns (people added, logins).

    Person ``i`` is drawn from its own random stream, so running this again draws the same people
    and adds none of them twice (their phone numbers are already taken).
    """
    provinces = list(db.session.scalars(sa.select(Province.code)))
    weights = [PROVINCE_WEIGHTS.get(code, 1) for code in provinces]
    taken = set(db.session.scalars(sa.select(PhoneNumber.e164)))
    today = utcnow().date()
    now = utcnow()
    people_rows = []
    phones: list[tuple[str, PhoneKind]] = []
    for i in range(count):
        rng = random.Random(f"{seed}-{i}")
        surname, given1, given2 = rng.choice(SURNAMES), rng.choice(GIVEN), rng.choice(GIVEN)
        traveler = rng.random() < 0.35
        language = rng.choices(["ko", "en", "km"], weights=[85, 12, 3])[0]
        number = f"+85512{i:06d}" if rng.random() < 0.8 else f"+8210{55000000 + i:08d}"
        if number in taken:
            continue
        taken.add(number)
        arrival = today - timedelta(days=rng.randint(1, 20) if traveler else rng.randint(60, 3000))
        people_rows.append(
            {
                "name_ko": surname[0] + given1[0] + given2[0],
                "name_latin": f"{surname[1]} {given1[1]}{given2[1].lower()}",
                "email": f"demo{i}@example.org" if rng.random() < 0.6 else None,
                "language": language,
                "province_code": rng.choices(provinces, weights=weights)[0],
                "status": PersonStatus.TRAVELER if traveler else PersonStatus.RESIDENT,
                "arrival_date": arrival,
                "departure_date": today + timedelta(days=rng.randint(1, 14)) if traveler else None,
                "consent_at": now,
                "consent_method": ConsentMethod.IMPORT,
                "consent_version": "2025-11",
                "source": "demo",
                "created_at": now,
                "updated_at": now,
            }
        )
        phones.append((number, PhoneKind.KR if number.startswith("+82") else PhoneKind.KH))
    if people_rows:
        ids = db.session.scalars(
            sa.insert(Person).returning(Person.id, sort_by_parameter_order=True), people_rows
        ).all()
        db.session.execute(
            sa.insert(PhoneNumber),
            [
                {
                    "person_id": pid,
                    "e164": e164,
                    "kind": kind,
                    "is_primary": True,
                    "is_whatsapp": i % 3 == 0,
                    "created_at": now,
                }
                for i, (pid, (e164, kind)) in enumerate(zip(ids, phones, strict=True))
            ],
        )
        _welcome_a_few(list(ids))
    return len(people_rows), _demo_users()


def _welcome_a_few(person_ids: list[int]) -> None:
    """Send the real registration confirmation to one demo person per language (and a few more), so
    the worker has something to send and the Outbox shows what residents receive."""
    from outreach.registry.notify import send_confirmation

    chosen: dict[str, int] = {}
    for person in db.session.scalars(sa.select(Person).where(Person.id.in_(person_ids[:200]))):
        chosen.setdefault(person.language, person.id)
    extra = [pid for pid in person_ids[:5] if pid not in chosen.values()]
    # The links in the message are built with url_for, which needs a request: from the command line
    # there is none, so build them as seen from the public address.
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"]):
        for pid in [*chosen.values(), *extra]:
            welcomed = db.session.get(Person, pid)
            if welcomed is not None:
                send_confirmation(welcomed, reason="registered", throttle=False)
