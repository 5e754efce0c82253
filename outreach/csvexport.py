"""The one CSV writer every export uses: UTF-8 with a byte-order mark, formulas neutralised.

Names, notes and emergency contacts come from the public form and from SMS; a cell starting with
``=``, ``+``, ``-``, ``@`` (or a tab, carriage return or line feed) would be run as a formula by the
spreadsheet programs the embassy opens exports with (``=HYPERLINK(…)`` leaks the row to a stranger's
server). Such cells get a leading apostrophe, which spreadsheets show as text. Plain numbers,
including E.164 phone numbers like ``+85512345678``, are left as they are so they stay dialable.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

#: Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_START = frozenset("=+-@\t\r\n")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
#: The byte-order mark Excel needs to read Hangul and Khmer in a UTF-8 file.
BOM = "\ufeff"


def safe_cell(value: Any) -> str:
    """``value`` as text a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    if not text or _NUMBER.fullmatch(text):
        return text
    if text[0] in FORMULA_START or text.lstrip(" ")[:1] in FORMULA_START:
        return "'" + text
    return text


def csv_chunks(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], chunk_chars: int = 64_000
) -> Iterator[str]:
    """CSV text in pieces of about ``chunk_chars``, for a streamed download: the BOM and header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([safe_cell(v) for v in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        if buffer.tell() >= chunk_chars:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_bytes(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """The whole CSV file at once (UTF-8 with BOM)."""
    return "".join(csv_chunks(header, rows)).encode("utf-8")
