"""Benchmark: alert fan-out and sending, with PostgreSQL, Redis, two worker processes and the fake Twilio.

    .venv/bin/python bench/dispatch.py [--fanout 100000] [--history 3] [--messages 20000] [--cap 150] [--keep]

Prints, each on its own line:

1. fan-out: from the click (the ``send`` commit) until all 100,000 Message rows are written and all send
   jobs are queued (the ``dispatch_alert`` job, run here in-process before any worker starts), with
   the messages of ``--history`` earlier alerts to the same people already in the table, as in use;
2. send rate with 0 ms and with 150 ms provider latency: messages the fake Twilio accepted per second,
   from its first to its last accepted message, with two ``worker.py --simple`` processes;
3. peak worker memory: the largest ``VmHWM`` (peak resident set) of any worker process;
4. the rate cap: the largest number of SMS segments the fake saw in any 10-second window, divided by 10,
   against ``TWILIO_MAX_SEGMENTS_PER_SECOND`` — in the two rate runs (the cap set above what the workers can
   reach) and in a run where the cap binds (``--cap``, two-segment Korean messages).

Targets on a 2-core machine: fan-out ≤ 2 s; ≥ 300 messages/s at 0 ms and ≥ 250 at 150 ms latency;
never more than 5 % over the cap; worker memory ≤ 300 MB.

Creates and drops a scratch PostgreSQL database (``OUTREACH_BENCH_PG``, default the local server) and
takes a free Redis database (1–15, with the same lock files as the test suite). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402

from bench.resources import redis_database, scratch_database  # noqa: E402
from outreach import create_app  # noqa: E402
from outreach.extensions import db  # noqa: E402
from tests.fakes.twilio_server import FakeTwilioProcess  # noqa: E402

KOREAN_ONE_SEGMENT = "프놈펜 시내 시위로 교통이 통제됩니다. 안전한 곳에 머무르세요."
KOREAN_TWO_SEGMENTS = (
    "프놈펜 독립기념탑 주변에서 대규모 시위가 예정되어 있습니다. "
    "해당 지역 방문을 피하시고 안전에 유의하시기 바랍니다."
)

PEOPLE = """
INSERT INTO person (name_ko, name_latin, language, province_code, status, emergency_contact_consent,
                    consent_at, consent_method, consent_version, last_known_status, link_generation, source,
                    created_at, updated_at)
SELECT '홍길동' || i, 'HONG GILDONG ' || i,
       CASE WHEN i % 20 < 17 THEN 'ko' WHEN i % 20 < 19 THEN 'en' ELSE 'km' END,
       :province, CASE WHEN i % 3 = 0 THEN 'traveler' ELSE 'resident' END, false,
       now(), 'import', 'bench', 'unknown', 0, 'bench', now(), now()
