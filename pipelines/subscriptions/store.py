"""The dispatcher's own state, in SQLite under ``<data>/subscriptions/``: the ledger of landing files read, the
outbox of deliveries, and per-target counters.

Why a database file and not the warehouse: the dispatcher must never take the warehouse's writer lock, and its
writes are tiny and frequent. SQLite gives what at-least-once needs: a file's deliveries and its ledger entry are
committed in one transaction (a crash before the commit re-reads the file; after it, the outbox has them), and
``synchronous=FULL`` makes a commit survive power loss. A delivery is keyed by its dedup key, so an event seen
twice (a producer's retry, a re-read file) is queued once. Finished deliveries are kept for ``RETENTION_SECONDS``
so repeats within that window are still recognised, then pruned.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RETENTION_SECONDS = 7 * 24 * 3600
COUNTERS = ("delivered", "retried", "failed", "dead_lettered")

_SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists files (
    path text primary key, size integer not null, processed_at real not null,
    events integer not null, queued integer not null, note text
);
create table if not exists outbox (
    dedup_key text primary key, target text not null, rules text not null, event_key text not null,
    event text not null, state text not null default 'pending', attempts integer not null default 0,
    next_attempt_at real not null, last_status integer, last_error text,
    created_at real not null, finished_at real
);
create index if not exists outbox_due on outbox (state, next_attempt_at);
create table if not exists target_stats (
    target text primary key, delivered integer not null default 0, retried integer not null default 0,
    failed integer not null default 0, dead_lettered integer not null default 0,
    last_success_at real, last_failure_at real
);
"""


@dataclass(frozen=True)
class Delivery:
    dedup_key: str
    target: str
    rules: list[str]
    event: dict[str, Any]
    attempts: int
    created_at: float


@dataclass(frozen=True)
class Queued:
    """A delivery to add to the outbox."""

    dedup_key: str
    target: str
    rules: list[str]
    event_key: str
    event: dict[str, Any]


