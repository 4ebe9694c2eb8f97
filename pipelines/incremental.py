"""Incremental materialisation of a model by load: the first build computes it in full, later builds only
for the ``raw.events`` of loads not folded in yet.

Why: parsing every payload again on every build is most of a build's time (``intermediate.canonical_events``
holds one row per event, extracted from its JSON). Events never change once loaded — ``raw.events`` is
append-only and deduplicated — so their canonical rows only need computing once, as long as nothing they were
computed from has changed. The **fingerprint** says what they were computed from: the model's SQL, the SQL of
the staging models it reads, ``models/macros.sql``, and the content of the configuration tables (``config.*``)
and of its other inputs. A different fingerprint means a full build.

The delta: ``raw.events`` rows of new loads go into a temp table; each staging model the model reads is
re-created as a temp view over that table (its SQL with ``raw.events`` swapped); the model's SQL then reads
those views. Rows of the delta replace the model's rows with the same key (delete, then insert). How a staging
model takes part depends on whether its rows read other events (its header says; docs/performance.md):

- plain, or ``-- incremental: per_event`` (window functions only within one event): the new events only;
- ``-- incremental: siblings (a, b, …)``: rows read other events of the same group — equal values of those
  output columns (a CDEvents run's started and finished events). The new events' groups are looked up in the
  model, and every event of those groups is recomputed. A row whose first column is null belongs to no group:
  it reads no other event (``staging.cdevents``' ``cdevents_run`` is null for a service's deployments, which
  would otherwise group every deployment of the service);
- ``-- incremental: recompute``, or any window function without a declaration (the safe default): read in
  full, every row replaced (Argo CD's and Flux's repeated-notification dedup, small sources).

Pure DuckDB, no Dagster imports.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import duckdb

from pipelines import changelog
from pipelines.warehouse import table_exists

if TYPE_CHECKING:
    from pipelines.modeling import Model

# Below this many stored events a full rebuild is cheaper than a delta: planning the ~20 staging queries for
# the delta (and again for the groups it touches) costs more than parsing a small warehouse's payloads
# (the sample's 5k events: 3 s full, 6 s by delta; a 1M-event warehouse: 100+ s full, seconds by delta).
MIN_EVENTS_FOR_DELTA = 200_000

STATE_DDL = """
create schema if not exists build_state;
create table if not exists build_state.incremental_models (
    model varchar primary key,       -- qualified name
    fingerprint varchar not null     -- what its rows were computed from (module docstring)
);
create table if not exists build_state.incremental_loads (
    model varchar not null,
    load_id varchar not null         -- a raw.events load already folded into the model
);
"""


def stored_fingerprint(conn: duckdb.DuckDBPyConnection, qualified: str) -> str | None:
    """The fingerprint the model's stored rows were computed with (None: never built incrementally)."""
    stored = conn.execute("select fingerprint from build_state.incremental_models where model = ?",
                          [qualified]).fetchone()
    return stored[0] if stored else None


def store_fingerprint(conn: duckdb.DuckDBPyConnection, qualified: str, fp: str) -> None:
    conn.execute("insert or replace into build_state.incremental_models values (?, ?)", [qualified, fp])


def _content_hash(conn: duckdb.DuckDBPyConnection, qualified: str) -> str:
    return conn.execute(
        f"select md5(coalesce(string_agg(t::varchar, chr(30) order by t::varchar), '')) from {qualified} t"
    ).fetchone()[0]


def fingerprint(conn: duckdb.DuckDBPyConnection, model: Model, content_of: list[str] | None = None) -> str:
    """Everything the model's rows were computed from, as one hash (module docstring): the content of the
    inputs in ``content_of`` (default: all), the SQL of staging ones."""
    from pipelines.modeling import MODELS_DIR, discover_models

    models = discover_models()
    parts = [model.sql, (MODELS_DIR / "macros.sql").read_text()]
    for dep in model.deps if content_of is None else content_of:
        upstream = models.get(dep)
        parts.append(upstream.sql if upstream and upstream.layer == "staging" else _content_hash(conn, dep))
    for (name,) in conn.execute("select table_name from duckdb_tables() where schema_name = 'config' "
                                "order by table_name").fetchall():
        parts.append(name + _content_hash(conn, f"config.{name}"))
    return hashlib.sha256(chr(31).join(parts).encode()).hexdigest()


_RAW_EVENTS = re.compile(r"\braw\.events\b")
_WINDOW = re.compile(r"\bover\s*\(|\bover\s+[a-z_]+\b|\bqualify\b", re.I)


def _swap(sql: str, qualified: str, replacement: str) -> str:
    """``sql`` reading ``replacement`` wherever it names the model ``qualified``."""
    return re.sub(rf"\b{re.escape(qualified)}\b", replacement, sql)


def _rebuild(conn: duckdb.DuckDBPyConnection, model: Model, fp: str, diff: bool) -> int:
    # each staging model into a temp table first: DuckDB then plans ~20 small queries instead of one tree of
    # ~20 views, which costs a third less (measured on a tiny warehouse, where planning is all the cost)
    from pipelines.modeling import discover_models

    models = discover_models()
    sql = model.sql
    staged = []
    try:
        for dep in model.deps:
            if models[dep].layer == "staging":
                table = f"_full_{models[dep].name}"
                conn.execute(f"create or replace temp table {table} as\n{models[dep].sql}")
                staged.append(table)
                sql = _swap(sql, dep, table)
        changelog.replace(conn, model.qualified, sql, diff=diff)
    finally:
        for table in staged:
            conn.execute(f"drop table if exists {table}")
    conn.execute("delete from build_state.incremental_loads where model = ?", [model.qualified])
    conn.execute("insert into build_state.incremental_loads select distinct ?, load_id from raw.events",
                 [model.qualified])
    store_fingerprint(conn, model.qualified, fp)
    return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0]


