"""Navigation by role. Entries whose view is not registered are left out."""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

# (endpoint, label) in display order.
STAFF_NAV: list[tuple[str, LazyString]] = [
    ("staff.people", _l("Registry")),
    ("staff.alerts", _l("Alerts")),
    ("staff.zones", _l("Advisory zones")),
    ("staff.checkins", _l("Check-ins")),
    ("staff.cases", _l("Cases")),
    ("staff.reports", _l("Reports")),
    ("staff.grievances", _l("Grievances")),
    ("staff.inbox", _l("Inbox")),
    ("staff.outbox", _l("Outbox")),
    ("staff.users", _l("Users")),
    ("staff.api_tokens", _l("API tokens")),
]
REP_NAV: list[tuple[str, LazyString]] = [
    ("rep.index", _l("Home")),
    ("rep.grievances", _l("My grievances")),
    ("rep.new_grievance", _l("New grievance")),
    ("auth.enrol", _l("Two-factor sign-in")),
]


def _present(entries: list[tuple[str, LazyString]]) -> list[tuple[str, LazyString]]:
    return [(endpoint, label) for endpoint, label in entries if endpoint in current_app.view_functions]


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict[str, object]:
        return {"staff_nav": lambda: _present(STAFF_NAV), "rep_nav": lambda: _present(REP_NAV)}
