"""Twilio Programmable Messaging: SMS (and, in :mod:`twilio_whatsapp`, WhatsApp) through the official SDK.

One ``twilio.rest.Client`` per thread: the SDK's client keeps a ``requests.Session`` that is not
meant to be shared between threads, and the send job calls :meth:`send` from a thread pool.

Errors are mapped, never raised (``outreach.messaging.errors`` holds the table):

- a Twilio error answer → transient or permanent by its code (HTTP status as fallback);
- the connection could not be made (refused, DNS, connect timeout, TLS handshake) → transient:
  the request never reached Twilio;
- the request was written but no answer came (read timeout, connection dropped mid-response) →
  :attr:`Outcome.UNKNOWN`: Twilio may have accepted it. The message stays ``sending`` and
  reconciliation asks Twilio (:meth:`find_sent`) before anything is sent again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from outreach.messaging.channels.base import (
    Lookup,
    LookupOutcome,
    Outcome,
    OutgoingMessage,
    SendResult,
)
from outreach.messaging.errors import classify_twilio
from outreach.messaging.redact import mask_address, redact

log = logging.getLogger("outreach.messaging.twilio")

# The SDK logs every request at INFO, query parameters (phone numbers) included; we log our own
# redacted line per call instead, so its logger only passes warnings.
_SDK_LOG = logging.getLogger("outreach.messaging.twilio.sdk")
_SDK_LOG.setLevel(logging.WARNING)

#: Twilio's clock and ours may differ; reconciliation looks this far before the claim time.
CLOCK_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    base_url: str
    timeout: float
    public_base_url: str
    from_: str | None = None
    messaging_service_sid: str | None = None

    @classmethod
    def from_config(cls, config: Any, *, whatsapp: bool = False) -> TwilioSettings:
        return cls(
            account_sid=config["TWILIO_ACCOUNT_SID"] or "",
            auth_token=config["TWILIO_AUTH_TOKEN"] or "",
            base_url=(config.get("TWILIO_API_BASE_URL") or "https://api.twilio.com").rstrip("/"),
            timeout=float(config.get("TWILIO_TIMEOUT_SECONDS") or 10.0),
            public_base_url=(config.get("PUBLIC_BASE_URL") or "").rstrip("/"),
            from_=config.get("TWILIO_WHATSAPP_FROM") if whatsapp else config.get("TWILIO_FROM"),
            # A Messaging Service picks SMS senders; WhatsApp always names its sender.
            messaging_service_sid=None if whatsapp else config.get("TWILIO_MESSAGING_SERVICE_SID"),
        )


class _HttpClient(TwilioHttpClient):
    """The SDK's client, remembering the last ``Retry-After`` (the SDK's exception does not carry it)."""

    retry_after: float | None = None

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self.retry_after = None
        response: Response = super().request(*args, **kwargs)
        value = (response.headers or {}).get("Retry-After")
        if value:
            try:
                self.retry_after = max(0.0, float(value))
            except ValueError:
                self.retry_after = None  # an HTTP date: rare from Twilio; our backoff applies
        return response

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def network_outcome(exc: BaseException) -> tuple[Outcome, str]:
    """Did the request reach the provider? Connect-phase failures cannot have; anything later may have."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return Outcome.TRANSIENT, "connection"
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: object = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        if isinstance(reason, NewConnectionError | ConnectTimeoutError):
            return Outcome.TRANSIENT, "connection"
    return Outcome.UNKNOWN, "no_response"


