"""E-mail over SMTP with ``smtplib``: one connection, opened on the first send and reused until ``close``.

A send job sends many e-mails; opening one SMTP session per e-mail (EHLO, STARTTLS, AUTH each time)
costs more than the e-mails themselves, and relays throttle new connections. The adapter keeps one
session for its whole life; the send job's threads take turns on it (a lock), and a session the server
closed (idle timeout, restart) is replaced once, transparently.

Every e-mail carries ``Message-ID: <outreach.<message id>@<our domain>>`` and that is its provider sid.
SMTP cannot be asked afterwards whether a message was accepted, so reconciliation re-sends an e-mail
whose outcome is unknown (see ``outreach.messaging.send.reconcile_stuck``); because the Message-ID is
the same for every copy, mail systems that de-duplicate by Message-ID show it once.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from email_validator import EmailNotValidError, validate_email

from outreach.messaging.channels.base import Lookup, LookupOutcome, Outcome, OutgoingMessage, SendResult
from outreach.messaging.redact import mask_address, redact

log = logging.getLogger("outreach.messaging.smtp")


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    mail_from: str
    timeout: float = 10.0
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> SMTPSettings:
        return cls(
            host=config.get("SMTP_HOST") or "localhost",
            port=int(config.get("SMTP_PORT") or 25),
            mail_from=config.get("MAIL_FROM") or "Outreach <outreach@localhost>",
            timeout=float(config.get("SMTP_TIMEOUT_SECONDS") or 10.0),
            starttls=bool(config.get("SMTP_STARTTLS")),
            username=config.get("SMTP_USERNAME") or None,
            password=config.get("SMTP_PASSWORD") or None,
        )

    @property
    def domain(self) -> str:
        address = parseaddr(self.mail_from)[1]
        return address.rpartition("@")[2] or "localhost"


def message_id_header(message_id: int | None, domain: str) -> str:
    """Stable for a given message, so a re-sent copy carries the same Message-ID."""
    if message_id is None:
        return make_msgid("outreach", domain=domain)
    return f"<outreach.{message_id}@{domain}>"


class SMTPEmailChannel:
    name = "email"
    paced = False

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        # One session, used by one thread at a time: SMTP is a conversation, not a request pool.
        self._lock = threading.Lock()
        self._smtp: smtplib.SMTP | None = None

    # -- the session ---------------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        log.info(
            "smtp connected to %s:%s (starttls=%s, login=%s)", s.host, s.port, s.starttls, bool(s.username)
        )
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        with self._lock:
            smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    # -- sending -------------------------------------------------------------------------------------

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.mail_from
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id_header(message.message_id, self.settings.domain)
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.body)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email

    def send(self, message: OutgoingMessage) -> SendResult:
        started = time.monotonic()
        result = self._send(message)
        log.info(
            "smtp send message=%s to=%s outcome=%s code=%s %.0fms",
            message.message_id,
            mask_address(message.to),
            result.outcome.value,
            result.error_code or "-",
            (time.monotonic() - started) * 1000,
        )
        return result

    def _send(self, message: OutgoingMessage) -> SendResult:
        try:
            validate_email(message.to, check_deliverability=False)
        except EmailNotValidError as exc:
            return SendResult(Outcome.PERMANENT, error_code="invalid_email", error_message=str(exc)[:500])
        email = self.build(message)
        sid = str(email["Message-ID"])[:64]
        with self._lock:
            for attempt in (1, 2):
                reused = self._smtp is not None
                try:
                    if self._smtp is None:
                        self._smtp = self._connect()
                    self._smtp.send_message(email)
                except smtplib.SMTPServerDisconnected as exc:
                    self._drop()
                    if reused and attempt == 1:
                        continue  # the server dropped our idle session; a fresh one sends it
                    return self._failure(exc, "smtp_connection", Outcome.TRANSIENT)
                except smtplib.SMTPRecipientsRefused as exc:
                    # smtplib already reset the session (RSET): it stays usable.
                    code = min((c for c, _ in exc.recipients.values()), default=550)
                    if code >= 500:
                        return self._failure(exc, "smtp_rejected", Outcome.PERMANENT)
                    return self._failure(exc, "smtp_temporary", Outcome.TRANSIENT)
                except (smtplib.SMTPAuthenticationError, smtplib.SMTPConnectError) as exc:
                    # Our credentials or the relay's greeting: configuration or relay trouble, not
                    # this message.
                    self._drop()
                    return self._failure(exc, "smtp_connection", Outcome.TRANSIENT)
                except smtplib.SMTPSenderRefused as exc:
                    # Our own sender address was refused: configuration, not this message; retrying
                    # after the fix saves it.
                    return self._failure(exc, "smtp_temporary", Outcome.TRANSIENT)
                except smtplib.SMTPResponseException as exc:
                    if not isinstance(exc, smtplib.SMTPDataError):  # the session is in doubt
                        self._drop()
                    if exc.smtp_code >= 500:
                        return self._failure(exc, "smtp_failed", Outcome.PERMANENT)
                    return self._failure(exc, "smtp_temporary", Outcome.TRANSIENT)
                except (OSError, smtplib.SMTPException) as exc:
                    self._drop()
                    return self._failure(exc, "smtp_connection", Outcome.TRANSIENT)
                return SendResult(Outcome.SENT, provider_sid=sid)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def _failure(self, exc: BaseException, code: str, outcome: Outcome) -> SendResult:
        text = redact(repr(exc), self.settings.password)[:500]
        return SendResult(outcome, error_code=code, error_message=text)

    def find_sent(self, message: OutgoingMessage, since: datetime) -> Lookup:
        return Lookup(LookupOutcome.CANNOT_ASK)
