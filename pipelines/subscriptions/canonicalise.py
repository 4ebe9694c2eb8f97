"""Canonical events for landing-zone files without the warehouse, by the project's own SQL.

Delivery runs from the landing zone, not the warehouse (one writer; readers see the last build). To know an
event's stage, service, team and environment tier, the files are loaded into an in-memory DuckDB by the loader
and the staging models plus ``intermediate.canonical_events`` are run on them — the same SQL as ``lifecycle build``
(staging materialised as tables here, which binds faster), so a rule sees exactly what ``marts.lifecycle_events``
will say, configuration (lifecycle.toml) included.
Re-implementing the mapping in Python would drift from the models with every new source.

Each canonical row comes with the event as received (``raw.events``). A canonical event split from a received
one (a GitHub/GitLab push's commits, a Harbor event's further resources) has the event id
``<received id>:<suffix>`` and a key of its own; it is matched to its received event by that id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines import loader, modeling, warehouse

TARGET_MODEL = "intermediate.canonical_events"
# What a rule and a message may use: the columns of marts.lifecycle_events (the public contract) that are
# plain values, plus cluster and the environment tier.
ATTRIBUTE_COLUMNS = (
    "event_key", "event_id", "source_tool", "raw_type", "stage", "occurred_at", "received_at", "outcome",
    "repository", "commit_sha", "change_id", "pipeline_run_id", "artifact_id", "digest", "version", "service",
    "team", "app", "environment", "environment_tier", "cluster", "incident_id", "severity", "chain_id",
)

_QUERY = f"""
with canonical as (
    select * from {TARGET_MODEL}
),

direct as (
    select c.event_key, r.event_key as raw_key
    from canonical c
    join raw.events r on r.event_key = c.event_key
),

derived as (
    -- split from a received event: its id is `<received id>:<suffix>` (the longest such prefix wins)
    select c.event_key, arg_max(r.event_key, length(r.event_id)) as raw_key
    from canonical c
    join raw.events r on starts_with(c.event_id, r.event_id || ':')
    where c.event_key not in (select event_key from direct)
    group by c.event_key
)

select
    {", ".join(f"c.{col}" for col in ATTRIBUTE_COLUMNS)},
    coalesce(d.raw_key, s.raw_key) as raw_key,
    r.event_format, r.transport, r.event_id as raw_event_id, r.event_source, r.event_type as raw_event_type,
    r.spec_version, r.headers::varchar as headers, r.payload::varchar as payload, r.file, r.line, r.element
from canonical c
left join direct d using (event_key)
left join derived s using (event_key)
left join raw.events r on r.event_key = coalesce(d.raw_key, s.raw_key)
order by r.file, r.line, r.element, c.occurred_at, c.event_key
"""


@dataclass(frozen=True)
class CanonicalEvent:
    attributes: dict[str, Any]  # ATTRIBUTE_COLUMNS, JSON-ready (timestamps as ISO 8601 UTC strings)
    raw_key: str | None  # the received event's key (raw.events)
    # the received event: format, transport, id, source, type, specversion, headers, payload
    original: dict[str, Any] | None
    file: str | None = None
    line: int | None = None

    @property
    def key(self) -> str:
        return self.attributes["event_key"]


@dataclass
class Canonicalised:
    events: list[CanonicalEvent] = field(default_factory=list)
    records: int = 0
    quarantined: int = 0
    seconds: float = 0.0


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def model_selection() -> list[str]:
    """``intermediate.canonical_events`` and every model it depends on (the staging views), transitively."""
    models = modeling.discover_models()
    wanted: set[str] = set()
    stack = [TARGET_MODEL]
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(models[name].deps)
    return sorted(wanted)


def canonicalise(files: Sequence[Path], forced_source: str | None = None) -> Canonicalised:
    """Load ``files`` into a fresh in-memory DuckDB and return their canonical events in file order."""
    started = time.perf_counter()
    result = Canonicalised()
    if not files:
        return result
    conn = warehouse.connect(":memory:")
    try:
        warehouse.ensure_schema(conn)
        load = loader.load_files(conn, list(files), forced_source=forced_source)
        result.records, result.quarantined = load.total("records"), load.total("quarantined")
        modeling.create_macros(conn)
        wanted = set(model_selection())
        for model in modeling.build_order():
            if model.qualified not in wanted:
                continue
            if model.python is not None:
                modeling.run_model(conn, model)
            else:
                # every model as a table, staging included: DuckDB then binds each staging query once on its own
                # rather than the whole view tree inside canonical_events — half the time of a round
                conn.execute(f"create table {model.qualified} as\n{model.sql}")
        cursor = conn.execute(_QUERY)
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            rec = dict(zip(names, row, strict=True))
            original = None
            if rec["raw_key"] is not None:
                original = {
                    "format": rec["event_format"], "transport": rec["transport"], "id": rec["raw_event_id"],
                    "source": rec["event_source"], "type": rec["raw_event_type"], "specversion": rec["spec_version"],
                    "headers": json.loads(rec["headers"]) if rec["headers"] else {},
                    "payload": json.loads(rec["payload"]) if rec["payload"] is not None else None,
                }
            result.events.append(CanonicalEvent(
                attributes={col: _json_value(rec[col]) for col in ATTRIBUTE_COLUMNS},
                raw_key=rec["raw_key"], original=original, file=rec["file"], line=rec["line"],
            ))
    finally:
        conn.close()
    result.seconds = time.perf_counter() - started
    return result
