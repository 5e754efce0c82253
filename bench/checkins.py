"""Benchmark: a check-in to 20,000 people answered concurrently while a 100,000-recipient alert sends.

What it does, against real PostgreSQL, Redis, RQ worker processes, gunicorn and the fake Twilio API
(a separate process) on this machine:

1. a scratch database, migrated; ``--alert`` people (100,000) filled set-based, ``--people`` of them
   (20,000) in Phnom Penh, the audience of the check-in; two duty officers with phones;
2. the check-in is created, submitted and dispatched (recipients with one-tap codes and 20,000
   messages), and the RQ workers send it through the fake provider (50 ms per request, a shared
   limit of ``--segments-per-second``). Workers: ``--workers`` serving high → default → bulk and
   ``--dedicated-high`` serving only high → default, the deployment we recommend so that a call for
   help never waits for a bulk batch to finish;
3. the 100,000-recipient alert is dispatched: its send jobs fill ``bulk`` and the workers are busy
   with it for the rest of the run;
4. the app is served by gunicorn; ``--sms-share`` (30 %) of the recipients answer by signed SMS
   webhooks (``POST /twilio/sms``) and ``--link-share`` (40 %) by their one-tap link (GET the page,
   POST the form with its CSRF token), all at once from ``--threads`` client threads; ``--help-share``
   (2 %) of them answer "need help";
5. it prints answers recorded per second, and for every "need help" the time from the answer being
   recorded to the duty officer's SMS being handed to the provider (``Message.sent_at`` of the
   notification minus ``CheckInResponse.created_at``), with how much of the alert was still unsent.

    .venv/bin/python bench/checkins.py [--people 20000] [--alert 100000] [--threads 24] [--workers 2]
                                       [--dedicated-high 1] [--segments-per-second 150]

Needs PostgreSQL (``OUTREACH_BENCH_PG``) and Redis (``OUTREACH_BENCH_REDIS``; it takes a database no
test run holds, see ``bench/resources.py``). Not a test: it prints figures. Processes it starts are
stopped by their own ids at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.resources import redis_database, scratch_database  # noqa: E402
from outreach import create_app  # noqa: E402
from outreach.extensions import db  # noqa: E402
from tests.fakes.twilio_server import FakeTwilioProcess  # noqa: E402

TWILIO_FROM = "+15005550006"
OFFICER_PHONES = ("+85512000901", "+85512000902")

FILL = """
INSERT INTO person (name_ko, name_latin, email, language, province_code, status, emergency_contact_consent,
                    consent_at, consent_method, consent_version, last_known_status, link_generation, source,
                    created_at, updated_at)
SELECT '홍길동' || i, 'HONG GILDONG ' || i,
       CASE WHEN i % 4 = 0 THEN 'person' || i || '@example.org' END,
       CASE WHEN i % 20 < 17 THEN 'ko' WHEN i % 20 < 19 THEN 'en' ELSE 'km' END,
       CASE WHEN i <= :checkin_people THEN 'KH-12' WHEN i % 2 = 0 THEN 'KH-17' ELSE 'KH-18' END,
       'resident', false, now(), 'import', 'bench', 'unknown', 0, 'bench', now(), now()
