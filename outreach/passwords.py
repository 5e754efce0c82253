"""The password policy for every account: at least 12 characters, and not a commonly used password.

``data/common-passwords.txt.gz`` is the list Django ships (20,000 passwords seen most often in
breaches, compiled by Royce Williams from public leaks; BSD licence as part of Django 5.2), read once.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

from flask_babel import gettext as _

MIN_LENGTH = 12
MAX_LENGTH = 200


@cache
def common_passwords() -> frozenset[str]:
    data = resources.files("outreach.data").joinpath("common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip())


def password_problem(password: str) -> str | None:
    """What is wrong with ``password`` (in the current language), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _("Choose a password of at least %(min)d characters.", min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password is too long (at most %(max)d characters).", max=MAX_LENGTH)
    if password.strip().lower() in common_passwords():
        return _("This password is one of the most commonly used ones; choose another.")
    return None
