"""Benchmark: recovering from the bad night, with two real worker processes, PostgreSQL, Redis, fake Twilio.

    .venv/bin/python bench/recovery.py [--recipients 10000] [--latency-ms 50] [--keep]

Four sends of one alert to ``--recipients`` people (50 ms provider latency, every 20th create answered
429, status callbacks ``delivered`` posted to a web server in this process), each with two
``worker.py --simple`` processes and the default lease and sweep settings:

1. **baseline**: no fault; gives the normal rate and, for each point of progress, how long the rest
   normally takes;
2. **kills**: one worker's process group SIGKILLed at 10 %, 35 % and 60 % sent, restarted a second
   later. Prints, per kill, the time until every message the dead job held in ``sending`` was settled
   (the sweep's provider look-up) and the time from the last kill to the alert's end, against the
   baseline's time for the same remaining work;
3. **FLUSHDB** of the app's Redis database at 30 % sent: time to the end against the baseline's;
4. **database outage**: PostgreSQL cut (through a TCP proxy: refused and every connection closed) for
   10 s at 30 % sent while callbacks keep arriving: time from the end of the outage to the alert's end,
   callbacks answered with an error, messages not ``delivered`` at the end.

Each run also prints duplicates (numbers that got two SMS) and losses (numbers that got none), counted
at the fake provider: both must be 0. "The end" is the moment no message of the alert is ``pending``
or ``sending`` any more. Targets (issue #11): dead job's messages settled ≤ 30 s after the kill; the
end ≤ 60 s after the last kill plus the remaining work at the normal rate; FLUSHDB and the outage cost
at most a minute.

Creates and drops a scratch PostgreSQL database and takes a free Redis database, like the other
benchmarks. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from redis import Redis  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from bench.dispatch import KOREAN_ONE_SEGMENT, approved_alert, click_send, fill_people  # noqa: E402
from bench.resources import redis_database, scratch_database  # noqa: E402
from outreach import create_app  # noqa: E402
from outreach.extensions import db  # noqa: E402
from tests.fakes.tcp_proxy import TcpProxy  # noqa: E402
from tests.fakes.twilio_server import FakeTwilioProcess  # noqa: E402

PROVINCE = "KH-12"


def log(message: str) -> None:
    print(message, flush=True)


class Workers:
    """``worker.py --simple`` processes, each in its own process group (so SIGKILL takes the tree)."""

    def __init__(self, env: dict[str, str], count: int = 2) -> None:
        self.env = env
        self.logs: list[IO[bytes]] = []
        self.procs = [self._spawn() for _ in range(count)]

    def _spawn(self) -> subprocess.Popen[bytes]:
        log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.logs.append(log_file)
        return subprocess.Popen(
            [sys.executable, "worker.py", "--simple", "--queues", "high,default,bulk"],
            cwd=ROOT,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, index: int) -> int:
        proc = self.procs[index]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return proc.pid

    def restart(self, index: int) -> None:
        self.procs[index] = self._spawn()

    def alive(self) -> bool:
        return all(proc.poll() is None for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log_file in self.logs:
            log_file.close()


class Observer:
    """Reads the alert's progress straight from PostgreSQL (not through the proxy)."""

    def __init__(self, database_url: str) -> None:
        self.engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def counts(self, alert_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT status, count(*) FROM message WHERE source_kind = 'alert' AND source_id = :a "
                    "GROUP BY status"
                ),
                {"a": alert_id},
            ).all()
        return {str(status): int(n) for status, n in rows}

    def total(self, alert_id: int) -> int:
        return sum(self.counts(alert_id).values())

    def unfinished(self, alert_id: int) -> int:
        counts = self.counts(alert_id)
        return counts.get("pending", 0) + counts.get("sending", 0)

    def held_by(self, pid: int) -> set[int]:
        """Ids in ``sending`` under a lease of worker process ``pid``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT m.id FROM message m JOIN send_lease l ON l.id = m.lease_id "
                    "WHERE m.status = 'sending' AND l.owner LIKE :owner"
                ),
                {"owner": f"%:{pid}:%"},
            ).scalars()
            return set(rows)

    def still_sending(self, ids: set[int]) -> int:
        if not ids:
            return 0
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM message WHERE status = 'sending' AND id = ANY(:ids)"),
                    {"ids": list(ids)},
                ).scalar_one()
            )


def wait_until(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> float:
    started = time.monotonic()
    pause = threading.Event()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        pause.wait(step)
    return time.monotonic()


class Run:
    """One send of a fresh alert; records (time, messages accepted) so progress points can be compared."""

    def __init__(
        self, name: str, fake: FakeTwilioProcess, observer: Observer, alert_id: int, total: int
    ) -> None:
        self.name = name
        self.fake = fake
        self.observer = observer
        self.alert_id = alert_id
        self.total = total
        self.started = 0.0
        self.ended = 0.0
        self.progress: list[tuple[float, int]] = []

    def accepted(self) -> int:
        return int(self.fake.stats()["total_created"])

    def wait_accepted(self, count: int, timeout: float = 600) -> float:
        def reached() -> bool:
            n = self.accepted()
            self.progress.append((time.monotonic(), n))
            return n >= count

        return wait_until(reached, timeout, f"{count} messages accepted", step=0.05)

    def wait_end(self, timeout: float = 900) -> float:
        # The fan-out first: before it, the alert has no message and so nothing unfinished.
        wait_until(lambda: self.observer.total(self.alert_id) >= self.total, timeout, "the fan-out")

        def done() -> bool:
            self.progress.append((time.monotonic(), self.accepted()))
            return self.observer.unfinished(self.alert_id) == 0

        self.ended = wait_until(done, timeout, "the alert's end", step=0.25)
        return self.ended

    def time_from(self, count: int) -> float:
        """Seconds from the moment ``count`` messages had been accepted to the end."""
        for moment, n in self.progress:
            if n >= count:
                return self.ended - moment
        return 0.0

    def verdict(self) -> str:
        stats = self.fake.stats()
        duplicates = len(stats["duplicates"])
        losses = self.total - int(stats["distinct_recipients"])
        return f"duplicates {duplicates}, losses {losses} (at the fake provider; must be 0 and 0)"


def proxied(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per callback otherwise
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--outage-seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    n = args.recipients
    from outreach.config import Settings

    defaults = Settings()
    log(
        f"bench/recovery.py on {os.cpu_count()} CPUs: {n:,} recipients, two worker processes, "
        f"{args.latency_ms:.0f} ms provider latency, every 20th create 429, SEND_LEASE_SECONDS="
        f"{defaults.SEND_LEASE_SECONDS:g}, SEND_SWEEP_SECONDS={defaults.SEND_SWEEP_SECONDS}, "
        f"SEND_BATCH_SIZE={defaults.SEND_BATCH_SIZE}, SEND_RETRY_BASE_SECONDS=5"
    )
    with (
        scratch_database("recovery", keep=args.keep) as database_url,
        redis_database() as redis_url,
        FakeTwilioProcess(latency_ms=args.latency_ms) as fake,
    ):
        target = urlsplit(database_url)
        proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
        web_server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
        public_url = f"http://127.0.0.1:{web_server.server_port}"
        config: dict[str, Any] = {
            "SECRET_KEY": "bench-secret",
            "DATABASE_URL": proxied(database_url, proxy.port),
            "REDIS_URL": redis_url,
            "PUBLIC_BASE_URL": public_url,
            "SMS_CHANNEL": "twilio",
            "MAIL_CHANNEL": "console",
            "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token,
            "TWILIO_FROM": "+15005550006",
            "TWILIO_API_BASE_URL": fake.base_url,
            "TWILIO_MAX_SEGMENTS_PER_SECOND": 2000,
            "SEND_RETRY_BASE_SECONDS": 5,
        }
        app = create_app({**config, "TESTING": False})
        web_server.app = app  # type: ignore[attr-defined]
        threading.Thread(target=web_server.serve_forever, daemon=True).start()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SEND_", "SMTP_"))}
        env.update({k: str(v) for k, v in config.items()})
        env["PYTHONPATH"] = str(ROOT)
        observer = Observer(database_url)
        redis = Redis.from_url(redis_url)

        with app.app_context():
            from flask_migrate import upgrade

            from outreach.accounts import create_user

            upgrade()
            author = create_user(
                email="author@bench.test", role="officer", name="Author", password="bench-pass-1"
            )
            approver = create_user(
                email="approver@bench.test", role="officer", name="Approver", password="bench-pass-1"
            )
            db.session.commit()
            author_id, approver_id = author.id, approver.id
            fill_people(n, PROVINCE)
            alerts = {
                name: approved_alert(name, PROVINCE, KOREAN_ONE_SEGMENT, author_id, approver_id)
                for name in ("baseline", "kills", "flush", "outage")
            }

        def start(name: str) -> tuple[Run, Workers]:
            fake.reset()
            fake.configure(
                latency=args.latency_ms / 1000.0,
                auto_callbacks=["delivered"],
                clear_failures=True,
                fail_every={"k": 20, "status": 429, "code": 20429},
            )
            redis.flushdb()
            workers = Workers(env)
            run = Run(name, fake, observer, alerts[name], n)
            with app.app_context():
                click_send(alerts[name], approver_id)
            run.started = time.monotonic()
            return run, workers

        # 1. baseline
        base, workers = start("baseline")
        try:
            base.wait_end()
        finally:
            workers.stop()
        total_s = base.ended - base.started
        log(f"baseline: {n:,} messages in {total_s:.1f} s ({n / total_s:.0f} messages/s); {base.verdict()}")

        # 2. three kills
        run, workers = start("kills")
        try:
            kill_at: list[float] = []
            for fraction in (0.10, 0.35, 0.60):
                run.wait_accepted(int(n * fraction))
                # The worker holding more messages dies (the other may be between two batches).
                held_by = [observer.held_by(proc.pid) for proc in workers.procs]
                victim = max(range(len(held_by)), key=lambda i: len(held_by[i]))
                held = held_by[victim]
                killed = time.monotonic()
                workers.kill(victim)
                kill_at.append(killed)
                threading.Event().wait(1.0)
                workers.restart(victim)
                settled = wait_until(lambda held=held: observer.still_sending(held) == 0, 300, "settlement")
                log(
                    f"kill at {fraction:.0%} sent: the dead job held {len(held)} messages in sending; "
                    f"all settled {settled - killed:.1f} s after the SIGKILL (target ≤ 30 s)"
                )
            run.wait_end()
            alive = workers.alive()
        finally:
            workers.stop()
        after_last = run.ended - kill_at[-1]
        normal = base.time_from(int(n * 0.60))
        log(
            f"kills: the alert ended {after_last:.1f} s after the last kill; the same remaining work takes "
            f"{normal:.1f} s without faults: {after_last - normal:+.1f} s (target ≤ +60 s); "
            f"workers alive: {alive}; {run.verdict()}"
        )

        # 3. FLUSHDB at 30 %
        run, workers = start("flush")
        try:
            run.wait_accepted(int(n * 0.30))
            flushed = time.monotonic()
            redis.flushdb()
            run.wait_end()
            alive = workers.alive()
        finally:
            workers.stop()
        after = run.ended - flushed
        normal = base.time_from(int(n * 0.30))
        log(
            f"FLUSHDB at 30 %: the alert ended {after:.1f} s after the flush; {normal:.1f} s without faults: "
            f"{after - normal:+.1f} s (target ≤ +60 s); workers alive: {alive}; {run.verdict()}"
        )

        # 4. a database outage at 30 %
        run, workers = start("outage")
        try:
            run.wait_accepted(int(n * 0.30))
            cut = time.monotonic()
            proxy.cut()
            threading.Event().wait(args.outage_seconds)
            proxy.restore()
            back = time.monotonic()
            run.wait_end()
            alive = workers.alive()

            def all_delivered() -> bool:
                return observer.counts(run.alert_id).get("delivered", 0) >= n

            try:
                delivered_at = wait_until(all_delivered, 120, "every message delivered", step=0.25)
                delivered_note = f"all {n:,} delivered {delivered_at - back:.1f} s after the outage"
            except TimeoutError:
                delivered_note = f"NOT all delivered: {observer.counts(run.alert_id)}"
        finally:
            workers.stop()
        after = run.ended - back
        normal = base.time_from(int(n * 0.30))
        cost = (run.ended - cut) - normal - (back - cut)
        stats = fake.stats()
        callbacks = stats["callbacks_posted"] + stats["callbacks_failed"]
        log(
            f"database outage of {back - cut:.0f} s at 30 %: the alert ended {after:.1f} s after its end; "
            f"from 30 % it took {run.ended - cut:.1f} s against {normal:.1f} s without faults, i.e. "
            f"{cost:+.1f} s beyond the outage itself (target ≤ +60 s); {delivered_note}; status callbacks "
            f"answered with an error: {stats['callbacks_failed']} of {callbacks}; workers alive: {alive}; "
            f"{run.verdict()}"
        )

        web_server.shutdown()
        proxy.stop()
        redis.close()
        observer.engine.dispose()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        app.extensions["redis"].close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
