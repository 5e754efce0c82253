"""What an alert says to each person: SMS/WhatsApp text and e-mail (text + HTML), in their language.

Rendering happens in the send job, once per (language, channel) for a whole batch, because every
recipient in a language reads the same words; only a *body extra* differs per person (a check-in
adds the person's one-tap link). Other areas add extras with :func:`register_body_extra`.

The preview, the approver's page and the test send all call the same functions, so what staff read
before sending is what people receive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup, escape

from outreach.i18n import for_person_language
from outreach.messaging.segments import SegmentInfo, count_segments
from outreach.models import Alert, AlertKind

if TYPE_CHECKING:
    from outreach.messaging.hooks import Rendered
    from outreach.messaging.status import ClaimedMessage

#: fn(alert, person_ids, language_by_person, channel) -> {person_id: text appended to the body}
BodyExtra = Callable[[Alert, list[int], dict[int, str], str], dict[int, str]]

_BODY_EXTRAS: dict[AlertKind, list[BodyExtra]] = {}


def register_body_extra(kind: AlertKind, fn: BodyExtra) -> BodyExtra:
    """Append ``fn``'s per-person text to every body rendered for alerts of ``kind``.

    Registering the same function twice is harmless (modules may be imported again in tests).
    """
    fns = _BODY_EXTRAS.setdefault(AlertKind(kind), [])
    if fn not in fns:
        fns.append(fn)
    return fn


def body_extras(
    alert: Alert, person_ids: list[int], language_by_person: dict[int, str], channel: str
) -> dict[int, str]:
    """Every registered extra for these people, joined per person (empty dict when none apply)."""
    extras: dict[int, list[str]] = {}
    for fn in _BODY_EXTRAS.get(AlertKind(alert.kind), []):
        for person_id, text in fn(alert, person_ids, language_by_person, channel).items():
            if text:
                extras.setdefault(person_id, []).append(text)
    return {pid: "\n".join(parts) for pid, parts in extras.items()}


# --- SMS segments ----------------------------------------------------------------------------------


def sms_segment_info(body: str) -> SegmentInfo:
    """How the text is split and billed (GSM-7 160/153, else UCS-2 70/67: Korean has 70 per SMS)."""
    return count_segments(body)


def sms_segments(body: str) -> int:
    return count_segments(body).segments


# --- texts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedAlert:
    """One alert in one language on one channel, before per-person extras."""

    language: str
    channel: str
    body: str
    subject: str | None = None
    html: str | None = None


def effective_language(alert: Alert, language: str) -> str:
    """The language a person actually reads: theirs when the alert has it, else Korean."""
    content = alert.content_for(language)
    return content.language if content is not None else "ko"


def available_languages(alert: Alert) -> list[str]:
    return sorted({c.language for c in alert.contents if c.body and c.body.strip()} | {"ko"})


def _content(alert: Alert, language: str) -> tuple[str, str, str]:
    """(language used, body, headline) with the Korean fallback."""
    content = alert.content_for(language)
    if content is None:
        return "ko", "", alert.title
    headline = (content.subject or "").strip() or alert.title
    return content.language, content.body.strip(), headline


def sender_tag() -> str:
    """The sender's name that starts every SMS (current locale): people trust what they recognise."""
    return _("[Korean Embassy]")


def render_text(alert: Alert, language: str, channel: str) -> RenderedAlert:
    """The SMS / WhatsApp text (or the e-mail) of ``alert`` for a reader of ``language``."""
    used, body, _headline = _content(alert, language)
    with for_person_language(used):
        if channel == "email":
            return render_email(alert, used)
        return RenderedAlert(language=used, channel=channel, body=f"{sender_tag()} {body}")


def render_email(alert: Alert, language: str, extra: str = "") -> RenderedAlert:
    """Subject, plain text and HTML of the alert e-mail (the caller sets the locale)."""
    used, body, headline = _content(alert, language)
    with for_person_language(used):
        subject = f"{sender_tag()} {headline}"
        context = {
            "alert": alert,
            "headline": headline,
            "body": body,
            "extra": extra,
            "severity_label": severity_label(alert),
            "linkify": linkify,
        }
        text = render_template("alerts/email.txt", **context)
        html = render_template("alerts/email.html", **context)
    return RenderedAlert(language=used, channel="email", body=text, subject=subject, html=html)


def severity_label(alert: Alert) -> str:
    labels = {
        "Extreme": _("Extreme danger"),
        "Severe": _("Severe danger"),
        "Moderate": _("Caution"),
        "Minor": _("For your information"),
    }
    return labels.get(str(alert.severity), str(alert.severity))


def with_extra(rendered: RenderedAlert, extra: str, alert: Alert | None = None) -> RenderedAlert:
    """``rendered`` with a per-person extra appended (the e-mail is re-rendered so HTML stays valid)."""
    if not extra:
        return rendered
    if rendered.channel == "email" and alert is not None:
        return render_email(alert, rendered.language, extra)
    return RenderedAlert(
        language=rendered.language,
        channel=rendered.channel,
        body=f"{rendered.body}\n{extra}",
        subject=rendered.subject,
        html=rendered.html,
    )


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn bare http(s) URLs into links (used for e-mail extras)."""
    import re

    parts = []
    last = 0
    for match in re.finditer(r"https?://[^\s<>\"']+", text):
        parts.append(escape(text[last : match.start()]))
        url = match.group(0)
        parts.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


@dataclass(frozen=True)
class MessageToRender:
    message_id: int
    person_id: int | None
    channel: str
    language: str


def render_batch(alert: Alert, rows: Iterable[MessageToRender]) -> dict[int, RenderedAlert]:
    """Render every message of a send batch: once per (language, channel), then per-person extras."""
    rows = list(rows)
    cache: dict[tuple[str, str], RenderedAlert] = {}
    by_channel: dict[str, list[MessageToRender]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(row)
    out: dict[int, RenderedAlert] = {}
    for channel, channel_rows in by_channel.items():
        person_ids = [r.person_id for r in channel_rows if r.person_id is not None]
        language_by_person = {r.person_id: r.language for r in channel_rows if r.person_id is not None}
        extras = body_extras(alert, person_ids, language_by_person, channel) if person_ids else {}
        for row in channel_rows:
            key = (row.language, channel)
            if key not in cache:
                cache[key] = render_text(alert, row.language, channel)
            rendered = cache[key]
            extra = extras.get(row.person_id, "") if row.person_id is not None else ""
            out[row.message_id] = with_extra(rendered, extra, alert)
    return out


def render_claimed(messages: list[ClaimedMessage]) -> dict[int, Rendered]:
    """The messaging pipeline's renderer for ``source_kind=alert`` (registered in ``alerts.jobs``).

    A message of a cancelled or unknown alert is left out, so the pipeline skips it.
    """
    from outreach.extensions import db
    from outreach.messaging.hooks import Rendered
    from outreach.models import AlertStatus

    by_alert: dict[int, list[ClaimedMessage]] = {}
    for message in messages:
        by_alert.setdefault(message.source_id, []).append(message)
    out: dict[int, Rendered] = {}
    for alert_id, group in by_alert.items():
        alert = db.session.get(Alert, alert_id)
        if alert is None or alert.status == AlertStatus.CANCELLED:
            continue
        rendered = render_batch(
            alert, [MessageToRender(m.id, m.person_id, m.channel, m.language) for m in group]
        )
        out.update(
            {mid: Rendered(body=r.body, subject=r.subject, html=r.html) for mid, r in rendered.items()}
        )
    return out
