"""Provider and pipeline error codes: what each means for sending, and what staff read about it.

Everything is one table (:data:`ERRORS`), keyed by the string stored in ``Message.error_code``:
Twilio's numeric codes ("21211") and a few of our own ("opted_out", "smtp_rejected", …). The progress
page groups failures by code and shows :func:`explain` in the officer's language.

Decisions worth knowing:

- **30008** ("unknown error") is treated as *transient* when Twilio answers it to the create request:
  it is retried like a 5xx, and after ``SEND_MAX_ATTEMPTS`` the message is ``failed`` with 30008.
  When it arrives in a status callback (the usual case) the message is already final
  (``undelivered``/``failed``) and is never re-sent: it may have reached the phone.
- **20003** (our credentials refused) is transient too: it is a configuration problem, and retrying
  after the operator fixes the settings saves the broadcast instead of failing every recipient.
- Carrier codes 30003–30007 are permanent; they come in status callbacks.
- Codes the table does not know fall back on the HTTP status: 429 and 5xx transient, other 4xx
  permanent.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from outreach.messaging.channels.base import Outcome

TRANSIENT = Outcome.TRANSIENT
PERMANENT = Outcome.PERMANENT


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    #: TRANSIENT (retry with backoff) or PERMANENT (fail at once).
    outcome: Outcome
    #: One short sentence for staff, translated when displayed.
    explanation: LazyString
    #: The address must be opted out of the channel (Twilio 21610: the person replied STOP).
    opts_out: bool = False


def _table(
    *rows: tuple[str | int, Outcome, LazyString] | tuple[str | int, Outcome, LazyString, bool],
) -> dict[str, ErrorInfo]:
    table: dict[str, ErrorInfo] = {}
    for row in rows:
        code = str(row[0])
        table[code] = ErrorInfo(code, row[1], row[2], *row[3:])
    return table


ERRORS: dict[str, ErrorInfo] = _table(
    # --- Twilio REST API errors (answered to the create request) ------------------------------------
    (
        20003,
        TRANSIENT,
        _l("Twilio refused the account credentials; an administrator must check the Twilio settings."),
    ),
    (20429, TRANSIENT, _l("Twilio asked us to slow down (too many requests).")),
    (20500, TRANSIENT, _l("Twilio had an internal error.")),
    (20503, TRANSIENT, _l("Twilio was temporarily unavailable.")),
    (30001, TRANSIENT, _l("Twilio's sending queue was full.")),
    (30008, TRANSIENT, _l("The carrier reported an unknown error.")),
    (63018, TRANSIENT, _l("The WhatsApp sending limit was reached.")),
    (21211, PERMANENT, _l("The phone number is not valid.")),
    (21214, PERMANENT, _l("The phone number cannot receive messages.")),
    (21217, PERMANENT, _l("The phone number does not appear to be valid.")),
    (21408, PERMANENT, _l("Sending to this country is not enabled on the Twilio account.")),
    (21602, PERMANENT, _l("The message was empty.")),
    (
        21606,
        PERMANENT,
        _l("Our sender number cannot send SMS; an administrator must check the Twilio settings."),
    ),
    (21608, PERMANENT, _l("The Twilio trial account can only send to verified numbers.")),
    (
        21610,
        PERMANENT,
        _l("The person unsubscribed (replied STOP); nothing more is sent to this number."),
        True,
    ),
    (21612, PERMANENT, _l("Twilio cannot deliver from our number to this number.")),
    (21614, PERMANENT, _l("The number is not a mobile number.")),
    (21617, PERMANENT, _l("The message is too long (over 1600 characters).")),
    (30002, PERMANENT, _l("The Twilio account is suspended.")),
    # --- carrier errors (usually in status callbacks, with undelivered/failed) ----------------------
    (30003, PERMANENT, _l("The phone was unreachable (switched off or out of coverage).")),
    (30004, PERMANENT, _l("The message was blocked by the recipient or their carrier.")),
    (30005, PERMANENT, _l("The carrier does not know this number (it may no longer exist).")),
    (30006, PERMANENT, _l("The number is a landline or its carrier cannot receive SMS.")),
    (30007, PERMANENT, _l("The carrier filtered the message as spam.")),
    # --- WhatsApp ----------------------------------------------------------------------------------
    (63003, PERMANENT, _l("This number has no WhatsApp account.")),
    (63016, PERMANENT, _l("WhatsApp allows free text only within 24 hours of the person's last message.")),
    (63024, PERMANENT, _l("The WhatsApp recipient is not valid.")),
    # --- HTTP / network fallbacks (no Twilio code) --------------------------------------------------
    ("http_429", TRANSIENT, _l("The provider asked us to slow down (too many requests).")),
    ("http_5xx", TRANSIENT, _l("The provider had a server error.")),
    ("http_4xx", PERMANENT, _l("The provider rejected the message.")),
    ("connection", TRANSIENT, _l("Could not connect to the provider.")),
    ("no_response", TRANSIENT, _l("The provider did not answer; we check with it before sending again.")),
    # --- e-mail -------------------------------------------------------------------------------------
    ("invalid_email", PERMANENT, _l("The e-mail address is not valid.")),
    ("smtp_rejected", PERMANENT, _l("The mail server rejected the recipient address.")),
    ("smtp_failed", PERMANENT, _l("The mail server rejected the message.")),
    ("smtp_temporary", TRANSIENT, _l("The mail server refused the message for now.")),
    ("smtp_connection", TRANSIENT, _l("Could not connect to the mail server.")),
    # --- the pipeline itself ------------------------------------------------------------------------
    ("opted_out", PERMANENT, _l("The address opted out of this channel.")),
    ("cancelled", PERMANENT, _l("Sending was cancelled before this message went out.")),
    ("no_address", PERMANENT, _l("There is no address to send to.")),
    ("no_channel", PERMANENT, _l("This channel is not configured.")),
    ("render", TRANSIENT, _l("The message text could not be prepared.")),
    ("withdrawn", PERMANENT, _l("The message was no longer needed when its turn came.")),
)


def lookup(code: str | int | None) -> ErrorInfo | None:
    return ERRORS.get(str(code)) if code is not None else None


def classify_twilio(code: int | str | None, http_status: int | None) -> ErrorInfo:
    """The table entry for a Twilio error, falling back on the HTTP status for codes we do not list."""
    info = lookup(code)
    if info is not None:
        return info
    fallback = "http_5xx" if http_status is None or http_status >= 500 else "http_4xx"
    if http_status == 429:
        fallback = "http_429"
    base = ERRORS[fallback]
    if code is None:
        return base
    # Keep Twilio's own code (staff can look it up) with the fallback's meaning.
    return ErrorInfo(str(code), base.outcome, base.explanation)


def explain(code: str | int | None) -> str:
    """One sentence for staff, in the current locale (empty for no code)."""
    if code is None or code == "":
        return ""
    info = lookup(code)
    if info is not None:
        return str(info.explanation)
    return str(_l("Provider error %(code)s.", code=code))
