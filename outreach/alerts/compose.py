"""Composing an alert: create and edit drafts, preview counts and cost, test-send to the author.

Operations flush and never commit; the view (or job) that calls them commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from outreach.alerts.audience import (
    AudienceCounts,
    AudienceError,
    count_audience,
    count_by_language_for_channel,
    validate_audience,
)
from outreach.alerts.render import (
    RenderedAlert,
    available_languages,
    effective_language,
    render_text,
    sms_segment_info,
)
from outreach.audit import record
from outreach.extensions import db
from outreach.i18n import LOCALES
from outreach.messaging.segments import SegmentInfo
from outreach.models import (
    CHANNELS,
    Alert,
    AlertContent,
    AlertKind,
    AlertStatus,
    AlertTestSend,
    CapCategory,
    CapCertainty,
    CapUrgency,
    Province,
    Severity,
    SourceKind,
    User,
)

#: Twilio refuses message bodies longer than this.
MAX_SMS_CHARS = 1600


class ComposeError(ValueError):
    """The alert cannot be saved as given; ``field`` names the form field at fault (if any)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class ContentInput:
    body: str = ""
    subject: str = ""


@dataclass
class AlertInput:
    title: str
    severity: Severity | str
    #: language -> text; Korean is required, English and Khmer fall back to Korean when empty.
    contents: dict[str, ContentInput]
    channels: list[str]
    audience: dict[str, Any]
    public: bool = False
    expires_at: datetime | None = None
    urgency: CapUrgency | str = CapUrgency.IMMEDIATE
    certainty: CapCertainty | str = CapCertainty.OBSERVED
    category: CapCategory | str = CapCategory.SAFETY


def _validated(data: AlertInput) -> AlertInput:
    title = (data.title or "").strip()
    if not title:
        raise ComposeError(_("A title is required."), "title")
    if len(title) > 200:
        raise ComposeError(_("The title is too long (200 characters at most)."), "title")
    try:
        severity = Severity(data.severity)
        urgency = CapUrgency(data.urgency)
        certainty = CapCertainty(data.certainty)
        category = CapCategory(data.category)
    except ValueError as exc:
        raise ComposeError(_("Unknown severity, urgency, certainty or category."), "severity") from exc
    contents = {}
    for lang, content in data.contents.items():
        if lang not in LOCALES:
            raise ComposeError(_("Unknown language %(language)s.", language=lang))
        body = (content.body or "").replace("\r\n", "\n").strip()
        subject = (content.subject or "").strip()
        if len(subject) > 300:
            raise ComposeError(_("The headline is too long (300 characters at most)."), f"subject_{lang}")
        if body:
            contents[lang] = ContentInput(body=body, subject=subject)
    if "ko" not in contents:
        raise ComposeError(_("The Korean text is required."), "body_ko")
    channels = sorted(set(data.channels))
    if not channels:
        raise ComposeError(_("Choose at least one channel."), "channels")
    if any(c not in CHANNELS for c in channels):
        raise ComposeError(_("Unknown channel."), "channels")
    try:
        audience = validate_audience(data.audience)
    except AudienceError as exc:
        raise ComposeError(_("The audience is not valid: %(reason)s", reason=str(exc)), "provinces") from exc
    return AlertInput(
        title=title,
        severity=severity,
        contents=contents,
        channels=channels,
        audience=audience,
        public=bool(data.public),
        expires_at=data.expires_at,
        urgency=urgency,
        certainty=certainty,
        category=category,
    )


def _check_lengths(alert: Alert) -> None:
    if not ({"sms", "whatsapp"} & set(alert.channels)):
        return
    for lang in available_languages(alert):
        text = render_text(alert, lang, "sms").body
        if len(text) > MAX_SMS_CHARS:
            raise ComposeError(
                _(
                    "The %(language)s text is too long for SMS: %(count)d characters, %(max)d at most.",
                    language=lang,
                    count=len(text),
                    max=MAX_SMS_CHARS,
                ),
                f"body_{lang}",
            )


def _apply(alert: Alert, data: AlertInput) -> None:
    alert.title = data.title
    alert.severity = Severity(data.severity)
    alert.urgency = CapUrgency(data.urgency)
    alert.certainty = CapCertainty(data.certainty)
    alert.category = CapCategory(data.category)
    alert.channels = list(data.channels)
    alert.audience = dict(data.audience)
    alert.public = data.public
    alert.expires_at = data.expires_at
    existing = {c.language: c for c in alert.contents}
    for lang, content in data.contents.items():
        if lang in existing:
            existing[lang].body = content.body
            existing[lang].subject = content.subject or None
        else:
            alert.contents.append(
                AlertContent(language=lang, body=content.body, subject=content.subject or None)
            )
    for lang, row in existing.items():
        if lang not in data.contents:
            alert.contents.remove(row)


def create_alert(data: AlertInput, *, author: User, kind: AlertKind = AlertKind.ALERT) -> Alert:
    """A new draft alert (``kind=checkin`` for the broadcast that carries a check-in)."""
    data = _validated(data)
    alert = Alert(kind=kind, status=AlertStatus.DRAFT, created_by_id=author.id, title=data.title, contents=[])
    _apply(alert, data)
    _check_lengths(alert)
    db.session.add(alert)
    db.session.flush()
    record("alert.create", actor=author, target=alert, kind=str(kind), severity=str(alert.severity))
    return alert


