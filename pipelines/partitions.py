"""Incremental maintenance of a model by partition: ``-- incremental: partition (artifact_id)``.

Why: a model whose rows for one value of a key depend only on its inputs' rows with that same value (every
CTE of ``marts.stage_durations`` works within one artifact) needs recomputing only for the values whose
input rows changed. A load of 10k events on top of 10M touches well under 1 % of the artifacts; recomputing
the other 99 % is most of an incremental build.

What changed is found by content, not by lineage: for every input table holding the key column, a hash of
its rows per key value (the sum of the rows' hashes, and their count) is kept in ``build_state`` from the
model's last build. The next build computes the same per-value hashes (one aggregate over the input) and
recomputes the model for the values whose hash differs — new, changed or gone — by reading each input
through a view filtered to those values, then replacing the model's rows for them. Nothing depends on the
order of models or on running in one process: a Dagster asset run of the model alone works the same way.

A null key is one more value (rows without an artifact form one partition). A full build instead, when: no
stored state, a different fingerprint (the model's SQL, the macros, the configuration tables and the content
of its **context** inputs — those without the key column, whose every change may touch every value), or the
model reads a staging view (raw events change with every load). ``lifecycle build --full-refresh`` forces one.
Rows written by partition land at the table's end: its written-in-time-order layout (the dashboard's date
filters skip row groups by it) degrades slowly until the next full build.

Pure DuckDB, no Dagster imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from pipelines import incremental

if TYPE_CHECKING:
    from pipelines.modeling import Model

# a key value as text, null included: `coalesce(key::varchar, NULL_KEY) in (…)` matches a null key too
NULL_KEY = "chr(0)"

STATE_DDL = """
create schema if not exists build_state;
create table if not exists build_state.partition_hashes (
    model varchar not null,      -- the partitioned model
    input varchar not null,      -- one of its inputs holding the key column
    key_value varchar,           -- a value of the key, as text
    row_hash hugeint not null,   -- sum of hash(row) over the input's rows with that value
    row_count bigint not null
);
"""


def _columns(conn: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    schema, name = qualified.split(".")
    return {r[0] for r in conn.execute(
        "select column_name from duckdb_columns() where database_name = current_database() and schema_name = ? "
        "and table_name = ?",
        [schema, name]).fetchall()}


def split_inputs(conn: duckdb.DuckDBPyConnection, model: Model) -> tuple[list[str], list[str]]:
    """(partitioned inputs — holding the key column, context inputs — the rest) of ``model``."""
    key = model.partition_column
    partitioned, context = [], []
    for dep in model.deps:
        (partitioned if key in _columns(conn, dep) else context).append(dep)
    return partitioned, context


def _hash_current(conn: duckdb.DuckDBPyConnection, inputs: list[str], key: str) -> None:
    """``_partition_current``: each input's per-value hashes now."""
    if not inputs:
        conn.execute("create or replace temp table _partition_current (input varchar, key_value varchar, "
                     "row_hash hugeint, row_count bigint)")
        return
    parts = [f"select ?::varchar as input, {key}::varchar as key_value, sum(hash(t)) as row_hash, "
             f"count(*) as row_count from {dep} t group by all" for dep in inputs]
    conn.execute("create or replace temp table _partition_current as\n" + "\nunion all\n".join(parts), inputs)


def _store_hashes(conn: duckdb.DuckDBPyConnection, model: Model, changed_only: bool) -> None:
    if changed_only:
        conn.execute(f"delete from build_state.partition_hashes where model = ? and {_in_dirty('key_value')}",
                     [model.qualified])
        conn.execute(f"insert into build_state.partition_hashes select ?, c.* from _partition_current c "
                     f"where {_in_dirty('key_value')}", [model.qualified])
    else:
        conn.execute("delete from build_state.partition_hashes where model = ?", [model.qualified])
        conn.execute("insert into build_state.partition_hashes select ?, * from _partition_current",
                     [model.qualified])


def _in_dirty(column: str) -> str:
    """A predicate: ``column`` (null included) is one of the values to recompute."""
    return (f"coalesce({column}::varchar, {NULL_KEY}) in "
            f"(select coalesce(key_value, {NULL_KEY}) from _partition_dirty)")


def _full(conn: duckdb.DuckDBPyConnection, model: Model, fp: str) -> tuple[int, str, int]:
    conn.execute(f"create or replace table {model.qualified} as\n{model.sql}")
    _store_hashes(conn, model, changed_only=False)
    incremental.store_fingerprint(conn, model, fp)
    rows = conn.execute(f"select count(*) from {model.qualified}").fetchone()[0]
    return rows, "full", rows


def run(conn: duckdb.DuckDBPyConnection, model: Model, full_refresh: bool = False) -> tuple[int, str, int | None]:
    """Bring ``model`` up to date; returns (rows, mode, rows computed) with mode ``full``, ``incremental``
    or ``unchanged`` (module docstring)."""
    conn.execute(incremental.STATE_DDL)
    conn.execute(STATE_DDL)
    key = model.partition_column
    partitioned, context = split_inputs(conn, model)
    fp = incremental.fingerprint(conn, model, content_of=context)
    reads_staging = any(dep.startswith("staging.") for dep in model.deps)
    try:
        _hash_current(conn, partitioned, key)
        if (full_refresh or reads_staging or not partitioned or incremental.stored_fingerprint(conn, model) != fp
                or not incremental._table_exists(conn, model.qualified)):
            return _full(conn, model, fp)
        conn.execute("""
            create or replace temp table _partition_dirty as
            select distinct coalesce(c.key_value, s.key_value) as key_value
            from _partition_current c
            full join (select * from build_state.partition_hashes where model = ?) s
                on s.input = c.input and s.key_value is not distinct from c.key_value
            where c.row_hash is distinct from s.row_hash or c.row_count is distinct from s.row_count""",
                     [model.qualified])
        dirty = conn.execute("select count(*) from _partition_dirty").fetchone()[0]
        if not dirty:
            return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "unchanged", 0
        sql = model.sql
        views = []
        for dep in partitioned:
            view = f"_partition_{dep.replace('.', '_')}"
            conn.execute(f"create or replace temp view {view} as select * from {dep} where {_in_dirty(key)}")
            views.append(view)
            sql = incremental._swap(sql, dep, view)
        try:
            conn.execute(f"create or replace temp table _partition_rows as\n{sql}")
            computed = conn.execute("select count(*) from _partition_rows").fetchone()[0]
            conn.execute(f"delete from {model.qualified} where {_in_dirty(key)}")
            conn.execute(f"insert into {model.qualified} by name select * from _partition_rows")
            _store_hashes(conn, model, changed_only=True)
        finally:
            conn.execute("drop table if exists _partition_rows")
            for view in views:
                conn.execute(f"drop view if exists {view}")
        return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "incremental", computed
    finally:
        conn.execute("drop table if exists _partition_current")
        conn.execute("drop table if exists _partition_dirty")
