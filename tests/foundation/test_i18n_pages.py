"""Staff pages follow the staff member's language; public pages the visitor's choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login
from tests.foundation.conftest import english

#: page → (what a Korean-language user reads, what an English-language user reads)
STAFF_PAGES = {
    "/staff/": (
        ["대사관 직원", "발신함", "수신함", "로그아웃"],
        ["Embassy staff", "Outbox", "Inbox", "Log out"],
    ),
    "/staff/outbox": (
        ["<h1>발신함</h1>", "아직 보낸 메시지가 없습니다.", "개발용 채널"],
        ["<h1>Outbox</h1>", "Nothing has been sent yet.", "development channel"],
    ),
    "/staff/inbox": (
        ["<h1>수신함</h1>", "처리를 기다리는 메시지가 없습니다."],
        ["<h1>Inbox</h1>", "No messages are waiting."],
    ),
}


@pytest.mark.parametrize("path", list(STAFF_PAGES))
def test_staff_pages_follow_the_users_language(app: Flask, make_user: Callable[..., Any], path: str) -> None:
    korean, english_ = english(app.test_client()), app.test_client()
    login(korean, make_user("officer", language="ko"))
    login(english_, make_user("admin", language="en"))

    # Each browser asks for the other language: the account's language wins.
    ko_page = korean.get(path).get_data(as_text=True)
    en_page = english_.get(path, headers={"Accept-Language": "ko"}).get_data(as_text=True)

    ko_texts, en_texts = STAFF_PAGES[path]
    assert '<html lang="ko">' in ko_page
    assert '<html lang="en">' in en_page
    for text in ko_texts:
        assert text in ko_page
    for text in en_texts:
        assert text in en_page
        assert text not in ko_page


def test_pager_is_translated(app: Flask, make_user: Callable[..., Any]) -> None:
    client = app.test_client()
    login(client, make_user("officer", language="ko"))
    from outreach.extensions import db
    from outreach.models import OutboxEntry

    with app.app_context():
        db.session.add(OutboxEntry(channel="sms", to_address="+85512345678", body="안녕하세요", sid="I18N-1"))
        db.session.commit()
    assert "1/1 페이지 (총 1건)" in client.get("/staff/outbox").get_data(as_text=True)


def test_login_page_follows_the_browser(client: FlaskClient) -> None:
    assert "직원 및 대표자 로그인" in client.get("/login").get_data(as_text=True)  # Korean by default
    page = english(client).get("/login").get_data(as_text=True)
    assert "Staff and representatives log in" in page
    assert "비밀번호" not in page


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("ko", "긴급 상황에서 대사관이 연락할 수 있도록 등록해 주세요."),
        ("en", "Register so that the Embassy can reach you in an emergency."),
        ("km", "សូមចុះឈ្មោះ ដើម្បីឱ្យស្ថានទូតអាចទាក់ទងអ្នកបាននៅពេលមានអាសន្ន។"),
    ],
)
def test_public_page_in_each_language(client: FlaskClient, lang: str, text: str) -> None:
    page = client.get(f"/?lang={lang}").get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert text in page


def test_chosen_language_is_remembered(client: FlaskClient) -> None:
    client.get("/lang/km?next=/")
    assert '<html lang="km">' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "title", "description"),
    [
        ("ko", "404 · 페이지를 찾을 수 없음", "이 주소에는 페이지가 없습니다."),
        ("en", "404 · Page not found", "There is no page at this address."),
    ],
)
def test_error_pages_are_translated(client: FlaskClient, accept: str, title: str, description: str) -> None:
    resp = client.get("/no/such/page", headers={"Accept-Language": accept})
    assert resp.status_code == 404
    page = resp.get_data(as_text=True)
    assert title in page
    assert description in page


def test_forbidden_page_in_the_users_language(app: Flask, make_user: Callable[..., Any]) -> None:
    client = app.test_client()
    login(client, make_user("community_rep", language="ko"))
    resp = client.get("/staff/")
    assert resp.status_code == 403
    assert "이 계정으로는 이 페이지를 열 수 없습니다." in resp.get_data(as_text=True)