def read_in_full(upstream: Model) -> bool:
    """Whether incremental runs must read this staging model over all of raw.events (module docstring)."""
    from pipelines.modeling import _COMMENT

    if set(re.findall(r"\braw\.([a-z_]+)\b", upstream.sql)) != {"events"}:
        return True  # reads another raw table: no delta of it exists
    declared = upstream.incremental
    if declared in ("per_event", "siblings"):
        return False
    return declared == "recompute" or bool(_WINDOW.search(_COMMENT.sub("", upstream.sql)))


def delta_sql(model: Model, staging: dict[str, Model], events: str) -> tuple[str, dict[str, str]]:
    """The model's SQL over temp views of the delta, and those views (name → SQL). A staging model
    read in full keeps its name; a ``siblings`` one reads ``<events>_<name>`` (the delta and its groups)."""
    views: dict[str, str] = {}
    sql = model.sql
    for qualified, upstream in staging.items():
        if read_in_full(upstream):
            continue
        view = f"_delta_{upstream.name}"
        source = f"{events}_{upstream.name}" if upstream.sibling_columns else events
        views[view] = _RAW_EVENTS.sub(source, upstream.sql)
        sql = _swap(sql, qualified, view)
    return sql, views


def _widen_to_siblings(conn: duckdb.DuckDBPyConnection, model: Model, upstream: Model, events: str) -> None:
    """``<events>_<name>``: the new events plus every stored event in a group one of them belongs to (a null
    first column: no group)."""
    cols = upstream.sibling_columns
    alone = _RAW_EVENTS.sub(events, upstream.sql)
    match = " and ".join(f"m.{c} is not distinct from g.{c}" for c in cols)
    conn.execute(f"create or replace temp table _groups as select distinct {', '.join(cols)} from ({alone}) "
                 f"where {cols[0]} is not null")
    # the stored siblings found by key first (the key column alone), then read by rowid: DuckDB then reads only
    # the row groups holding them — filtered by key, it read the payloads of every stored event (10M events:
    # ~10 s for ~1,200 siblings, against ~1 s)
    conn.execute(f"""
        create or replace temp table _sibling_rowids as
        select rowid as sibling_rowid from raw.events
        where event_key in (select m.event_key from {model.qualified} m join _groups g on {match})
          and event_key not in (select event_key from {events})""")
    conn.execute(f"""
        create or replace temp table {events}_{upstream.name} as
        select * from {events}
        union all
        select * from raw.events where rowid in (select sibling_rowid from _sibling_rowids)""")
    conn.execute("drop table _groups")
    conn.execute("drop table _sibling_rowids")


def run(conn: duckdb.DuckDBPyConnection, model: Model, key: str,
        full_refresh: bool = False) -> tuple[int, str, int | None]:
    """Bring ``model`` up to date; returns (rows, mode, rows computed) with mode ``full``, ``incremental``
    or ``unchanged``."""
    from pipelines.modeling import discover_models

    conn.execute(STATE_DDL)
    fp = fingerprint(conn, model)
    if (full_refresh or stored_fingerprint(conn, model.qualified) != fp or not table_exists(conn, model.qualified)
            or conn.execute("select count(*) from raw.events").fetchone()[0] < MIN_EVENTS_FOR_DELTA):
        rows = _rebuild(conn, model, fp, diff=not full_refresh)
        return rows, "full", rows

    new_loads = [r[0] for r in conn.execute(
        "select distinct load_id from raw.events where load_id not in "
        "(select load_id from build_state.incremental_loads where model = ?)", [model.qualified]).fetchall()]
    if not new_loads:
        return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "unchanged", 0

    models = discover_models()
    staging = {d: models[d] for d in model.deps if models[d].layer == "staging"}
    conn.execute("create or replace temp table _delta_events as select * from raw.events "
                 "where load_id in (select unnest(?::varchar[]))", [new_loads])
    sql, views = delta_sql(model, staging, "_delta_events")
    widened = [u for u in staging.values() if u.sibling_columns and not read_in_full(u)]
    try:
        for upstream in widened:
            _widen_to_siblings(conn, model, upstream, "_delta_events")
        for view, view_sql in views.items():
            conn.execute(f"create or replace temp view {view} as\n{view_sql}")
        conn.execute(f"create or replace temp table _delta_rows as\n{sql}")
        computed = conn.execute("select count(*) from _delta_rows").fetchone()[0]
        changelog.replace_rows(conn, model.qualified, f"{key} in (select {key} from _delta_rows)",
                               "select * from _delta_rows")
        conn.execute("insert into build_state.incremental_loads select ?, unnest(?::varchar[])",
                     [model.qualified, new_loads])
    finally:
        conn.execute("drop table if exists _delta_rows")
        for view in views:
            conn.execute(f"drop view if exists {view}")
        for upstream in widened:
            conn.execute(f"drop table if exists _delta_events_{upstream.name}")
        conn.execute("drop table if exists _delta_events")
    return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "incremental", computed
