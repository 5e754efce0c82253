"""E-mails to community representatives, rendered in the representative's language.

Each e-mail is a one-off ``Message`` created with ``outreach.messaging.outbound.queue_one`` inside the
transaction that made the change, so the change and its notification commit (or roll back) together;
the send job is released only after the commit. Grievance e-mails are keyed by the timeline entry they
announce (``source_kind="grievance"``, ``source_id=<GrievanceEntry.id>``), so each reply and each status
change is sent once, and never twice.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import gettext as _

from outreach.i18n import for_person_language
from outreach.models import Grievance, GrievanceEntry, Invitation, Message, SourceKind, User


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link under ``PUBLIC_BASE_URL``, built with or without a request (jobs, API, CLI)."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"].rstrip("/"))
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def _queue_email(
    *, user: User, subject: str, body: str, source_kind: SourceKind, source_id: int, language: str
) -> Message | None:
    # Imported here: the messaging package is a separate area and this keeps the import graph one-way.
    from outreach.messaging.outbound import queue_one

    return queue_one(
        channel="email",
        to=user.email,
        body=body,
        subject=subject,
        source_kind=source_kind,
        source_id=source_id,
        user_id=user.id,
        language=language,
        queue="high",
    )


def notify_representative(grievance: Grievance, entry: GrievanceEntry) -> Message | None:
    """E-mail the representative who submitted ``grievance`` about ``entry`` (a reply or status change).

    Internal entries are never sent. Returns the queued message, or None when there is nothing to send
    (internal entry, no active submitter with an address, opted out, already queued).
    """
    if entry.internal or entry.kind not in ("reply", "status"):
        return None
    rep = grievance.submitted_by
    if rep is None or not rep.active or not rep.email:
        return None
    link = external_url("rep.grievance", grievance_id=grievance.id)
    with for_person_language(rep.language) as lang:
        context = {"grievance": grievance, "entry": entry, "rep": rep, "link": link}
        if entry.kind == "reply":
            subject = _("[%(ref)s] The embassy replied to your grievance", ref=grievance.reference)
            body = render_template("grievances/email/reply.txt", **context)
        elif entry.from_status is None:
            subject = _("[%(ref)s] Your grievance was received", ref=grievance.reference)
            body = render_template("grievances/email/submitted.txt", **context)
        else:
            subject = _("[%(ref)s] Your grievance has a new status", ref=grievance.reference)
            body = render_template("grievances/email/status.txt", **context)
    return _queue_email(
        user=rep,
        subject=subject,
        body=body,
        source_kind=SourceKind.GRIEVANCE,
        source_id=entry.id,
        language=lang,
    )


def send_invitation(invitation: Invitation, link: str) -> Message | None:
    """E-mail a new representative the link to set their password, in their language."""
    user = invitation.user
    with for_person_language(user.language) as lang:
        subject = _("Your Outreach account for community representatives")
        body = render_template("grievances/email/invitation.txt", user=user, invitation=invitation, link=link)
    return _queue_email(
        user=user,
        subject=subject,
        body=body,
        source_kind=SourceKind.INVITATION,
        source_id=invitation.id,
        language=lang,
    )
