"""SMS and WhatsApp answers to check-ins, and the SOS / STATUS keywords.

Two inbound handlers (see :mod:`outreach.messaging.inbound`):

* priority 30, ``checkin_reply``: the sender has a check-in that still takes answers. ``1``/safe words
  and ``2``/help words are answers; anything else goes to the staff inbox and is answered with a short
  clarification in the person's language.
* priority 40, ``keywords``: a call for help (``SOS``, ``2``, ``도움``, ``위험`` …) with no open check-in
  still opens a case at once — a call for help never waits; ``STATUS`` gets a short status reply.

The words themselves (safe, help, status, and those other routes own) are defined, for every
language, in :mod:`outreach.messaging.keywords`. REGISTER/등록 belongs to the registry and STOP/START
to messaging; this module leaves them alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from outreach.cases.operations import help_reply, open_or_reopen_case
from outreach.checkins.operations import CheckInClosedError, open_recipient_for, record_answer
from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.messaging import keywords
from outreach.messaging.inbound import InboundContext, Reply, inbound_handler, reply_language
from outreach.messaging.keywords import SAFE_WORDS, STATUS_WORDS, Route, normalise
from outreach.models import Answer, AnswerVia, CheckIn, InboundRoute, Person, Province

#: Keywords other areas answer; a check-in reply handler must let them through, not call them unclear.
PASS_THROUGH_WORDS = keywords.ROUTED_ELSEWHERE


@dataclass(frozen=True)
class ParsedReply:
    answer: Answer | None
    #: What the person wrote beyond the keyword ("2 water up to the roof" → "water up to the roof").
    note: str | None = None


def parse_reply(text: str) -> ParsedReply:
    """Recognise a check-in answer; an answer is the whole reply or its first word followed by a note."""
    norm = normalise(text)
    if not norm:
        return ParsedReply(None)
    help_words = keywords.help_words(Route.CHECKIN)
    for words, answer in ((help_words, Answer.NEED_HELP), (SAFE_WORDS, Answer.SAFE)):
        if norm in words or norm.replace(" ", "") in words:
            return ParsedReply(answer)
    # "2 flooded house", "SOS 물이 차요", "안전 감사합니다": the first word decides, the rest is a note.
    first, _sep, rest = norm.partition(" ")
    raw_rest = (text or "").strip().split(None, 1)
    note = raw_rest[1].strip() if len(raw_rest) > 1 else None
    if first in help_words:
        return ParsedReply(Answer.NEED_HELP, note)
    if first in SAFE_WORDS:
        # "1 2", "ok sos": both answers at once is unclear; the person is asked again (and the
        # text is in the staff inbox), rather than filed as safe.
        if any(word in help_words for word in rest.split()):
            return ParsedReply(None)
        return ParsedReply(Answer.SAFE, note)
    return ParsedReply(None)


def is_call_for_help(text: str) -> bool:
    return parse_reply(text).answer == Answer.NEED_HELP


# --- replies (always in the person's language) -----------------------------------------------------


def thanks_safe() -> str:
    return _("Thank you. We have recorded that you are safe. Reply 2 at any time if you need help.")


def thanks_help() -> str:
    return help_reply()


def clarification() -> str:
    return _("Sorry, we did not understand. Reply 1 if you are safe or 2 if you need help.")


def closed_notice() -> str:
    return _("This check-in has closed. If you need help, reply SOS.")


def _language(ctx: InboundContext) -> str:
    # Their preferred language when we know them, else the script they wrote in.
    return reply_language(ctx)


def _via(ctx: InboundContext) -> AnswerVia:
    return AnswerVia.WHATSAPP if ctx.channel == "whatsapp" else AnswerVia.SMS


@inbound_handler("checkin_reply", priority=30)
def handle_checkin_reply(ctx: InboundContext) -> Reply | None:
    """A reply from someone with an open check-in: an answer, or an unclear text for the inbox."""
    if ctx.person is None:
        return None
    recipient = open_recipient_for(ctx.person.id)
    if recipient is None:
        return None
    parsed = parse_reply(ctx.text)
    with for_person_language(_language(ctx)):
        if parsed.answer is None:
            if normalise(ctx.text) in PASS_THROUGH_WORDS:
                return None
            # Stored in the staff inbox (the router keeps the text); the person learns how to answer.
            return Reply(
                route=InboundRoute.INBOX, body=clarification(), extra={"checkin_id": recipient.checkin_id}
            )
        db.session.flush()  # the inbound row needs its id to be linked from the answer
        try:
            result = record_answer(recipient, parsed.answer, _via(ctx), ctx.text, inbound_id=ctx.inbound.id)
        except CheckInClosedError:  # closed between the look-up and the lock: rare, but answer kindly
            return Reply(route=InboundRoute.INBOX, body=closed_notice())
        body = thanks_help() if result.answer == Answer.NEED_HELP else thanks_safe()
        extra: dict[str, object] = {"checkin_id": recipient.checkin_id, "answer": result.answer.value}
        if result.help_call is not None:
            extra["case_id"] = result.help_call.case.id
        if result.duress and result.response is not None:
            # The stored copy of the SMS loses the duress word too (the staff inbox shows it).
            ctx.inbound.body = result.response.text or ""
        return Reply(route=InboundRoute.CHECKIN, body=body, extra=extra)


@inbound_handler("keywords", priority=40)
def handle_keywords(ctx: InboundContext) -> Reply | None:
    """SOS and friends open a case even with no check-in (or from an unknown number); STATUS answers."""
    norm = normalise(ctx.text)
    with for_person_language(_language(ctx)):
        if norm in STATUS_WORDS:
            return Reply(
                route=InboundRoute.KEYWORD, body=status_text(ctx.person), extra={"keyword": "status"}
            )
        parsed = parse_reply(ctx.text)
        if parsed.answer != Answer.NEED_HELP:
            return None
        call = open_or_reopen_case(
            ctx.person,
            "sos_keyword",
            note=ctx.text.strip()[:1000],
            contact_address=ctx.address,
        )
        return Reply(
            route=InboundRoute.KEYWORD,
            body=thanks_help(),
            extra={"keyword": "sos", "case_id": call.case.id},
        )


def status_text(person: Person | None) -> str:
    """A short status reply: registered or not, province, last known status, open check-in."""
    if person is None:
        return _("This number is not registered with the embassy. Reply REGISTER to register.")
    province = db.session.get(Province, person.province_code) if person.province_code else None
    from outreach.i18n import current_language

    place = province.name(current_language()) if province else _("no province")
    statuses = {
        "safe": _("safe"),
        "need_help": _("needs help"),
        "no_response": _("no answer"),
        "unknown": _("unknown"),
    }
    text = _(
        "Registered: %(name)s, %(province)s. Last status: %(status)s.",
        name=person.display_name,
        province=place,
        status=statuses.get(person.last_known_status.value, person.last_known_status.value),
    )
    recipient = open_recipient_for(person.id)
    if recipient is not None:
        checkin = db.session.get(CheckIn, recipient.checkin_id)
        if checkin is not None:
            text += " " + _("A check-in is open: reply 1 if you are safe or 2 if you need help.")
    return text
