"""Registration by SMS or WhatsApp, one question at a time.

``등록`` / ``REGISTER`` / ``ចុះឈ្មោះ`` starts it, in the language of the keyword. Then::

    name ─▶ province ─▶ status ─┬─ resident ──────────────▶ consent ─▶ registered (record created
                                └─ traveler ─▶ departure ─▶            or, for a known number, updated)

A wrong answer gets a short re-prompt saying what is expected and the step does not move. State is
kept in ``RegistrationConversation`` (one per number) and expires 24 hours after the last answer.
STOP is the opt-out handler's (priority 10): it calls :func:`cancel_conversation`, and should it not,
an opt-out newer than the conversation ends it here on the next message. Keywords that belong to
other handlers (SOS, 도움, STATUS…) are never taken as an answer: a call for help must get through.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.messaging.inbound import InboundContext, Reply, inbound_handler
from outreach.models import (
    ConsentMethod,
    InboundMessage,
    InboundRoute,
    OptOut,
    PersonStatus,
    Province,
    RegistrationConversation,
    utcnow,
)
from outreach.registry import consent
from outreach.registry.dates import parse_date
from outreach.registry.links import self_service_url
from outreach.registry.operations import (
    PersonInput,
    PhoneInput,
    RegistryError,
    owner_of,
    register_person,
    validate,
)
from outreach.registry.phones import public_countries, region_of
from outreach.registry.provinces import match_province

TTL = timedelta(hours=24)

START_KEYWORDS = {"등록": "ko", "register": "en", "ចុះឈ្មោះ": "km"}
#: Keywords other handlers own; inside a conversation they are passed on, never taken as an answer.
OTHER_KEYWORDS = frozenset(
    {
        "sos",
        "도움",
        "위험",
        "help",
        "status",
        "상태",
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "중지",
        "수신거부",
        "start",
        "unstop",
        "시작",
        "ជំនួយ",
        "ឈប់",
    }
)
YES = frozenset({"예", "네", "yes", "y", "ok", "동의", "동의합니다", "បាទ", "ចាស", "យល់ព្រម", "ព្រម"})
NO = frozenset({"아니오", "아니요", "아니", "no", "n", "ទេ", "មិនយល់ព្រម"})
RESIDENT = frozenset({"1", "거주", "거주자", "resident", "live", "ស្នាក់នៅ", "១"})
TRAVELER = frozenset(
    {"2", "여행", "여행자", "traveler", "traveller", "travel", "tourist", "ធ្វើដំណើរ", "ទេសចរ", "២"}
)
#: Where most Koreans in Cambodia live or travel; the SMS menu lists these (others answer by name).
COMMON_PROVINCES = ("KH-12", "KH-17", "KH-18", "KH-8", "KH-2", "KH-7")

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")
_KHMER = re.compile(r"[\u1780-\u17ff]")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    return text.strip(" .!?,'\"")


def keyword_language(text: str) -> str | None:
    """The language a start keyword is in, or None when ``text`` is not one."""
    return START_KEYWORDS.get(_norm(text))


def cancel_conversation(address: str) -> bool:
    """End the registration conversation of ``address`` (for the opt-out handler on STOP)."""
    result = db.session.execute(
        sa.delete(RegistrationConversation).where(RegistrationConversation.address == address)
    )
    return bool(getattr(result, "rowcount", 0))


def _reply(body: str) -> Reply:
    return Reply(route=InboundRoute.REGISTRATION, body=body)


@inbound_handler("registration", priority=20)
def handle(ctx: InboundContext) -> Reply | None:
    """Start a conversation on the keyword, or take the next answer of an open one."""
    conv = db.session.scalar(
        sa.select(RegistrationConversation).where(RegistrationConversation.address == ctx.address)
    )
    start_language = keyword_language(ctx.text)
    if conv is None:
        return _start(ctx, start_language) if start_language else None
    now = utcnow()
    if _opted_out_since(conv):
        db.session.delete(conv)
        db.session.flush()
        return None
    if start_language:
        db.session.delete(conv)
        db.session.flush()
        return _start(ctx, start_language)
    if _norm(ctx.text) in OTHER_KEYWORDS:
        return None
    if conv.expires_at <= now:
        db.session.delete(conv)
        db.session.flush()
        with for_person_language(conv.language):
            return _reply(
                _(
                    "Your registration was not finished within 24 hours, so it was cancelled. "
                    "Send %(keyword)s to start again.",
                    keyword=_start_keyword(conv.language),
                )
            )
    conv.expires_at = now + TTL
    with for_person_language(conv.language):
        step = STEPS.get(conv.step)
        if step is None:  # a step name from an older version: start over rather than fail
            conv.step = "name"
            return _reply(_name_prompt())
        return step(ctx, conv)


def _opted_out_since(conv: RegistrationConversation) -> bool:
    """A STOP arrived after the conversation began (a new opt-out, or a STOP routed as one)."""
    new_opt_out = sa.select(OptOut.id).where(
        OptOut.address == conv.address,
        OptOut.channel.in_(["sms", "whatsapp"]),
        OptOut.created_at >= conv.created_at,
    )
    stop_received = sa.select(InboundMessage.id).where(
        InboundMessage.from_address.in_([conv.address, "whatsapp:" + conv.address]),
        InboundMessage.routed_to == InboundRoute.OPT_OUT,
        InboundMessage.received_at >= conv.created_at,
    )
    return bool(db.session.scalar(sa.select(sa.or_(sa.exists(new_opt_out), sa.exists(stop_received)))))


def _start_keyword(language: str) -> str:
    return {"ko": "등록", "km": "ចុះឈ្មោះ"}.get(language, "REGISTER")


def _start(ctx: InboundContext, language: str) -> Reply:
    if ctx.person is None and region_of(ctx.address) not in public_countries():
        # Not a country people register from (ALLOWED_PHONE_COUNTRIES): no conversation, and no reply,
        # since every answer would be an SMS paid to a possibly premium or satellite number.
        return Reply(route=InboundRoute.REGISTRATION, extra={"refused": "country"})
    now = utcnow()
    conv = RegistrationConversation(
        address=ctx.address,
        channel=ctx.channel,
        language=language,
        step="name",
        # The keyword itself arrived before the conversation existed; remember where it began.
        data={"first_inbound_id": ctx.inbound.id},
        expires_at=now + TTL,
    )
    db.session.add(conv)
    db.session.flush()
    with for_person_language(language):
        if ctx.person is not None or owner_of([ctx.address]) is not None:
            intro = _("Embassy of Korea: let us update your safety registration.")
        else:
            intro = _("Embassy of Korea safety registration.")
        return _reply(intro + " " + _name_prompt())


# --- steps (each runs inside for_person_language(conv.language)) ------------------------------------


def _name_prompt() -> str:
    return _("What is your name? (e.g. HONG GILDONG)")


def _step_name(ctx: InboundContext, conv: RegistrationConversation) -> Reply:
    text = " ".join(ctx.text.split())
    if (
        not text
        or len(text) > 100
        or any(ch.isdigit() for ch in text)
        or _KHMER.search(text)
        or not (_HANGUL.search(text) or _LATIN.search(text))
    ):
        return _reply(
            _("Please send your name in Hangul or Latin letters, without numbers (e.g. HONG GILDONG).")
        )
    hangul = " ".join(w for w in text.split() if _HANGUL.search(w))
    latin = " ".join(w for w in text.split() if not _HANGUL.search(w))
    conv.data = {**conv.data, "name_ko": hangul or None, "name_latin": latin.upper() or None}
    conv.step = "province"
    return _reply(province_prompt(conv.language))


def province_prompt(language: str) -> str:
    """The numbered province menu; the Korean one fits in two UCS-2 segments (134 characters)."""
    provinces = {
        p.code: p for p in db.session.scalars(sa.select(Province).where(Province.code.in_(COMMON_PROVINCES)))
    }
    items = ", ".join(
        f"{provinces[c].number} {provinces[c].name(language)}" for c in COMMON_PROVINCES if c in provinces
    )
    return _("Where do you stay? Send a number: %(list)s. Other province: send its name.", list=items)


def _step_province(ctx: InboundContext, conv: RegistrationConversation) -> Reply:
    code = match_province(ctx.text)
    if code is None:
        return _reply(
            _("We do not know that province. Send a number (e.g. 12 for Phnom Penh) or the province name.")
        )
    conv.data = {**conv.data, "province": code}
    conv.step = "status"
    return _reply(_status_prompt())


def _status_prompt() -> str:
    return _("Do you live in Cambodia? Send 1 if you live here, 2 if you are traveling.")


def _step_status(ctx: InboundContext, conv: RegistrationConversation) -> Reply:
    answer = _norm(ctx.text)
    if answer in RESIDENT:
        conv.data = {**conv.data, "status": PersonStatus.RESIDENT.value}
        conv.step = "consent"
        return _reply(_consent_prompt(conv.language))
    if answer in TRAVELER:
        conv.data = {**conv.data, "status": PersonStatus.TRAVELER.value}
        conv.step = "departure"
        return _reply(_departure_prompt())
    return _reply(_("Please send 1 if you live in Cambodia, or 2 if you are traveling."))


def _departure_prompt() -> str:
    example = (utcnow().date() + timedelta(days=7)).isoformat()
    return _("When do you leave Cambodia? Send the date, e.g. %(example)s.", example=example)


def _step_departure(ctx: InboundContext, conv: RegistrationConversation) -> Reply:
    today = utcnow().date()
    example = (today + timedelta(days=7)).isoformat()
    departure = parse_date(ctx.text, today=today, allow_no_year=True)
    if departure is None:
        return _reply(_("Please send your departure date like %(example)s.", example=example))
    if departure < today:
        return _reply(
            _("That date has passed. Send the day you leave Cambodia, e.g. %(example)s.", example=example)
        )
    if departure > today + timedelta(days=366):
        return _reply(
            _(
                "That is more than a year away. Send your departure date, e.g. %(example)s, "
                "or register as a resident on our website.",
                example=example,
            )
        )
    conv.data = {**conv.data, "departure": departure.isoformat()}
    conv.step = "consent"
    return _reply(_consent_prompt(conv.language))


def _consent_prompt(language: str) -> str:
    text = consent.consent_text(language)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    url = base + url_for("register.consent_page", lang=language)
    return _(
        "%(summary)s Details: %(url)s Send %(yes)s to agree.",
        summary=text.summary,
        url=url,
        yes=_yes_word(language),
    )


def _yes_word(language: str) -> str:
    return {"ko": "예", "km": "បាទ/ចាស"}.get(language, "YES")


def _step_consent(ctx: InboundContext, conv: RegistrationConversation) -> Reply:
    answer = _norm(ctx.text)
    if answer in NO:
        db.session.delete(conv)
        db.session.flush()
        return _reply(_("Registration cancelled. Nothing was saved."))
    if answer not in YES:
        return _reply(_("Send %(yes)s to agree and finish, or NO to cancel.", yes=_yes_word(conv.language)))
    return _finish(ctx, conv)


def _finish(ctx: InboundContext, conv: RegistrationConversation) -> Reply:
    data = conv.data
    existing = ctx.person or owner_of([ctx.address])
    departure = date.fromisoformat(data["departure"]) if data.get("departure") else None
    entered = PersonInput(
        name_ko=data.get("name_ko"),
        name_latin=data.get("name_latin"),
        language=conv.language,
        province=data.get("province"),
        status=data.get("status"),
        departure_date=departure,
        phones=[PhoneInput(ctx.address, "phone", is_whatsapp=conv.channel == "whatsapp")],
    )
    method = ConsentMethod.WHATSAPP if conv.channel == "whatsapp" else ConsentMethod.SMS
    try:
        clean = validate(entered, person=existing, partial=existing is not None, countries=public_countries())
        person, created = register_person(clean, method=method, on_existing="update", source=conv.channel)
    except RegistryError as exc:
        db.session.delete(conv)
        db.session.flush()
        reasons = " ".join(str(e.message) for e in exc.errors)
        return _reply(_("We could not register this number: %(reason)s", reason=reasons))
    # The messages of the conversation were received before the person existed; link them now so
    # they show on the person's timeline (and are scrubbed if the registration is ever deleted).
    db.session.execute(
        sa.update(InboundMessage)
        .where(
            InboundMessage.person_id.is_(None),
            InboundMessage.from_address.in_([ctx.address, "whatsapp:" + ctx.address]),
            InboundMessage.id >= int(data.get("first_inbound_id") or ctx.inbound.id),
        )
        .values(person_id=person.id)
        .execution_options(synchronize_session=False)
    )
    ctx.inbound.person_id = person.id
    db.session.delete(conv)
    db.session.flush()
    url = self_service_url(person)
    if created:
        return _reply(_("Thank you, you are registered. See or change your details: %(url)s", url=url))
    return _reply(_("Thank you, your registration is updated. See or change your details: %(url)s", url=url))


STEPS = {
    "name": _step_name,
    "province": _step_province,
    "status": _step_status,
    "departure": _step_departure,
    "consent": _step_consent,
}


def purge_expired() -> int:
    """Delete conversations a day past their expiry (they hold a name and a number: do not keep them).

    The extra day lets a late answer still be told that the registration timed out.
    """
    result = db.session.execute(
        sa.delete(RegistrationConversation).where(RegistrationConversation.expires_at <= utcnow() - TTL)
    )
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["cancel_conversation", "handle", "keyword_language", "province_prompt", "purge_expired"]
