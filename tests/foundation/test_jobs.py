"""Job plumbing: jobs leave only after the commit, every queue has a worker, jobs run in an app context."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

import worker
from outreach.extensions import QUEUE_NAMES, db
from outreach.jobs import enqueue_after_commit, make_worker
from outreach.models import OutboxEntry
from outreach.schedule import load_periodic_jobs
from tests.conftest import run_jobs

ROOT = Path(__file__).resolve().parents[2]


# --- jobs (module-level so RQ can import them by name) -----------------------------------------------


def read_outbox_entry(entry_id: int) -> str | None:
    """Returns what the job sees of a row committed with its enqueueing."""
    entry = db.session.get(OutboxEntry, entry_id)
    return entry.body if entry else None


def describe_context() -> dict[str, Any]:
    result = {
        "has_app_context": has_app_context(),
        "redis_url": current_app.config["REDIS_URL"],
        "g_was_fresh": "touched_by_job" not in g,
        "session_was_fresh": "touched_by_job" not in db.session.info,
        "provinces": db.session.scalar(sa.text("SELECT count(*) FROM province")),
    }
    g.touched_by_job = True
    db.session.info["touched_by_job"] = True
    return result


def leave_session_dirty() -> None:
    g.touched_by_job = True
    db.session.info["touched_by_job"] = True
    db.session.add(
        OutboxEntry(channel="sms", to_address="+85512000000", body="never committed", sid="JOB-DIRTY")
    )
    db.session.flush()


def fail() -> None:
    raise RuntimeError("this job fails")


def enqueue_follow_up(entry_id: int) -> None:
    """A job that itself enqueues after its own commit (jobs chain this way)."""
    entry = db.session.get(OutboxEntry, entry_id)
    assert entry is not None
    entry.body = "changed by the first job"
    enqueue_after_commit("high", read_outbox_entry, entry_id)
    db.session.commit()


# --- helpers -------------------------------------------------------------------------------------------


def _queued(redis_conn: Redis, name: str = "default") -> list[Job]:
    return Queue(name, connection=redis_conn).get_jobs()


def _entry(sid: str = "JOB-1", body: str = "안녕하세요") -> OutboxEntry:
    return OutboxEntry(channel="sms", to_address="+85512345678", body=body, sid=sid)


def _finished(redis_conn: Redis, name: str = "default") -> list[Job]:
    from rq.registry import FinishedJobRegistry

    registry = FinishedJobRegistry(name, connection=redis_conn)
    return [Job.fetch(job_id, connection=redis_conn) for job_id in registry.get_job_ids()]


# --- enqueue after commit ------------------------------------------------------------------------------


def test_job_is_queued_only_when_the_transaction_commits(app: Flask, redis_conn: Redis) -> None:
    with app.app_context():
        entry = _entry()
        db.session.add(entry)
        db.session.flush()
        enqueue_after_commit("default", read_outbox_entry, entry.id)
        assert _queued(redis_conn) == []  # not before the commit: a worker could not see the row yet
        db.session.commit()
        (job,) = _queued(redis_conn)
        assert job.func_name.endswith("read_outbox_entry") and job.args == (entry.id,)
    run_jobs(app)
    (done,) = _finished(redis_conn)
    assert done.return_value() == "안녕하세요"


def test_job_is_dropped_on_rollback(app: Flask, redis_conn: Redis) -> None:
    with app.app_context():
        db.session.add(_entry())
        db.session.flush()
        enqueue_after_commit("default", read_outbox_entry, 1)
        db.session.rollback()
        # The next transaction commits; the dropped job must not ride along with it.
        db.session.add(_entry(sid="JOB-2"))
        db.session.commit()
    assert _queued(redis_conn) == []


def test_job_is_dropped_when_the_session_closes_without_commit(app: Flask, redis_conn: Redis) -> None:
    with app.app_context():
        db.session.add(_entry())
        db.session.flush()
        enqueue_after_commit("default", read_outbox_entry, 1)
        db.session.close()
        db.session.add(_entry(sid="JOB-2"))
        db.session.commit()
    assert _queued(redis_conn) == []


def test_savepoints_neither_release_nor_drop_the_outer_transactions_jobs(
    app: Flask, redis_conn: Redis
) -> None:
    with app.app_context():
        db.session.add(_entry())
        db.session.flush()
        enqueue_after_commit("default", read_outbox_entry, 1)
        with db.session.begin_nested():
            enqueue_after_commit("default", read_outbox_entry, 2)
        assert _queued(redis_conn) == []  # releasing a savepoint is not the commit
        with pytest.raises(RuntimeError), db.session.begin_nested():
            enqueue_after_commit("default", read_outbox_entry, 3)
            raise RuntimeError("undo this savepoint only")
        db.session.commit()
    assert sorted(job.args for job in _queued(redis_conn)) == [(1,), (2,)]


def test_jobs_of_one_commit_are_queued_per_queue(app: Flask, redis_conn: Redis) -> None:
    with app.app_context():
        enqueue_after_commit("high", read_outbox_entry, 1)
        enqueue_after_commit("bulk", read_outbox_entry, 2)
        enqueue_after_commit("bulk", read_outbox_entry, 3)
        db.session.commit()
    assert [j.args for j in _queued(redis_conn, "high")] == [(1,)]
    assert [j.args for j in _queued(redis_conn, "bulk")] == [(2,), (3,)]


def test_unknown_queue_is_refused_at_once(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="unknown queue 'urgent'"):
        enqueue_after_commit("urgent", read_outbox_entry, 1)


def test_a_job_can_enqueue_after_its_own_commit(app: Flask, redis_conn: Redis) -> None:
    with app.app_context():
        entry = _entry()
        db.session.add(entry)
        enqueue_after_commit("default", enqueue_follow_up, 1)
        db.session.commit()
    run_jobs(app)
    results = [j.return_value() for j in _finished(redis_conn, "high")]
    assert results == ["changed by the first job"]


# --- workers -------------------------------------------------------------------------------------------


def test_worker_rejects_an_unknown_queue(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        worker.main(["--queues", "high,urgent"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown queue(s): urgent" in err
    assert "known: high, default, bulk" in err


def test_default_worker_serves_every_queue_in_priority_order(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[list[str]] = []

    class _Worker:
        def work(self, **_: Any) -> bool:
            return True

    def fake_make_worker(app_: Flask, queues: list[str], **_: Any) -> _Worker:
        served.append(queues)
        return _Worker()

    monkeypatch.setattr(worker, "create_app", lambda: app)
    monkeypatch.setattr(worker, "make_worker", fake_make_worker)
    assert worker.main(["--burst"]) == 0
    assert served == [list(QUEUE_NAMES)]
    # And the worker it would build listens on them, highest priority first.
    assert make_worker(app, None, simple=True).queue_names() == list(QUEUE_NAMES)
    assert QUEUE_NAMES[0] == "high"


_QUEUE_LITERALS = [
    re.compile(r"""enqueue_after_commit\(\s*["'](\w+)["']"""),
    re.compile(r"""\bqueue(?:_name)?\s*=\s*["'](\w+)["']"""),
    re.compile(r"""\b\w*QUEUE\s*(?::\s*\w+\s*)?=\s*["'](\w+)["']"""),
    re.compile(r"""\bqueue\(\s*["'](\w+)["']"""),
]


def test_every_queue_named_in_the_code_has_a_worker() -> None:
    """A job sent to a queue no worker serves would wait forever."""
    named: dict[str, set[str]] = {}
    for path in [*sorted((ROOT / "outreach").rglob("*.py")), ROOT / "worker.py"]:
        text = path.read_text(encoding="utf-8")
        for pattern in _QUEUE_LITERALS:
            for name in pattern.findall(text):
                named.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    for job in load_periodic_jobs().values():
        named.setdefault(job.queue, set()).add(f"@periodic {job.name}")
    unknown = {name: sorted(where) for name, where in named.items() if name not in QUEUE_NAMES}
    assert unknown == {}
    assert "high" in named  # the scan does find the queues in use


def test_simple_worker_runs_each_job_in_a_fresh_app_context(app: Flask, redis_conn: Redis) -> None:
    q = Queue("default", connection=redis_conn)
    first = q.enqueue(describe_context)
    q.enqueue(leave_session_dirty)
    failing = q.enqueue(fail)
    last = q.enqueue(describe_context)

    run_jobs(app, ["default"])

    for job in (first, last):
        result = Job.fetch(job.id, connection=redis_conn).return_value()
        assert result["has_app_context"] is True
        assert result["redis_url"] == app.config["REDIS_URL"]
        assert result["provinces"] == 25
        # A new app context and database session per job: nothing leaks from the jobs before.
        assert result["g_was_fresh"] is True
        assert result["session_was_fresh"] is True
    failing.refresh()
    assert failing.get_status() == JobStatus.FAILED
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEntry)) == 0


def test_run_jobs_runs_every_queue(app: Flask, redis_conn: Redis) -> None:
    for name in QUEUE_NAMES:
        Queue(name, connection=redis_conn).enqueue(describe_context)
    run_jobs(app)
    for name in QUEUE_NAMES:
        assert Queue(name, connection=redis_conn).count == 0
        assert len(_finished(redis_conn, name)) == 1