FROM generate_series(1, :count) AS i
"""
PHONES = """
INSERT INTO phone_number (person_id, e164, kind, is_primary, is_whatsapp, created_at)
SELECT id, '+855' || (100000000 + id)::text, 'kh', true, false, now()
FROM person WHERE province_code = :province
"""


def log(message: str) -> None:
    print(message, flush=True)


# --- resources ---------------------------------------------------------------------------------------


def app_config(database_url: str, redis_url: str, fake: FakeTwilioProcess, **extra: Any) -> dict[str, Any]:
    return {
        "SECRET_KEY": "bench-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",  # nothing listens: the fake posts no callbacks anyway
        "SMS_CHANNEL": "twilio",
        "MAIL_CHANNEL": "console",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE_URL": fake.base_url,
        **extra,
    }


class Workers:
    """Two ``worker.py --simple`` processes with the given settings; peak memory read from /proc."""

    def __init__(self, config: dict[str, Any], count: int = 2) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SEND_", "SMTP_"))}
        env.update({k: str(v) for k, v in config.items()})
        env["PYTHONPATH"] = str(ROOT)
        self.logs = [tempfile.TemporaryFile() for _ in range(count)]  # noqa: SIM115 - closed in stop()
        self.procs = [
            subprocess.Popen(
                [sys.executable, "worker.py", "--simple", "--queues", "high,default,bulk"],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for log_file in self.logs
        ]
        self.peak_kb = 0

    def sample_memory(self) -> None:
        for proc in self.procs:
            try:
                with open(f"/proc/{proc.pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except FileNotFoundError:
                pass

    def stop(self) -> None:
        self.sample_memory()
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, log_file in zip(self.procs, self.logs, strict=True):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.returncode not in (0, -signal.SIGTERM):
                log_file.seek(0)
                log(f"worker {proc.pid} exited with {proc.returncode}:\n" + log_file.read().decode()[-3000:])
            log_file.close()


# --- the steps -----------------------------------------------------------------------------------------


def fill_people(count: int, province: str) -> None:
    db.session.execute(sa.text(PEOPLE), {"count": count, "province": province})
    db.session.execute(sa.text(PHONES), {"province": province})
    db.session.commit()
    db.session.execute(sa.text("ANALYZE person; ANALYZE phone_number"))
    db.session.commit()


HISTORY = """
INSERT INTO message (source_kind, source_id, person_id, channel, to_address, language, body, status,
                     provider_sid, attempts, segments, created_at, claimed_at, sent_at, delivered_at,
                     updated_at)
SELECT 'alert', :alert_id, p.id, 'sms', n.e164, p.language, 'earlier alert', 'delivered',
       'SMbench' || :alert_id || '-' || p.id, 1, 1, now(), now(), now(), now(), now()
