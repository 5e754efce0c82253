"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives.

    with FakeSMTP() as smtp:
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = smtp.host, smtp.port
        ...
        (received,) = smtp.wait_for(1)
        assert received.message["Subject"] == "..."
        assert smtp.connections == 1   # one SMTP session reused for the whole batch

Plain SMTP only (no STARTTLS).  Pass ``credentials=("user", "secret")`` to advertise AUTH
PLAIN/LOGIN over the plain connection so an app that calls ``smtplib.SMTP.login`` works; wrong
credentials get ``535``.
"""

from __future__ import annotations

import email.policy
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

_PARSER = BytesParser(policy=email.policy.default)
_SESSION_TAG = "_fake_smtp_session_number"


@dataclass(frozen=True)
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage  # parsed with email.policy.default
    raw: bytes
    login: str | None  # AUTH user of the session, when credentials are configured
    session_id: int  # same value for messages sent over the same connection
    received_at: float  # time.monotonic()


@dataclass(frozen=True)
class _Rejection:
    code: int
    text: str


class _Handler:
    """aiosmtpd handler hooks; runs on the controller's event-loop thread."""

    def __init__(self, fake: FakeSMTP) -> None:
        self._fake = fake

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        self._fake._greeted(session)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self._fake._greeted(session)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self._fake._receive(session, envelope)


class FakeSMTP:
    """SMTP sink for tests; thread-safe, usable as a context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port = port  # the bound port once started
        self._credentials = credentials
        self._controller: Controller | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages: list[ReceivedEmail] = []
        self._session_count = 0
        self._rejections: deque[_Rejection] = deque()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._controller is not None:
            raise RuntimeError("FakeSMTP already started")
        port = self._requested_port or _free_port(self.host)
        smtp_kwargs: dict[str, Any] = {}
        if self._credentials is not None:
            # auth_required stays False: requiring AUTH without TLS makes aiosmtpd warn, which
            # pytest's filterwarnings=error would turn into a failure.
            smtp_kwargs.update(auth_require_tls=False, authenticator=self._authenticate)
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=port,
            # The default hostname comes from socket.getfqdn(), which can stall on DNS.
            server_hostname="fake-smtp.test",
            ready_timeout=10.0,
            **smtp_kwargs,
        )
        controller.start()
        self._controller = controller
        self.port = port
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inspection --------------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """SMTP sessions that greeted with HELO/EHLO.

        Counting greetings rather than accepted sockets leaves out the probe connection
        ``Controller.start()`` opens itself, which only reads the banner.
        """
        with self._lock:
            return self._session_count

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedEmail]:
        """Block until at least ``count`` messages arrived; TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} emails received, wanted {count}")
            return list(self._messages)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._session_count = 0
            self._rejections.clear()

    def fail_next(self, n: int = 1, code: int = 451, text: str = "4.3.0 Try again later") -> None:
        """Answer DATA of the next ``n`` messages with ``code`` (4xx temporary, 5xx permanent)."""
        with self._lock:
            self._rejections.extend([_Rejection(code, text)] * n)

    # -- handler callbacks (event-loop thread) -------------------------------------------------

    def _greeted(self, session: Session) -> None:
        # Tagging the Session object, not keying by id(): ids are reused once a closed
        # session is garbage-collected, which would hide new connections.
        with self._lock:
            if getattr(session, _SESSION_TAG, None) is None:
                self._session_count += 1
                setattr(session, _SESSION_TAG, self._session_count)

    def _receive(self, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        login: str | None = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        message = _PARSER.parsebytes(raw)
        assert isinstance(message, EmailMessage)  # guaranteed by policy=email.policy.default
        with self._changed:
            if self._rejections:
                rejection = self._rejections.popleft()
                return f"{rejection.code} {rejection.text}"
            self._messages.append(
                ReceivedEmail(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=message,
                    raw=raw,
                    login=login,
                    session_id=getattr(session, _SESSION_TAG, 0),
                    received_at=time.monotonic(),
                )
            )
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self._credentials is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self._credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _free_port(host: str) -> int:
    # aiosmtpd's Controller needs a concrete port up front (its start-up probe connects to
    # it), so "port 0" is resolved here; the tiny bind race is acceptable for tests.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
