"""Alerts: conditions written in SQL, fired once per condition until it clears, emitted as CloudEvents.

Each alert kind is one query in ``pipelines/sql/alerts/<kind>.sql`` returning the conditions that are true
*now* (over the warehouse after a build), each with a stable ``condition_key``. The evaluator compares them
with ``alerts.state`` — one row per episode (condition key, fired_at, cleared_at, last_seen_at) — so that:

- a condition that is true and has no open episode **fires** (a new episode);
- a condition still true with an open episode stays quiet (its ``last_seen_at`` and figures are refreshed);
- an open episode whose condition is no longer true **clears**.

Fired and cleared alerts are written as structured CloudEvents (``dev.lifecycle.alert.fired.v1`` /
``.cleared.v1``) to ``<landing>/alerts/date=YYYY-MM-DD/``: the next load reads them back (staging.
lifecycle_alerts → stages ``alert_fired`` / ``alert_cleared``), and the subscriptions dispatcher, which reads
the landing zone, delivers them like any other lifecycle event. The file is written (fsync'd, renamed) before
the state is committed, so a crash in between re-emits the alert rather than losing it (at least once).

Pure Python and SQL; no Dagster import. The caller holds the writer lock (see ``pipelines.tasks``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.receiver.landing import fsync_dir

SQL_DIR = Path(__file__).parent / "sql" / "alerts"
KINDS = ("deployment_failed", "artifact_stuck", "vulnerable_in_production", "dora_regression")
SOURCE = "lifecycle-analytics/alerts"
FIRED = "dev.lifecycle.alert.fired.v1"
CLEARED = "dev.lifecycle.alert.cleared.v1"
LANDING_SUBDIR = "alerts"
CONDITION_COLUMNS = ("kind", "condition_key", "severity", "summary", "service", "team", "app", "environment",
                     "cluster", "artifact_id", "version", "deployment_id")

STATE_DDL = """
create schema if not exists alerts;
create table if not exists alerts.state (
    condition_key varchar not null,  -- kind/service/environment/…: what the alert is about, stable across runs
    kind varchar not null,           -- deployment_failed | artifact_stuck | vulnerable_in_production | dora_regression
    alert_id varchar not null,       -- the fired CloudEvent's id: a hash of condition_key and fired_at
    fired_at timestamptz not null,
    last_seen_at timestamptz not null,
    cleared_at timestamptz,          -- null while the condition holds (the alert is active)
    severity varchar,
    summary varchar,
    service varchar,
    team varchar,
    app varchar,
    environment varchar,
    cluster varchar,
    artifact_id varchar,
    version varchar,
    deployment_id varchar,
    details json,                    -- the figures behind it, refreshed while it holds
    primary key (condition_key, fired_at)
);
"""


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the ``dora_regression`` alert (environment: ``LIFECYCLE_ALERT_LEAD_TIME_INCREASE``,
    ``LIFECYCLE_ALERT_MIN_N``): a lead time p50 up by more than ``lead_time_increase`` (0.5 = +50 %), and at
    least ``min_n`` figures behind both windows — fewer say nothing about a trend."""

    lead_time_increase: float = 0.5
    min_n: int = 5

    @classmethod
    def from_env(cls, **overrides: float | int | None) -> AlertSettings:
        values = {
            "lead_time_increase": float(os.environ.get("LIFECYCLE_ALERT_LEAD_TIME_INCREASE", cls.lead_time_increase)),
            "min_n": int(os.environ.get("LIFECYCLE_ALERT_MIN_N", cls.min_n)),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["lead_time_increase"] < 0 or values["min_n"] < 1:
            raise ValueError("alert thresholds: lead_time_increase must be >= 0 and min_n >= 1")
        return cls(**values)


@dataclass
class Condition:
    kind: str
    condition_key: str
    severity: str
    summary: str
    service: str | None = None
    team: str | None = None
    app: str | None = None
    environment: str | None = None
    cluster: str | None = None
    artifact_id: str | None = None
    version: str | None = None
    deployment_id: str | None = None
    details: dict = field(default_factory=dict)


@dataclass
class Evaluation:
    fired: list[dict]  # the CloudEvents emitted, in the file's order
    cleared: list[dict]
    active: int  # open episodes after this evaluation
    file: Path | None  # the landing-zone file written (None: nothing fired or cleared)

    @property
    def changed(self) -> bool:
        return bool(self.fired or self.cleared)


def query_text(kind: str) -> str:
    return (SQL_DIR / f"{kind}.sql").read_text()


def definition(kind: str) -> str:
    """The query's leading comment block: the alert kind defined in words (shown by docs and the CLI)."""
    lines = []
    for line in query_text(kind).splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(lines)


def conditions(conn: duckdb.DuckDBPyConnection, settings: AlertSettings | None = None,
               kinds: tuple[str, ...] = KINDS) -> list[Condition]:
    """Every condition true now, over all kinds, ordered by key. Thresholds are bound as parameters."""
    settings = settings or AlertSettings()
    values = {"lead_time_increase": settings.lead_time_increase, "min_n": settings.min_n}
    found: list[Condition] = []
    for kind in kinds:
        sql = query_text(kind)
        params = {name: values[name] for name in sorted(set(re.findall(r"\$([a-z_]+)", sql)))}
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            record = dict(zip(names, row, strict=True))
            found.append(Condition(**{c: record[c] for c in CONDITION_COLUMNS},
                                   details=json.loads(record["details"]) if record["details"] else {}))
    return sorted(found, key=lambda c: c.condition_key)


def ensure_state(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(STATE_DDL)


def alert_id(condition_key: str, fired_at: datetime, suffix: str = "") -> str:
    """A stable CloudEvent id for an episode: the same condition and firing time always give the same id.

    The cleared event gets its own id (``suffix='cleared'``): CloudEvents requires source + id to be unique
    per distinct event, and receivers deduplicate on it."""
    text = "\x1f".join((condition_key, _iso(fired_at), suffix))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def cloudevent(event_type: str, episode: dict, now: datetime) -> dict:
    """A structured CloudEvent for an episode (``episode``: a row of ``alerts.state``)."""
    cleared = event_type == CLEARED
    data = {c: episode.get(c) for c in CONDITION_COLUMNS}
    data.update(alert_id=episode["alert_id"], fired_at=_iso(episode["fired_at"]),
                cleared_at=_iso(now) if cleared else None, values=episode.get("details") or {})
    return {
        "specversion": "1.0",
        "id": alert_id(episode["condition_key"], episode["fired_at"], "cleared") if cleared else episode["alert_id"],
        "source": SOURCE,
        "type": event_type,
        "subject": episode["condition_key"],
        "time": _iso(now),
        "datacontenttype": "application/json",
        "data": data,
    }


def write_events(landing: Path, events: list[dict], now: datetime) -> Path:
    """Write the events as one NDJSON file into ``<landing>/alerts/date=YYYY-MM-DD/``, atomically and durably.

    Written under a hidden temporary name (the loader and the sensor skip it), fsync'd, then renamed; the
    directory is fsync'd so the name survives a crash. ``alerts-<UTC timestamp>-<n>.ndjson``: n keeps two
    evaluations in the same microsecond apart."""
    directory = Path(landing) / LANDING_SUBDIR / f"date={now.astimezone(UTC):%Y-%m-%d}"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    n = 1
    while (directory / f"alerts-{stamp}-{n}.ndjson").exists():
        n += 1
    target = directory / f"alerts-{stamp}-{n}.ndjson"
    tmp = directory / f".{target.name}.{os.getpid()}.tmp"
    payload = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=str) + "\n" for e in events)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(directory)
    return target


