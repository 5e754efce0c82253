"""Wiring of the check-in area into the alerts and messaging packages; imported at app start.

* the dispatch hook creates each recipient's one-tap code before the alert's messages exist;
* the body extra appends the personal link to every check-in SMS, WhatsApp message and e-mail;
* the renderer renders reminder and escalation messages at send time;
* importing :mod:`outreach.checkins.replies` registers the inbound handlers (check-in reply, SOS/STATUS).

Registration is idempotent (the registries ignore a function registered twice), so importing this
module from every app (tests build many) is harmless.
"""

from __future__ import annotations

from outreach.alerts.dispatch import register_dispatch_hook
from outreach.alerts.render import register_body_extra
from outreach.checkins import replies  # noqa: F401  (registers the inbound handlers)
from outreach.checkins.operations import on_checkin_dispatch
from outreach.checkins.render import link_extra
from outreach.models import AlertKind

register_dispatch_hook(AlertKind.CHECKIN, on_checkin_dispatch)
register_body_extra(AlertKind.CHECKIN, link_extra)


def register_renderers() -> None:
    """Render reminder and escalation messages (bodies are left empty when they are created)."""
    from outreach.checkins.render import register_step_renderers

    register_step_renderers()


register_renderers()