FROM person p JOIN phone_number n ON n.person_id = p.id
WHERE p.province_code = :province
"""


def earlier_alert(province: str, author_id: int) -> None:
    """A completed alert with a delivered message to everyone in ``province``, written set-based."""
    from outreach.models import Alert, AlertStatus

    alert = Alert(title="Earlier", status=AlertStatus.COMPLETED, channels=["sms"], created_by_id=author_id)
    db.session.add(alert)
    db.session.flush()
    db.session.execute(sa.text(HISTORY), {"alert_id": alert.id, "province": province})
    db.session.commit()
    db.session.execute(sa.text("ANALYZE message"))
    db.session.commit()


def approved_alert(title: str, province: str, text: str, author_id: int, approver_id: int) -> int:
    """An alert ready to send (submitted, and approved by the second officer when it needs it)."""
    from outreach.alerts import compose, workflow
    from outreach.alerts.compose import AlertInput, ContentInput
    from outreach.alerts.jobs import cambodia_today
    from outreach.models import AlertStatus, User

    author = db.session.get(User, author_id)
    approver = db.session.get(User, approver_id)
    assert author is not None and approver is not None
    alert = compose.create_alert(
        AlertInput(
            title=title,
            severity="Moderate",
            contents={"ko": ContentInput(text), "en": ContentInput("Protest in Phnom Penh: stay safe.")},
            channels=["sms"],
            audience={"provinces": [province]},
        ),
        author=author,
    )
    workflow.submit(alert, actor=author, today=cambodia_today())
    if alert.status == AlertStatus.PENDING_APPROVAL:
        workflow.approve(alert, actor=approver)
    db.session.commit()
    return alert.id


def click_send(alert_id: int, officer_id: int) -> None:
    from outreach.alerts import workflow
    from outreach.models import Alert, User

    alert = db.session.get(Alert, alert_id)
    officer = db.session.get(User, officer_id)
    assert alert is not None and officer is not None
    workflow.send(alert, actor=officer)
    db.session.commit()


def message_count(alert_id: int) -> int:
    from outreach.models import Message, SourceKind

    n = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Message)
        .where(Message.source_kind == SourceKind.ALERT, Message.source_id == alert_id)
    )
    db.session.rollback()
    return int(n or 0)


def alert_status(alert_id: int) -> str:
    from outreach.models import Alert

    value = db.session.scalar(sa.select(Alert.status).where(Alert.id == alert_id))
    db.session.rollback()
    return str(value)


def wait_until_completed(alert_id: int, workers: Workers, timeout: float) -> float:
    """Seconds until the alert is ``completed``; samples worker memory meanwhile."""
    started = time.monotonic()
    pause = threading.Event()
    while alert_status(alert_id) != "completed":
        workers.sample_memory()
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"alert {alert_id} not completed after {timeout:.0f} s")
        pause.wait(0.5)
    return time.monotonic() - started


def rate_from(stats: dict[str, Any]) -> float:
    """Accepted messages per second from the first to the last second in which any was accepted."""
    per_second = {int(k): v for k, v in stats["messages_per_second"].items() if v}
    if not per_second:
        return 0.0
    span = max(per_second) - min(per_second) + 1
    return sum(per_second.values()) / span


def peak_window(stats: dict[str, Any], window: int = 10) -> float:
    """The largest segments-per-second average over any ``window`` consecutive seconds."""
    per_second = {int(k): v for k, v in stats["segments_per_second"].items()}
    if not per_second:
        return 0.0
    first, last = min(per_second), max(per_second)
    if last - first + 1 < window:
        return sum(per_second.values()) / window
    best = 0
    for start in range(first, last - window + 2):
        best = max(best, sum(per_second.get(s, 0) for s in range(start, start + window)))
    return best / window


def run_send(
    name: str,
    app: Any,
    config: dict[str, Any],
    fake: FakeTwilioProcess,
    alert_id: int,
    officer_id: int,
    latency_ms: float,
    expected: int,
) -> dict[str, Any]:
    """Send one prepared alert with two fresh workers; returns the figures."""
    fake.reset()
    fake.configure(latency=latency_ms / 1000.0)
    workers = Workers(config)
    try:
        with app.app_context():
            click_send(alert_id, officer_id)
            seconds = wait_until_completed(alert_id, workers, timeout=max(600.0, expected / 20))
    finally:
        workers.stop()
    stats = fake.stats()
    if stats["total_created"] != expected or stats["duplicates"]:
        log(
            f"  !! {name}: {stats['total_created']} accepted (wanted {expected}), "
            f"duplicates: {stats['duplicates']}"
        )
    cap = float(config["TWILIO_MAX_SEGMENTS_PER_SECOND"])
    window = peak_window(stats)
    return {
        "rate": rate_from(stats),
        "seconds": seconds,
        "accepted": stats["total_created"],
        "segments": stats["segments_total"],
        "peak_window": window,
        "cap": cap,
        "over_cap_pct": 100.0 * (window - cap) / cap,
        "peak_mb": workers.peak_kb / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fanout", type=int, default=100_000, help="recipients of the fan-out alert")
    parser.add_argument("--messages", type=int, default=20_000, help="messages per send-rate run")
    parser.add_argument(
        "--cap-messages", type=int, default=5_000, help="messages in the cap run (2 segments each)"
    )
    parser.add_argument("--cap", type=float, default=150.0, help="segments per second in the cap run")
    from outreach.config import Settings

    defaults = Settings()
    parser.add_argument(
        "--concurrency", type=int, default=defaults.SEND_CONCURRENCY, help="SEND_CONCURRENCY of each worker"
    )
    parser.add_argument("--batch", type=int, default=defaults.SEND_BATCH_SIZE, help="SEND_BATCH_SIZE")
    parser.add_argument(
        "--history", type=int, default=3, help="earlier alerts to the fan-out's people already in the table"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    log(
        f"bench/dispatch.py on {os.cpu_count()} CPUs: fan-out {args.fanout:,}, "
        f"rate runs {args.messages:,} messages, two workers with SEND_CONCURRENCY={args.concurrency} "
        f"SEND_BATCH_SIZE={args.batch}"
    )
    with (
        scratch_database("dispatch", keep=args.keep) as database_url,
        redis_database() as redis_url,
        FakeTwilioProcess() as fake,
    ):
        from flask_migrate import upgrade

        worker_config = app_config(
            database_url,
            redis_url,
            fake,
            SEND_CONCURRENCY=args.concurrency,
            SEND_BATCH_SIZE=args.batch,
            TWILIO_TIMEOUT_SECONDS=10,
            # Above what two workers reach: the rate runs measure the pipeline, not the limiter.
            TWILIO_MAX_SEGMENTS_PER_SECOND=2000,
        )
        app = create_app({**worker_config, "TESTING": False})
        with app.app_context():
            upgrade()
            from outreach.accounts import create_user

            author = create_user(
                email="author@bench.test", role="officer", name="Author", password="bench-pass-1"
            )
            approver = create_user(
                email="approver@bench.test", role="officer", name="Approver", password="bench-pass-1"
            )
            db.session.commit()
            author_id, approver_id = author.id, approver.id

            t = time.monotonic()
            fill_people(args.fanout, "KH-12")
            fill_people(args.messages, "KH-17")
            fill_people(args.cap_messages, "KH-18")
            log(f"registry filled in {time.monotonic() - t:.1f} s")
            t = time.monotonic()
            for _ in range(args.history):
                earlier_alert("KH-12", author_id)
            log(f"{args.history} earlier alerts' messages written in {time.monotonic() - t:.1f} s")

            # 1. Fan-out: the click, then the dispatch job (no worker running yet, so nothing competes).
            fan_id = approved_alert("Fan-out", "KH-12", KOREAN_ONE_SEGMENT, author_id, approver_id)
            conn = Redis.from_url(redis_url)
            started = time.monotonic()
            click_send(fan_id, approver_id)
            from outreach.jobs import run_burst

            run_burst(app, ["default"])
            fanout_s = time.monotonic() - started
            bulk = Queue("bulk", connection=conn)
            rows, jobs = message_count(fan_id), bulk.count
            log(
                f"fan-out: {rows:,} messages written and {jobs} jobs queued in {fanout_s:.2f} s "
                "(target ≤ 2 s)"
            )
            # Nobody needs 100,000 fake SMS: cancel it, and drop the now-pointless jobs.
            from outreach.alerts import workflow
            from outreach.models import Alert, User

            alert = db.session.get(Alert, fan_id)
            officer = db.session.get(User, approver_id)
            assert alert is not None and officer is not None
            workflow.cancel(alert, actor=officer)
            db.session.commit()
            bulk.empty()
            conn.close()

            fast_id = approved_alert("Rate 0 ms", "KH-17", KOREAN_ONE_SEGMENT, author_id, approver_id)
            slow_id = approved_alert("Rate 150 ms", "KH-17", KOREAN_ONE_SEGMENT, author_id, approver_id)
            cap_id = approved_alert("Cap", "KH-18", KOREAN_TWO_SEGMENTS, author_id, approver_id)

        results: dict[str, dict[str, Any]] = {}
        results["0 ms"] = run_send("0 ms", app, worker_config, fake, fast_id, approver_id, 0, args.messages)
        log(f"send rate, 0 ms latency: {results['0 ms']['rate']:.0f} messages/s (target ≥ 300)")
        results["150 ms"] = run_send(
            "150 ms", app, worker_config, fake, slow_id, approver_id, 150, args.messages
        )
        log(f"send rate, 150 ms latency: {results['150 ms']['rate']:.0f} messages/s (target ≥ 250)")
        cap_config = {**worker_config, "TWILIO_MAX_SEGMENTS_PER_SECOND": args.cap}
        results["cap"] = run_send("cap", app, cap_config, fake, cap_id, approver_id, 0, args.cap_messages)

        peak_mb = max(r["peak_mb"] for r in results.values())
        log(f"peak worker memory (VmHWM): {peak_mb:.0f} MB (target ≤ 300 MB)")
        for name, r in results.items():
            log(
                f"rate cap, {name} run: largest 10-s window {r['peak_window']:.1f} segments/s "
                "against a cap of "
                f"{r['cap']:.0f} ({r['over_cap_pct']:+.1f} %; target ≤ +5 %); "
                f"{r['accepted']:,} messages, {r['segments']:,} segments in {r['seconds']:.1f} s"
            )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        app.extensions["redis"].close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