class Store:
    def __init__(self, directory: Path, read_only: bool = False):
        self.path = directory / "state.sqlite"
        self._lock = threading.Lock()
        if read_only:  # `lifecycle subscriptions status` beside a running dispatcher
            if not self.path.is_file():
                raise FileNotFoundError(f"no subscriptions state at {self.path}: the dispatcher has not run yet")
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, timeout=30)
            return
        directory.mkdir(parents=True, exist_ok=True)
        # the delivery threads record their outcomes through this one connection, under the lock
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("pragma journal_mode = wal")
        self._conn.execute("pragma synchronous = full")
        self._conn.executescript(_SCHEMA)

    def _read(self, sql: str, params: list | None = None) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params or []).fetchall()

    def close(self) -> None:
        self._conn.close()

    def _tx(self):
        return _Transaction(self._conn, self._lock)

    # -- the ledger ------------------------------------------------------------------------------------------------

    def initialised(self) -> bool:
        return bool(self._read("select 1 from meta where key = 'initialised_at'"))

    def known_files(self) -> set[str]:
        return {row[0] for row in self._read("select path from files")}

    def commit_files(self, files: Iterable[tuple[str, int, int, int, str | None]], queued: Iterable[Queued],
                     now: float) -> int:
        """Record files as read — (path, size, events, queued, note) — and queue their deliveries, atomically.

        Returns how many deliveries were new (the others were already queued or delivered: same dedup key).
        """
        with self._tx() as conn:
            conn.execute("insert or ignore into meta values ('initialised_at', ?)", [str(now)])
            before = conn.total_changes
            conn.executemany(
                "insert or ignore into outbox (dedup_key, target, rules, event_key, event, next_attempt_at, "
                "created_at) values (?, ?, ?, ?, ?, ?, ?)",
                [(q.dedup_key, q.target, json.dumps(q.rules), q.event_key, json.dumps(q.event), now, now)
                 for q in queued],
            )
            added = conn.total_changes - before
            conn.executemany("insert or replace into files values (?, ?, ?, ?, ?, ?)",
                             [(path, size, now, events, n, note) for path, size, events, n, note in files])
        return added

    # -- the outbox ------------------------------------------------------------------------------------------------

    def due(self, now: float, per_target: int) -> dict[str, list[Delivery]]:
        rows = self._read(
            "select dedup_key, target, rules, event, attempts, created_at from ("
            "  select *, row_number() over (partition by target order by next_attempt_at, created_at, dedup_key) as n"
            "  from outbox where state = 'pending' and next_attempt_at <= ?) "
            "where n <= ? order by target, n",
            [now, per_target],
        )
        due: dict[str, list[Delivery]] = {}
        for key, target, rules, event, attempts, created in rows:
            delivery = Delivery(key, target, json.loads(rules), json.loads(event), attempts, created)
            due.setdefault(target, []).append(delivery)
        return due

    def next_due(self) -> float | None:
        return self._read("select min(next_attempt_at) from outbox where state = 'pending'")[0][0]

    def delivered(self, item: Delivery, status: int | None, now: float) -> None:
        with self._tx() as conn:
            conn.execute("update outbox set state = 'delivered', attempts = attempts + 1, last_status = ?, "
                         "last_error = null, finished_at = ? where dedup_key = ?", [status, now, item.dedup_key])
            self._count(conn, item.target, delivered=1, last_success_at=now)

    def retry(self, item: Delivery, status: int | None, error: str | None, at: float, now: float) -> None:
        with self._tx() as conn:
            conn.execute("update outbox set attempts = attempts + 1, last_status = ?, last_error = ?, "
                         "next_attempt_at = ? where dedup_key = ?", [status, error, at, item.dedup_key])
            self._count(conn, item.target, retried=1, failed=1, last_failure_at=now)

    def dead(self, item: Delivery, status: int | None, error: str | None, now: float, attempted: bool = True) -> None:
        with self._tx() as conn:
            conn.execute("update outbox set state = 'dead', attempts = attempts + ?, last_status = ?, last_error = ?, "
                         "finished_at = ? where dedup_key = ?", [int(attempted), status, error, now, item.dedup_key])
            self._count(conn, item.target, failed=int(attempted), dead_lettered=1, last_failure_at=now)

    @staticmethod
    def _count(conn: sqlite3.Connection, target: str, last_success_at: float | None = None,
               last_failure_at: float | None = None, **counts: int) -> None:
        conn.execute("insert or ignore into target_stats (target) values (?)", [target])
        conn.execute(
            "update target_stats set delivered = delivered + ?, retried = retried + ?, failed = failed + ?, "
            "dead_lettered = dead_lettered + ?, last_success_at = coalesce(?, last_success_at), "
            "last_failure_at = coalesce(?, last_failure_at) where target = ?",
            [*(counts.get(c, 0) for c in COUNTERS), last_success_at, last_failure_at, target],
        )

    def prune(self, now: float) -> int:
        with self._tx() as conn:
            return conn.execute("delete from outbox where state <> 'pending' and finished_at < ?",
                                [now - RETENTION_SECONDS]).rowcount

    # -- status ----------------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per target: the counters, queue depth (pending deliveries), oldest pending, last success."""
        result: dict[str, dict[str, Any]] = {}
        for row in self._read("select target, delivered, retried, failed, dead_lettered, last_success_at, "
                              "last_failure_at from target_stats"):
            result[row[0]] = dict(zip(("delivered", "retried", "failed", "dead_lettered", "last_success_at",
                                       "last_failure_at"), row[1:], strict=True))
        for target, depth, oldest in self._read(
                "select target, count(*), min(created_at) from outbox where state = 'pending' group by target"):
            result.setdefault(target, {}).update(queue_depth=depth, oldest_pending_at=oldest)
        for values in result.values():
            for key in COUNTERS + ("queue_depth",):
                values.setdefault(key, 0)
            for key in ("last_success_at", "last_failure_at", "oldest_pending_at"):
                values.setdefault(key, None)
        return result

    def file_stats(self) -> dict[str, Any]:
        files, events, queued, last = self._read(
            "select count(*), coalesce(sum(events), 0), coalesce(sum(queued), 0), max(processed_at) from files")[0]
        return {"files": files, "events": events, "queued": queued, "last_processed_at": last}


class _Transaction:
    """``with store._tx() as conn``: one IMMEDIATE transaction under the store's lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock):
        self.conn, self.lock = conn, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.conn.execute("begin immediate")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("rollback" if exc_type else "commit")
        finally:
            self.lock.release()
