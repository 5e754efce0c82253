"""What every benchmark borrows: a scratch PostgreSQL database and a Redis database nobody else uses.

The Redis database is claimed with the same lock files as the test suite (``tests/conftest.py``), so a
benchmark started beside a test run never flushes the run's queues, nor the other way round.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from redis import Redis

ADMIN_URL = os.environ.get("OUTREACH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("OUTREACH_BENCH_REDIS", "redis://127.0.0.1:6379")


@contextmanager
def scratch_database(prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A new, empty database on ``OUTREACH_BENCH_PG``'s server; dropped afterwards unless ``keep``."""
    name = f"outreach_bench_{prefix}_{secrets.token_hex(3)}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {name}", flush=True)
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis database (1–15) no test run or benchmark holds, flushed before and after."""
    for number in range(1, 16):
        fd = os.open(f"{tempfile.gettempdir()}/outreach-test-redis-{number}.lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        url = f"{REDIS_BASE}/{number}"
        conn = Redis.from_url(url)
        conn.flushdb()
        try:
            yield url
        finally:
            conn.flushdb()
            conn.close()
            os.close(fd)
        return
    raise RuntimeError("no free Redis database (1-15)")
