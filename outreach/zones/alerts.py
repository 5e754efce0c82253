"""The alert a zone's level change offers: a draft to the people inside and travellers staying there.

The draft is an ordinary alert (``outreach.alerts.compose``): the officer edits it and sends it
through the normal approval. Its audience targets the zone (``{"zones": [id], "stay_overlaps":
true}``), its text comes from ``templates/zones/alert_draft.txt`` in each language, and its CAP
export is an ``Update`` of the zone's earlier alert (``outreach.alerts.cap``).
"""

from __future__ import annotations

from flask import render_template

from outreach.alerts.compose import AlertInput, ContentInput, create_alert
from outreach.i18n import LOCALES, for_person_language
from outreach.models import Alert, CapCategory, CapUrgency, User, ZoneChange, ZoneLevel
from outreach.zones import geo, levels


def draft_texts(change: ZoneChange) -> dict[str, str]:
    """The prepared text per language (ko, en, km)."""
    area = geo.area(change.zone.area_code)
    assert change.to_level is not None
    texts = {}
    for language in LOCALES:
        with for_person_language(language):
            texts[language] = render_template(
                "zones/alert_draft.txt",
                area=geo.label(area, language),
                level=levels.name(change.to_level),
                meaning=levels.meaning(change.to_level),
                date=(change.effective_from.isoformat() if change.effective_from else ""),
            ).strip()
    return texts


def prepare_draft(change: ZoneChange, *, author: User) -> Alert:
    """Create the draft alert for an applied change and link it to the change."""
    assert change.to_level is not None
    area = geo.area(change.zone.area_code)
    texts = draft_texts(change)
    with for_person_language("ko"):
        title = f"{geo.label(area, 'ko')}: {levels.name(change.to_level)}"
    alert = create_alert(
        AlertInput(
            title=title[:200],
            severity=levels.SEVERITY[ZoneLevel(change.to_level)],
            contents={lang: ContentInput(body=text) for lang, text in texts.items()},
            channels=["sms", "email"],
            audience={"zones": [change.zone_id], "stay_overlaps": True},
            public=True,
            urgency=CapUrgency.IMMEDIATE
            if change.to_level in (ZoneLevel.L3, ZoneLevel.L4)
            else CapUrgency.EXPECTED,
            category=CapCategory.SAFETY,
        ),
        author=author,
    )
    change.alert_id = alert.id
    return alert
