"""Recruitment tips: a job lure reported by anyone, matched with earlier tips and reports by the
messenger handles and phone numbers it names, and turned into a targeted warning.

A tip comes from the public page ``/tip``, an SMS starting with ``TIP``/``제보``/``ព័ត៌មាន``
(:data:`outreach.messaging.keywords.TIP_KEYWORDS`), staff or representatives, or the API. Handles
(``@Fast_Job``, ``t.me/fast_job``) and numbers are normalised into ``tip_identifier`` rows, so "who
else named this handle" is one indexed query: the earliest such tip becomes ``duplicate_of``, and
reports whose recruitment details mention the handle or number are listed beside it.

:func:`draft_warning` writes a **draft alert** with prepared text in ko/en/km ("A job offer from X
promising Y in Z is a known lure …") for the audience staff choose — people who arrived in the last
N days, provinces, statuses — which then goes through the normal alert approval and dispatch.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from outreach.alerts.compose import AlertInput, ContentInput, create_alert
from outreach.audit import record
from outreach.extensions import db
from outreach.i18n import LOCALES, for_person_language
from outreach.messaging.inbound import InboundContext, Reply, inbound_handler, reply_language
from outreach.messaging.keywords import TIP_KEYWORDS, normalise_keyword
from outreach.models import Alert, InboundRoute, Report, Tip, TipIdentifier, TipStatus, User
from outreach.registry.phones import PhoneError, normalise_phone

_HANDLE = re.compile(r"(?:t\.me/|telegram\.me/|@)([A-Za-z0-9_.]{3,64})", re.IGNORECASE)
_PHONE = re.compile(r"\+?\d[\d \-]{6,18}\d")
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class TipError(ValueError):
    """A tip that cannot be taken or used; the message says why."""


@dataclass
class TipInput:
    advert_text: str | None = None
    handles: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    company: str | None = None
    job: str | None = None
    place: str | None = None
    contact: str | None = None
    language: str = "ko"


def normalise_handle(raw: str) -> str | None:
    """``"@Fast_Job"``, ``"t.me/fast_job"``, ``" fast_job "`` → ``"fast_job"``."""
    text = (raw or "").strip()
    found = _HANDLE.search(text)
    value = found.group(1) if found else text.lstrip("@")
    value = value.strip(" ./").casefold()
    return value if re.fullmatch(r"[a-z0-9_.]{3,64}", value) else None


def normalise_tip_phone(raw: str) -> str | None:
    try:
        return normalise_phone(raw, mobile_only=False).e164
    except PhoneError:
        return None


def identifiers_in(text: str | None) -> tuple[set[str], set[str]]:
    """Handles and numbers written in free text (an advert, an SMS)."""
    handles = {h for m in _HANDLE.finditer(text or "") if (h := normalise_handle(m.group(0)))}
    phones = {p for m in _PHONE.finditer(text or "") if (p := normalise_tip_phone(m.group(0)))}
    return handles, phones


def create_tip(data: TipInput, *, via: str, actor: User | None = None) -> Tip:
    """Take a tip; handles and numbers from the fields and the advert text are kept normalised."""
    handles, phones = identifiers_in(data.advert_text)
    handles |= {h for raw in data.handles if (h := normalise_handle(raw))}
    phones |= {p for raw in data.phones if (p := normalise_tip_phone(raw))}
    text = (data.advert_text or "").strip()[:10000] or None
    if not (text or handles or phones or (data.company or "").strip()):
        raise TipError(_("Describe the offer: the advert, a messenger account, a number or a company."))
    tip = Tip(
        reference="T-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _i in range(7)),
        status=TipStatus.NEW,
        via=via,
        created_by_id=actor.id if actor else None,
        contact=(data.contact or "").strip()[:254] or None,
        language=data.language if data.language in LOCALES else "ko",
        advert_text=text,
        handles=sorted(handles),
        phones=sorted(phones),
        company=(data.company or "").strip()[:200] or None,
        job=(data.job or "").strip()[:200] or None,
        place=(data.place or "").strip()[:200] or None,
    )
    db.session.add(tip)
    db.session.flush()
    db.session.add_all(
        [TipIdentifier(tip_id=tip.id, kind="handle", value=h) for h in sorted(handles)]
        + [TipIdentifier(tip_id=tip.id, kind="phone", value=p) for p in sorted(phones)]
    )
    db.session.flush()
    earlier = related_tips(tip)
    if earlier:
        tip.duplicate_of_id = earlier[0].id
    record("tip.create", actor=actor, target=tip, via=via, related=len(earlier))
    return tip


def related_tips(tip: Tip) -> list[Tip]:
    """Other tips naming one of this tip's handles or numbers, earliest first (one indexed query)."""
    mine = sa.select(TipIdentifier.kind, TipIdentifier.value).where(TipIdentifier.tip_id == tip.id)
    other = sa.orm.aliased(TipIdentifier)
    ids = (
        sa.select(other.tip_id)
        .where(sa.tuple_(other.kind, other.value).in_(mine), other.tip_id != tip.id)
        .distinct()
    )
    return list(db.session.scalars(sa.select(Tip).where(Tip.id.in_(ids)).order_by(Tip.id)))


