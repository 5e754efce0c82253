"""Every keyword the app understands, for every language (ko, en, km) and every route — one home.

Words (matched after :func:`normalise`; whole messages unless said otherwise):

- **opt-out / opt-in** (STOP / START, 중지 / 시작, ឈប់ / ចាប់ផ្តើម): the whole message, as carriers and
  Twilio treat them. Handled here, at inbound priority 10 (see below).
- **help** (SOS, emergency, 살려주세요, 도움, ជួយ, …): a call for help, recognised in every state of
  every conversation — the registration conversation, a check-in reply and the SOS keyword — as the
  whole message or its first word ("SOS 물이 차요"). ``HELP`` itself is the carriers' own keyword
  (they answer it with their help text), so it is not one. The digit ``2`` is a call for help only
  where it cannot be an answer to a numbered menu (:func:`is_call_for_help` with ``route``).
- **safe** (1, safe, 안전, សុវត្ថិភាព, …): a check-in answer.
- **tip** (TIP, 제보, ព័ត៌មាន) as the first word: a recruitment lure reported by SMS
  (``outreach.reports.tips``); **skip** (SKIP, 건너뛰기, រំលង) for the optional duress-word step.
- **status** (STATUS, 상태, ស្ថានភាព) and **registration** (REGISTER, 등록, ចុះឈ្មោះ; then yes/no,
  resident/traveler answers).

The opt-out reply is in the person's preferred language, or for an unknown number in the language
of the keyword. Opt-outs are kept per (channel, address), so a STOP from a number we do not know is
honoured as well.
"""

from __future__ import annotations

import string
import unicodedata
from enum import StrEnum

from flask_babel import gettext as _

from outreach.audit import record
from outreach.i18n import for_person_language
from outreach.messaging.inbound import InboundContext, Reply, inbound_handler, reply_language
from outreach.messaging.optouts import opt_in, opt_out
from outreach.models import InboundRoute


class Route(StrEnum):
    """Where a message is being read: decides whether a bare digit can be a call for help."""

    #: The SMS registration conversation: "2" is a province or "traveler", never a call for help.
    REGISTRATION = "registration"
    #: A reply to an open check-in: "1" safe, "2" need help.
    CHECKIN = "checkin"
    #: Anything else (no conversation): "2" is a call for help, as the check-in SMS taught.
    SOS = "sos"


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

#: A call for help in words (never "help": the carriers keep it for themselves).
HELP_WORDS = frozenset(
    {
        "sos",
        "danger",
        "need help",
        "i need help",
        "help me",
        "not safe",
        "unsafe",
        "emergency",
        "도움",
        "도움필요",
        "도움 필요",
        "도와주세요",
        "위험",
        "위험해요",
        "위험합니다",
        "살려주세요",
        "살려줘",
        "긴급",
        "ជួយ",  # "help"
        "ជួយផង",  # "help, please"
        "ជួយខ្ញុំ",  # "help me"
        "ជំនួយ",  # "assistance"
        "គ្រោះថ្នាក់",  # "danger"
        "អាសន្ន",  # "emergency"
        "ត្រូវការជំនួយ",  # "need help"
    }
)
#: The check-in SMS says "reply 2 if you need help"; in a numbered menu 2 is an answer instead.
HELP_DIGITS = frozenset({"2"})

#: Whole replies (or first words) that mean "I am safe".
SAFE_WORDS = frozenset(
    {
        "1",
        "safe",
        "ok",
        "okay",
        "im safe",
        "i am safe",
        "im ok",
        "i am ok",
        "all good",
        "fine",
        "안전",
        "안전해요",
        "안전합니다",
        "괜찮아요",
        "괜찮아",
        "괜찮습니다",
        "무사",
        "무사해요",
        "무사합니다",
        "សុខសប្បាយ",  # "well"
        "ខ្ញុំសុខសប្បាយ",  # "I am well"
        "សុវត្ថិភាព",  # "safe"
        "ខ្ញុំមានសុវត្ថិភាព",  # "I am safe"
        "មិនអីទេ",  # "I'm fine"
    }
)

#: Asking for one's own status.
STATUS_WORDS = frozenset({"status", "상태", "ស្ថានភាព"})

#: Starts (or restarts) the SMS registration, in the keyword's language.
REGISTER_KEYWORDS: dict[str, str] = {"등록": "ko", "register": "en", "ចុះឈ្មោះ": "km"}
#: Registration answers: consent, and resident or traveler.
YES_WORDS = frozenset({"예", "네", "yes", "y", "ok", "동의", "동의합니다", "បាទ", "ចាស", "យល់ព្រម", "ព្រម"})
NO_WORDS = frozenset({"아니오", "아니요", "아니", "no", "n", "ទេ", "មិនយល់ព្រម"})
RESIDENT_WORDS = frozenset({"1", "거주", "거주자", "resident", "live", "ស្នាក់នៅ", "១"})
TRAVELER_WORDS = frozenset(
    {"2", "여행", "여행자", "traveler", "traveller", "travel", "tourist", "ធ្វើដំណើរ", "ទេសចរ", "២"}
)

#: Skipping an optional step (the duress word after SMS registration).
SKIP_WORDS = frozenset({"skip", "no", "none", "건너뛰기", "건너뛰어", "없음", "아니요", "រំលង", "ទេ"})

#: Sends a recruitment tip ("TIP job offer from @boss in Sihanoukville …"): the first word.
TIP_KEYWORDS: dict[str, str] = {"tip": "en", "제보": "ko", "ព័ត៌មាន": "km"}

#: Keywords the carriers answer themselves.
CARRIER_WORDS = frozenset({"help", "info", "stopall"})

#: Whole messages another route owns: a conversation passes them on rather than take them as an answer.
ROUTED_ELSEWHERE = frozenset(
    set(OPT_OUT_KEYWORDS) | set(OPT_IN_KEYWORDS) | STATUS_WORDS | CARRIER_WORDS | set(REGISTER_KEYWORDS)
)

_STRIP = " \t\r\n.,!?;:'\"()[]~-_·。、！？"
_PUNCTUATION = set(string.punctuation) | set("。、！？，．…·~“”‘’「」")


def normalise_keyword(text: str) -> str:
    """``" Stop! "`` → ``"stop"``; Hangul and Khmer are NFC-normalised (phones send either form)."""
    return unicodedata.normalize("NFC", text).strip(_STRIP).casefold()


def normalise(text: str) -> str:
    """Case-folded, width-normalised words with Khmer digits as ASCII and edge punctuation removed."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    # Khmer digits (០–៩) are decimal digits to Unicode; a Khmer keyboard types "១" for "1".
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text)
    text = text.replace("'", "").replace("’", "")  # "I'm safe" → "im safe"
    words = text.split()
    stripped = [w.strip("".join(_PUNCTUATION)) for w in words]
    return " ".join(w for w in stripped if w)


def help_words(route: Route) -> frozenset[str]:
    """The words that are a call for help on ``route``."""
    return HELP_WORDS if route is Route.REGISTRATION else HELP_WORDS | HELP_DIGITS


def is_call_for_help(text: str, route: Route) -> bool:
    """The whole message, or its first word, is a call for help on ``route``."""
    norm = normalise(text)
    if not norm:
        return False
    words = help_words(route)
    return norm in words or norm.replace(" ", "") in words or norm.partition(" ")[0] in words


def is_routed_elsewhere(text: str) -> bool:
    """The whole message is a keyword another route owns (STOP, START, STATUS, REGISTER, HELP…)."""
    return normalise(text) in ROUTED_ELSEWHERE or normalise_keyword(text) in ROUTED_ELSEWHERE


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
