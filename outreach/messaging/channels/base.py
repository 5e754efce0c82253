"""The one interface every channel adapter implements (Twilio SMS, Twilio WhatsApp, SMTP, console)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from outreach.models.base import StrEnum


class Outcome(StrEnum):
    #: The provider accepted the message.
    SENT = "sent"
    #: Try again later: throttled (429), provider trouble (5xx), timeout, connection error.
    TRANSIENT = "transient"
    #: Never retry: invalid number, unsubscribed, not a mobile, bad address.
    PERMANENT = "permanent"
    #: The request may or may not have reached the provider (the response was lost). The message
    #: stays ``sending`` and is reconciled by asking the provider, never blindly re-sent.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    body: str
    #: Our ``Message.id``; carried in the status callback URL so callbacks match before the sid is stored.
    message_id: int | None = None
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_sid: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    segments: int | None = None
    #: Seconds the provider asked us to wait (429 Retry-After).
    retry_after: float | None = None


class LookupOutcome(StrEnum):
    #: The provider has messages that may be ours (``Lookup.candidates``).
    FOUND = "found"
    #: The provider has nothing: the message never left; sending it again is safe.
    NOT_FOUND = "not_found"
    #: The channel has no way to ask (SMTP); the caller applies its policy.
    CANNOT_ASK = "cannot_ask"
    #: Asking failed (provider down); try again later.
    ERROR = "error"


@dataclass(frozen=True)
class Lookup:
    """What a provider knows about a message we may or may not have handed over (reconciliation)."""

    outcome: LookupOutcome
    #: (provider sid, segments) of matching messages, newest first.
    candidates: list[tuple[str, int | None]] = field(default_factory=list)


class ChannelAdapter(Protocol):
    """A channel adapter. Instances are created per send job (``channels.get_channel``) and closed after it.

    ``send`` may be called from several threads at once; adapters keep per-thread (or pooled)
    connections and never touch the database session of the caller.
    """

    name: str
    #: Sends count against the shared provider rate limit (Twilio), in SMS segments.
    paced: bool

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand one message to the provider. Never raises for provider errors; maps them to an outcome."""
        ...

    def find_sent(self, message: OutgoingMessage, since: datetime) -> Lookup:
        """Ask the provider whether ``message`` was accepted since ``since`` (reconciliation)."""
        ...

    def close(self) -> None:
        """Release connections (SMTP session, HTTP pool)."""
        ...
