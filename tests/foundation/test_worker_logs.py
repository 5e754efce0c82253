"""An idle worker prints nothing per periodic tick; other jobs and every failure still show."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from rq import Queue

from outreach.logs import QuietPeriodicJobs
from tests.conftest import run_jobs


def test_periodic_jobs_leave_no_routine_lines_but_other_jobs_and_failures_do(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    queue = Queue("default", connection=app.extensions["redis"])
    queue.enqueue("outreach.logs.redact_paths", "/c/x", description="periodic messaging.sweep")
    queue.enqueue("outreach.logs.redact_paths", "/c/y", description="send one")
    queue.enqueue("outreach.logs.no_such_function", description="periodic broken")
    rq_log = logging.getLogger("rq.worker")
    quiet = QuietPeriodicJobs()
    rq_log.addFilter(quiet)
    try:
        with caplog.at_level(logging.INFO, logger="rq.worker"):
            run_jobs(app, ["default"])
    finally:
        rq_log.removeFilter(quiet)
    routine = [r.getMessage() for r in caplog.records if r.name == "rq.worker" and r.levelno == logging.INFO]
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not any("messaging.sweep" in line for line in routine)
    assert sum("Job OK" in line for line in routine) == 1  # the one-off job's only
    assert any("send one" in line for line in routine)
    assert not any("result is kept" in line for line in routine)
    # The failing periodic job is not hidden.
    assert any("no_such_function" in line for line in problems)
