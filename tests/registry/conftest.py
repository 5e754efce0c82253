"""Helpers for registry tests: a valid registration form, an SMS sender through the signed webhook."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient

from outreach.models import utcnow
from tests.conftest import post_twilio

_sids = itertools.count(1)


def future(days: int) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


def registration(**overrides: Any) -> dict[str, str]:
    """A complete, valid /register form; keyword arguments replace or (with None) remove fields."""
    data = {
        "name_ko": "홍길동",
        "name_latin": "Hong Gildong",
        "phone": "012 345 678",
        "phone_other": "010-1234-5678",
        "whatsapp": "012 345 678",
        "email": "gildong@example.org",
        "language": "ko",
        "province": "KH-12",
        "district_note": "BKK1",
        "status": "traveler",
        "arrival_date": future(-2),
        "departure_date": future(10),
        "emergency_name": "홍판서",
        "emergency_phone": "010-9876-5432",
        "emergency_relation": "아버지",
        "emergency_contact_consent": "y",
        "consent": "y",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def text_of(html: bytes | str) -> str:
    """Visible text, roughly: tags out, entities decoded, spaces squeezed."""
    raw = html.decode() if isinstance(html, bytes) else html
    raw = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", raw, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def errors_of(html: bytes) -> list[str]:
    return [unescape(m) for m in re.findall(r'<ul class="errors" role="alert"><li>(.*?)</li>', html.decode())]


@pytest.fixture
def sms(client: FlaskClient) -> Callable[..., str]:
    """Send one SMS (or WhatsApp) through the signed webhook; returns the TwiML reply's text."""

    def send(sender: str, body: str, *, whatsapp: bool = False) -> str:
        params = {
            "MessageSid": f"SM{next(_sids):032d}",
            "AccountSid": "AC" + "0" * 32,
            "From": ("whatsapp:" if whatsapp else "") + sender,
            "To": ("whatsapp:" if whatsapp else "") + "+15005550006",
            "Body": body,
            "NumSegments": "1",
        }
        response = post_twilio(client, "/twilio/sms", params)
        assert response.status_code == 200, response.data
        match = re.search(r"<Message>(.*?)</Message>", response.data.decode(), flags=re.S)
        return unescape(match.group(1)) if match else ""

    return send
