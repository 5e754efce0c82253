"""The staff triage queue: filters, age and overdue markers, bulk assignment, the audited CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.grievances import reporting
from outreach.models import AuditEvent, Grievance, GrievanceEntry, User, utcnow
from tests.grievances.conftest import audit_actions, client_for, load


def _rows(html: str) -> list[str]:
    """References of the queue's rows, in order."""
    import re

    return re.findall(r'<tr class="grievance[^"]*" data-reference="([^"]+)"', html)


def _overdue_rows(html: str) -> list[str]:
    import re

    return re.findall(r'<tr class="grievance is-overdue" data-reference="([^"]+)"', html)


def test_overdue_after_the_response_target(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    now = utcnow()
    fresh = submit(rep, title="Fresh", created_at=now - timedelta(hours=71))
    late = submit(rep, title="Late", created_at=now - timedelta(hours=73))
    answered = submit(rep, title="Answered late", created_at=now - timedelta(hours=100))
    client = client_for(app, officer)
    client.post(f"/staff/grievances/{answered}/reply", data={"body": "We are on it."})

    html = client.get("/staff/grievances").get_data(as_text=True)
    refs = {gid: load(app, gid).reference for gid in (fresh, late, answered)}
    assert set(_rows(html)) == set(refs.values())
    assert _overdue_rows(html) == [refs[late]]
    assert "Overdue" in html
    assert "3 d 1 h" in html  # the late one's age (73 hours)
    only_late = client.get("/staff/grievances?overdue=1").get_data(as_text=True)
    assert _rows(only_late) == [refs[late]]
    detail = client.get(f"/staff/grievances/{late}").get_data(as_text=True)
    assert "Overdue: no answer within 72 hours." in detail
    assert "Overdue" not in client.get(f"/staff/grievances/{fresh}").get_data(as_text=True)

    with app.app_context():
        g = db.session.get(Grievance, late)
        assert g is not None
        assert reporting.is_overdue(g, utcnow(), 72)
        overdue_ids = db.session.scalars(
            sa.select(Grievance.id).where(reporting.overdue_clause(utcnow(), 72))
        )
        assert list(overdue_ids) == [late]


def test_response_target_is_configurable(
    make_app: Callable[..., Flask], rep: User, officer: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep, created_at=utcnow() - timedelta(hours=5))
    ref = load(make_app(), gid).reference
    assert (
        _overdue_rows(client_for(make_app(), officer).get("/staff/grievances").get_data(as_text=True)) == []
    )
    quick = make_app(GRIEVANCE_RESPONSE_HOURS=4)
    html = client_for(quick, officer).get("/staff/grievances").get_data(as_text=True)
    assert _overdue_rows(html) == [ref]
    assert "Response target: 4 hours." in html


def test_a_status_change_is_a_response(
    app: Flask, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep, created_at=utcnow() - timedelta(hours=80))
    client = client_for(app, officer)
    assert len(_overdue_rows(client.get("/staff/grievances").get_data(as_text=True))) == 1
    client.post(f"/staff/grievances/{gid}/status", data={"to_status": "in_review"})
    assert _overdue_rows(client.get("/staff/grievances").get_data(as_text=True)) == []


def test_filters(
    app: Flask,
    rep: User,
    other_rep: User,
    officer: User,
    submit: Callable[..., int],
    make_user: Callable[..., User],
) -> None:
    a = submit(rep, category="confinement", province_code="KH-12", urgency="critical", title="Locked in")
    b = submit(rep, category="unpaid_work", province_code="KH-18", urgency="low", title="No salary")
    c = submit(
        other_rep, category="unpaid_work", province_code="KH-18", urgency="normal", title="Salary again"
    )
    refs = {gid: load(app, gid).reference for gid in (a, b, c)}
    other = make_user("officer")
    client = client_for(app, officer)
    client.post(f"/staff/grievances/{a}/assign", data={"assignee_id": str(officer.id)})
    client.post(f"/staff/grievances/{b}/assign", data={"assignee_id": str(other.id)})
    client.post(f"/staff/grievances/{c}/status", data={"to_status": "in_review"})
    client.post(f"/staff/grievances/{c}/status", data={"to_status": "resolved"})

    def refs_for(query: str) -> list[str]:
        return _rows(client.get("/staff/grievances?" + query).get_data(as_text=True))

    # Default: open grievances, most urgent first.
    assert refs_for("") == [refs[a], refs[b]]
    assert refs_for("status=all") == [refs[a], refs[c], refs[b]]
    assert refs_for("status=resolved") == [refs[c]]
    assert refs_for("status=all&category=unpaid_work") == [refs[c], refs[b]]
    assert refs_for("status=all&province=KH-12") == [refs[a]]
    assert refs_for("status=all&urgency=low") == [refs[b]]
    assert refs_for("assignee=me") == [refs[a]]
    assert refs_for(f"assignee={other.id}") == [refs[b]]
    assert refs_for("status=all&assignee=none") == [refs[c]]
    assert refs_for("status=all&q=salary") == [refs[c], refs[b]]
    assert refs_for(f"status=all&q={refs[b]}") == [refs[b]]
    # Nonsense values are ignored, never a 500.
    resp = client.get(
        "/staff/grievances?status=nope&category=x&province=KH-99&urgency=zzz&assignee=-1&page=abc"
    )
    assert resp.status_code == 200
    assert _rows(resp.get_data(as_text=True)) == [refs[a], refs[b]]
    # A NUL character is refused with a reason (it could never be stored or matched).
    assert client.get("/staff/grievances?urgency=%00").status_code == 400


def test_bulk_assign(app: Flask, rep: User, officer: User, submit: Callable[..., int]) -> None:
    ids = [submit(rep) for _ in range(3)]
    client = client_for(app, officer)
    client.post(f"/staff/grievances/{ids[0]}/assign", data={"assignee_id": str(officer.id)})
    resp = client.post(
        "/staff/grievances/bulk-assign",
        data={
            "ids": [str(i) for i in ids],
            "assignee_id": str(officer.id),
            "next": "/staff/grievances?status=all",
        },
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/grievances?status=all"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "2 grievances assigned." in page  # the first one already was
    assert all(load(app, i).assignee_id == officer.id for i in ids)
    for gid in ids:
        assert audit_actions(app, gid).count("grievance.assign") == 1
    with app.app_context():
        entries = db.session.scalars(sa.select(GrievanceEntry).where(GrievanceEntry.kind == "assign")).all()
        assert sorted(e.grievance_id for e in entries) == sorted(ids)
        assert all(e.internal for e in entries)
    # Unassign all at once; nothing selected and bad ids get clear answers.
    client.post("/staff/grievances/bulk-assign", data={"ids": [str(i) for i in ids], "assignee_id": ""})
    assert all(load(app, i).assignee_id is None for i in ids)
    resp = client.post(
        "/staff/grievances/bulk-assign", data={"assignee_id": str(officer.id)}, follow_redirects=True
    )
    assert "Select at least one grievance to assign." in resp.get_data(as_text=True)
    assert client.post("/staff/grievances/bulk-assign", data={"ids": "x"}).status_code == 400
    resp = client.post(
        "/staff/grievances/bulk-assign",
        data={"ids": str(ids[0]), "assignee_id": str(rep.id)},
        follow_redirects=True,
    )
    assert "A grievance can only be assigned to an active officer or admin." in resp.get_data(as_text=True)
    # An open redirect is not possible through "next".
    resp = client.post("/staff/grievances/bulk-assign", data={"ids": str(ids[0]), "next": "//evil.example/"})
    assert resp.headers["Location"] == "/staff/grievances"


def test_csv_export_is_audited_and_safe(
    app: Flask, rep: User, other_rep: User, officer: User, submit: Callable[..., int]
) -> None:
    a = submit(rep, title='=HYPERLINK("http://evil.example")', description="사기 채용 피해, 여권 압수")
    submit(other_rep, category="unpaid_work")
    client = client_for(app, officer)
    resp = client.post("/staff/grievances/export.csv", data={"category": "scam_recruitment"})
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="grievances-')
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["reference"] == load(app, a).reference
    assert row["title"] == '\'=HYPERLINK("http://evil.example")'  # not a formula in a spreadsheet
    assert row["description"] == "사기 채용 피해, 여권 압수"
    assert row["police_sharing_consent"] == "yes"
    assert row["organisation"] == "Phnom Penh Korean Association"
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "grievance.export")).one()
        assert event.actor_id == officer.id
        assert event.details == {"count": 1, "filters": {"status": "open", "category": "scam_recruitment"}}
    # The export is a POST: a GET cannot trigger an audited download.
    assert client.get("/staff/grievances/export.csv").status_code == 405
