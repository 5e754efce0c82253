"""Where other areas plug into the send pipeline: renderers and source guards.

- ``register_renderer(source_kind, fn)``: ``fn(messages: list[ClaimedMessage]) -> dict[int, Rendered]``
  renders, in the send job, the bodies of messages created without one (bulk fan-out). Render in each
  message's ``language`` (``outreach.i18n.for_person_language``). Leave an id out of the result to
  not send that message at all (it becomes ``skipped``, e.g. a check-in already answered). Raising
  makes the whole group retry later.
- ``register_source_guard(source_kind, fn)``: ``fn(source_id) -> bool`` (True: may still send),
  called before each provider hand-off, at most once a second per source. It must be cheap and must
  not use the database (the job holds no connection while providers are called): the built-in
  guard — :func:`stop_source` / :func:`is_stopped`, a Redis key — covers cancellation for every kind.
- ``register_queue_resolver(source_kind, fn)``: ``fn(source_id) -> str`` names the queue that messages
  re-queued outside their own job (reconciliation, lost retries) go back to, when the kind alone does
  not tell (an alert's send jobs are ``bulk``, a check-in's — also an alert row — ``high``).

- ``register_active_sources(source_kind, fn)``: ``fn() -> list[int]`` names the sources of that kind
  still sending (alerts: those in ``sending``), so the sweep looks for pending messages that lost
  their job among those sources' messages alone, through the (source, status) index. Kinds without
  one are looked at by kind (one-off messages: few).
- ``register_redis_rebuild(fn)``: ``fn()`` re-creates Redis state the database can tell again (stop
  keys of cancelled sources, …); the sweep calls it when it finds Redis emptied (flushed, restarted).

Registrations happen when an area's module is imported. Workers import, before the first send, every
``outreach.<area>.jobs`` and ``outreach.<area>.inbound`` module that exists (:func:`load_area_hooks`),
so register in one of those (or in a module they import).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from outreach.extensions import redis_conn
from outreach.models import SourceKind

if TYPE_CHECKING:
    from outreach.messaging.status import ClaimedMessage

AREAS = ("registry", "alerts", "checkins", "cases", "grievances", "reports")
HOOK_MODULES = ("jobs", "inbound")
#: Our own registrations: the opt-out/opt-in keyword handler (inbound priority 10).
OWN_MODULES = ("outreach.messaging.keywords",)

#: A cancelled source stays stopped this long (it is final anyway; the key must not live forever).
STOP_TTL_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Rendered:
    body: str
    subject: str | None = None
    html: str | None = None


Renderer = Callable[["list[ClaimedMessage]"], dict[int, Rendered]]
SourceGuard = Callable[[int], bool]
QueueResolver = Callable[[int], str]

ActiveSources = Callable[[], "list[int]"]
RedisRebuild = Callable[[], None]

RENDERERS: dict[str, Renderer] = {}
GUARDS: dict[str, list[SourceGuard]] = {}
QUEUE_RESOLVERS: dict[str, QueueResolver] = {}
ACTIVE_SOURCES: dict[str, ActiveSources] = {}
REDIS_REBUILDS: list[RedisRebuild] = []


def register_renderer(source_kind: SourceKind | str, fn: Renderer) -> Renderer:
    """Render the bodies of ``source_kind`` messages at send time (one renderer per kind; last wins)."""
    RENDERERS[str(source_kind)] = fn
    return fn


def register_source_guard(source_kind: SourceKind | str, fn: SourceGuard) -> SourceGuard:
    """Check ``fn(source_id)`` before each hand-off of a ``source_kind`` message; False skips it."""
    guards = GUARDS.setdefault(str(source_kind), [])
    if fn not in guards:
        guards.append(fn)
    return fn


def register_queue_resolver(source_kind: SourceKind | str, fn: QueueResolver) -> QueueResolver:
    """Let ``fn(source_id)`` choose the queue for re-queued ``source_kind`` messages (last wins)."""
    QUEUE_RESOLVERS[str(source_kind)] = fn
    return fn


def register_active_sources(source_kind: SourceKind | str, fn: ActiveSources) -> ActiveSources:
    """Let ``fn()`` list the ``source_kind`` sources still sending (last wins)."""
    ACTIVE_SOURCES[str(source_kind)] = fn
    return fn


def register_redis_rebuild(fn: RedisRebuild) -> RedisRebuild:
    """Call ``fn()`` when Redis is found emptied, to restore what the database knows."""
    if fn not in REDIS_REBUILDS:
        REDIS_REBUILDS.append(fn)
    return fn


def _stop_key(source_kind: SourceKind | str, source_id: int) -> str:
    return f"outreach:stop:{source_kind}:{int(source_id)}"


def stop_source(source_kind: SourceKind | str, source_id: int) -> None:
    """Stop every further hand-off for this source at once (cancel an alert or a check-in).

    Send jobs check the key before each hand-off, so sending stops within about a second on every
    worker; the messages not yet handed over become ``skipped`` ("cancelled"). Safe to call before
    the commit that records the cancellation: it only ever stops sending.
    """
    redis_conn().set(_stop_key(source_kind, source_id), "1", ex=STOP_TTL_SECONDS)


def resume_source(source_kind: SourceKind | str, source_id: int) -> None:
    redis_conn().delete(_stop_key(source_kind, source_id))


def is_stopped(source_kind: SourceKind | str, source_id: int) -> bool:
    return bool(redis_conn().exists(_stop_key(source_kind, source_id)))


_loaded = False


def load_area_hooks() -> None:
    """Import every area's ``jobs`` and ``inbound`` module once, so their registrations exist."""
    global _loaded
    if _loaded:
        return
    for own in OWN_MODULES:
        importlib.import_module(own)
    for area in AREAS:
        for module in HOOK_MODULES:
            name = f"outreach.{area}.{module}"
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
    _loaded = True
