"""One-time upload links: signed, expiring, spent exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from itsdangerous import TimestampSigner

from outreach.extensions import db
from outreach.i18n import for_person_language
from outreach.models import utcnow
from outreach.reports.upload_links import (
    UploadGrant,
    UploadLinkError,
    check_upload_token,
    consume_upload_token,
    default_expiry,
    make_upload_token,
    new_link_id,
    upload_url,
)


@dataclass
class Row:
    case_id: int
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


def lookup_in(rows: dict[str, Row]) -> Callable[[str], Row | None]:
    return rows.get


def test_a_fresh_link_names_its_case(evidence_app: Flask) -> None:
    link_id = new_link_id()
    token = make_upload_token(42, link_id)
    rows = {link_id: Row(42, default_expiry())}
    assert check_upload_token(token, lookup=lookup_in(rows)) == UploadGrant(42, link_id)
    assert upload_url(token) == "http://localhost/u/" + token
    assert len(link_id) >= 22 and new_link_id() != link_id


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (None, "invalid"),
        (Row(7, utcnow() + timedelta(hours=1)), "invalid"),  # the row belongs to another case
        (Row(42, utcnow() + timedelta(hours=1), used_at=utcnow()), "used"),
        (Row(42, utcnow() + timedelta(hours=1), revoked_at=utcnow()), "revoked"),
        (Row(42, utcnow() - timedelta(seconds=1)), "expired"),
    ],
    ids=["unknown", "other-case", "used", "revoked", "expired-row"],
)
def test_a_link_that_cannot_be_used_says_why(evidence_app: Flask, row: Row | None, reason: str) -> None:
    link_id = new_link_id()
    rows = {link_id: row} if row else {}
    with pytest.raises(UploadLinkError) as refused:
        check_upload_token(make_upload_token(42, link_id), lookup=lookup_in(rows))
    assert refused.value.reason == reason


def test_a_tampered_link_is_refused_before_the_database_is_asked(evidence_app: Flask) -> None:
    asked: list[str] = []

    def lookup(link_id: str) -> Row | None:
        asked.append(link_id)
        return Row(43, default_expiry())

    token = make_upload_token(42, new_link_id())
    # Another payload under this token's signature.
    forged = make_upload_token(43, "x").split(".", 1)[0] + "." + token.split(".", 1)[1]
    for bad in (forged, token[:-2], "not-a-token", ""):
        with pytest.raises(UploadLinkError) as refused:
            check_upload_token(bad, lookup=lookup)
        assert refused.value.reason == "invalid"
    assert asked == []


def test_a_link_older_than_the_longest_life_has_expired(
    evidence_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    hours = evidence_app.config["EVIDENCE_UPLOAD_LINK_HOURS"]
    assert hours == 72
    link_id = new_link_id()
    # Signed as if made 72 hours and a minute ago; the row alone would still let it through.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - hours * 3600 - 60)
    token = make_upload_token(42, link_id)
    monkeypatch.undo()
    with pytest.raises(UploadLinkError) as refused:
        check_upload_token(token, lookup=lookup_in({link_id: Row(42, utcnow() + timedelta(days=30))}))
    assert refused.value.reason == "expired"


def test_reasons_read_in_the_persons_language(evidence_app: Flask) -> None:
    error = UploadLinkError("used")
    with for_person_language("en"):
        assert "only once" in str(error.message)
    with for_person_language("ko"):
        assert "한 번만" in str(error.message)
    with for_person_language("km"):
        assert "តែម្តង" in str(error.message)


def test_a_link_is_spent_exactly_once_by_the_conditional_update(evidence_app: Flask) -> None:
    """The update the later ``upload_token`` table will use, run on the test database."""
    link_id = new_link_id()
    with db.engine.connect() as conn:
        conn.execute(
            sa.text(
                "CREATE TEMPORARY TABLE upload_token_probe (link_id VARCHAR(40) PRIMARY KEY, "
                "case_id INTEGER, expires_at TIMESTAMP, used_at TIMESTAMP NULL, revoked_at TIMESTAMP NULL)"
            )
        )
        now = datetime(2026, 3, 2, 7, 0)
        conn.execute(
            sa.text("INSERT INTO upload_token_probe VALUES (:l, 42, :e, NULL, NULL)"),
            {"l": link_id, "e": now + timedelta(hours=72)},
        )

        def mark_used(link: str, at: datetime) -> bool:
            result = conn.execute(
                sa.text(
                    "UPDATE upload_token_probe SET used_at = :now WHERE link_id = :l AND used_at IS NULL "
                    "AND revoked_at IS NULL AND expires_at > :now"
                ),
                {"l": link, "now": at.replace(tzinfo=None)},
            )
            return result.rowcount == 1

        grant = UploadGrant(42, link_id)
        consume_upload_token(grant, mark_used=mark_used, now=now)
        with pytest.raises(UploadLinkError) as second:
            consume_upload_token(grant, mark_used=mark_used, now=now + timedelta(seconds=1))
        assert second.value.reason == "used"
        used = conn.execute(sa.text("SELECT used_at FROM upload_token_probe")).scalar_one()
        assert str(used).startswith("2026-03-02 07:00:00")
        conn.rollback()
