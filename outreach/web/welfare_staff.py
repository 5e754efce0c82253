"""Staff pages for recruitment tips (triage, related tips and reports, a targeted warning) and family
enquiries (a call taken by phone, the list). Views are thin: the work is in ``outreach.reports``."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from outreach.alerts.compose import ComposeError
from outreach.checkins.render import local_time
from outreach.extensions import db
from outreach.i18n import current_language
from outreach.models import FamilyEnquiry, Tip, TipStatus, User
from outreach.reports import enquiries, tips
from outreach.reports.enquiry_forms import EnquiryForm
from outreach.reports.tip_forms import TipForm, WarningForm
from outreach.web.reports_public import no_store
from outreach.web.staff import bp


def _me() -> User:
    return cast(User, current_user._get_current_object())


def _tip(tip_id: int) -> Tip:
    tip = db.session.get(Tip, tip_id)
    if tip is None:
        abort(404, description=_("There is no tip %(id)s.", id=tip_id))
    return tip


@bp.route("/tips", methods=["GET", "POST"])
def tip_list() -> Response | str:
    form = TipForm()
    if form.validate_on_submit():
        try:
            tip = tips.create_tip(form.tip_input(current_language()), via="staff", actor=_me())
        except tips.TipError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            return redirect(url_for("staff.tip_detail", tip_id=tip.id))
    rows = db.session.scalars(sa.select(Tip).order_by(Tip.id.desc()).limit(200)).all()
    return render_template("reports/staff_tips.html", tips=rows, form=form, local_time=local_time)


@bp.get("/tips/<int:tip_id>")
def tip_detail(tip_id: int) -> Response:
    tip = _tip(tip_id)
    return no_store(
        Response(
            render_template(
                "reports/staff_tip.html",
                tip=tip,
                related=tips.related_tips(tip),
                reports=tips.related_reports(tip),
                warning=WarningForm(formdata=None),
                preview=tips.warning_text(tip),
                local_time=local_time,
            ),
            mimetype="text/html",
        )
    )


@bp.post("/tips/<int:tip_id>/warning")
def tip_warning(tip_id: int) -> Response:
    """Draft the targeted warning; it then goes through the normal alert approval."""
    tip = _tip(tip_id)
    form = WarningForm()
    if not form.validate_on_submit():
        flash(_("Check the audience: the number of days is between 1 and 365."), "error")
        return redirect(url_for("staff.tip_detail", tip_id=tip.id))
    audience = {"provinces": form.provinces.data or [], "arrived_within_days": form.arrived_within_days.data}
    try:
        alert = tips.draft_warning(tip, audience=audience, channels=["sms"], actor=_me())
    except (tips.TipError, ComposeError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.tip_detail", tip_id=tip.id))
    db.session.commit()
    flash(_("A draft warning was prepared. Check it and submit it for approval."), "success")
    return redirect(url_for("staff.alert", alert_id=alert.id))


@bp.post("/tips/<int:tip_id>/status")
def tip_status(tip_id: int) -> Response:
    tip = _tip(tip_id)
    wanted = request.form.get("status", "")
    if wanted not in (TipStatus.TRIAGED.value, TipStatus.DUPLICATE.value, TipStatus.DISMISSED.value):
        abort(400, description=_("Unknown status."))
    other = db.session.get(Tip, tip.duplicate_of_id) if tip.duplicate_of_id else None
    try:
        tips.set_status(tip, TipStatus(wanted), actor=_me(), duplicate_of=other)
    except tips.TipError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
    return redirect(url_for("staff.tip_detail", tip_id=tip.id))


@bp.route("/enquiries", methods=["GET", "POST"])
def enquiry_list() -> Response | str:
    """Family enquiries; officers enter one taken by phone on the same form the family uses."""
    form = EnquiryForm()
    if form.validate_on_submit():
        try:
            enquiries.create_enquiry(form.enquiry_input(current_language()), via="staff", actor=_me())
        except enquiries.EnquiryError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("The enquiry was recorded."), "success")
            return redirect(url_for("staff.enquiry_list"))
    rows = db.session.scalars(sa.select(FamilyEnquiry).order_by(FamilyEnquiry.id.desc()).limit(200)).all()
    return render_template("reports/staff_enquiries.html", enquiries=rows, form=form, local_time=local_time)
