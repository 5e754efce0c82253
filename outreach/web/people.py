"""Staff registry views under ``/staff/people`` (officers and admins; the staff blueprint guards them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response as FlaskResponse
from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from outreach.audit import record
from outreach.extensions import db
from outreach.i18n import current_language
from outreach.models import (
    AuditEvent,
    Case,
    CaseEvent,
    CheckInResponse,
    InboundMessage,
    Message,
    Person,
    User,
    utcnow,
)
from outreach.registry.forms import DeleteForm, ImportForm, MergeForm, StaffPersonForm, province_choices
from outreach.registry.importer import export_csv, import_people
from outreach.registry.notify import send_confirmation
from outreach.registry.operations import (
    MergeError,
    RegistryError,
    delete_registration,
    merge_people,
    opted_out_channels,
    update_person,
    validate,
)
from outreach.registry.search import (
    PER_PAGE,
    PeopleFilter,
    count_people,
    export_rows,
    opted_out_clause,
    search_people,
)
from outreach.reports.operations import reports_for_person, stage_label
from outreach.web.staff import bp
from outreach.zones.views import person_zones


def _int_arg(name: str) -> int | None:
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


@bp.get("/people")
def people() -> str:
    f = PeopleFilter.from_args(request.args)
    page = search_people(f, before=_int_arg("before"), after=_int_arg("after"), start=_int_arg("start") or 1)
    opted = set()
    if page.items:
        opted = set(
            db.session.scalars(
                sa.select(Person.id).where(Person.id.in_([p.id for p in page.items]), opted_out_clause())
            )
        )
    return render_template(
        "people/list.html",
        page=page,
        f=f,
        filter_args=f.as_args(),
        provinces=province_choices(with_blank=False),
        opted=opted,
        per_page=PER_PAGE,
    )


@bp.post("/people/export.csv")
def people_export() -> Response:
    """The current filter as CSV, streamed; the audit log records who, when, which filter, how many.

    A POST with the CSRF token: as a GET, a link on any site would download the whole registry
    through a logged-in officer's browser.
    """
    f = PeopleFilter.from_args(request.form)
    rows = count_people(f)
    record("registry.export", target_type="person", filter=f.as_args(), rows=rows)
    db.session.commit()
    opted = (
        set(db.session.scalars(sa.select(Person.id).where(opted_out_clause(), Person.deleted_at.is_(None))))
        if rows
        else set()
    )

    def generate() -> Any:
        yield from export_csv(export_rows(f), opted)

    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return FlaskResponse(
        stream_with_context(generate()),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="registry-{stamp}.csv"'},
    )


@bp.route("/people/import", methods=["GET", "POST"])
def people_import() -> str:
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read()
        dry_run = request.form.get("action") != "import"
        report = import_people(
            data, dry_run=dry_run, actor=current_user._get_current_object(), filename=upload.filename or ""
        )
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    return render_template("people/import.html", form=form, report=report)


def _person_or_404(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None:
        abort(404)
    return person


@dataclass
class TimelineEntry:
    when: datetime
    kind: str
    text: str
    detail: str = ""
    url: str | None = None


_SELF_SERVICE_LINK = re.compile(r"/me/[A-Za-z0-9_\-.]+")


def _mask_links(text: str) -> str:
    """Self-service links are the person's key to their record; staff see that one was sent, not the key."""
    return _SELF_SERVICE_LINK.sub("/me/…", text)


def _url(endpoint: str, **values: Any) -> str | None:
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


def timeline(person: Person, limit: int = 200) -> list[TimelineEntry]:
    """Numbers aside, everything about a person on one line of time, newest first."""
    ids = [person.id, *db.session.scalars(sa.select(Person.id).where(Person.merged_into_id == person.id))]
    entries = [
        TimelineEntry(person.created_at, "registered", _("Registered (%(source)s)", source=person.source))
    ]
    if person.consent_at:
        entries.append(
            TimelineEntry(
                person.consent_at,
                "consent",
                _(
                    "Consent given, text version %(version)s, by %(method)s",
                    version=person.consent_version or "?",
                    method=person.consent_method.value if person.consent_method else "?",
                ),
            )
        )
    for m in db.session.scalars(
        sa.select(Message).where(Message.person_id.in_(ids)).order_by(Message.id.desc()).limit(limit)
    ):
        entries.append(
            TimelineEntry(
                m.created_at,
                "message",
                _(
                    "%(channel)s to %(to)s: %(status)s (%(source)s)",
                    channel=m.channel,
                    to=m.to_address or "—",
                    status=m.status.value,
                    source=m.source_kind.value,
                ),
                m.body or "",
            )
        )
    for i in db.session.scalars(
        sa.select(InboundMessage)
        .where(InboundMessage.person_id.in_(ids))
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    ):
        entries.append(
            TimelineEntry(
                i.received_at,
                "inbound",
                _("%(channel)s received (%(route)s)", channel=i.channel, route=i.routed_to.value),
                i.body,
            )
        )
    for r in db.session.scalars(
        sa.select(CheckInResponse)
        .where(CheckInResponse.person_id.in_(ids))
        .order_by(CheckInResponse.id.desc())
        .limit(limit)
    ):
        entries.append(
            TimelineEntry(
                r.created_at,
                "checkin",
                _("Check-in answer: %(answer)s (via %(via)s)", answer=r.answer.value, via=r.via.value),
                " ".join(x for x in (r.text, r.location) if x),
                _url("staff.checkin", checkin_id=r.checkin_id),
            )
        )
    cases = list(
        db.session.scalars(sa.select(Case).where(Case.person_id.in_(ids)).order_by(Case.id.desc()).limit(50))
    )
    for c in cases:
        url = _url("staff.case", case_id=c.id)
        entries.append(
            TimelineEntry(
                c.opened_at,
                "case",
                _(
                    "Case #%(id)s opened (%(via)s), now %(status)s",
                    id=c.id,
                    via=c.opened_via,
                    status=c.status.value,
                ),
                c.summary or "",
                url,
            )
        )
    if cases:
        for e in db.session.scalars(
            sa.select(CaseEvent)
            .where(CaseEvent.case_id.in_([c.id for c in cases]))
            .order_by(CaseEvent.id.desc())
            .limit(limit)
        ):
            entries.append(
                TimelineEntry(
                    e.created_at,
                    "case",
                    _("Case #%(id)s: %(kind)s", id=e.case_id, kind=e.kind),
                    e.body or "",
                    _url("staff.case", case_id=e.case_id),
                )
            )
    actors = {u.id: u for u in db.session.scalars(sa.select(User))} if ids else {}
    for a in db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.target_type == "person", AuditEvent.target_id.in_(ids))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ):
        who = (
            actors[a.actor_id].name or actors[a.actor_id].email
            if a.actor_id in actors
            else _("the person or the system")
        )
        details = ", ".join(
            f"{k}: {v if not isinstance(v, list) else ', '.join(map(str, v))}" for k, v in a.details.items()
        )
        entries.append(
            TimelineEntry(
                a.created_at, "audit", _("%(action)s by %(who)s", action=a.action, who=who), details
            )
        )
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries


