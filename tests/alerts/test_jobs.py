"""The alert jobs' safety nets: completion, the periodic sweep, re-running a lost dispatch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from outreach.alerts import jobs
from outreach.extensions import db
from outreach.models import AlertStatus, User, utcnow
from outreach.schedule import load_periodic_jobs
from tests.alerts.conftest import alert_messages, get_alert, send_alert_now, statuses
from tests.conftest import run_jobs


def test_sweep_is_a_periodic_job_that_also_runs_at_worker_start() -> None:
    sweep = load_periodic_jobs()["alerts_sweep"]
    assert sweep.func is jobs.sweep and sweep.on_start and sweep.queue == "default"


def test_complete_alert_waits_while_messages_are_pending(
    app: Flask,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    make_person()
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])
    with app.app_context():
        assert jobs.complete_alert(alert_id) is False
    # Not done: it looks again in a few seconds (RQ's scheduler runs it).
    assert ScheduledJobRegistry("bulk", connection=redis_conn).count == 1
    run_jobs(app, ["bulk"])
    with app.app_context():
        assert get_alert(alert_id).status == AlertStatus.COMPLETED
        assert jobs.complete_alert(alert_id) is False  # already completed: nothing to do, no new check


def test_sweep_completes_requeues_and_redispatches(
    make_app: Callable[..., Flask],
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    app = make_app(SENDING_STUCK_SECONDS=60)
    for _ in range(3):
        make_person()
    orphaned = make_alert(title="Orphaned")
    lost_dispatch = make_alert(title="Lost dispatch")
    send_alert_now(app, orphaned, officer)
    run_jobs(app, ["default"])
    Queue("bulk", connection=redis_conn).empty()  # the send jobs are lost (a flushed Redis, say)
    send_alert_now(app, lost_dispatch, officer)
    Queue("default", connection=redis_conn).empty()  # and this dispatch job too
    with app.app_context():
        long_ago = utcnow() - timedelta(minutes=10)
        for message in alert_messages(orphaned):
            message.created_at = long_ago
        get_alert(lost_dispatch).dispatch_started_at = long_ago
        db.session.commit()
        result = jobs.sweep()
    assert result == {"completed": 0, "redispatched": 1, "requeued": 3}
    run_jobs(app)
    assert statuses(app, orphaned) == {"sent": 3}
    assert statuses(app, lost_dispatch) == {"sent": 3}
    with app.app_context():
        assert get_alert(lost_dispatch).status == AlertStatus.COMPLETED
        # The orphaned alert's completion check was among the lost jobs: the next sweep completes it.
        assert jobs.sweep()["completed"] == 1
        assert get_alert(orphaned).status == AlertStatus.COMPLETED
        assert jobs.sweep() == {"completed": 0, "redispatched": 0, "requeued": 0}


def test_a_busy_alert_is_not_requeued(
    app: Flask,
    make_person: Callable[..., int],
    make_alert: Callable[..., int],
    officer: User,
    redis_conn: Redis,
) -> None:
    make_person()
    alert_id = make_alert()
    send_alert_now(app, alert_id, officer)
    run_jobs(app, ["default"])
    queued = Queue("bulk", connection=redis_conn).count
    with app.app_context():
        assert jobs.sweep()["requeued"] == 0  # just created: its send job is still on its way
    assert Queue("bulk", connection=redis_conn).count == queued


def test_checkin_broadcasts_go_on_high_alerts_on_bulk(app: Flask, officer: User) -> None:
    from outreach.alerts import compose
    from outreach.models import AlertKind
    from tests.alerts.conftest import alert_input

    with app.app_context():
        author = db.session.get(User, officer.id)
        assert author is not None
        alert = compose.create_alert(alert_input(), author=author)
        checkin = compose.create_alert(alert_input(), author=author, kind=AlertKind.CHECKIN)
        db.session.commit()
        assert jobs.send_queue(alert.id) == "bulk"
        assert jobs.send_queue(checkin.id) == "high"