def related_reports(tip: Tip) -> list[Report]:
    """Reports whose recruitment details mention one of the tip's handles or numbers."""
    clauses: list[sa.ColumnElement[bool]] = []
    for handle in tip.handles:
        pattern = f"%{handle}%"
        clauses += [
            sa.func.lower(Report.messenger_handle).like(pattern),
            sa.func.lower(Report.recruitment).like(pattern),
            sa.func.lower(Report.what_said).like(pattern),
            sa.func.lower(Report.recruiter).like(pattern),
        ]
    for phone in tip.phones:
        # Written in a report as typed ("012 345 678"); compare the last eight digits.
        tail = f"%{phone[-8:]}%"
        digits = [
            sa.func.replace(sa.func.replace(col, " ", ""), "-", "")
            for col in (Report.recruitment, Report.what_said, Report.messenger_handle)
        ]
        clauses += [d.like(tail) for d in digits]
    if not clauses:
        return []
    return list(
        db.session.scalars(sa.select(Report).where(sa.or_(*clauses)).order_by(Report.id.desc()).limit(50))
    )


def set_status(tip: Tip, to: TipStatus, *, actor: User, duplicate_of: Tip | None = None) -> None:
    """Triage (guarded: a tip already warned about stays so)."""
    if tip.status == TipStatus.WARNED:
        raise TipError(_("A warning was already drafted from this tip."))
    if to == TipStatus.DUPLICATE:
        if duplicate_of is None or duplicate_of.id == tip.id:
            raise TipError(_("Say which tip this one repeats."))
        tip.duplicate_of_id = duplicate_of.id
    tip.status = to
    db.session.flush()
    record("tip.status", actor=actor, target=tip, status=to.value)


def warning_text(tip: Tip) -> str:
    """The prepared warning, in the current locale."""
    who = (
        tip.company
        or (("@" + tip.handles[0]) if tip.handles else None)
        or (tip.phones[0] if tip.phones else None)
    )
    return _(
        "[Korean Embassy] Warning: a job offer from %(who)s promising %(job)s in %(place)s is a known "
        "lure into scam compounds. Do not go, do not send your passport. Help: reply SOS.",
        who=who or _("an unknown recruiter"),
        job=tip.job or _("high pay"),
        place=tip.place or _("Cambodia"),
    )


def draft_warning(
    tip: Tip, *, audience: dict[str, Any], channels: list[str], actor: User, public: bool = True
) -> Alert:
    """A draft alert from the tip, text prepared in every language, for the normal approval path."""
    if tip.status == TipStatus.WARNED and tip.alert_id is not None:
        raise TipError(_("A warning was already drafted from this tip."))
    contents = {}
    for language in LOCALES:
        with for_person_language(language):
            contents[language] = ContentInput(body=warning_text(tip))
    with for_person_language("ko"):
        title = _("Warning: job lure %(reference)s", reference=tip.reference)
    alert = create_alert(
        AlertInput(
            title=title,
            severity="Severe",
            contents=contents,
            channels=channels,
            audience=audience,
            public=public,
        ),
        author=actor,
    )
    tip.alert_id = alert.id
    tip.status = TipStatus.WARNED
    db.session.flush()
    record("tip.warning", actor=actor, target=tip, alert_id=alert.id)
    return alert


@inbound_handler("tip", priority=45)
def handle_tip_sms(ctx: InboundContext) -> Reply | None:
    """``TIP <the advert>`` by SMS: a tip from the sender (their number kept as the contact)."""
    first, _sep, rest = ctx.text.strip().partition(" ")
    language = TIP_KEYWORDS.get(normalise_keyword(first))
    if language is None:
        return None
    with for_person_language(reply_language(ctx, language)):
        if not rest.strip():
            return Reply(
                route=InboundRoute.KEYWORD,
                body=_("Send TIP followed by the job offer: the advert, the messenger account, the number."),
                extra={"keyword": "tip"},
            )
        tip = create_tip(
            TipInput(advert_text=rest, contact=ctx.address, language=reply_language(ctx, language)),
            via="sms",
        )
        return Reply(
            route=InboundRoute.KEYWORD,
            body=_("Thank you. The embassy received your tip %(reference)s.", reference=tip.reference),
            extra={"keyword": "tip", "tip_id": tip.id},
        )
