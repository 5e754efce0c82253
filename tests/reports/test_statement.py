"""The statement template the police ask for, in each language."""

from __future__ import annotations

from flask import Flask

from outreach.reports.statement import SECTIONS, compose_statement, statement_sections, statement_template


def test_the_template_asks_who_where_since_when_and_what_in_each_language(evidence_app: Flask) -> None:
    english = statement_template("en")
    for heading in (
        "1. Who is in danger",
        "2. Where they are",
        "3. Since when",
        "4. What happened",
        "5. Who is telling",
    ):
        assert heading in english
    assert "passport number" in english and "coordinates" in english
    korean = statement_template("ko")
    assert "1. 위험에 처한 사람" in korean and "3. 언제부터" in korean and "경찰 제출용 진술서" in korean
    khmer = statement_template("km")
    assert "សេចក្តីថ្លែងការណ៍សម្រាប់ប៉ូលិស" in khmer and "4. អ្វីដែលបានកើតឡើង" in khmer
    assert [key for key, _title, _prompt in statement_sections("km")] == [s.key for s in SECTIONS]


def test_a_filled_in_statement_keeps_the_answered_sections_in_order(evidence_app: Flask) -> None:
    text = compose_statement(
        {"what": "Taken to a compound.", "who": "KIM MINSU, 1999-04-12", "since": "  "}, "en"
    )
    assert text == "Who is in danger\nKIM MINSU, 1999-04-12\n\nWhat happened\nTaken to a compound."
    assert compose_statement({"who": "김민수"}, "ko") == "위험에 처한 사람\n김민수"