@bp.get("/people/<int:person_id>")
def person(person_id: int) -> str:
    p = _person_or_404(person_id)
    return render_template(
        "people/person.html",
        person=p,
        entries=timeline(p),
        zones=person_zones(p, language=current_language()) if not p.deleted_at else None,
        opted_out=opted_out_channels(p) if not p.deleted_at else set(),
        merge_form=MergeForm(formdata=None),
        delete_form=DeleteForm(formdata=None),
        # That a report exists, and its stage; its contents are on the report page (need-to-know).
        reports=reports_for_person(p.id),
        stage_label=stage_label,
    )


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
def person_edit(person_id: int) -> str | Response:
    p = _person_or_404(person_id)
    if p.deleted_at is not None:
        abort(410)
    form = StaffPersonForm()
    if request.method == "GET":
        form.fill_from(p)
    elif form.validate_on_submit() and not form.date_errors():
        try:
            clean = validate(
                form.to_input(),
                person=p,
                require=frozenset({"name", "phone", "departure_for_traveler"}),
                allow_past_departure=True,
            )
            changed = update_person(p, clean.values, phones=clean.phones, via="staff")
            db.session.commit()
        except RegistryError as exc:
            db.session.rollback()
            form.show_errors(exc)
        else:
            flash(_("Saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("staff.person", person_id=p.id))
    else:
        form.date_errors()
    return render_template("people/edit.html", person=p, form=form)


@bp.route("/people/<int:person_id>/merge", methods=["GET", "POST"])
def person_merge(person_id: int) -> str | Response:
    """Merge another record into this one: pick it, compare both side by side, confirm."""
    keep = _person_or_404(person_id)
    form = MergeForm()
    other = None
    raw = (form.other_id.data if request.method == "POST" else request.args.get("other_id")) or ""
    raw = raw.strip().lstrip("#")
    if raw:
        other = db.session.get(Person, int(raw)) if raw.isdigit() else None
        if other is None:
            form.other_id.errors = [*form.other_id.errors, _("No record with that number.")]
        elif other.id == keep.id or other.deleted_at is not None or keep.deleted_at is not None:
            form.other_id.errors = [*form.other_id.errors, _("Choose another record that is not deleted.")]
            other = None
    if request.method == "POST" and other is not None and form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = [_("Tick the box to confirm.")]
        else:
            try:
                merge_people(keep, other, actor=current_user._get_current_object())
                db.session.commit()
            except MergeError as exc:
                db.session.rollback()
                form.other_id.errors = [str(exc)]
            else:
                flash(_("Record #%(drop)s was merged into this one.", drop=raw), "success")
                return redirect(url_for("staff.person", person_id=keep.id))
    if other is not None and not form.other_id.data:
        form.other_id.data = str(other.id)
    return render_template("people/merge.html", keep=keep, other=other, form=form)


@bp.post("/people/<int:person_id>/delete")
def person_delete(person_id: int) -> str | Response:
    p = _person_or_404(person_id)
    form = DeleteForm()
    if not form.validate_on_submit():
        flash(_("Tick the box to confirm."), "error")
        return redirect(url_for("staff.person", person_id=p.id))
    delete_registration(p, actor=current_user._get_current_object(), via="staff")
    db.session.commit()
    flash(_("The registration was deleted; only an anonymous record is left."), "success")
    return redirect(url_for("staff.person", person_id=p.id))


@bp.post("/people/<int:person_id>/send-link")
def person_send_link(person_id: int) -> Response:
    p = _person_or_404(person_id)
    if p.deleted_at is not None:
        abort(410)
    sent = send_confirmation(p, reason="link", throttle=False)
    db.session.commit()
    if sent:
        flash(_("The self-service link was sent."), "success")
    else:
        flash(_("Nothing was sent: no number or e-mail that accepts messages."), "error")
    return redirect(url_for("staff.person", person_id=p.id))
