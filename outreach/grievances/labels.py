"""Names people read for grievance categories, urgencies and statuses (translated when rendered)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from outreach.models import GrievanceCategory, GrievanceStatus, Urgency

CATEGORY_LABELS: dict[GrievanceCategory, LazyString] = {
    GrievanceCategory.SCAM_RECRUITMENT: _l("Scam recruitment"),
    GrievanceCategory.CONFINEMENT: _l("Confinement"),
    GrievanceCategory.PASSPORT_CONFISCATED: _l("Confiscated passport"),
    GrievanceCategory.UNPAID_WORK: _l("Unpaid work"),
    GrievanceCategory.POLICE_IMMIGRATION: _l("Police or immigration problem"),
    GrievanceCategory.CONSULAR_SERVICE: _l("Consular service"),
    GrievanceCategory.OTHER: _l("Other"),
}

URGENCY_LABELS: dict[Urgency, LazyString] = {
    Urgency.LOW: _l("Low"),
    Urgency.NORMAL: _l("Normal"),
    Urgency.HIGH: _l("High"),
    Urgency.CRITICAL: _l("Critical: life or liberty at risk"),
}

STATUS_LABELS: dict[GrievanceStatus, LazyString] = {
    GrievanceStatus.RECEIVED: _l("Received"),
    GrievanceStatus.IN_REVIEW: _l("In review"),
    GrievanceStatus.REFERRED: _l("Referred"),
    GrievanceStatus.RESOLVED: _l("Resolved"),
    GrievanceStatus.CLOSED: _l("Closed"),
}

#: What each status means to the representative who submitted the grievance.
STATUS_EXPLANATIONS: dict[GrievanceStatus, LazyString] = {
    GrievanceStatus.RECEIVED: _l("The embassy has received the grievance and will look at it soon."),
    GrievanceStatus.IN_REVIEW: _l("An officer is looking into the grievance."),
    GrievanceStatus.REFERRED: _l(
        "The grievance was passed on to the authority or organisation that can act on it."
    ),
    GrievanceStatus.RESOLVED: _l("The embassy considers the grievance resolved."),
    GrievanceStatus.CLOSED: _l("The grievance is closed."),
}


def category_label(value: str | GrievanceCategory) -> str:
    try:
        return str(CATEGORY_LABELS[GrievanceCategory(value)])
    except ValueError:
        return str(value)


def urgency_label(value: str | Urgency) -> str:
    try:
        return str(URGENCY_LABELS[Urgency(value)])
    except ValueError:
        return str(value)


def status_label(value: str | GrievanceStatus | None) -> str:
    if value is None:
        return ""
    try:
        return str(STATUS_LABELS[GrievanceStatus(value)])
    except ValueError:
        return str(value)
