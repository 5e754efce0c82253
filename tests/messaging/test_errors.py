"""The error table: what is retried, what is not, and what staff read (in Korean too)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from outreach.messaging.channels.base import Outcome
from outreach.messaging.errors import ERRORS, classify_twilio, explain


@pytest.mark.parametrize("code", [20429, 20500, 20503, 30001, 30008])
def test_transient_codes(code: int) -> None:
    assert classify_twilio(code, 400).outcome is Outcome.TRANSIENT


@pytest.mark.parametrize(
    "code", [21211, 21214, 21217, 21408, 21608, 21610, 21612, 21614, 30003, 30004, 30005, 30006, 30007, 63016]
)
def test_permanent_codes(code: int) -> None:
    assert classify_twilio(code, 400).outcome is Outcome.PERMANENT


def test_only_unsubscribed_opts_out() -> None:
    assert [code for code, info in ERRORS.items() if info.opts_out] == ["21610"]


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (429, Outcome.TRANSIENT, "http_429"),
        (503, Outcome.TRANSIENT, "http_5xx"),
        (400, Outcome.PERMANENT, "http_4xx"),
    ],
)
def test_unknown_code_falls_back_on_http_status(status: int, outcome: Outcome, code: str) -> None:
    assert classify_twilio(None, status).outcome is outcome
    assert classify_twilio(None, status).code == code
    # an unlisted Twilio code keeps its number (staff can look it up) with the fallback's meaning
    assert classify_twilio(29999, status).code == "29999"
    assert classify_twilio(29999, status).outcome is outcome


def test_every_explanation_is_translated_to_korean_and_khmer(app: Flask) -> None:
    with app.app_context():
        for lang in ("ko", "km"):
            with force_locale("en"):
                english = {code: explain(code) for code in ERRORS}
            with force_locale(lang):
                translated = {code: explain(code) for code in ERRORS}
            untranslated = [code for code in ERRORS if translated[code] == english[code]]
            assert untranslated == [], lang


def test_korean_explanation_for_progress_page(app: Flask) -> None:
    with app.app_context(), force_locale("ko"):
        assert explain("21211") == "전화번호가 올바르지 않습니다."
        assert explain("12345") == "발송 업체 오류 12345."
        assert explain(None) == ""
