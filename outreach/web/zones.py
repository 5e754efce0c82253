"""Zone pages: the staff map and list, a zone's people by permit state and its CSV, setting and
approving levels, permits and grace (staff); the public advisory page (everyone).

Views are thin: parse the form, call one operation from ``outreach.zones``, commit, redirect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from outreach.alerts.jobs import cambodia_today
from outreach.audit import record

# The check-in call list's writer (UTF-8 with BOM, formula cells neutralised), until one shared CSV
# writer replaces the per-area ones.
from outreach.csvexport import csv_chunks
from outreach.extensions import db
from outreach.i18n import current_language
from outreach.models import Alert, ChangeStatus, Permit, Role, User, Zone, ZoneChange, utcnow
from outreach.web.staff import bp
from outreach.zones import geo, levels, operations
from outreach.zones.forms import DecideForm, EndForm, GraceForm, LevelForm, PermitForm
from outreach.zones.inside import PERMIT_STATES, PermitState, inside_list, state_counts
from outreach.zones.views import CSV_HEADER, active_zones, advisory_map, csv_rows, staff_rows

public_bp = Blueprint("zones_public", __name__)


def _me() -> User:
    user: User = current_user._get_current_object()  # the real User, not the proxy
    return user


def _no_store(body: str | Response, status: int = 200) -> Response:
    # Names and numbers of people inside: never kept by a browser or proxy cache.
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _zone(zone_id: int) -> Zone:
    zone = db.session.get(Zone, zone_id)
    if zone is None:
        abort(404, description=_("There is no zone %(id)s.", id=zone_id))
    return zone


@bp.get("/zones")
def zones() -> Response:
    language = current_language()
    rows = staff_rows(today=cambodia_today(), now=utcnow())
    form = LevelForm(language=language)
    if not form.effective_from.data:
        form.effective_from.data = cambodia_today()
    return _no_store(
        render_template(
            "zones/staff.html",
            rows=rows,
            svg=advisory_map(rows, language=language, with_counts=True),
            form=form,
            decide_form=DecideForm(),
            language=language,
            states=PERMIT_STATES,
            is_admin=_me().role == Role.ADMIN,
        )
    )


@bp.post("/zones/level")
def set_zone_level() -> ResponseReturnValue:
    language = current_language()
    form = LevelForm(language=language)
    if not form.validate_on_submit():
        flash(_("The level was not changed: check the area, level, dates and reason."), "error")
        return redirect(url_for("staff.zones"))
    data = operations.LevelInput(
        area_code=form.area_code.data or "",
        level=form.level.data or "",
        effective_from=form.effective_from.data,
        expires_on=form.expires_on.data,
        reason=form.reason.data or "",
    )
    try:
        change = operations.set_level(data, actor=_me())
    except operations.ZoneError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("staff.zones"))
    db.session.commit()
    if change.status == ChangeStatus.PENDING:
        flash(_("Requested. A travel ban takes effect when an admin approves it."), "success")
    else:
        flash(
            _("Level changed. An alert draft is prepared for the people inside: check it and send it."),
            "success",
        )
    return redirect(url_for("staff.zone", zone_id=change.zone_id))


@bp.post("/zones/changes/<int:change_id>/decide")
def decide_zone_change(change_id: int) -> ResponseReturnValue:
    change = db.session.get(ZoneChange, change_id)
    form = DecideForm()
    if change is None or not form.validate_on_submit():
        abort(404)
    try:
        operations.decide(change, actor=_me(), approve=form.decision.data == "approve")
    except operations.ZoneError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("staff.zone", zone_id=change.zone_id))
    db.session.commit()
    flash(
        _("Approved: the level is in force.") if change.status == ChangeStatus.APPLIED else _("Rejected."),
        "success",
    )
    return redirect(url_for("staff.zone", zone_id=change.zone_id))


@bp.get("/zones/<int:zone_id>")
def zone(zone_id: int) -> Response:
    found = _zone(zone_id)
    language = current_language()
    state = request.args.get("state") or None
    if state is not None and state not in {s.value for s in PermitState}:
        abort(400, description=_("Unknown permit state."))
    today, now = cambodia_today(), utcnow()
    people = inside_list(found.id, today=today, now=now, state=state)
    counts = state_counts(today=today, now=now, zone_ids=[found.id])[found.id]
    prepared_id = next((c.alert_id for c in reversed(found.changes) if c.alert_id), None)
    permits = list(
        db.session.scalars(
            sa.select(Permit).where(Permit.zone_id == found.id).order_by(Permit.valid_to.desc())
        )
    )
    return _no_store(
        render_template(
            "zones/zone.html",
            zone=found,
            area=geo.area(found.area_code),
            language=language,
            people=people,
            counts=counts,
            total=sum(counts.values()),
            state=state,
            states=PERMIT_STATES,
            permits=permits,
            svg=advisory_map([found], language=language, with_counts=False, id_prefix="zone-map"),
            permit_form=PermitForm(),
            grace_form=GraceForm(),
            end_form=EndForm(),
            decide_form=DecideForm(),
            pending=next((c for c in found.changes if c.status == ChangeStatus.PENDING), None),
            # The latest change's alert, and how far it got: "who has been told".
            prepared=db.session.get(Alert, prepared_id) if prepared_id else None,
            is_admin=_me().role == Role.ADMIN,
            levels=levels,
        )
    )


@bp.get("/zones/<int:zone_id>/inside.csv")
def zone_inside_csv(zone_id: int) -> Response:
    """The people inside with their permit state, for follow-up by phone (streamed, audited)."""
    found = _zone(zone_id)
    today, now, language = cambodia_today(), utcnow(), current_language()
    record("zone.export", actor=_me(), target=found)
    db.session.commit()

    def generate() -> Iterator[str]:
        yield from csv_chunks(CSV_HEADER, csv_rows(found, today=today, now=now, language=language))

    response = Response(stream_with_context(generate()), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="zone-{found.area_code}-inside.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/zones/<int:zone_id>/end")
def end_zone(zone_id: int) -> ResponseReturnValue:
    found = _zone(zone_id)
    form = EndForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for lifting the advisory."), "error")
        return redirect(url_for("staff.zone", zone_id=zone_id))
    try:
        operations.end_zone(found, actor=_me(), reason=form.reason.data or "")
    except operations.ZoneError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("staff.zone", zone_id=zone_id))
    db.session.commit()
    flash(_("The advisory is lifted."), "success")
    return redirect(url_for("staff.zone", zone_id=zone_id))


@bp.post("/zones/<int:zone_id>/permits")
def add_zone_permit(zone_id: int) -> ResponseReturnValue:
    found = _zone(zone_id)
    form = PermitForm()
    if not form.validate_on_submit():
        flash(_("The permit was not saved: give the person, the number and the dates."), "error")
        return redirect(url_for("staff.zone", zone_id=zone_id))
    try:
        operations.add_permit(
            operations.PermitInput(
                person_id=form.person_id.data or 0,
                zone_id=found.id,
                number=form.number.data or "",
                valid_from=form.valid_from.data,
                valid_to=form.valid_to.data,
                issued_on=form.issued_on.data,
            ),
            actor=_me(),
        )
    except operations.ZoneError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("staff.zone", zone_id=zone_id))
    db.session.commit()
    flash(_("Permit recorded."), "success")
    return redirect(url_for("staff.zone", zone_id=zone_id))


@bp.post("/zones/<int:zone_id>/grace")
def add_zone_grace(zone_id: int) -> ResponseReturnValue:
    found = _zone(zone_id)
    form = GraceForm()
    if not form.validate_on_submit():
        flash(_("The grace deadline was not saved: give its date."), "error")
        return redirect(url_for("staff.zone", zone_id=zone_id))
    try:
        operations.add_grace(
            found.id,
            form.ends_on.data,
            actor=_me(),
            person_id=form.person_id.data,
            note=form.note.data or "",
        )
    except operations.ZoneError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("staff.zone", zone_id=zone_id))
    db.session.commit()
    flash(_("Grace deadline recorded."), "success")
    return redirect(url_for("staff.zone", zone_id=zone_id))


# --- public ------------------------------------------------------------------------------------------


@public_bp.get("/advisories")
def advisories() -> str:
    """Korea's advisories for Cambodia now: the map (no counts), and each zone's level, since when,
    and what it means; ko/en/km, sized for a phone."""
    language = current_language()
    zones_now = active_zones(cambodia_today())
    return render_template(
        "zones/public.html",
        zones=[(z, geo.area(z.area_code)) for z in zones_now],
        svg=advisory_map(zones_now, language=language, with_counts=False),
        language=language,
        levels=levels,
        today_label=cambodia_today().isoformat(),
    )


@public_bp.app_context_processor
def _helpers() -> dict[str, Any]:
    state_labels = {
        PermitState.VALID: _("Valid permit"),
        PermitState.EXPIRING: _("Permit ends within 7 days"),
        PermitState.GRACE: _("In grace period"),
        PermitState.EXPIRED: _("Permit expired"),
        PermitState.NONE: _("No permit"),
    }
    change_labels = {
        ChangeStatus.PENDING: _("waiting for approval"),
        ChangeStatus.APPLIED: _("in force"),
        ChangeStatus.REJECTED: _("rejected"),
    }
    return {
        "state_label": lambda s: state_labels.get(PermitState(s), str(s)),
        "level_label": levels.name,
        "change_label": lambda s: change_labels.get(ChangeStatus(s), str(s)),
        "geo_label": lambda a, language: geo.label(a, language),
    }
