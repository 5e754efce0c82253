"""Community representative accounts: an admin invites, the representative sets a password.

The admin creates the representative (a ``community_rep`` user with no password, in an organisation
and a province) and an :class:`~outreach.models.Invitation`. The e-mail carries a link with an
itsdangerous-signed token naming the invitation; the link works until the invitation expires
(``INVITATION_HOURS``, default 72), once, and only while it is the latest invitation for that user
(sending a new one revokes the old). Expiry and use are checked against the database, so neither a
replayed nor an old-but-validly-signed token gets through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from outreach.accounts import AccountError, create_user
from outreach.audit import record
from outreach.extensions import db
from outreach.grievances.errors import NotAllowed, ValidationError
from outreach.grievances.notifications import external_url, send_invitation
from outreach.models import Invitation, Organisation, Province, Role, User, utcnow
from outreach.passwords import MIN_LENGTH, password_problem

DEFAULT_INVITATION_HOURS = 72
PASSWORD_MIN = MIN_LENGTH
PASSWORD_MAX = 200
_SALT = "outreach.rep-invitation"


class InvitationProblem(Enum):
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    REPLACED = "replaced"


class InvitationRefused(Exception):
    """The link cannot be used; ``problem`` says why (the page explains it to the person)."""

    def __init__(self, problem: InvitationProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def invitation_hours() -> int:
    return int(current_app.config.get("INVITATION_HOURS") or DEFAULT_INVITATION_HOURS)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def make_token(invitation: Invitation) -> str:
    return _serializer().dumps({"i": invitation.id})


def invitation_link(invitation: Invitation) -> str:
    return external_url("invitation.accept", token=make_token(invitation))


@dataclass(frozen=True)
class RepInput:
    email: str
    name: str
    organisation: str
    province_code: str
    language: str = "ko"


def _require_admin(actor: User | None) -> User:
    if actor is None or actor.role != Role.ADMIN or not actor.active:
        raise NotAllowed(_("Only an admin can invite community representatives."))
    return actor


def invite_rep(data: RepInput, actor: User | None) -> tuple[User, Invitation]:
    """Create a representative without a password and e-mail them an invitation; flush, never commit."""
    admin = _require_admin(actor)
    errors: dict[str, str] = {}
    organisation = data.organisation.strip()
    if not organisation:
        errors["organisation"] = _("Choose or name the representative's organisation.")
    elif len(organisation) > 200:
        errors["organisation"] = _(
            "The organisation's name is too long (at most %(max)d characters).", max=200
        )
    if not data.province_code or db.session.get(Province, data.province_code) is None:
        errors["province_code"] = _("Choose a province.")
    if len(data.name.strip()) > 100:
        errors["name"] = _("The name is too long (at most %(max)d characters).", max=100)
    if errors:
        raise ValidationError(errors)
    try:
        user = create_user(
            email=data.email,
            role=Role.COMMUNITY_REP,
            name=data.name.strip(),
            password=None,
            language=data.language,
            organisation=organisation,
            province_code=data.province_code,
            actor=admin,
        )
    except AccountError as exc:
        message = str(exc)
        if "already exists" in message:
            raise ValidationError(
                {"email": _("Someone already has an account with this e-mail address.")}
            ) from exc
        if "e-mail" in message:
            raise ValidationError({"email": _("Enter a valid e-mail address.")}) from exc
        raise ValidationError({"email": message}) from exc
    invitation = _new_invitation(user, admin)
    return user, invitation


def resend_invitation(user: User, actor: User | None) -> Invitation:
    """A fresh link for a representative who has not set a password yet; older links stop working."""
    admin = _require_admin(actor)
    if user.role != Role.COMMUNITY_REP:
        raise ValidationError({"user": _("Only community representatives are invited this way.")})
    if user.password_hash:
        raise ValidationError({"user": _("This representative has already set a password.")})
    if not user.active:
        raise ValidationError({"user": _("This account is deactivated.")})
    return _new_invitation(user, admin)


def _new_invitation(user: User, admin: User) -> Invitation:
    now = utcnow()
    db.session.execute(
        sa.update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    invitation = Invitation(
        user=user,
        invited_by_id=admin.id,
        created_at=now,
        expires_at=now + timedelta(hours=invitation_hours()),
    )
    db.session.add(invitation)
    db.session.flush()
    record("invitation.create", actor=admin, target=invitation, user_id=user.id, email=user.email)
    send_invitation(invitation, invitation_link(invitation))
    return invitation


def resolve_token(token: str) -> Invitation:
    """The usable invitation a link names; :class:`InvitationRefused` says why not."""
    try:
        payload = _serializer().loads(token)
        invitation_id = int(payload["i"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvitationRefused(InvitationProblem.INVALID) from exc
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or not invitation.user.active or invitation.user.role != Role.COMMUNITY_REP:
        raise InvitationRefused(InvitationProblem.INVALID)
    if invitation.used_at is not None:
        raise InvitationRefused(InvitationProblem.USED)
    if invitation.revoked_at is not None:
        raise InvitationRefused(InvitationProblem.REPLACED)
    if invitation.expires_at <= utcnow():
        raise InvitationRefused(InvitationProblem.EXPIRED)
    return invitation


def accept_invitation(invitation: Invitation, password: str, confirm: str) -> User:
    """Set the representative's password and use the invitation up (compare-and-set: once only)."""
    errors: dict[str, str] = {}
    problem = password_problem(password)
    if problem:
        errors["password"] = problem
    elif password != confirm:
        errors["confirm"] = _("The two passwords are not the same.")
    if errors:
        raise ValidationError(errors)
    now = utcnow()
    claimed = db.session.execute(
        sa.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(invitation)
        raise InvitationRefused(InvitationProblem.USED if invitation.used_at else InvitationProblem.EXPIRED)
    db.session.refresh(invitation)
    user = invitation.user
    user.set_password(password)
    db.session.flush()
    record("invitation.accept", actor=user, target=invitation, user_id=user.id)
    return user


def pending_invitation(user: User) -> Invitation | None:
    """The user's latest invitation that can still be used, if any."""
    return db.session.scalar(
        sa.select(Invitation)
        .where(
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.id.desc())
        .limit(1)
    )


def organisation_choices() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).order_by(Organisation.name)))