def update_alert(alert: Alert, data: AlertInput, *, actor: User) -> Alert:
    """Change a draft. Anything past draft is frozen: what was approved is what goes out."""
    if alert.status != AlertStatus.DRAFT:
        raise ComposeError(_("Only a draft can be edited."))
    data = _validated(data)
    _apply(alert, data)
    _check_lengths(alert)
    db.session.flush()
    record("alert.update", actor=actor, target=alert)
    return alert


# --- preview ---------------------------------------------------------------------------------------


@dataclass
class LanguagePreview:
    #: The language people read in (their own).
    language: str
    #: The text they get: their language if written, else Korean.
    used_language: str
    recipients: int
    sms_recipients: int
    sms: RenderedAlert
    segments: SegmentInfo
    email: RenderedAlert | None = None


@dataclass
class Preview:
    counts: AudienceCounts
    province_names: dict[str, str]
    languages: list[LanguagePreview]
    #: Segments billed for the whole SMS broadcast.
    total_segments: int
    cost: float
    price_per_segment: float
    warnings: list[str] = field(default_factory=list)
    needs_approval: bool = False


def needs_approval(alert: Alert, recipient_count: int) -> bool:
    """Big or serious alerts need a second officer (configurable threshold, default 500)."""
    threshold = int(current_app.config.get("APPROVAL_THRESHOLD", 500))
    return recipient_count > threshold or alert.severity in (Severity.EXTREME, Severity.SEVERE)


def preview(alert: Alert, *, today: date, language: str = "ko") -> Preview:
    """Counts by province and language, the texts as sent, segments and an SMS cost estimate."""
    counts = count_audience(alert.audience, today=today)
    sms_by_lang = (
        count_by_language_for_channel(alert.audience, "sms", today=today) if "sms" in alert.channels else {}
    )
    price = float(current_app.config.get("SMS_PRICE_PER_SEGMENT", 0.0))
    languages: list[LanguagePreview] = []
    total_segments = 0
    warnings: list[str] = []
    for lang in LOCALES:
        used = effective_language(alert, lang)
        sms = render_text(alert, lang, "sms")
        info = sms_segment_info(sms.body)
        sms_people = sms_by_lang.get(lang, 0)
        total_segments += sms_people * info.segments
        languages.append(
            LanguagePreview(
                language=lang,
                used_language=used,
                recipients=counts.by_language.get(lang, 0),
                sms_recipients=sms_people,
                sms=sms,
                segments=info,
                email=render_text(alert, lang, "email") if "email" in alert.channels else None,
            )
        )
        if used != lang and counts.by_language.get(lang, 0):
            warnings.append(
                _(
                    "%(count)d people who read %(language)s will get the Korean text.",
                    count=counts.by_language[lang],
                    language=lang,
                )
            )
    korean = next(p for p in languages if p.language == "ko")
    if ({"sms", "whatsapp"} & set(alert.channels)) and korean.segments.segments > 1:
        warnings.insert(
            0,
            _(
                "The Korean SMS is %(chars)d characters long and will be split into %(segments)d segments "
                "(one segment holds %(limit)d Korean characters, including the sender tag).",
                chars=korean.segments.units,
                segments=korean.segments.segments,
                limit=korean.segments.single_limit,
            ),
        )
    if counts.total == 0:
        warnings.append(_("Nobody matches this audience."))
    codes = [code for code, _n in counts.by_province if code]
    names = {
        p.code: p.name(language)
        for p in db.session.scalars(sa.select(Province).where(Province.code.in_(codes or [""])))
    }
    return Preview(
        counts=counts,
        province_names=names,
        languages=languages,
        total_segments=total_segments,
        cost=round(total_segments * price, 2),
        price_per_segment=price,
        warnings=warnings,
        needs_approval=needs_approval(alert, counts.total),
    )


# --- test send -------------------------------------------------------------------------------------


def send_test(alert: Alert, *, officer: User) -> list[str]:
    """Send the alert, as it stands, to the officer's own phone and e-mail on its channels.

    Returns the channels a test went out on. Messages go on the ``high`` queue after commit.
    """
    from outreach.messaging.outbound import queue_one

    trial = AlertTestSend(alert_id=alert.id, user_id=officer.id)
    db.session.add(trial)
    db.session.flush()
    sent: list[str] = []
    language = officer.language or "ko"
    for channel in alert.channels:
        to = officer.email if channel == "email" else officer.phone
        if not to:
            continue
        rendered = render_text(alert, language, channel)
        prefix = "[TEST] "
        message = queue_one(
            channel=channel,
            to=to,
            body=prefix + rendered.body,
            subject=(prefix + rendered.subject) if rendered.subject else None,
            html=rendered.html,
            source_kind=SourceKind.TEST,
            source_id=trial.id,
            user_id=officer.id,
            language=rendered.language,
            queue="high",
        )
        if message is not None:
            sent.append(channel)
    record("alert.test_send", actor=officer, target=alert, channels=sent)
    return sent
