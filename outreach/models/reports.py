"""Reports and task-force cases: someone is in danger, from the first report to rescue and repatriation.

A **report** is the task-force side of a case (``outreach.models.cases.Case``, the welfare side: who
to call, support, status). Every case is a report of some kind: a family report from ``/report``, a
phone call entered by staff, an API call, an SOS message or a "need help" check-in answer. The case
keeps the paging path to the duty officer and the welfare timeline; the report adds the stage, the
task force's reference, the location, recruitment, evidence, bundles and disclosures, which only
task-force liaison officers (role ``liaison``) and admins may read.

Lifecycle (``outreach.reports.operations.transition``, one guarded function)::

    reported ─▶ verifying ─▶ located ─▶ referred ─┬─▶ rescued ──┐
        │           │           │          ▲      ├─▶ detained ─┼─▶ supported ─┬─▶ repatriated ─┐
        │           │           │          │      └─▶ not_found ┘              └─▶ stays ───────┤
        │           │           │          └────────── (search again) ◀─┘ not_found            │
        └───────────┴───────────┴──▶ closed (false alarm, safe, duplicate: a reason is required) ◀┘
                                     not_found ─▶ closed

Timers (``outreach.reports.timers``): not verified 2 h after the report, not located 24 h after it,
referred with no news for 48 h — each pages the duty officer once through the case's paging path.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base, StrEnum, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from outreach.models.cases import Case
    from outreach.models.people import Person


class ReportStage(StrEnum):
    REPORTED = "reported"
    VERIFYING = "verifying"
    LOCATED = "located"
    REFERRED = "referred"
    RESCUED = "rescued"
    DETAINED = "detained"
    NOT_FOUND = "not_found"
    SUPPORTED = "supported"
    REPATRIATED = "repatriated"
    STAYS = "stays"
    CLOSED = "closed"


class ReportKind(StrEnum):
    """How the report reached the embassy."""

    FAMILY = "family"  # the public form, usually a parent in Korea
    PHONE = "phone"  # the consular call centre, entered by staff on the same form
    API = "api"
    SOS = "sos"  # an SOS message (an existing case opened by the keyword)
    NEED_HELP = "need_help"  # a "need help" check-in answer
    STAFF = "staff"  # a case an officer opened for a registered person


class DisclosureStatus(StrEnum):
    """``pending → approved → disclosed``, or ``pending → rejected``."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISCLOSED = "disclosed"


class Report(TimestampMixin, Base):
    __tablename__ = "report"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: Shown to the reporter and quoted on the phone ("R-2026-00042").
    reference: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    #: SHA-256 of the secret in the reporter's status link (the link itself is never stored).
    status_key_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[ReportKind] = so.mapped_column(enum_column(ReportKind))
    stage: so.Mapped[ReportStage] = so.mapped_column(
        enum_column(ReportStage), default=ReportStage.REPORTED, index=True
    )
    stage_changed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    reported_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    located_at: so.Mapped[datetime | None]
    rescued_at: so.Mapped[datetime | None]
    repatriated_at: so.Mapped[datetime | None]
    closed_at: so.Mapped[datetime | None]
    #: The registered person this is about, once found by number or by name and date of birth.
    person_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("person.id"), index=True)
    #: Set when an officer confirmed ``person_id``; until then it is only a suggestion.
    person_confirmed_at: so.Mapped[datetime | None]
    person_confirmed_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    entered_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))

    # Who reported, and how to reach them (often in Korea: a +82 number or an e-mail).
    reporter_name: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    reporter_relation: so.Mapped[str | None] = so.mapped_column(sa.String(50))
    reporter_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    reporter_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    reporter_language: so.Mapped[str] = so.mapped_column(sa.String(2), default="ko")

    # Who is in danger.
    subject_name: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    subject_name_latin: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    subject_birth_date: so.Mapped[date | None]
    subject_passport: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    subject_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))

    # Last known location (task-force detail).
    province_code: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("province.code"), index=True)
    area: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    building: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    address: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    map_url: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    latitude: so.Mapped[float | None]
    longitude: so.Mapped[float | None]
    last_heard_on: so.Mapped[date | None]

    # How they were recruited, and what was said (task-force detail).
    recruitment: so.Mapped[str | None] = so.mapped_column(sa.Text)
    messenger_handle: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    recruiter: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    what_said: so.Mapped[str | None] = so.mapped_column(sa.Text)
    #: The short statement for the police (English or Khmer), from the upload page or an officer.
    statement: so.Mapped[str | None] = so.mapped_column(sa.Text)
    statement_language: so.Mapped[str | None] = so.mapped_column(sa.String(5))

    #: The Korea–Cambodia task force's own number for the case.
    task_force_reference: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    #: Last word from the task force or about the person (resets the "no news" timer while referred).
    last_news_at: so.Mapped[datetime | None]
    # When each timer paged the duty officer (each fires once; see outreach.reports.timers).
    verify_escalated_at: so.Mapped[datetime | None]
    locate_escalated_at: so.Mapped[datetime | None]
    news_escalated_at: so.Mapped[datetime | None]

    case: so.Mapped[Case] = so.relationship()
    person: so.Mapped[Person | None] = so.relationship()