def _episode(condition: Condition, fired_at: datetime) -> dict:
    row = {c: getattr(condition, c) for c in CONDITION_COLUMNS}
    row.update(alert_id=alert_id(condition.condition_key, fired_at), fired_at=fired_at, details=condition.details)
    return row


def active_episodes(conn: duckdb.DuckDBPyConnection) -> list[dict]:
    """The open episodes (active alerts), oldest first; none when alerts were never evaluated here."""
    exists = conn.execute("select count(*) from information_schema.tables "
                          "where table_schema = 'alerts' and table_name = 'state'").fetchone()[0]
    if not exists:
        return []
    cursor = conn.execute("select * from alerts.state where cleared_at is null order by fired_at, condition_key")
    names = [d[0] for d in cursor.description]
    episodes = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for e in episodes:
        e["details"] = json.loads(e["details"]) if e["details"] else {}
    return episodes


def evaluate(conn: duckdb.DuckDBPyConnection, landing: Path, settings: AlertSettings | None = None,
             now: datetime | None = None) -> Evaluation:
    """Compare the conditions true now with the open episodes; emit fired / cleared; update the state.

    ``now`` (UTC, default the wall clock) is the firing / clearing time — never the data's time, which the
    conditions already carry in their figures."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    built = conn.execute("select count(*) from information_schema.tables "
                         "where table_schema = 'marts' and table_name = 'dora_metrics'").fetchone()[0]
    if not built:
        raise ValueError("nothing to evaluate alerts on: the marts are not built yet (run `lifecycle build`)")
    ensure_state(conn)
    current = {c.condition_key: c for c in conditions(conn, settings)}
    open_ = {e["condition_key"]: e for e in active_episodes(conn)}
    new = [_episode(current[k], now) for k in sorted(current.keys() - open_.keys())]
    gone = [open_[k] for k in sorted(open_.keys() - current.keys())]
    held = [current[k] for k in sorted(current.keys() & open_.keys())]
    fired = [cloudevent(FIRED, e, now) for e in new]
    cleared = []
    for e in gone:
        e["details"] = e.get("details") or {}
        cleared.append(cloudevent(CLEARED, e, now))
    conn.execute("begin transaction")
    try:
        for e in new:
            conn.execute(
                "insert into alerts.state (condition_key, kind, alert_id, fired_at, last_seen_at, severity, summary, "
                "service, team, app, environment, cluster, artifact_id, version, deployment_id, details) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [e["condition_key"], e["kind"], e["alert_id"], now, now, e["severity"], e["summary"], e["service"],
                 e["team"], e["app"], e["environment"], e["cluster"], e["artifact_id"], e["version"],
                 e["deployment_id"], json.dumps(e["details"], default=str)])
        for e in gone:
            conn.execute("update alerts.state set cleared_at = ? where condition_key = ? and fired_at = ?",
                         [now, e["condition_key"], e["fired_at"]])
        for c in held:
            conn.execute(
                "update alerts.state set last_seen_at = ?, severity = ?, summary = ?, details = ? "
                "where condition_key = ? and cleared_at is null",
                [now, c.severity, c.summary, json.dumps(c.details, default=str), c.condition_key])
        path = write_events(landing, fired + cleared, now) if fired or cleared else None
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return Evaluation(fired, cleared, len(current), path)
