"""Public report pages: ``/report`` (anyone, no login), the reporter's status page, and the one-time
evidence upload page ``/u/<token>``.

Phone-sized, Korean first, no JavaScript needed; CSRF-protected and rate-limited per address. The
status page says received / in progress / closed and nothing else: the link may be forwarded, and a
family member's phone may not stay private.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask import Response as HTMLResponse  # text/html by default (werkzeug's is text/plain)
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from outreach.extensions import db, limiter
from outreach.i18n import current_language
from outreach.models import ReportKind
from outreach.reports import kit
from outreach.reports.evidence import EvidenceRejected
from outreach.reports.forms import ReportForm, UploadForm
from outreach.reports.operations import (
    PUBLIC_STATUS_LABELS,
    ReportError,
    create_report,
    public_status,
    report_by_status_key,
)
from outreach.reports.statement import statement_sections
from outreach.reports.upload_links import UploadLinkError, check_upload_token

bp = Blueprint("reports_public", __name__)


def _limit() -> str:
    return str(current_app.config.get("REPORT_RATE_LIMIT", "5 per minute;30 per hour"))


def _too_many() -> str:
    return _("Too many attempts from your network. Please wait a few minutes and try again.")


def no_store(response: Response) -> Response:
    # Personal data: never kept by a browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


def file_of(storage: FileStorage | None) -> FileStorage | None:
    return storage if storage is not None and storage.filename else None


def uploads_from(form_files: dict[str, FileStorage | None]) -> list[kit.Upload]:
    return [
        kit.Upload(role=role, stream=f.stream, filename=f.filename, content_type=f.mimetype)
        for role, storage in form_files.items()
        if (f := file_of(storage)) is not None
    ]


@bp.route("/report", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"], error_message=_too_many)
def report_form() -> Response:
    form = ReportForm()
    error = None
    if form.validate_on_submit():
        language = current_language()
        photo = file_of(form.photo.data)
        try:
            # The photo is checked before anything is recorded: a refused file is a form error.
            stored = kit.store_uploads(uploads_from({"face_photo": photo}))
            new = create_report(form.report_input(language), kind=ReportKind.FAMILY)
            kit.add_evidence(new.report, stored, via="report_form")
        except EvidenceRejected as exc:
            db.session.rollback()
            form.photo.errors = [str(exc)]
        except ReportError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            status_url = url_for("reports_public.status", key=new.status_key, _external=True)
            return no_store(
                HTMLResponse(
                    render_template("reports/done.html", report=new.report, status_url=status_url),
                    mimetype="text/html",
                )
            )
    return no_store(
        HTMLResponse(render_template("reports/report.html", form=form, error=error), mimetype="text/html")
    )


@bp.get("/report/status/<key>")
def status(key: str) -> Response:
    report = report_by_status_key(key)
    if report is None:
        return no_store(HTMLResponse(render_template("reports/status_unknown.html"), status=404))
    state = public_status(report)
    return no_store(
        HTMLResponse(
            render_template(
                "reports/status.html",
                reference=report.reference,
                state=state,
                label=PUBLIC_STATUS_LABELS[state],
            )
        )
    )


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc: RequestEntityTooLarge) -> Response | RequestEntityTooLarge:
    """A body past ``MAX_CONTENT_LENGTH`` is refused unread (the app's input checks meet it first).
    On the upload page say so with the same advice as a file over the evidence limit, not with a bare
    "too large" page a phone user cannot act on."""
    token = (request.view_args or {}).get("token")
    if request.endpoint != "reports_public.upload" or not isinstance(token, str):
        return exc
    try:
        grant = check_upload_token(token, lookup=kit.lookup_token)
    except UploadLinkError:
        return exc
    row = kit.lookup_token(grant.link_id)
    if row is None:
        return exc
    max_mb = int(current_app.config["EVIDENCE_MAX_BYTES"]) // (1024 * 1024)
    message = _(
        "The file is larger than %(limit)s. Send a smaller photo (a screenshot works) "
        "or a PDF of fewer pages.",
        limit=str(max_mb) + " MB",
    )
    page = render_template(
        "reports/upload.html",
        form=UploadForm(formdata=None),
        error=message,
        sections=statement_sections(row.language),
        max_mb=max_mb,
    )
    return no_store(HTMLResponse(page, status=413))


@bp.route("/u/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"], error_message=_too_many)
def upload(token: str) -> Response:
    try:
        grant = check_upload_token(token, lookup=kit.lookup_token)
    except UploadLinkError as exc:
        return no_store(
            HTMLResponse(render_template("reports/upload_problem.html", message=exc.message), status=410)
        )
    row = kit.lookup_token(grant.link_id)
    assert row is not None
    max_mb = int(current_app.config["EVIDENCE_MAX_BYTES"]) // (1024 * 1024)
    form = UploadForm()
    if request.method == "GET":
        form.statement_language.data = row.language
    error = None
    if form.validate_on_submit():
        files = {
            name: getattr(form, name).data
            for name in ("face_photo", "passport", "building", "location", "other")
        }
        try:
            _report, received = kit.receive_with_link(
                token,
                uploads_from(files),
                statement=form.statement.data,
                statement_language=form.statement_language.data,
            )
        except (EvidenceRejected, ReportError) as exc:
            db.session.rollback()
            error = str(exc)
        except UploadLinkError as exc:
            db.session.rollback()
            return no_store(
                HTMLResponse(render_template("reports/upload_problem.html", message=exc.message), status=410)
            )
        else:
            db.session.commit()
            return no_store(HTMLResponse(render_template("reports/upload_done.html", count=len(received))))
    return no_store(
        HTMLResponse(
            render_template(
                "reports/upload.html",
                form=form,
                error=error,
                sections=statement_sections(row.language),
                max_mb=max_mb,
            )
        )
    )
