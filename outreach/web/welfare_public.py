"""Public pages for family enquiries and recruitment tips: ``/report/enquiry`` (a family asks whether
someone is safe), the family's status page, the person's one-tap answer page ``/e/<key>``, and
``/tip`` (anyone reports a job lure). No login, no JavaScript, rate-limited, never cached.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for
from flask import Response as HTMLResponse  # text/html by default
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SubmitField

from outreach.checkins.render import local_time
from outreach.extensions import db, limiter
from outreach.i18n import current_language, for_person_language
from outreach.models import EnquiryStatus, Person
from outreach.reports import enquiries, tips
from outreach.reports.enquiry_forms import EnquiryForm
from outreach.reports.tip_forms import TipForm
from outreach.web.reports_public import no_store

bp = Blueprint("welfare_public", __name__)


def _limit() -> str:
    return str(current_app.config.get("REPORT_RATE_LIMIT", "5 per minute;30 per hour"))


def _too_many() -> str:
    return _("Too many attempts from your network. Please wait a few minutes and try again.")


def _page(template: str, status: int = 200, **context: object) -> Response:
    response = HTMLResponse(render_template(template, **context), status=status, mimetype="text/html")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return no_store(response)


@bp.route("/report/enquiry", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"], error_message=_too_many)
def enquiry_form() -> Response:
    form = EnquiryForm()
    error = None
    if form.validate_on_submit():
        try:
            new = enquiries.create_enquiry(form.enquiry_input(current_language()), via="public")
        except enquiries.EnquiryError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            status_url = url_for("welfare_public.enquiry_status", key=new.status_key, _external=True)
            return _page("reports/enquiry_done.html", enquiry=new.enquiry, status_url=status_url)
    return _page("reports/enquiry.html", 400 if error else 200, form=form, error=error)


@bp.get("/report/enquiry/status/<key>")
def enquiry_status(key: str) -> Response:
    """What the family may know: "reported themselves safe" after a yes, otherwise "passed on"."""
    enquiry = enquiries.by_status_key(key)
    if enquiry is None:
        return _page("reports/status_unknown.html", 404)
    return _page(
        "reports/enquiry_status.html",
        reference=enquiry.reference,
        subject_name=enquiry.subject_name,
        state=enquiries.public_state(enquiry),
        answered_at=enquiry.answered_at if enquiry.status == EnquiryStatus.ALLOWED else None,
        local_time=local_time,
    )


class AnswerForm(FlaskForm):
    yes = SubmitField()
    no = SubmitField()
    help = SubmitField()


@bp.route("/e/<key>", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"], error_message=_too_many)
def enquiry_answer(key: str) -> Response:
    """The person's one-tap answer to their family's question, in their language."""
    enquiry = enquiries.by_answer_key(key)
    if enquiry is None:
        return _page("reports/status_unknown.html", 404)
    person_language = None
    if enquiry.person_id is not None:
        from_person = db.session.get(Person, enquiry.person_id)
        person_language = from_person.language if from_person else None
    with for_person_language(person_language):
        form = AnswerForm()
        done = None
        if form.validate_on_submit():
            choice = "yes" if form.yes.data else "no" if form.no.data else "help" if form.help.data else ""
            try:
                enquiries.answer(enquiry, choice)
            except enquiries.EnquiryError as exc:
                db.session.rollback()
                done = str(exc)
            else:
                db.session.commit()
                done = choice
        waiting = enquiry.status == EnquiryStatus.ASKED
        return _page(
            "reports/enquiry_answer.html",
            form=form,
            question=enquiries.question_text(enquiry),
            waiting=waiting,
            done=done,
        )


@bp.route("/tip", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"], error_message=_too_many)
def tip_form() -> Response:
    """Anyone reports a job lure; nothing about the sender is required."""
    form = TipForm()
    error = None
    if form.validate_on_submit():
        try:
            tip = tips.create_tip(form.tip_input(current_language()), via="public")
        except tips.TipError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            return _page("reports/tip_done.html", reference=tip.reference)
    return _page("reports/tip.html", 400 if error else 200, form=form, error=error)
