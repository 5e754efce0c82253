"""Staff search of the registry, fast with 100,000 people.

The query's shape decides which index answers it: digits search the numbers (equality on a whole
number, trigram substring otherwise), an ``@`` searches e-mail, anything else searches names (every
word must appear in the Hangul name, the Latin name or the e-mail). On PostgreSQL the substring
searches use the ``ix_trgm_*`` GIN indexes of migration 0002. Pages are keyset ("before id N"), so
the hundredth page costs what the first does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.extensions import db
from outreach.messaging.optouts import person_opted_out_clause
from outreach.models import Person, PersonStatus, PhoneNumber, SafetyStatus
from outreach.models.base import LANGUAGES
from outreach.registry.phones import PhoneError, digits_of, looks_like_phone, normalise_phone
from outreach.registry.presence import cambodia_today, present_conditions
from outreach.registry.provinces import CODES

PER_PAGE = 50
#: Pages count matches up to this many; beyond it they say "more than 10,000".
COUNT_CAP = 10_000


@dataclass
class PeopleFilter:
    q: str = ""
    province: str = ""
    status: str = ""
    language: str = ""
    safety: str = ""
    present: bool = False
    opted_out: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> PeopleFilter:
        """Read a filter from query arguments; unknown values are dropped rather than failing."""
        province = args.get("province", "")
        status = args.get("status", "")
        language = args.get("language", "")
        safety = args.get("safety", "")
        return cls(
            q=" ".join((args.get("q") or "").split())[:100],
            province=province if province in CODES else "",
            status=status if status in {s.value for s in PersonStatus} else "",
            language=language if language in LANGUAGES else "",
            safety=safety if safety in {s.value for s in SafetyStatus} else "",
            present=args.get("present") in {"1", "on", "true", "y"},
            opted_out=args.get("opted_out") in {"1", "on", "true", "y"},
        )

    def as_args(self) -> dict[str, str]:
        """The non-empty parts, for links (pager, export) that keep the filter."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if value is True:
                out[key] = "1"
            elif value:
                out[key] = str(value)
        return out

    @property
    def active(self) -> bool:
        return bool(self.as_args())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(value: str) -> str:
    return f"%{_escape(value)}%"


_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _name_word(word: str) -> sa.ColumnElement[bool]:
    """One word of a name search, shaped so that a trigram index can answer it.

    Trigrams need three characters; a shorter word is matched where it can be anchored instead:
    a one- or two-syllable Hangul word at the start or end of the name (surname, given name), a
    short Latin word at the start of a word of the name.
    """
    if _HANGUL.search(word):
        if len(word) >= 3:
            return Person.name_ko.like(_like(word), escape="\\")
        escaped = _escape(word)
        return sa.or_(
            Person.name_ko.like(f"{escaped}%", escape="\\"), Person.name_ko.like(f"%{escaped}", escape="\\")
        )
    if len(word) >= 3:
        pattern = _like(word)
        return sa.or_(Person.name_latin.ilike(pattern, escape="\\"), Person.email.ilike(pattern, escape="\\"))
    escaped = _escape(word)
    return sa.or_(
        Person.name_latin.ilike(f"{escaped}%", escape="\\"),
        Person.name_latin.ilike(f"% {escaped}%", escape="\\"),
    )


def _text_search(q: str) -> sa.ColumnElement[bool]:
    if looks_like_phone(q):
        try:
            e164 = normalise_phone(q).e164
        except PhoneError:
            e164 = None
        if e164 is not None:
            owned = sa.select(PhoneNumber.person_id).where(PhoneNumber.e164 == e164)
        else:
            owned = sa.select(PhoneNumber.person_id).where(
                PhoneNumber.e164.like(_like(digits_of(q)), escape="\\")
            )
        return Person.id.in_(owned)
    if "@" in q:
        return Person.email.ilike(_like(q), escape="\\")
    return sa.and_(*(_name_word(word) for word in q.split()))


def opted_out_clause() -> sa.ColumnElement[bool]:
    """Opted out on some channel. ``OptOut.person_id`` names the current owner of each address (see
    :func:`outreach.registry.operations.link_opt_outs`), so this is one indexed lookup."""
    return person_opted_out_clause(Person.id)


