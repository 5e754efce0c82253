"""The evidence kit wired to the tables: upload links sent through the send pipeline, uploads stored
and recorded, the rescue-request bundle assembled, and the disclosure log that lets it leave.

Nothing personal leaves the embassy without a :class:`~outreach.models.Disclosure`: an officer asks
(purpose, receiving agency and officer, legal basis), the bundle is assembled for that entry (its
reference printed in the PDF, its files listed by SHA-256), a *second* officer approves, and the one
download that entry allows marks it ``disclosed`` (who, when). Every step is guarded, flushes and
never commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from outreach.audit import record
from outreach.extensions import db
from outreach.i18n import for_person_language, normalise_language
from outreach.messaging.outbound import queue_one
from outreach.models import (
    Bundle,
    BundleFile,
    Case,
    Disclosure,
    DisclosureStatus,
    EvidenceFile,
    Person,
    Province,
    Report,
    SourceKind,
    UploadToken,
    User,
    utcnow,
)
from outreach.models.staff import TASK_FORCE_ROLES
from outreach.reports import upload_links
from outreach.reports.bundle import (
    BundleCase,
    BundleEvidence,
    BundleLocation,
    BundlePerson,
    BundleStatement,
    EvidenceRole,
    RescueBundle,
    write_bundle_zip,
)
from outreach.reports.evidence import EvidenceStore, ReadableStream, StoredEvidence
from outreach.reports.operations import ReportError, event, stage_label

ROLES = tuple(r.value for r in EvidenceRole)


class DisclosureError(ReportError):
    """A disclosure step that is not allowed; the message says why."""


# --- upload links -------------------------------------------------------------------------------


@dataclass
class SentLink:
    token: UploadToken
    url: str


def send_upload_link(
    report: Report, *, channel: str, to: str, language: str, actor: User, now: datetime | None = None
) -> SentLink:
    """Make a one-time upload link and send it to ``to`` (the reporter, or the victim) by SMS or e-mail.

    The message goes through the normal send pipeline (``queue_one``: opt-outs, retries, status), on
    ``high``, after the commit.
    """
    if channel not in ("sms", "email"):
        raise ReportError(_("Send the link by SMS or e-mail."))
    to = (to or "").strip()
    if not to:
        raise ReportError(_("There is no address to send the link to."))
    language = normalise_language(language)
    now = now or utcnow()
    row = UploadToken(
        link_id=upload_links.new_link_id(),
        report_id=report.id,
        created_by_id=actor.id,
        sent_to=to,
        channel=channel,
        language=language,
        created_at=now,
        expires_at=upload_links.default_expiry(now),
    )
    db.session.add(row)
    db.session.flush()
    url = upload_links.upload_url(upload_links.make_upload_token(report.id, row.link_id))
    line = event(report, "upload_link", f"{channel} {to}", actor)
    with for_person_language(language):
        hours = int(current_app.config["EVIDENCE_UPLOAD_LINK_HOURS"])
        sms = _(
            "Korean Embassy (report %(reference)s): please send photos and documents with this link. "
            "It works once, for %(hours)d hours: %(url)s",
            reference=report.reference,
            hours=hours,
            url=url,
        )
        subject = _(
            "Korean Embassy: send photos and documents (report %(reference)s)", reference=report.reference
        )
        body = _(
            "The embassy officer working on report %(reference)s asks you to send what the police need "
            "before they can act: a copy of the passport, a recent photo of the face, a photo of the "
            "building and its location, and a short statement.\n\nOpen this link on your phone; it "
            "works once, for %(hours)d hours:\n%(url)s",
            reference=report.reference,
            hours=hours,
            url=url,
        )
    queue_one(
        channel=channel,
        to=to,
        body=sms if channel == "sms" else body,
        subject=None if channel == "sms" else subject,
        source_kind=SourceKind.REPORT,
        source_id=line.id,
        language=language,
        queue="high",
    )
    record("report.upload_link", actor=actor, target=db.session.get(Case, report.case_id), channel=channel)
    return SentLink(token=row, url=url)


def lookup_token(link_id: str) -> UploadToken | None:
    return db.session.scalar(sa.select(UploadToken).where(UploadToken.link_id == link_id))


def mark_token_used(link_id: str, now: datetime) -> bool:
    """The one conditional UPDATE that spends a link (see ``upload_links``)."""
    result = db.session.execute(
        sa.update(UploadToken)
        .where(
            UploadToken.link_id == link_id,
            UploadToken.used_at.is_(None),
            UploadToken.revoked_at.is_(None),
            UploadToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def revoke_link(token: UploadToken, *, actor: User) -> None:
    if token.used_at is not None or token.revoked_at is not None:
        raise ReportError(_("This link is already used or withdrawn."))
    token.revoked_at = utcnow()
    report = db.session.get(Report, token.report_id)
    assert report is not None
    event(report, "upload_link_revoked", token.sent_to, actor)


# --- evidence files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    role: str
    stream: ReadableStream
    filename: str | None
    content_type: str | None = None
    content_length: int | None = None


def store_uploads(uploads: Iterable[Upload]) -> list[tuple[str, StoredEvidence]]:
    """Check and store each file (raises ``EvidenceRejected`` for the first one refused)."""
    store = EvidenceStore.from_app()
    stored = []
    for upload in uploads:
        if upload.role not in ROLES:
            raise ReportError(f"unknown evidence role {upload.role}")
        record_ = store.accept(
            upload.stream,
            declared_name=upload.filename,
            declared_type=upload.content_type,
            declared_size=upload.content_length,
        )
        stored.append((upload.role, record_))
    return stored


def add_evidence(
    report: Report,
    stored: Iterable[tuple[str, StoredEvidence]],
    *,
    via: str,
    token: UploadToken | None = None,
    actor: User | None = None,
) -> list[EvidenceFile]:
    rows = []
    for role, item in stored:
        row = EvidenceFile(
            report_id=report.id,
            role=role,
            sha256=item.sha256,
            size=item.size,
            media_type=item.media_type,
            original_sha256=item.original_sha256,
            original_size=item.original_size,
            original_type=item.original_type,
            original_name=item.original_name,
            declared_type=item.declared_type,
            stored_path=item.stored_path,
            width=item.width,
            height=item.height,
            pages=item.pages,
            removed_metadata=list(item.removed_metadata),
            via=via,
            upload_token_id=token.id if token else None,
            created_by_id=actor.id if actor else None,
        )
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    if rows:
        event(report, "uploaded", ", ".join(f"{r.role} {r.sha256[:12]}" for r in rows), actor)
    return rows


def receive_with_link(
    token: str, uploads: list[Upload], *, statement: str | None, statement_language: str | None
) -> tuple[Report, list[EvidenceFile]]:
    """What the upload page does: check the link, store the files, spend the link, record it all.

    The files are checked and stored before the link is spent, so a refused photo does not use it up.
    """
    grant = upload_links.check_upload_token(token, lookup=lookup_token)
    statement = (statement or "").strip() or None
    if not uploads and not statement:
        raise ReportError(_("Choose at least one file, or write the statement."))
    stored = store_uploads(uploads)
    upload_links.consume_upload_token(grant, mark_used=mark_token_used)
    row = lookup_token(grant.link_id)
    report = db.session.get(Report, grant.case_id)
    assert row is not None and report is not None
    files = add_evidence(report, stored, via="upload_link", token=row)
    row.files_received = len(files)
    if statement:
        report.statement = statement[:20_000]
        report.statement_language = (statement_language or row.language)[:5]
        event(report, "uploaded", _("Statement received"))
    return report, files


def stored_of(row: EvidenceFile) -> StoredEvidence:
    return StoredEvidence(
        sha256=row.sha256,
        size=row.size,
        media_type=row.media_type,
        original_sha256=row.original_sha256,
        original_size=row.original_size,
        original_type=row.original_type,
        original_name=row.original_name,
        declared_type=row.declared_type,
        stored_path=row.stored_path,
        width=row.width,
        height=row.height,
        pages=row.pages,
        removed_metadata=tuple(row.removed_metadata or ()),
    )


def evidence_of(report: Report) -> list[EvidenceFile]:
    return list(
        db.session.scalars(
            sa.select(EvidenceFile).where(EvidenceFile.report_id == report.id).order_by(EvidenceFile.id)
        )
    )


# --- disclosures and the bundle ---------------------------------------------------------------------


def _may_disclose(user: User) -> None:
    if user.role not in TASK_FORCE_ROLES:
        raise DisclosureError(_("Only task-force liaison officers and admins may hand over a case's data."))


def request_disclosure(
    report: Report,
    *,
    purpose: str,
    recipient_agency: str,
    recipient_officer: str,
    legal_basis: str,
    actor: User,
) -> Disclosure:
    """Ask to hand the rescue-request bundle over; assembles it now (the approver sees what leaves)."""
    _may_disclose(actor)
    fields = {
        "purpose": purpose,
        "recipient_agency": recipient_agency,
        "recipient_officer": recipient_officer,
        "legal_basis": legal_basis,
    }
    fields = {k: (v or "").strip() for k, v in fields.items()}
    if not all(fields.values()):
        raise DisclosureError(
            _("A disclosure needs its purpose, the receiving agency and officer, and the legal basis.")
        )
    now = utcnow()
    disclosure = Disclosure(
        reference=f"D-{now.year}-{secrets.token_hex(3).upper()}",
        report_id=report.id,
        status=DisclosureStatus.PENDING,
        requested_by_id=actor.id,
        requested_at=now,
        **fields,
    )
    db.session.add(disclosure)
    db.session.flush()
    bundle = assemble_bundle(report, disclosure, actor=actor)
    files = [{"name": "bundle.zip", "sha256": bundle.zip_sha256, "size": bundle.zip_size, "role": "zip"}]
    files += [
        {"name": f.name, "sha256": f.sha256, "role": "file"}
        for f in db.session.scalars(sa.select(BundleFile).where(BundleFile.bundle_id == bundle.id))
    ]
    disclosure.files = files
    event(report, "disclosure_requested", f"{disclosure.reference} → {disclosure.recipient_agency}", actor)
    record("disclosure.request", actor=actor, target=disclosure, report=report.reference)
    return disclosure


def decide_disclosure(disclosure: Disclosure, *, approve: bool, actor: User, note: str | None = None) -> None:
    """A second officer approves (or rejects) a disclosure; the one who asked cannot."""
    _may_disclose(actor)
    if actor.id == disclosure.requested_by_id:
        raise DisclosureError(_("A second officer must approve: you asked for this disclosure."))
    to = DisclosureStatus.APPROVED if approve else DisclosureStatus.REJECTED
    if not approve and not (note or "").strip():
        raise DisclosureError(_("Say why the disclosure is rejected."))
    _guarded(
        disclosure,
        DisclosureStatus.PENDING,
        to,
        decided_by_id=actor.id,
        decided_at=utcnow(),
        decision_note=note,
    )
    report = db.session.get(Report, disclosure.report_id)
    assert report is not None
    event(report, f"disclosure_{to.value}", disclosure.reference, actor)
    record(f"disclosure.{to.value}", actor=actor, target=disclosure)


def hand_over(disclosure: Disclosure, *, actor: User) -> Path:
    """Record the hand-over and return the bundle's zip; refused unless the entry is approved.

    One approved entry allows one hand-over: the guarded UPDATE marks it ``disclosed``.
    """
    _may_disclose(actor)
    if disclosure.status != DisclosureStatus.APPROVED:
        raise DisclosureError(
            _(
                "Nothing leaves without an approved disclosure: this one is %(status)s.",
                status=disclosure.status.value,
            )
        )
    bundle = db.session.scalar(sa.select(Bundle).where(Bundle.disclosure_id == disclosure.id))
    if bundle is None:
        raise DisclosureError(_("There is no bundle for this disclosure."))
    store = EvidenceStore.from_app()
    path = (store.root / bundle.zip_path).resolve()
    if not path.is_relative_to(store.root / "bundles") or not path.is_file():
        raise DisclosureError(_("The bundle file is missing; assemble it again."))
    _guarded(
        disclosure,
        DisclosureStatus.APPROVED,
        DisclosureStatus.DISCLOSED,
        disclosed_by_id=actor.id,
        disclosed_at=utcnow(),
    )
    report = db.session.get(Report, disclosure.report_id)
    assert report is not None
    event(
        report,
        "disclosed",
        f"{disclosure.reference} → {disclosure.recipient_agency} ({disclosure.recipient_officer})",
        actor,
    )
    record("disclosure.hand_over", actor=actor, target=disclosure, zip_sha256=bundle.zip_sha256)
    return path


def _guarded(disclosure: Disclosure, current: DisclosureStatus, to: DisclosureStatus, **values: Any) -> None:
    db.session.flush()
    result = db.session.execute(
        sa.update(Disclosure)
        .where(Disclosure.id == disclosure.id, Disclosure.status == current)
        .values(status=to, **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(disclosure)
        raise DisclosureError(
            _(
                "The disclosure is %(status)s, not %(expected)s.",
                status=disclosure.status.value,
                expected=current.value,
            )
        )
    db.session.refresh(disclosure)


def rescue_bundle(report: Report, disclosure: Disclosure, *, actor: User, now: datetime) -> RescueBundle:
    """The report as the bundle module's plain dataclasses."""
    case = db.session.get(Case, report.case_id)
    person = db.session.get(Person, report.person_id) if report.person_id else None
    officer = db.session.get(User, case.assigned_to_id) if case and case.assigned_to_id else actor
    province = db.session.get(Province, report.province_code) if report.province_code else None
    phones = tuple(p for p in (report.subject_phone,) if p)
    if person is not None:
        phones += tuple(p.e164 for p in person.phones if p.e164 not in phones)
    rows = evidence_of(report)
    last_heard = (
        datetime.combine(report.last_heard_on, time(12)).replace(tzinfo=now.tzinfo)
        if report.last_heard_on
        else None
    )
    return RescueBundle(
        case=BundleCase(
            reference=report.reference,
            reported_at=report.reported_at,
            status=stage_label(report.stage),
            summary=report.what_said or (case.summary if case else "") or "",
            task_force_reference=report.task_force_reference,
            recruitment="\n".join(
                p for p in (report.recruitment, report.messenger_handle, report.recruiter) if p
            )
            or None,
            last_contact_at=last_heard,
            reporter=", ".join(
                p
                for p in (
                    report.reporter_name,
                    report.reporter_relation,
                    report.reporter_phone,
                    report.reporter_email,
                )
                if p
            )
            or None,
            officer_name=officer.name if officer else None,
            officer_contact=(officer.phone or officer.email) if officer else None,
        ),
        person=BundlePerson(
            name_latin=report.subject_name_latin
            or (person.name_latin if person else None)
            or report.subject_name
            or "",
            name_hangul=report.subject_name or (person.name_ko if person else None),
            date_of_birth=report.subject_birth_date or (person.birth_date if person else None),
            passport_number=report.subject_passport,
            phones=phones,
        ),
        location=BundleLocation(
            province=province.name("en") if province else None,
            area=report.area,
            building=report.building,
            address=report.address,
            latitude=report.latitude,
            longitude=report.longitude,
            map_url=report.map_url,
        ),
        disclosure_reference=disclosure.reference,
        prepared_by=actor.name or actor.email,
        prepared_at=now,
        issuer=str(current_app.config.get("BUNDLE_ISSUER", "Embassy of the Republic of Korea in Cambodia")),
        evidence=tuple(BundleEvidence(record=stored_of(r), role=EvidenceRole(r.role)) for r in rows),
        statement=BundleStatement(text=report.statement, language=report.statement_language or "en")
        if report.statement
        else None,
    )