class ReportEvent(Base):
    """One line on a report's timeline: a stage, a contact, a note, a link sent, files, a disclosure."""

    __tablename__ = "report_event"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    body: so.Mapped[str | None] = so.mapped_column(sa.Text)
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class EvidenceFile(Base):
    """A stored evidence file (``outreach.reports.evidence.StoredEvidence``) belonging to a report."""

    __tablename__ = "evidence_file"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"), index=True)
    #: face_photo, passport, building, location, other (``outreach.reports.bundle.EvidenceRole``).
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    size: so.Mapped[int]
    media_type: so.Mapped[str] = so.mapped_column(sa.String(64))
    original_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    original_size: so.Mapped[int]
    original_type: so.Mapped[str] = so.mapped_column(sa.String(64))
    original_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    declared_type: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    stored_path: so.Mapped[str] = so.mapped_column(sa.String(200))
    width: so.Mapped[int | None]
    height: so.Mapped[int | None]
    pages: so.Mapped[int | None]
    removed_metadata: so.Mapped[list[str]] = so.mapped_column(default=list)
    #: "report_form", "upload_link" or "staff".
    via: so.Mapped[str] = so.mapped_column(sa.String(20))
    upload_token_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("upload_token.id"))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class UploadToken(Base):
    """A one-time upload link (``outreach.reports.upload_links``); only its random id is stored."""

    __tablename__ = "upload_token"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    link_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"), index=True)
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    #: The address the link went to (a phone number or an e-mail) and the channel.
    sent_to: so.Mapped[str] = so.mapped_column(sa.String(254))
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: Of the upload page and the statement template.
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="ko")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]
    files_received: so.Mapped[int] = so.mapped_column(default=0)

    @property
    def case_id(self) -> int:
        # ``upload_links`` names the link's owner "case"; here that is the report.
        return self.report_id


class Disclosure(Base):
    """Personal data handed outside the embassy: what, to whom, why, on what basis, approved by whom.

    ``pending → approved → disclosed`` or ``pending → rejected``; the approver is a second officer
    (never the one who asked). Files are listed by SHA-256 when the bundle is assembled, and a
    download is allowed once, by an approved entry, which it marks ``disclosed``.
    """

    __tablename__ = "disclosure"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    reference: so.Mapped[str] = so.mapped_column(sa.String(24), unique=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"), index=True)
    status: so.Mapped[DisclosureStatus] = so.mapped_column(
        enum_column(DisclosureStatus), default=DisclosureStatus.PENDING, index=True
    )
    purpose: so.Mapped[str] = so.mapped_column(sa.Text)
    recipient_agency: so.Mapped[str] = so.mapped_column(sa.String(200))
    recipient_officer: so.Mapped[str] = so.mapped_column(sa.String(200))
    legal_basis: so.Mapped[str] = so.mapped_column(sa.String(300))
    #: ``[{"name", "sha256", "size", "role"}]`` of everything handed over (the zip and what is inside).
    files: so.Mapped[list[dict[str, Any]]] = so.mapped_column(default=list)
    requested_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    requested_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    decided_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    decided_at: so.Mapped[datetime | None]
    decision_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    disclosed_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    disclosed_at: so.Mapped[datetime | None]


class Bundle(Base):
    """A rescue-request bundle (PDF + files, zipped) assembled for one disclosure."""

    __tablename__ = "bundle"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("report.id", ondelete="CASCADE"), index=True)
    disclosure_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("disclosure.id", ondelete="CASCADE"), unique=True
    )
    #: Relative to ``EVIDENCE_DIR`` (outside the web root, like the evidence).
    zip_path: so.Mapped[str] = so.mapped_column(sa.String(200))
    zip_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    zip_size: so.Mapped[int]
    pdf_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class BundleFile(Base):
    """One evidence file inside a bundle, as named in the zip."""

    __tablename__ = "bundle_file"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    bundle_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("bundle.id", ondelete="CASCADE"), index=True)
    evidence_file_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("evidence_file.id"))
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
