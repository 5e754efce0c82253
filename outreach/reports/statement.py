"""The statement template: what the Cambodian police ask to be told before a rescue, per language.

The task force acts on a short written statement, in English or Khmer, that answers the same few
questions every time: who is in danger, where, since when, what happened, and who is telling. The
template is offered in Korean, English and Khmer (a parent in Korea writes in Korean; the officer
or an interpreter turns it into English or Khmer for the bundle), as headed sections that the upload
page can show as fields, or as plain text to copy into a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from outreach.i18n import for_person_language


@dataclass(frozen=True)
class StatementSection:
    #: Stable key for a form field or a stored answer.
    key: str
    title: LazyString
    #: What to write in it, as a question the writer can answer line by line.
    prompt: LazyString


SECTIONS: tuple[StatementSection, ...] = (
    StatementSection(
        "who",
        _l("Who is in danger"),
        _l(
            "Full name as in the passport, date of birth, nationality and passport number. "
            "The phone numbers and messenger accounts they use. What they look like "
            "(height, hair, glasses, tattoos or scars)."
        ),
    ),
    StatementSection(
        "where",
        _l("Where they are"),
        _l(
            "Province and town, the name of the compound or building, its address or what is near it, "
            "the floor or room. The last location they shared (a map pin or coordinates), and how "
            "sure you are of it."
        ),
    ),
    StatementSection(
        "since",
        _l("Since when"),
        _l(
            "When they came to Cambodia, when you last heard from them and how (call, message), "
            "and since when they cannot leave or cannot be reached."
        ),
    ),
    StatementSection(
        "what",
        _l("What happened"),
        _l(
            "How they were recruited (job advert, website, messenger account, recruiter's name), "
            "what they were promised, what they are made to do, any threats or violence, money "
            "demanded, whether their passport was taken, and whether others are held with them."
        ),
    ),
    StatementSection(
        "reporter",
        _l("Who is telling"),
        _l(
            "Your name, how you know the person, and how the police can reach you "
            "(phone number with country code, messenger account)."
        ),
    ),
)


def statement_sections(language: str | None) -> list[tuple[str, str, str]]:
    """``(key, title, prompt)`` of every section, in ``language`` (for the upload page's fields)."""
    with for_person_language(language):
        return [(s.key, str(s.title), str(s.prompt)) for s in SECTIONS]


def statement_template(language: str | None) -> str:
    """The template as plain text in ``language``: headed sections with room to write."""
    with for_person_language(language):
        lines = [str(_l("Statement for the police")), ""]
        for number, section in enumerate(SECTIONS, start=1):
            lines += [f"{number}. {section.title}", f"({section.prompt})", "", ""]
        lines.append(str(_l("I confirm that what I have written is true to the best of my knowledge.")))
        lines += ["", str(_l("Date and name:"))]
    return "\n".join(lines)


def compose_statement(answers: Mapping[str, str], language: str | None) -> str:
    """The filled-in statement as one text, headed in ``language``; empty sections are left out."""
    with for_person_language(language):
        parts = []
        for section in SECTIONS:
            answer = (answers.get(section.key) or "").strip()
            if answer:
                parts.append(f"{section.title}\n{answer}")
    return "\n\n".join(parts)
