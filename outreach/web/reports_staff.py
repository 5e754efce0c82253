"""Staff report pages: the dashboard and list, phone-call entry, one report (welfare side for every
officer, task-force side for liaison officers and admins), the workflow, the evidence kit, the
disclosure log and the weekly figures. Views are thin; logic is in ``outreach.reports``.

Need-to-know: community representatives never reach ``/staff``; officers without the ``liaison``
role see a report's contact, support and stage, never its location, recruitment, evidence or
disclosures (those views are ``task_force_required``).
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from flask import Response as HTMLResponse  # text/html by default (werkzeug's is text/plain)
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from outreach.checkins.render import local_time
from outreach.csvexport import csv_bytes
from outreach.extensions import db
from outreach.i18n import current_language
from outreach.models import (
    Case,
    Disclosure,
    DisclosureStatus,
    EvidenceFile,
    Person,
    Province,
    Report,
    ReportEvent,
    ReportKind,
    ReportStage,
    UploadToken,
    User,
)
from outreach.reports import figures, kit
from outreach.reports import operations as ops
from outreach.reports.evidence import EvidenceRejected, EvidenceStore
from outreach.reports.forms import (
    DecisionForm,
    DisclosureForm,
    EntryForm,
    LinkPersonForm,
    ReportForm,
    StageForm,
    TaskForceReferenceForm,
    UploadLinkForm,
)
from outreach.web.reports_public import file_of, no_store, uploads_from
from outreach.web.security import admin_required, task_force_required
from outreach.web.staff import bp


def _me() -> User:
    return cast(User, current_user._get_current_object())


def _get(report_id: int) -> Report:
    report = db.session.get(Report, report_id)
    if report is None:
        abort(404, description=_("There is no report %(id)s.", id=report_id))
    return report


def _back(report: Report) -> Response:
    return redirect(url_for("staff.report", report_id=report.id))


@bp.get("/reports")
def reports() -> Response:
    """Open reports by stage and province, and how long each has waited at its stage."""
    board = figures.dashboard()
    return no_store(
        HTMLResponse(
            render_template(
                "reports/staff_list.html",
                board=board,
                stage_label=ops.stage_label,
                kind_labels=ops.KIND_LABELS,
                local_time=local_time,
                format_wait=figures.format_wait,
                sees_task_force=ops.may_see_task_force(_me()),
            )
        )
    )


@bp.route("/reports/new", methods=["GET", "POST"])
def report_new() -> Response:
    """A report taken on the phone (the consular call centre): the public form, entered by staff."""
    form = ReportForm()
    error = None
    if form.validate_on_submit():
        try:
            stored = kit.store_uploads(uploads_from({"face_photo": file_of(form.photo.data)}))
            new = ops.create_report(form.report_input("ko"), kind=ReportKind.PHONE, actor=_me())
            kit.add_evidence(new.report, stored, via="staff", actor=_me())
        except EvidenceRejected as exc:
            db.session.rollback()
            form.photo.errors = [str(exc)]
        except ops.ReportError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            flash(
                _(
                    "Report %(reference)s is recorded; the duty officers were paged. Status link for the "
                    "caller: %(url)s",
                    reference=new.report.reference,
                    url=url_for("reports_public.status", key=new.status_key, _external=True),
                ),
                "success",
            )
            return _back(new.report)
    return no_store(HTMLResponse(render_template("reports/staff_new.html", form=form, error=error)))


#: Timeline lines an officer without the liaison role may read (the welfare side).
WELFARE_KINDS = frozenset(
    {"reported", "stage", "contact", "linked", "timer_not_verified", "timer_not_located"}
)


def event_title(kind: str) -> str:
    titles = {
        "reported": _("Reported"),
        "stage": _("Stage"),
        "note": _("Note"),
        "contact": _("Contact"),
        "linked": _("Linked to a registration"),
        "match_suggested": _("Registration suggested"),
        "match_rejected": _("Suggestion rejected"),
        "task_force_reference": _("Task force reference"),
        "upload_link": _("Upload link sent"),
        "upload_link_revoked": _("Upload link withdrawn"),
        "uploaded": _("Files received"),
        "bundle": _("Bundle assembled"),
        "disclosure_requested": _("Disclosure requested"),
        "disclosure_approved": _("Disclosure approved"),
        "disclosure_rejected": _("Disclosure rejected"),
        "disclosed": _("Handed over"),
        "timer_not_verified": _("Not verified in 2 hours: duty officers paged"),
        "timer_not_located": _("Not located in 24 hours: duty officers paged"),
        "timer_no_news": _("No news for 48 hours: duty officers paged"),
    }
    return titles.get(kind, kind)


@bp.get("/reports/<int:report_id>")
def report(report_id: int) -> Response:
    report = _get(report_id)
    me = _me()
    full = ops.may_see_task_force(me)
    case = db.session.get(Case, report.case_id)
    stmt = sa.select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id.desc())
    if not full:
        stmt = stmt.where(ReportEvent.kind.in_(WELFARE_KINDS))
    events = list(db.session.scalars(stmt))
    names = {u.id: u.name or u.email for u in db.session.scalars(sa.select(User))}
    person = db.session.get(Person, report.person_id) if report.person_id else None
    province = db.session.get(Province, report.province_code) if report.province_code else None
    stage_form = StageForm()
    stage_form.stage.choices = [
        SelectChoice(to.value, ops.stage_label(to))
        for (frm, to) in sorted(ops.TRANSITIONS)
        if frm == report.stage
    ]
    link_form = UploadLinkForm()
    link_form.to.data = report.reporter_phone or report.reporter_email or ""
    link_form.channel.data = "sms" if report.reporter_phone else "email"
    link_form.language.data = report.reporter_language
    context = {
        "report": report,
        "case": case,
        "full": full,
        "events": events,
        "names": names,
        "person": person,
        "province_name": province.name(current_language()) if province else "",
        "stage_form": stage_form,
        "entry_form": EntryForm(),
        "tf_form": TaskForceReferenceForm(),
        "link_person_form": LinkPersonForm(),
        "upload_link_form": link_form,
        "disclosure_form": DisclosureForm(),
        "decision_form": DecisionForm(),
        "stage_label": ops.stage_label,
        "kind_labels": ops.KIND_LABELS,
        "event_title": event_title,
        "local_time": local_time,
        "public_status": ops.PUBLIC_STATUS_LABELS[ops.public_status(report)],
        "me": me,
    }
    if full:
        context["evidence"] = kit.evidence_of(report)
        context["disclosures"] = kit.disclosures_of(report)
        context["links"] = list(
            db.session.scalars(
                sa.select(UploadToken)
                .where(UploadToken.report_id == report.id)
                .order_by(UploadToken.id.desc())
            )
        )
    return no_store(HTMLResponse(render_template("reports/staff_detail.html", **context)))


@bp.post("/reports/<int:report_id>/stage")
def report_stage(report_id: int) -> Response:
    report = _get(report_id)
    form = StageForm()
    stage = request.form.get("stage", "")
    if not form.validate_on_submit() and "stage" not in form.errors:
        abort(400, description=_("The form expired; go back, reload the page and try again."))
    try:
        ops.transition(report, ReportStage(stage), actor=_me(), note=form.note.data)
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc) if isinstance(exc, ops.ReportError) else _("Unknown stage."), "error")
        return _back(report)
    db.session.commit()
    flash(_("The report is now %(stage)s.", stage=ops.stage_label(report.stage)), "success")
    return _back(report)


@bp.post("/reports/<int:report_id>/entry")
def report_entry(report_id: int) -> Response:
    report = _get(report_id)
    form = EntryForm()
    if not form.validate_on_submit():
        flash(_("Write the note first."), "error")
        return _back(report)
    if form.kind.data == "note" and not ops.may_see_task_force(_me()):
        # Notes are task-force working notes; an officer records contacts (welfare) instead.
        abort(403)
    try:
        ops.add_entry(report, form.kind.data or "note", form.body.data or "", actor=_me())
    except ops.ReportError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(report)
    db.session.commit()
    flash(_("Added to the timeline."), "success")
    return _back(report)


@bp.post("/reports/<int:report_id>/link-person")
def report_link_person(report_id: int) -> Response:
    report = _get(report_id)
    if request.form.get("reject"):
        try:
            ops.reject_person(report, actor=_me())
        except ops.ReportError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return _back(report)
        db.session.commit()
        flash(_("The suggestion was set aside."), "success")
        return _back(report)
    form = LinkPersonForm()
    raw = (form.person_id.data or "").strip().lstrip("#")
    person = db.session.get(Person, int(raw)) if form.validate_on_submit() and raw.isdigit() else None
    if person is None:
        flash(_("There is no registered person %(id)s.", id=raw), "error")
        return _back(report)
    try:
        ops.confirm_person(report, person, actor=_me())
    except ops.ReportError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(report)
    db.session.commit()
    flash(_("The report is linked to registration %(id)s.", id=person.id), "success")
    return _back(report)


@bp.post("/reports/<int:report_id>/task-force-reference")
@task_force_required
def report_tf_reference(report_id: int) -> Response:
    report = _get(report_id)
    form = TaskForceReferenceForm()
    try:
        if not form.validate_on_submit():
            raise ops.ReportError(_("Give the task force's reference (at most 64 characters)."))
        ops.set_task_force_reference(report, form.reference.data or "", actor=_me())
    except ops.ReportError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(report)
    db.session.commit()
    flash(_("Saved."), "success")
    return _back(report)


@bp.post("/reports/<int:report_id>/upload-link")
@task_force_required
def report_upload_link(report_id: int) -> Response:
    report = _get(report_id)
    form = UploadLinkForm()
    if not form.validate_on_submit():
        flash(_("Give the address to send the link to."), "error")
        return _back(report)
    try:
        kit.send_upload_link(
            report,
            channel=form.channel.data or "sms",
            to=form.to.data or "",
            language=form.language.data or "ko",
            actor=_me(),
        )
    except ops.ReportError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(report)
    db.session.commit()
    flash(_("The upload link is on its way."), "success")
    return _back(report)


@bp.post("/reports/upload-links/<int:token_id>/revoke")
@task_force_required
def report_revoke_link(token_id: int) -> Response:
    token = db.session.get(UploadToken, token_id) or abort(404)
    try:
        kit.revoke_link(token, actor=_me())
    except ops.ReportError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("The link was withdrawn."), "success")
    return redirect(url_for("staff.report", report_id=token.report_id))


@bp.get("/reports/evidence/<int:file_id>")
@task_force_required
def report_evidence(file_id: int) -> Response:
    """An evidence file, for officers inside the embassy (handing it outside is a disclosure)."""
    row = db.session.get(EvidenceFile, file_id) or abort(404)
    path = EvidenceStore.from_app().path_of(row.stored_path)
    response = send_file(path, mimetype=row.media_type, download_name=row.original_name)
    return no_store(response)


@bp.post("/reports/<int:report_id>/disclosures")
@task_force_required
def report_disclosure(report_id: int) -> Response:
    report = _get(report_id)
    form = DisclosureForm()
    if not form.validate_on_submit():
        flash(
            _("A disclosure needs its purpose, the receiving agency and officer, and the legal basis."),
            "error",
        )
        return _back(report)
    try:
        disclosure = kit.request_disclosure(
            report,
            purpose=form.purpose.data or "",
            recipient_agency=form.recipient_agency.data or "",
            recipient_officer=form.recipient_officer.data or "",
            legal_basis=form.legal_basis.data or "",
            actor=_me(),
        )
    except ops.ReportError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(report)
    db.session.commit()
    flash(
        _(
            "Disclosure %(reference)s is waiting for a second officer's approval.",
            reference=disclosure.reference,
        ),
        "success",
    )
    return _back(report)


@bp.post("/disclosures/<int:disclosure_id>/<any(approve, reject):decision>")
@task_force_required
def disclosure_decide(disclosure_id: int, decision: str) -> Response:
    disclosure = db.session.get(Disclosure, disclosure_id) or abort(404)
    form = DecisionForm()
    form.validate_on_submit()
    try:
        kit.decide_disclosure(disclosure, approve=decision == "approve", actor=_me(), note=form.note.data)
    except ops.ReportError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("Approved.") if decision == "approve" else _("Rejected."), "success")
    return redirect(url_for("staff.report", report_id=disclosure.report_id))


@bp.post("/disclosures/<int:disclosure_id>/download")
@task_force_required
def disclosure_download(disclosure_id: int) -> Response:
    """The hand-over: the bundle's zip, once, for an approved disclosure entry (recorded first)."""
    disclosure = db.session.get(Disclosure, disclosure_id) or abort(404)
    try:
        path = kit.hand_over(disclosure, actor=_me())
    except ops.ReportError as exc:
        db.session.rollback()
        abort(403, description=str(exc))
    db.session.commit()
    response = send_file(path, mimetype="application/zip", as_attachment=True, download_name=path.name)
    return no_store(response)


@bp.get("/disclosures")
@admin_required
def disclosures() -> Response:
    """The disclosure log: every request, decision and hand-over."""
    rows = db.session.execute(
        sa.select(Disclosure, Report)
        .join(Report, Report.id == Disclosure.report_id)
        .order_by(Disclosure.id.desc())
    ).all()
    names = {u.id: u.name or u.email for u in db.session.scalars(sa.select(User))}
    return no_store(
        HTMLResponse(
            render_template(
                "reports/disclosures.html",
                rows=rows,
                names=names,
                local_time=local_time,
                statuses=DisclosureStatus,
            )
        )
    )


@bp.get("/reports/summary")
def reports_summary() -> Response:
    weeks = figures.weekly()
    return no_store(
        HTMLResponse(render_template("reports/summary.html", weeks=weeks, chart=figures.chart(weeks)))
    )


@bp.get("/reports/summary.csv")
def reports_summary_csv() -> Response:
    header, rows = figures.weekly_table(figures.weekly())
    response = HTMLResponse(csv_bytes(header, rows), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="reports-weekly.csv"'
    return no_store(response)
