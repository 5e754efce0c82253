"""Approval is enforced: big or serious alerts need a second, different officer; every step is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue

from outreach.alerts import workflow
from outreach.alerts.workflow import WorkflowError
from outreach.extensions import db
from outreach.models import AlertStatus, User
from tests.alerts.conftest import TODAY, audit_actions, get_alert
from tests.conftest import login


def user(u: User) -> User:
    row = db.session.get(User, u.id)
    assert row is not None
    return row


def test_small_moderate_alert_needs_no_second_officer(
    app: Flask,
    make_alert: Callable[..., int],
    officer: User,
    make_person: Callable[..., int],
    redis_conn: Redis,
) -> None:
    make_person()
    alert_id = make_alert()
    with app.app_context():
        alert = get_alert(alert_id)
        workflow.submit(alert, actor=user(officer), today=TODAY)
        assert alert.status == AlertStatus.APPROVED
        assert alert.approval_required is False and alert.recipient_count == 1
        workflow.send(alert, actor=user(officer))
        assert Queue("default", connection=redis_conn).count == 0  # nothing before the commit
        db.session.commit()
        assert alert.status == AlertStatus.DISPATCHING and alert.dispatch_started_at is not None
        (job,) = Queue("default", connection=redis_conn).get_jobs()
        assert job.func_name == "outreach.alerts.jobs.dispatch_alert" and job.args == (alert_id,)
        assert audit_actions(alert_id) == ["alert.create", "alert.submit", "alert.send"]


@pytest.mark.parametrize("severity", ["Extreme", "Severe"])
def test_serious_alerts_need_approval(
    app: Flask, make_alert: Callable[..., int], officer: User, approver: User, severity: str
) -> None:
    alert_id = make_alert(severity=severity)
    with app.app_context():
        alert = get_alert(alert_id)
        workflow.submit(alert, actor=user(officer), today=TODAY)
        assert alert.status == AlertStatus.PENDING_APPROVAL and alert.approval_required
        with pytest.raises(WorkflowError):
            workflow.send(alert, actor=user(officer))
        with pytest.raises(WorkflowError):
            workflow.approve(alert, actor=user(officer))  # the author cannot approve
        assert alert.status == AlertStatus.PENDING_APPROVAL
        workflow.approve(alert, actor=user(approver))
        assert alert.status == AlertStatus.APPROVED and alert.approved_by_id == approver.id
        workflow.send(alert, actor=user(approver))
        db.session.commit()
        assert audit_actions(alert_id) == ["alert.create", "alert.submit", "alert.approve", "alert.send"]


def test_threshold_is_configurable(
    make_app: Callable[..., Flask],
    make_person: Callable[..., int],
    officer: User,
    make_user: Callable[..., Any],
) -> None:
    app = make_app(APPROVAL_THRESHOLD=2)
    from tests.alerts.conftest import alert_input

    for _ in range(3):
        make_person()
    with app.app_context():
        from outreach.alerts import compose

        alert = compose.create_alert(alert_input(), author=user(officer))
        workflow.submit(alert, actor=user(officer), today=TODAY)
        assert alert.recipient_count == 3
        assert alert.status == AlertStatus.PENDING_APPROVAL
        db.session.commit()


def test_default_threshold_is_500(app: Flask) -> None:
    assert app.config["APPROVAL_THRESHOLD"] == 500


def test_return_to_draft_and_resubmit(
    app: Flask, make_alert: Callable[..., int], officer: User, approver: User
) -> None:
    alert_id = make_alert("pending_approval", severity="Severe")
    with app.app_context():
        alert = get_alert(alert_id)
        workflow.return_to_draft(alert, actor=user(approver), reason="Add the embassy's phone number")
        assert alert.status == AlertStatus.DRAFT and alert.approved_by_id is None
        workflow.submit(alert, actor=user(officer), today=TODAY)
        assert alert.status == AlertStatus.PENDING_APPROVAL
        db.session.commit()
        assert audit_actions(alert_id)[-2:] == ["alert.return", "alert.submit"]


def test_guarded_transitions(app: Flask, make_alert: Callable[..., int], officer: User) -> None:
    alert_id = make_alert("approved")
    with app.app_context():
        alert = get_alert(alert_id)
        with pytest.raises(WorkflowError):
            workflow.transition(alert, AlertStatus.COMPLETED, user(officer), action="complete")
        with pytest.raises(WorkflowError):
            workflow.submit(alert, actor=user(officer), today=TODAY)
        workflow.cancel(alert, actor=user(officer))
        assert alert.status == AlertStatus.CANCELLED
        with pytest.raises(WorkflowError):
            workflow.cancel(alert, actor=user(officer))
        with pytest.raises(WorkflowError):
            workflow.send(alert, actor=user(officer))


def test_views_enforce_approval(
    app: Flask, client: FlaskClient, make_alert: Callable[..., int], officer: User, approver: User
) -> None:
    alert_id = make_alert(severity="Extreme")
    login(client, officer)
    response = client.post(f"/staff/alerts/{alert_id}/submit")
    assert response.status_code == 302
    # Sending before approval, and approving one's own alert, are refused with a message.
    client.post(f"/staff/alerts/{alert_id}/send")
    client.post(f"/staff/alerts/{alert_id}/approve", data={"and_send": "1"})
    page = client.get(f"/staff/alerts/{alert_id}").get_data(as_text=True)
    assert "다른 담당관이 승인해야" in page  # the officer reads Korean
    with app.app_context():
        assert get_alert(alert_id).status == AlertStatus.PENDING_APPROVAL

    other = app.test_client()
    login(other, approver)
    # The approver sees exactly what will go out: the rendered text per language.
    page = other.get(f"/staff/alerts/{alert_id}").get_data(as_text=True)
    assert "프놈펜 시내 시위로" in page and "Roads in central Phnom Penh" in page
    assert 'name="approve_send"' in page
    response = other.post(f"/staff/alerts/{alert_id}/approve", data={"and_send": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/staff/alerts/{alert_id}/progress"
    )
    with app.app_context():
        alert = get_alert(alert_id)
        assert alert.status == AlertStatus.DISPATCHING
        assert alert.approved_by_id == approver.id and alert.sent_by_id == approver.id
        assert audit_actions(alert_id) == ["alert.create", "alert.submit", "alert.approve", "alert.send"]


def test_unknown_alert_is_404(client: FlaskClient, officer: User) -> None:
    login(client, officer)
    assert client.get("/staff/alerts/999").status_code == 404
    assert client.post("/staff/alerts/999/approve").status_code == 404