def assemble_bundle(report: Report, disclosure: Disclosure, *, actor: User) -> Bundle:
    """Build the PDF and the zip for ``disclosure`` under ``EVIDENCE_DIR/bundles`` and record them."""
    now = utcnow()
    store = EvidenceStore.from_app()
    folder = store.root / "bundles"
    folder.mkdir(mode=0o700, exist_ok=True)
    name = f"{disclosure.reference}.zip"
    manifest = write_bundle_zip(rescue_bundle(report, disclosure, actor=actor, now=now), store, folder / name)
    bundle = Bundle(
        report_id=report.id,
        disclosure_id=disclosure.id,
        zip_path=f"bundles/{name}",
        zip_sha256=manifest.zip_sha256,
        zip_size=manifest.zip_size,
        pdf_sha256=manifest.pdf.sha256,
        created_by_id=actor.id,
        created_at=now,
    )
    db.session.add(bundle)
    db.session.flush()
    by_hash = {r.sha256: r for r in evidence_of(report)}
    for entry in manifest.files:
        row = by_hash.get(entry.sha256)
        if row is not None:
            db.session.add(
                BundleFile(bundle_id=bundle.id, evidence_file_id=row.id, name=entry.name, sha256=entry.sha256)
            )
    db.session.flush()
    event(report, "bundle", f"{disclosure.reference} {manifest.zip_sha256[:12]}", actor)
    return bundle


def disclosures_of(report: Report) -> list[Disclosure]:
    return list(
        db.session.scalars(
            sa.select(Disclosure).where(Disclosure.report_id == report.id).order_by(Disclosure.id)
        )
    )
