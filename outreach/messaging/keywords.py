"""Inbound priority 10: opt-out and opt-in keywords (STOP / START and their Korean and Khmer forms).

A keyword is the whole message (case, surrounding spaces and punctuation ignored), as carriers and
Twilio treat them: "STOP" opts out, "stop please call me" goes on to the other handlers. Opt-outs are
kept per (channel, address), so a STOP from a number we do not know is honoured as well. The reply is
in the person's preferred language, or for an unknown number in the language of the keyword.
"""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _

from outreach.audit import record
from outreach.i18n import for_person_language
from outreach.messaging.inbound import InboundContext, Reply, inbound_handler, reply_language
from outreach.messaging.optouts import opt_in, opt_out
from outreach.models import InboundRoute

#: keyword → the language it is written in
OPT_OUT_KEYWORDS: dict[str, str] = {
    "stop": "en",
    "stopall": "en",
    "unsubscribe": "en",
    "cancel": "en",
    "end": "en",
    "quit": "en",
    "중지": "ko",
    "수신거부": "ko",
    "그만": "ko",
    "ឈប់": "km",
}
OPT_IN_KEYWORDS: dict[str, str] = {
    "start": "en",
    "unstop": "en",
    "시작": "ko",
    # Khmer writes the subscript "t" in this word with either COENG TA or COENG DA; both are common.
    "ចាប់ផ្តើម": "km",
    "ចាប់ផ្ដើម": "km",
}

_STRIP = " \t\r\n.,!?;:'\"()[]~-_·。、！？"


def normalise_keyword(text: str) -> str:
    """``" Stop! "`` → ``"stop"``; Hangul and Khmer are NFC-normalised (phones send either form)."""
    return unicodedata.normalize("NFC", text).strip(_STRIP).casefold()


@inbound_handler("opt_out", priority=10)
def handle_opt_keywords(ctx: InboundContext) -> Reply | None:
    word = normalise_keyword(ctx.text)
    person_id = ctx.person.id if ctx.person is not None else None
    if word in OPT_OUT_KEYWORDS:
        opt_out(ctx.channel, ctx.address, person_id=person_id, source="keyword")
        record(
            "messaging.opt_out", target_type="person", target_id=person_id, channel=ctx.channel, via="keyword"
        )
        with for_person_language(reply_language(ctx, OPT_OUT_KEYWORDS[word])):
            body = _(
                "You will no longer receive Korean Embassy messages on this number. "
                "Reply START to receive them again."
            )
        return Reply(route=InboundRoute.OPT_OUT, body=body)
    if word in OPT_IN_KEYWORDS:
        opt_in(ctx.channel, ctx.address)
        record(
            "messaging.opt_in", target_type="person", target_id=person_id, channel=ctx.channel, via="keyword"
        )
        with for_person_language(reply_language(ctx, OPT_IN_KEYWORDS[word])):
            body = _(
                "You will receive Korean Embassy messages on this number again. Reply STOP to stop them."
            )
        return Reply(route=InboundRoute.OPT_IN, body=body)
    return None