FROM generate_series(1, :count) AS i
"""
PHONES = """
INSERT INTO phone_number (person_id, e164, kind, is_primary, is_whatsapp, created_at)
SELECT id, '+8551' || lpad(id::text, 8, '0'), 'kh', true, false, now() FROM person
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Children:
    """The processes this benchmark starts; stopped by their own ids (and their own process groups)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        out = log_path.open("wb")
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the group of a process we started ourselves
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@dataclass
class Task:
    person_id: int
    code: str
    phone: str
    via: str  # "sms" or "link"
    help: bool


@dataclass
class Outcome:
    ok: bool
    seconds: float
    error: str = ""


def answer_by_sms(session: requests.Session, base: str, token: str, task: Task, n: int) -> Outcome:
    url = base + "/twilio/sms"
    params = {
        "MessageSid": f"SMbench{n:026d}",
        "AccountSid": "AC" + "0" * 32,
        "From": task.phone,
        "To": TWILIO_FROM,
        "Body": random.choice(["2", "SOS", "도움"])
        if task.help
        else random.choice(["1", "안전", "OK", "괜찮아요"]),
        "NumMedia": "0",
    }
    signature = RequestValidator(token).compute_signature(url, params)
    started = time.perf_counter()
    response = session.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
    ok = response.status_code == 200 and "<Message>" in response.text
    return Outcome(ok, time.perf_counter() - started, "" if ok else f"sms {response.status_code}")


_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def answer_by_link(session: requests.Session, base: str, task: Task) -> Outcome:
    started = time.perf_counter()
    page = session.get(f"{base}/c/{task.code}", timeout=30)
    match = _TOKEN.search(page.text)
    if page.status_code != 200 or match is None:
        return Outcome(False, time.perf_counter() - started, f"link GET {page.status_code}")
    form = {"csrf_token": match.group(1), ("need_help" if task.help else "safe"): "1"}
    if task.help:
        form["note"] = "bench: water inside the house"
    response = session.post(f"{base}/c/{task.code}", data=form, allow_redirects=False, timeout=30)
    ok = response.status_code == 303
    return Outcome(ok, time.perf_counter() - started, "" if ok else f"link POST {response.status_code}")


def run_answers(tasks: list[Task], base: str, token: str, threads: int) -> tuple[float, list[Outcome]]:
    local = threading.local()
    counter = iter(range(1, 10**9))
    lock = threading.Lock()

    def one(task: Task) -> Outcome:
        if not hasattr(local, "sms"):
            local.sms = requests.Session()  # keep-alive per thread; no cookies shared between people
        with lock:
            n = next(counter)
        error = ""
        # A keep-alive connection the server just closed fails at once; Twilio retries a webhook
        # that got no answer (and the webhook is idempotent by MessageSid), a person taps again.
        for _attempt in range(3):
            try:
                if task.via == "sms":
                    return answer_by_sms(local.sms, base, token, task, n)
                with requests.Session() as person_session:  # each person has their own cookie jar
                    return answer_by_link(person_session, base, task)
            except requests.ConnectionError as exc:
                error = type(exc).__name__
                local.sms = requests.Session()
            except requests.RequestException as exc:
                return Outcome(False, 0.0, type(exc).__name__)
        return Outcome(False, 0.0, error)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(one, tasks))
    return time.perf_counter() - started, outcomes


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def wait_until(predicate: Any, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=20_000, help="check-in audience")
    parser.add_argument(
        "--alert", type=int, default=100_000, help="recipients of the alert sending meanwhile"
    )
    parser.add_argument("--sms-share", type=float, default=0.30)
    parser.add_argument("--link-share", type=float, default=0.40)
    parser.add_argument(
        "--help-share", type=float, default=0.02, help="share of answers that are 'need help'"
    )
    parser.add_argument("--threads", type=int, default=24, help="concurrent client threads")
    parser.add_argument(
        "--workers", type=int, default=2, help="RQ worker processes serving high,default,bulk"
    )
    parser.add_argument(
        "--dedicated-high",
        type=int,
        default=1,
        help="extra RQ worker processes serving only high,default (0: every worker also serves bulk)",
    )
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--provider-latency-ms", type=float, default=50.0)
    parser.add_argument("--segments-per-second", type=float, default=150.0, help="shared provider rate limit")
    parser.add_argument(
        "--skip-checkin-send", action="store_true", help="do not wait for the check-in SMS to go out"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    total_people = max(args.people, args.alert)
    random.seed(20_000)

    logs = Path("/tmp/outreach-bench-checkins")
    logs.mkdir(exist_ok=True)
    children = Children()
    fake = FakeTwilioProcess(latency_ms=args.provider_latency_ms).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with scratch_database("checkins", keep=args.keep) as database_url, redis_database() as redis_url:
            settings: dict[str, Any] = {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": secrets.token_hex(16),
                "PUBLIC_BASE_URL": base,
                "SMS_CHANNEL": "twilio",
                "MAIL_CHANNEL": "console",
                "TWILIO_ACCOUNT_SID": fake.account_sid,
                "TWILIO_AUTH_TOKEN": fake.auth_token,
                "TWILIO_FROM": TWILIO_FROM,
                "TWILIO_API_BASE_URL": fake.base_url,
                "TWILIO_MAX_SEGMENTS_PER_SECOND": args.segments_per_second,
                # One officer may send both broadcasts: this benchmark is not about approval.
                "APPROVAL_THRESHOLD": 10**9,
            }
            env = {**os.environ, "PYTHONPATH": str(ROOT), **{k: str(v) for k, v in settings.items()}}
            app = create_app(settings)
            with app.app_context():
                from flask_migrate import upgrade

                upgrade()
            return run(args, app, env, children, fake, base, total_people, logs)
    finally:
        children.stop()
        fake.stop()


def run(
    args: argparse.Namespace,
    app: Any,
    env: dict[str, str],
    children: Children,
    fake: FakeTwilioProcess,
    base: str,
    total_people: int,
    logs: Path,
) -> int:
    from outreach.accounts import create_user
    from outreach.alerts import workflow
    from outreach.alerts.compose import AlertInput, ContentInput, create_alert
    from outreach.alerts.jobs import cambodia_today, dispatch_alert
    from outreach.checkins.operations import create_checkin
    from outreach.models import (
        Alert,
        Answer,
        CaseEvent,
        CheckInRecipient,
        CheckInResponse,
        Message,
        MessageStatus,
        SourceKind,
        User,
        utcnow,
    )

    with app.app_context():
        started = time.perf_counter()
        db.session.execute(sa.text(FILL), {"count": total_people, "checkin_people": args.people})
        db.session.execute(sa.text(PHONES))
        officers = [
            create_user(email=f"duty{i}@bench.test", role="officer", name=f"Duty {i}", phone=p, on_duty=True)
            for i, p in enumerate(OFFICER_PHONES, start=1)
        ]
        db.session.commit()
        officer_ids = [o.id for o in officers]
        log(f"{total_people:,} people and their numbers inserted in {time.perf_counter() - started:.1f} s")

        officer = db.session.get(User, officer_ids[0])
        assert officer is not None
        checkin = create_checkin(
            title="Bench flood check-in",
            questions={
                "ko": "[대사관] 홍수 피해는 없으신가요?",
                "en": "[Embassy] Are you safe after the flood?",
            },
            audience={"provinces": ["KH-12"]},
            channels=["sms"],
            deadline=utcnow() + timedelta(hours=12),
            actor=officer,
        )
        workflow.submit(checkin.alert, actor=officer, today=cambodia_today())
        workflow.send(checkin.alert, actor=officer)
        db.session.commit()
        checkin_id, checkin_alert_id = checkin.id, checkin.alert_id
        db.session.remove()

    # The dispatch job's work, in this process so it can be timed: recipients with codes, then messages.
    with app.app_context():
        started = time.perf_counter()
        result = dispatch_alert(checkin_alert_id)
        log(
            f"check-in dispatched: {result.get('queued', 0):,} messages queued, one-tap codes issued, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        recipients = db.session.scalar(
            sa.select(sa.func.count()).where(CheckInRecipient.checkin_id == checkin_id)
        )
        log(f"{recipients:,} check-in recipients")

    worker_args = [sys.executable, "worker.py", "--simple", "--no-periodic", "--queues"]
    for i in range(args.workers):
        children.start([*worker_args, "high,default,bulk"], env, logs / f"worker-{i}.log")
    for i in range(args.dedicated_high):
        children.start([*worker_args, "high,default"], env, logs / f"worker-high-{i}.log")
    log(
        f"RQ workers started: {args.workers} serving high → default → bulk, "
        f"{args.dedicated_high} serving only high → default"
    )

    def sent_for(kind: SourceKind, source_id: int) -> int:
        with app.app_context():
            n = db.session.scalar(
                sa.select(sa.func.count()).where(
                    Message.source_kind == kind,
                    Message.source_id == source_id,
                    Message.status.in_([MessageStatus.SENT, MessageStatus.DELIVERED]),
                )
            )
            db.session.remove()
            return int(n or 0)

    if not args.skip_checkin_send:
        started = time.perf_counter()
        done = wait_until(
            lambda: sent_for(SourceKind.ALERT, checkin_alert_id) >= args.people, timeout=1800, every=2
        )
        seconds = time.perf_counter() - started
        sent = sent_for(SourceKind.ALERT, checkin_alert_id)
        log(
            f"check-in SMS handed to the provider: {sent:,} in {seconds:.1f} s ({sent / seconds:.0f}/s)"
            + ("" if done else " (timed out)")
        )

    with app.app_context():
        officer = db.session.get(User, officer_ids[0])
        assert officer is not None
        alert = create_alert(
            AlertInput(
                title="Bench alert to everyone",
                severity="Minor",
                contents={"ko": ContentInput("[대사관] 도로 통제 안내: 시내 주요 도로가 통제됩니다.")},
                channels=["sms"],
                audience={},
            ),
            author=officer,
        )
        db.session.commit()
        workflow.submit(alert, actor=officer, today=cambodia_today())
        workflow.send(alert, actor=officer)
        db.session.commit()
        big_alert_id = alert.id
        db.session.remove()
    with app.app_context():
        started = time.perf_counter()
        result = dispatch_alert(big_alert_id)
        log(
            f"alert to {total_people:,} dispatched in {time.perf_counter() - started:.1f} s: "
            f"{result.get('queued', 0):,} messages queued on bulk; the workers are now sending it"
        )

    gunicorn = [
        sys.executable, "-m", "gunicorn", "--workers", str(args.web_workers),
        "--threads", str(args.web_threads), "--bind", base.removeprefix("http://"), "--timeout", "60",
        "--keep-alive", "30", "--log-level", "warning", "outreach:create_app()",
    ]  # fmt: skip
    children.start(gunicorn, env, logs / "gunicorn.log")
    if not wait_until(lambda: _healthy(base), timeout=60):
        log("gunicorn did not start; see /tmp/outreach-bench-checkins/gunicorn.log")
        return 1
    log(f"app served by gunicorn ({args.web_workers} workers × {args.web_threads} threads) at {base}")

    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT r.person_id, r.code, p.e164 FROM checkin_recipient r "
                "JOIN phone_number p ON p.person_id = r.person_id AND p.is_primary "
                "WHERE r.checkin_id = :c ORDER BY r.person_id"
            ),
            {"c": checkin_id},
        ).all()
        db.session.remove()
    random.shuffle(rows)
    n_sms = round(len(rows) * args.sms_share)
    n_link = round(len(rows) * args.link_share)
    tasks = [
        Task(pid, code, phone, "sms" if i < n_sms else "link", random.random() < args.help_share)
        for i, (pid, code, phone) in enumerate(rows[: n_sms + n_link])
    ]
    random.shuffle(tasks)  # SMS and link answers interleaved, as they would arrive
    helps = sum(t.help for t in tasks)
    alert_sent_before = sent_for(SourceKind.ALERT, big_alert_id)
    log(
        f"answering: {n_sms:,} by signed SMS webhook and {n_link:,} by one-tap link ({helps} 'need help'), "
        f"{args.threads} concurrent clients; alert sent so far: {alert_sent_before:,}/{total_people:,}"
    )
    seconds, outcomes = run_answers(tasks, base, fake.auth_token, args.threads)
    alert_sent_after = sent_for(SourceKind.ALERT, big_alert_id)
    failures = [o for o in outcomes if not o.ok]

    with app.app_context():
        recorded = int(
            db.session.scalar(sa.select(sa.func.count()).where(CheckInResponse.checkin_id == checkin_id)) or 0
        )
        by_via = dict(
            db.session.execute(
                sa.select(CheckInResponse.via, sa.func.count())
                .where(CheckInResponse.checkin_id == checkin_id)
                .group_by(CheckInResponse.via)
            )
            .tuples()
            .all()
        )
        db.session.remove()
    sms_times = [o.seconds for o, t in zip(outcomes, tasks, strict=True) if o.ok and t.via == "sms"]
    link_times = [o.seconds for o, t in zip(outcomes, tasks, strict=True) if o.ok and t.via == "link"]
    vias = ", ".join(f"{k.value} {v:,}" for k, v in by_via.items())
    log(
        f"answer phase: {len(tasks):,} answers in {seconds:.1f} s → {recorded / seconds:.0f} answers "
        f"recorded/s ({recorded:,} recorded: {vias}; {len(failures)} failed)"
    )

    def ms(values: list[float], p: float) -> str:
        return f"{percentile(values, p) * 1000:.0f} ms"

    log(
        f"  SMS webhook: p50 {ms(sms_times, 50)}, p95 {ms(sms_times, 95)}; "
        f"one-tap GET+POST: p50 {ms(link_times, 50)}, p95 {ms(link_times, 95)}"
    )
    if failures:
        kinds: dict[str, int] = {}
        for f in failures:
            kinds[f.error] = kinds.get(f.error, 0) + 1
        log(f"  failures: {kinds}")
    log(f"  meanwhile the alert: {alert_sent_before:,} → {alert_sent_after:,} of {total_people:,} sent")

    # Every "need help" → the duty officers' SMS handed to the provider.
    def notified() -> int:
        with app.app_context():
            n = db.session.scalar(
                sa.select(sa.func.count()).where(
                    Message.source_kind == SourceKind.CASE_NOTIFY,
                    Message.channel == "sms",
                    Message.status.in_([MessageStatus.SENT, MessageStatus.DELIVERED]),
                )
            )
            db.session.remove()
            return int(n or 0)

    wait_until(lambda: notified() >= helps * len(OFFICER_PHONES), timeout=120)
    with app.app_context():
        first_help = (
            sa.select(CheckInResponse.person_id, sa.func.min(CheckInResponse.created_at).label("answered_at"))
            .where(CheckInResponse.checkin_id == checkin_id, CheckInResponse.answer == Answer.NEED_HELP)
            .group_by(CheckInResponse.person_id)
            .subquery()
        )
        from outreach.models import Case

        rows = db.session.execute(
            sa.select(first_help.c.answered_at, sa.func.min(Message.sent_at))
            .join(Case, Case.person_id == first_help.c.person_id)
            .join(CaseEvent, (CaseEvent.case_id == Case.id) & (CaseEvent.kind == "opened"))
            .join(
                Message,
                (Message.source_kind == SourceKind.CASE_NOTIFY)
                & (Message.source_id == CaseEvent.id)
                & (Message.channel == "sms"),
            )
            .where(Message.sent_at.is_not(None))
            .group_by(first_help.c.person_id, first_help.c.answered_at)
        ).all()
        alert_status = db.session.get(Alert, big_alert_id).status.value  # type: ignore[union-attr]
        alert_pending = db.session.scalar(
            sa.select(sa.func.count()).where(
                Message.source_kind == SourceKind.ALERT,
                Message.source_id == big_alert_id,
                Message.status.in_([MessageStatus.PENDING, MessageStatus.SENDING]),
            )
        )
        db.session.remove()
    with app.app_context():
        alert_done_at = db.session.scalar(
            sa.select(sa.func.max(Message.sent_at)).where(
                Message.source_kind == SourceKind.ALERT, Message.source_id == big_alert_id
            )
        )
        db.session.remove()
    latencies = [(sent - answered).total_seconds() for answered, sent in rows]
    during = [
        (sent - answered).total_seconds()
        for answered, sent in rows
        if alert_done_at is None or alert_pending or sent <= alert_done_at
    ]
    if during:
        log(
            f"need help → duty officer's SMS handed to the provider while the alert was still sending "
            f"({len(during)} cases): p50 {statistics.median(during):.2f} s, "
            f"p95 {percentile(during, 95):.2f} s, max {max(during):.2f} s"
        )
    log(
        f"need help → first duty-officer SMS handed to the provider ({len(latencies)} of {helps} cases): "
        f"p50 {statistics.median(latencies) if latencies else float('nan'):.2f} s, "
        f"p95 {percentile(latencies, 95):.2f} s, max {max(latencies) if latencies else float('nan'):.2f} s "
        f"(target < 5 s); the alert was still '{alert_status}' with {alert_pending:,} messages unsent"
    )
    return 0 if not failures and recorded == len(tasks) else 1


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