class TwilioSMSChannel:
    """SMS through Twilio; see the module docstring for the error mapping."""

    name = "sms"
    paced = True

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()
        self._http_clients: list[_HttpClient] = []

    # -- addressing (WhatsApp overrides) -------------------------------------------------------------

    def provider_address(self, address: str) -> str:
        return address

    def sender(self) -> dict[str, str]:
        if self.settings.messaging_service_sid:
            return {"messaging_service_sid": self.settings.messaging_service_sid}
        return {"from_": self.settings.from_ or ""}

    # -- client per thread ---------------------------------------------------------------------------

    def _client(self) -> tuple[Client, _HttpClient]:
        pair: tuple[Client, _HttpClient] | None = getattr(self._local, "pair", None)
        if pair is None:
            http = _HttpClient(timeout=self.settings.timeout, logger=_SDK_LOG)
            client = Client(self.settings.account_sid, self.settings.auth_token, http_client=http)
            # Every 2010-04-01 resource builds its URL from this Domain attribute (tests: FakeTwilio).
            client.api.base_url = self.settings.base_url
            pair = (client, http)
            self._local.pair = pair
            with self._lock:
                self._http_clients.append(http)
        return pair

    def close(self) -> None:
        with self._lock:
            clients, self._http_clients = self._http_clients, []
        for http in clients:
            http.close()
        self._local = threading.local()

    # -- sending -------------------------------------------------------------------------------------

    def status_callback(self, message_id: int | None) -> str | None:
        if message_id is None or not self.settings.public_base_url:
            return None
        return f"{self.settings.public_base_url}/twilio/status?m={message_id}"

    def send(self, message: OutgoingMessage) -> SendResult:
        client, http = self._client()
        params: dict[str, Any] = {
            "to": self.provider_address(message.to),
            "body": message.body,
            **self.sender(),
        }
        callback = self.status_callback(message.message_id)
        if callback:
            params["status_callback"] = callback
        started = time.monotonic()
        try:
            created = client.messages.create(**params)
        except TwilioRestException as exc:
            info = classify_twilio(exc.code, exc.status)
            retry_after = http.retry_after if info.outcome is Outcome.TRANSIENT else None
            result = SendResult(
                info.outcome,
                error_code=info.code,
                error_message=redact(str(exc.msg or ""), self.settings.auth_token)[:500],
                retry_after=retry_after,
            )
        except requests.RequestException as exc:
            outcome, code = network_outcome(exc)
            result = SendResult(outcome, error_code=code, error_message=redact(repr(exc))[:500])
        except Exception as exc:  # garbled answer, SDK bug: it may have been sent, so never blindly re-send
            log.exception("twilio %s create failed unexpectedly (message %s)", self.name, message.message_id)
            result = SendResult(Outcome.UNKNOWN, error_code="no_response", error_message=repr(exc)[:500])
        else:
            result = SendResult(Outcome.SENT, provider_sid=created.sid, segments=_int(created.num_segments))
        log.info(
            "twilio %s create message=%s to=%s outcome=%s sid=%s code=%s retry_after=%s %.0fms",
            self.name,
            message.message_id,
            mask_address(params["to"]),
            result.outcome.value,
            result.provider_sid or "-",
            result.error_code or "-",
            result.retry_after,
            (time.monotonic() - started) * 1000,
        )
        return result

    def find_sent(self, message: OutgoingMessage, since: datetime) -> Lookup:
        """Messages Twilio accepted to this number since ``since`` (less a clock margin), matched by body."""
        client, _http = self._client()
        to = self.provider_address(message.to)
        after = (since.astimezone(UTC) - CLOCK_MARGIN).replace(microsecond=0)
        started = time.monotonic()
        try:
            # The SDK formats datetimes as "%Y-%m-%dT%H:%M:%SZ" without converting: pass UTC.
            found = client.messages.list(to=to, date_sent_after=after, limit=100)
        except (TwilioException, requests.RequestException) as exc:
            log.warning("twilio %s list to=%s failed: %s", self.name, mask_address(to), redact(repr(exc)))
            return Lookup(LookupOutcome.ERROR)
        wanted = _normalise_body(message.body)
        candidates = [
            (str(m.sid), _int(m.num_segments))
            for m in found
            if _normalise_body(m.body) == wanted and str(m.direction or "").startswith("outbound")
        ]
        log.info(
            "twilio %s list message=%s to=%s since=%s listed=%d matching=%d %.0fms",
            self.name,
            message.message_id,
            mask_address(to),
            after.isoformat(),
            len(found),
            len(candidates),
            (time.monotonic() - started) * 1000,
        )
        return Lookup(LookupOutcome.FOUND if candidates else LookupOutcome.NOT_FOUND, candidates)


def _normalise_body(body: str | None) -> str:
    # Twilio keeps the body as sent; only surrounding whitespace and line-ending style may differ.
    return (body or "").replace("\r\n", "\n").strip()


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
