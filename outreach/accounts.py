"""Staff accounts and API tokens: plain operations that flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from outreach.audit import record
from outreach.extensions import db
from outreach.models import ApiToken, Organisation, Province, Role, User, utcnow
from outreach.passwords import MIN_LENGTH, password_problem
from outreach.registry.phones import PhoneError, normalise_phone

MIN_PASSWORD_LENGTH = MIN_LENGTH


class AccountError(ValueError):
    """Bad input for an account; the message says what is wrong."""


def create_user(
    *,
    email: str,
    role: Role | str,
    name: str = "",
    password: str | None = None,
    phone: str | None = None,
    language: str = "ko",
    on_duty: bool = False,
    organisation: str | None = None,
    province_code: str | None = None,
    actor: User | None = None,
) -> User:
    email = email.strip().lower()
    try:
        role = Role(role)
    except ValueError as exc:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}") from exc
    if "@" not in email or len(email) > 254 or any(ch.isspace() for ch in email):
        raise AccountError("e-mail address is not valid")
    name = name.strip()
    if len(name) > 100:
        raise AccountError("name must be at most 100 characters")
    if db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == email)):
        raise AccountError(f"a user with e-mail {email} already exists")
    if language not in ("ko", "en", "km"):
        raise AccountError("language must be ko, en or km")
    problem = password_problem(password) if password is not None else None
    if problem:
        raise AccountError(problem)
    e164 = None
    if phone:
        try:
            e164 = normalise_phone(phone).e164
        except PhoneError as exc:
            raise AccountError(str(exc)) from exc
    province_code = (province_code or "").strip().upper() or None
    if province_code is not None and db.session.get(Province, province_code) is None:
        raise AccountError(f"unknown province {province_code}; use an ISO 3166-2:KH code such as KH-12")
    org = None
    organisation = (organisation or "").strip()
    if len(organisation) > 200:
        raise AccountError("organisation must be at most 200 characters")
    if organisation:
        org = db.session.scalar(sa.select(Organisation).where(Organisation.name == organisation))
        if org is None:
            org = Organisation(name=organisation, province_code=province_code)
            db.session.add(org)
    if role == Role.COMMUNITY_REP and org is None:
        raise AccountError("a community representative needs an organisation (--organisation)")
    user = User(
        email=email,
        role=role,
        name=name,
        phone=e164,
        language=language,
        on_duty=on_duty,
        organisation=org,
        province_code=province_code,
    )
    if password:
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record("user.create", actor=actor, target=user, role=role.value)
    return user


#: How precisely a token's last use is recorded.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new bearer token for ``user``; the plain token is returned once and never stored."""
    plain = "otr_" + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=hash_token(plain))
    db.session.add(token)
    db.session.flush()
    record("token.create", actor=user, target=token, name=name)
    return token, plain


def user_for_token(plain: str) -> User | None:
    """The active user a live token belongs to, recording its use; None for anything else."""
    token = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(plain), ApiToken.revoked_at.is_(None))
    )
    if token is None or not token.user.active:
        return None
    now = utcnow()
    # To the minute: a program polling every second must not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
    return token.user


def revoke_token(token: ApiToken, actor: User | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record("token.revoke", actor=actor, target=token)
