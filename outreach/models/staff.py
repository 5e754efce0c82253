"""Staff users (admins, officers, community representatives), organisations and API tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy import orm as so
from werkzeug.security import check_password_hash, generate_password_hash

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    COMMUNITY_REP = "community_rep"
    #: A task-force liaison officer: an officer who also sees and works task-force cases.
    LIAISON = "liaison"


STAFF_ROLES = frozenset({Role.ADMIN, Role.OFFICER, Role.LIAISON})
#: Who may read a report's task-force side (location, recruitment, evidence, disclosures).
TASK_FORCE_ROLES = frozenset({Role.ADMIN, Role.LIAISON})


class Organisation(Base):
    """A community organisation that representatives belong to."""

    __tablename__ = "organisation"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    province_code: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("province.code"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class User(UserMixin, TimestampMixin, Base):
    __tablename__ = "user"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(256))
    role: so.Mapped[Role] = so.mapped_column(enum_column(Role), index=True)
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="ko")
    #: Officers on duty are notified at once when someone asks for help.
    on_duty: so.Mapped[bool] = so.mapped_column(default=False, index=True)
    active: so.Mapped[bool] = so.mapped_column(default=True)
    organisation_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("organisation.id"), index=True)
    province_code: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("province.code"))
    last_login_at: so.Mapped[datetime | None]
    #: Base32 TOTP secret (RFC 6238); set at enrolment, confirmed by ``totp_enabled_at``.
    totp_secret: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    totp_enabled_at: so.Mapped[datetime | None]
    #: The last TOTP time step accepted: a code is good once (no replay within its 30 s window).
    totp_last_step: so.Mapped[int | None]
    #: Failed sign-in attempts (password or second factor) since the last success or lock-out.
    failed_logins: so.Mapped[int] = so.mapped_column(default=0)
    #: Sign-in refused until then, after too many failures in a row.
    locked_until: so.Mapped[datetime | None]

    organisation: so.Mapped[Organisation | None] = so.relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash or "", password)

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated account cannot log in
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def sees_task_force(self) -> bool:
        return self.role in TASK_FORCE_ROLES

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None and self.totp_enabled_at is not None

    @property
    def needs_totp(self) -> bool:
        """Admins and officers must sign in with a second factor; representatives may."""
        return self.role in STAFF_ROLES

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship()


class Invitation(Base):
    """A one-time invitation for a community representative to set a password.

    The e-mailed link carries a signed token naming this row; it works until ``expires_at``, once
    (``used_at``), and only while it is the user's latest invitation (``revoked_at``).
    """

    __tablename__ = "invitation"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    invited_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]
    #: Set when a newer invitation replaced this one (only the latest link works).
    revoked_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship(foreign_keys=[user_id])
    invited_by: so.Mapped[User | None] = so.relationship(foreign_keys=[invited_by_id])


class UserSession(Base):
    """A signed-in browser, kept on the server so that logging out (or an admin) really ends it.

    The session cookie holds only a random id whose SHA-256 is ``token_hash``; every request checks
    that the row is open, not idle longer than ``SESSION_IDLE_MINUTES`` and younger than
    ``SESSION_MAX_HOURS``. A password, role or activation change ends all of the user's sessions.
    """

    __tablename__ = "user_session"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    #: Updated at most once a minute, so the idle timeout is exact to the minute.
    last_seen_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    ended_at: so.Mapped[datetime | None]
    #: Why it ended: logout, idle, expired, password, role, deactivated, second_factor_reset.
    end_reason: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))

    user: so.Mapped[User] = so.relationship()


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app; only its hash is stored."""

    __tablename__ = "recovery_code"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    used_at: so.Mapped[datetime | None]
