"""CAP 1.2 export (OASIS Common Alerting Protocol) and the Atom feed of public alerts.

One ``<info>`` block per language the alert was written in, with the CAP severity, urgency and
certainty, the provinces as ``<area>`` (ISO 3166-2 geocodes), and the expiry. Element order follows
the OASIS schema (``CAP-v1.2.xsd``), which the tests validate against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from lxml import etree

from outreach.alerts.render import available_languages
from outreach.extensions import db
from outreach.models import Alert, AlertStatus, Province, ZoneChange, utcnow
from outreach.zones import geo

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
#: The sender: a stable string naming the embassy (CAP wants no spaces, commas or ``<&``).
SENDER = "outreach@kh.mofa.go.kr"
SENDER_NAMES = {
    "ko": "주캄보디아 대한민국 대사관",
    "en": "Embassy of the Republic of Korea in Cambodia",
    "km": "ស្ថានទូតសាធារណរដ្ឋកូរ៉េប្រចាំកម្ពុជា",
}
CAP_LANGUAGES = {"ko": "ko-KR", "en": "en-US", "km": "km-KH"}
COUNTRY_NAMES = {"ko": "캄보디아 전역", "en": "All of Cambodia", "km": "ទូទាំងប្រទេសកម្ពុជា"}

#: Alerts past these statuses are "issued" and may appear in the public feed.
ISSUED = (AlertStatus.DISPATCHING, AlertStatus.SENDING, AlertStatus.COMPLETED)


def cap_datetime(moment: datetime) -> str:
    """CAP's dateTime: seconds precision and an explicit offset, never ``Z`` (the schema's pattern)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def identifier(alert: Alert) -> str:
    host = current_app.config.get("PUBLIC_BASE_URL", "").split("://")[-1].split("/")[0] or "outreach"
    return f"{host}-alert-{alert.id}"


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute URL on ``PUBLIC_BASE_URL`` (also outside a request, e.g. in a worker)."""
    base = str(current_app.config.get("PUBLIC_BASE_URL", "")).rstrip("/")
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return base + adapter.build(endpoint, values)


def _sub(parent: etree._Element, tag: str, text: str | None = None, ns: str = CAP_NS) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _provinces(alert: Alert) -> list[Province]:
    codes = list(alert.audience.get("provinces") or [])
    if not codes:
        return []
    return list(
        db.session.scalars(sa.select(Province).where(Province.code.in_(codes)).order_by(Province.number))
    )


def _sent(alert: Alert) -> datetime:
    return (
        alert.dispatch_started_at or alert.approved_at or alert.submitted_at or alert.created_at or utcnow()
    )


def zone_change_of(alert: Alert) -> ZoneChange | None:
    """The advisory-zone level change this alert was prepared for, if any (``outreach.zones.alerts``)."""
    return db.session.scalar(sa.select(ZoneChange).where(ZoneChange.alert_id == alert.id).limit(1))


def _earlier_zone_alert(change: ZoneChange) -> Alert | None:
    """The zone's latest alert issued before this change's: the one a CAP ``Update`` references."""
    return db.session.scalar(
        sa.select(Alert)
        .join(ZoneChange, ZoneChange.alert_id == Alert.id)
        .where(
            ZoneChange.zone_id == change.zone_id,
            ZoneChange.id < change.id,
            Alert.dispatch_started_at.is_not(None),
        )
        .order_by(ZoneChange.id.desc())
        .limit(1)
    )


def references(alert: Alert) -> str:
    """CAP ``references``: "sender,identifier,sent" of an earlier message."""
    return f"{SENDER},{identifier(alert)},{cap_datetime(_sent(alert))}"


def _zone_area(info: etree._Element, area_code: str, lang: str) -> None:
    """The zone as CAP ``<area>``: its name with where it is, its own code and its province's."""
    found = geo.area(area_code)
    area = _sub(info, "area")
    _sub(area, "areaDesc", geo.label(found, lang))
    codes = [found, *geo.parents(found.code)]
    for unit in codes:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", "ISO 3166-2" if unit.level is geo.Level.PROVINCE else "KH-MEF")
        _sub(geocode, "value", unit.code)