def conditions(f: PeopleFilter, *, today: date | None = None) -> list[sa.ColumnElement[bool]]:
    today = today or cambodia_today()
    where: list[sa.ColumnElement[bool]] = [Person.deleted_at.is_(None)]
    if f.q:
        where.append(_text_search(f.q))
    if f.province:
        where.append(Person.province_code == f.province)
    if f.status:
        where.append(Person.status == PersonStatus(f.status))
    if f.language:
        where.append(Person.language == f.language)
    if f.safety:
        where.append(Person.last_known_status == SafetyStatus(f.safety))
    if f.present:
        where.extend(present_conditions(today))
    if f.opted_out:
        where.append(opted_out_clause())
    return where


def people_select(f: PeopleFilter, *, today: date | None = None) -> sa.Select[tuple[Person]]:
    return sa.select(Person).where(*conditions(f, today=today))


def _custom_plans() -> None:
    """Plan each search for its own pattern (PostgreSQL).

    psycopg prepares a statement run five times on a connection, and PostgreSQL then switches to a
    generic plan that cannot see the LIKE pattern: a substring search measured 5-10 times slower
    on its sixth run than on its first (bench/registry.py). Custom plans cost a millisecond.
    ``SET LOCAL`` lasts until the end of the request's transaction.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def count_people(f: PeopleFilter, *, today: date | None = None, cap: int | None = None) -> int:
    """How many people match; with ``cap``, counting stops past ``cap`` (the answer is then ``cap + 1``).

    An exact count reads every matching row; a page only needs to say "more than 10,000".
    """
    _custom_plans()
    if cap is None:
        stmt = sa.select(sa.func.count(Person.id)).where(*conditions(f, today=today))
        return int(db.session.scalar(stmt) or 0)
    limited = sa.select(Person.id).where(*conditions(f, today=today)).limit(cap + 1).subquery()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(limited)) or 0)


@dataclass
class PeoplePage:
    items: list[Person]
    total: int
    #: Keyset cursors: the next page holds ids below ``next_before``, the previous ids above ``prev_after``.
    next_before: int | None
    prev_after: int | None
    #: 1-based position of the first item in the whole result.
    first_index: int

    @property
    def total_capped(self) -> bool:
        """``total`` is a lower bound: there are more than :data:`COUNT_CAP` matches."""
        return self.total > COUNT_CAP


def search_people(
    f: PeopleFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    start: int = 1,
    per_page: int = PER_PAGE,
    today: date | None = None,
) -> PeoplePage:
    """One page of people, newest registration first.

    ``start`` is the position of the page's first row, carried in the page links only for display:
    working it out would cost a count of every newer row, which keyset pages exist to avoid.
    """
    _custom_plans()
    where = conditions(f, today=today)
    stmt = (
        sa.select(Person)
        .where(*where)
        .options(so.selectinload(Person.phones), so.selectinload(Person.province))
    )
    if after is not None:
        rows = list(
            db.session.scalars(stmt.where(Person.id > after).order_by(Person.id.asc()).limit(per_page + 1))
        )
        has_more_newer = len(rows) > per_page
        items = list(reversed(rows[:per_page]))
        has_older = True
        has_newer = has_more_newer
    else:
        if before is not None:
            stmt = stmt.where(Person.id < before)
        rows = list(db.session.scalars(stmt.order_by(Person.id.desc()).limit(per_page + 1)))
        items = rows[:per_page]
        has_older = len(rows) > per_page
        has_newer = before is not None
    total = count_people(f, today=today, cap=COUNT_CAP)
    first_index = max(1, start) if (before is not None or after is not None) else 1
    return PeoplePage(
        items=items,
        total=total,
        next_before=items[-1].id if items and has_older else None,
        prev_after=items[0].id if items and has_newer else None,
        first_index=first_index,
    )


def export_rows(f: PeopleFilter, *, today: date | None = None) -> Any:
    """People of the filter in id order, streamed from the database in batches."""
    _custom_plans()
    stmt = (
        people_select(f, today=today)
        .order_by(Person.id)
        .options(so.selectinload(Person.phones), so.selectinload(Person.province))
        .execution_options(yield_per=500)
    )
    return db.session.scalars(stmt)
