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
those views. A staging model marked ``-- incremental: recompute`` (rows that depend on other events, e.g.
Argo CD's repeated-notification dedup) is read in full instead, and its rows are replaced too. Rows of the
delta replace the model's rows with the same key (delete, then insert). Pure DuckDB, no Dagster imports.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from pipelines.modeling import Model

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


def _table_exists(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return bool(conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ? and not temporary",
        [schema, name]).fetchone()[0])


def _content_hash(conn: duckdb.DuckDBPyConnection, qualified: str) -> str:
    return conn.execute(
        f"select md5(coalesce(string_agg(t::varchar, chr(30) order by t::varchar), '')) from {qualified} t"
    ).fetchone()[0]


def fingerprint(conn: duckdb.DuckDBPyConnection, model: Model) -> str:
    """Everything the model's rows were computed from, as one hash (module docstring)."""
    from pipelines.modeling import MODELS_DIR, discover_models

    models = discover_models()
    parts = [model.sql, (MODELS_DIR / "macros.sql").read_text()]
    for dep in model.deps:
        upstream = models[dep]
        parts.append(upstream.sql if upstream.layer == "staging" else _content_hash(conn, dep))
    for (name,) in conn.execute("select table_name from duckdb_tables() where schema_name = 'config' "
                                "order by table_name").fetchall():
        parts.append(name + _content_hash(conn, f"config.{name}"))
    return hashlib.sha256(chr(31).join(parts).encode()).hexdigest()


def _rebuild(conn: duckdb.DuckDBPyConnection, model: Model, fp: str) -> int:
    conn.execute(f"create or replace table {model.qualified} as\n{model.sql}")
    conn.execute("delete from build_state.incremental_loads where model = ?", [model.qualified])
    conn.execute("insert into build_state.incremental_loads select distinct ?, load_id from raw.events",
                 [model.qualified])
    conn.execute("insert or replace into build_state.incremental_models values (?, ?)", [model.qualified, fp])
    return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0]


def delta_sql(model: Model, staging: dict[str, Model], events: str) -> tuple[str, dict[str, str]]:
    """The model's SQL over temp views of the delta, and those views (name → SQL). A staging model that
    reads anything besides ``raw.events``, or is marked ``recompute``, keeps reading its full input."""
    views: dict[str, str] = {}
    sql = model.sql
    for qualified, upstream in staging.items():
        if upstream.incremental == "recompute" or set(re.findall(r"\braw\.([a-z_]+)\b", upstream.sql)) != {"events"}:
            continue
        view = f"_delta_{upstream.name}"
        views[view] = re.sub(r"\braw\.events\b", events, upstream.sql)
        sql = re.sub(rf"\b{re.escape(qualified)}\b", view, sql)
    return sql, views


def run(conn: duckdb.DuckDBPyConnection, model: Model, key: str,
        full_refresh: bool = False) -> tuple[int, str, int | None]:
    """Bring ``model`` up to date; returns (rows, mode, rows computed) with mode ``full``, ``incremental``
    or ``unchanged``."""
    from pipelines.modeling import discover_models

    conn.execute(STATE_DDL)
    fp = fingerprint(conn, model)
    stored = conn.execute("select fingerprint from build_state.incremental_models where model = ?",
                          [model.qualified]).fetchone()
    if full_refresh or stored is None or stored[0] != fp or not _table_exists(conn, model.qualified):
        rows = _rebuild(conn, model, fp)
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
    try:
        for view, view_sql in views.items():
            conn.execute(f"create or replace temp view {view} as\n{view_sql}")
        conn.execute(f"create or replace temp table _delta_rows as\n{sql}")
        computed = conn.execute("select count(*) from _delta_rows").fetchone()[0]
        conn.execute(f"delete from {model.qualified} where {key} in (select {key} from _delta_rows)")
        conn.execute(f"insert into {model.qualified} by name select * from _delta_rows")
        conn.execute("insert into build_state.incremental_loads select ?, unnest(?::varchar[])",
                     [model.qualified, new_loads])
    finally:
        conn.execute("drop table if exists _delta_rows")
        for view in views:
            conn.execute(f"drop view if exists {view}")
        conn.execute("drop table if exists _delta_events")
    return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "incremental", computed