def alert_to_cap(alert: Alert) -> bytes:
    """The alert as a CAP 1.2 XML document (UTF-8 bytes).

    An alert prepared for an advisory zone's level change is an ``Update`` that ``references`` the
    zone's earlier issued alert (an ``Alert`` when there is none), with the zone as its area.
    """
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(root, "identifier", identifier(alert))
    _sub(root, "sender", SENDER)
    _sub(root, "sent", cap_datetime(_sent(alert)))
    # A draft or an alert still waiting for approval is not an actual alert yet.
    issued = alert.status in ISSUED or (
        alert.status == AlertStatus.CANCELLED and alert.dispatch_started_at is not None
    )
    _sub(root, "status", "Actual" if issued else "Draft")
    change = zone_change_of(alert)
    earlier = _earlier_zone_alert(change) if change is not None else None
    _sub(root, "msgType", "Update" if earlier is not None else "Alert")
    _sub(root, "scope", "Public" if alert.public else "Restricted")
    if not alert.public:
        _sub(root, "restriction", "Registered Korean nationals in Cambodia and embassy staff")
    if alert.status == AlertStatus.CANCELLED:
        _sub(root, "note", "Sending was cancelled by the embassy before every recipient was reached.")
    if earlier is not None:
        _sub(root, "references", references(earlier))
    provinces = _provinces(alert)
    for lang in available_languages(alert):
        content = alert.content_for(lang)
        if content is None:  # pragma: no cover - available_languages only lists written ones
            continue
        info = _sub(root, "info")
        _sub(info, "language", CAP_LANGUAGES.get(lang, lang))
        _sub(info, "category", str(alert.category))
        _sub(info, "event", alert.title)
        _sub(info, "urgency", str(alert.urgency))
        _sub(info, "severity", str(alert.severity))
        _sub(info, "certainty", str(alert.certainty))
        if alert.expires_at is not None:
            _sub(info, "expires", cap_datetime(alert.expires_at))
        _sub(info, "senderName", SENDER_NAMES.get(lang, SENDER_NAMES["en"]))
        _sub(info, "headline", (content.subject or "").strip() or alert.title)
        _sub(info, "description", content.body)
        if alert.public:
            _sub(info, "web", public_url("alerts_public.show", alert_id=alert.id))
        if change is not None:
            _zone_area(info, change.zone.area_code, lang)
        elif provinces:
            for province in provinces:
                area = _sub(info, "area")
                _sub(area, "areaDesc", province.name(lang))
                geocode = _sub(area, "geocode")
                _sub(geocode, "valueName", "ISO 3166-2")
                _sub(geocode, "value", province.code)
        else:
            area = _sub(info, "area")
            _sub(area, "areaDesc", COUNTRY_NAMES.get(lang, COUNTRY_NAMES["en"]))
            geocode = _sub(area, "geocode")
            _sub(geocode, "valueName", "ISO 3166-1")
            _sub(geocode, "value", "KH")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def public_alerts(limit: int = 50) -> list[Alert]:
    """Public alerts that have been issued, newest first."""
    return list(
        db.session.scalars(
            sa.select(Alert)
            .where(Alert.public.is_(True), Alert.status.in_(ISSUED), Alert.dispatch_started_at.is_not(None))
            .order_by(Alert.dispatch_started_at.desc(), Alert.id.desc())
            .limit(limit)
        )
    )


def _atom_date(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class FeedEntry:
    """An entry that is not an alert (an advisory zone's level, from ``outreach.zones.views``)."""

    id: str
    title: str
    summary: str
    updated: datetime
    link: str


def atom_feed(alerts: list[Alert], *, language: str = "ko", extra: Sequence[FeedEntry] = ()) -> bytes:
    """An Atom 1.0 feed; each entry links to the alert page and its CAP document. ``extra`` entries
    (advisory zones in force) come first: they are the standing picture the alerts update."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", language)
    _sub(feed, "id", public_url("alerts_public.feed"), ATOM_NS)
    _sub(feed, "title", SENDER_NAMES.get(language, SENDER_NAMES["en"]), ATOM_NS)
    updated = (
        max([*(a.updated_at or a.created_at for a in alerts), *(e.updated for e in extra)], default=None)
        or utcnow()
    )
    _sub(feed, "updated", _atom_date(updated), ATOM_NS)
    author = _sub(feed, "author", None, ATOM_NS)
    _sub(author, "name", SENDER_NAMES.get(language, SENDER_NAMES["en"]), ATOM_NS)
    self_link = _sub(feed, "link", None, ATOM_NS)
    self_link.set("rel", "self")
    self_link.set("href", public_url("alerts_public.feed"))
    for item in extra:
        entry = _sub(feed, "entry", None, ATOM_NS)
        _sub(entry, "id", item.id, ATOM_NS)
        _sub(entry, "title", item.title, ATOM_NS)
        _sub(entry, "updated", _atom_date(item.updated), ATOM_NS)
        link = _sub(entry, "link", None, ATOM_NS)
        link.set("rel", "alternate")
        link.set("href", item.link)
        summary = _sub(entry, "summary", item.summary, ATOM_NS)
        summary.set("type", "text")
    for alert in alerts:
        content = alert.content_for(language)
        entry = _sub(feed, "entry", None, ATOM_NS)
        _sub(entry, "id", f"urn:outreach:{identifier(alert)}", ATOM_NS)
        headline = ((content.subject or "").strip() if content else "") or alert.title
        _sub(entry, "title", headline, ATOM_NS)
        _sub(entry, "updated", _atom_date(alert.updated_at or alert.created_at), ATOM_NS)
        if alert.dispatch_started_at is not None:
            _sub(entry, "published", _atom_date(alert.dispatch_started_at), ATOM_NS)
        link = _sub(entry, "link", None, ATOM_NS)
        link.set("rel", "alternate")
        link.set("href", public_url("alerts_public.show", alert_id=alert.id))
        cap_link = _sub(entry, "link", None, ATOM_NS)
        cap_link.set("rel", "alternate")
        cap_link.set("type", "application/cap+xml")
        cap_link.set("href", public_url("alerts_public.cap_document", alert_id=alert.id))
        category = _sub(entry, "category", None, ATOM_NS)
        category.set("term", str(alert.severity))
        summary = _sub(entry, "summary", content.body if content else "", ATOM_NS)
        summary.set("type", "text")
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))
