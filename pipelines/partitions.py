"""Incremental maintenance of a model by partition: ``-- incremental: partition (artifact_id)``.

Why: a model whose rows for one value of a key depend only on its inputs' rows with that same value (every
CTE of ``marts.stage_durations`` works within one artifact) needs recomputing only for the values whose
input rows changed. A load of 10k events on top of 10M touches well under 1 % of the artifacts; recomputing
the other 99 % is most of an incremental build.

What changed: an input that is a **logged model** (pipelines/changelog.py — every model an incremental model
reads) says itself which rows each of its writes changed; the key values (and link values) of its rows changed
since this model last read it are the changed values — a read of a few thousand logged rows, not of the input.
Any other input holding the key column is compared by content: a hash of its rows per key value (the sum of the
rows' hashes, and their count) is kept in ``build_state`` from the model's last build, and the next build
computes the same per-value hashes (one aggregate over the input) and takes the values whose hash differs. The
model is then recomputed for the changed values — new, changed or gone — by reading each input through a view
filtered to them, and its rows for them replaced (and logged, when a model reads it in turn). Nothing depends on
the order of models or on running in one process: a Dagster asset run of the model alone works the same way
(a reader keeps the version of each input it last read; an input's log keeps every later write).

**Link columns** — ``-- incremental: partition (artifact_id, chain_id, commit_sha)``: the key, then columns
through which rows *without* the key belong to a key value (``intermediate.artifact_events`` gives an artifact
the events of its CI chain and of its commit, which name no artifact). Each input's rows are then also hashed
per value of each link column; a changed link value makes dirty every key value that some input row links to
it (a row holding both), and recomputing a key value reads the input rows of its own key *or* of any link
value of its. What the declaration promises: a key value's rows depend only on input rows with that key or
sharing a link value with a row of that key.

A hashed input that stores a hash of the rest of each row in a ``row_hash`` column, written with the row, has
that column summed instead of hashing every wide row again.

A null key is one more value (rows without an artifact form one partition) — unless link columns are declared:
rows without the key then count only through their link values. A model whose own rows may have a null key
says so — ``-- incremental: partition (service, artifact_id) with null key`` (a deployment whose event and
artifact name no service): the null key is then a value again, made dirty by its rows' changes and by their
links.

A full build instead, when: no stored state, a different fingerprint (the model's SQL, the macros, the
configuration tables and the content of its **context** inputs — those without the key column, whose every
change may touch every value), a logged input whose changes since the last read are unknown (its log started
again: a full refresh, new columns), or the model reads a staging view (raw events change with every load).
``lifecycle build --full-refresh`` forces one.
Rows written by partition land at the table's end: its written-in-time-order layout (the dashboard's date
filters skip row groups by it) degrades slowly until the next full build.

Pure DuckDB, no Dagster imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from pipelines import changelog, incremental
from pipelines.warehouse import columns, table_exists

if TYPE_CHECKING:
    from pipelines.modeling import Model

# an input's column holding a hash of the rest of its row, written with the row (intermediate.canonical_events,
# by load): summed as it is, instead of hashing every wide row again each build
ROW_HASH = "row_hash"

# a key value as text, null included: `coalesce(key::varchar, NULL_KEY) in (…)` matches a null key too
NULL_KEY = "chr(0)"

# the hashes of a model's inputs now, per (input, key value): what find_dirty compares with the stored state
CURRENT_DDL = ("create or replace temp table _partition_current (input varchar, key_value varchar, row_hash hugeint, "
               "row_count bigint)")

# what a run leaves to drop: the current hashes, the changed pairs, the dirty keys (find_dirty)
TEMP_TABLES = ("_partition_current", "_partition_changed", "_partition_dirty")

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
    return {name for name, _type in columns(conn, qualified)}


def split_inputs(conn: duckdb.DuckDBPyConnection, model: Model, key: str) -> tuple[list[str], list[str]]:
    """(partitioned inputs — holding the ``key`` column, context inputs — the rest) of ``model``."""
    partitioned, context = [], []
    for dep in model.deps:
        (partitioned if key in _columns(conn, dep) else context).append(dep)
    return partitioned, context


def _links_of(conn: duckdb.DuckDBPyConnection, dep: str, links: tuple[str, ...]) -> list[str]:
    """The link columns ``dep`` holds."""
    return [c for c in links if c in _columns(conn, dep)]


def _hash_current(conn: duckdb.DuckDBPyConnection, links_of: dict[str, list[str]], key: str, linked: bool) -> None:
    """``_partition_current``: each input's per-value hashes now — per key value (``input`` = the table) and,
    with link columns (``links_of``: those each input holds), per value of each (``input`` = ``table:column``)."""
    conn.execute(CURRENT_DDL)
    for dep, dep_links in links_of.items():
        # each row hashed once (or its stored ROW_HASH read), then grouped by the key and by each link column
        row_hash = ROW_HASH if ROW_HASH in _columns(conn, dep) else "hash(t)"
        conn.execute(f"create or replace temp table _partition_rows_hashed as select {', '.join([key, *dep_links])}, "
                     f"{row_hash} as row_hash from {dep} t")
        _per_value(conn, "_partition_current", "_partition_rows_hashed", dep, key, dep_links, linked,
                   ", sum(row_hash), count(*)")
    conn.execute("drop table if exists _partition_rows_hashed")


def _per_value(conn: duckdb.DuckDBPyConnection, target: str, rows: str, dep: str, key: str, dep_links: list[str],
               linked: bool, measures: str = "") -> None:
    """Insert into ``target`` one row per value of ``key`` in ``rows`` — ``(dep, value, measures…)``, a null key
    left out when ``linked`` — and per value of each link column — ``(dep:column, value, …)``."""
    per_value = [(dep, key, f" where ({key}) is not null" if linked else ""),
                 *[(f"{dep}:{column}", column, f" where {column} is not null") for column in dep_links]]
    for label, expression, where in per_value:
        conn.execute(f"insert into {target} select ?, ({expression})::varchar{measures} from {rows}{where} "
                     f"group by all", [label])


def _pair(input_column: str, value_column: str) -> str:
    """An (input, value) pair as one comparable text, a null value included."""
    return f"{input_column} || chr(1) || coalesce({value_column}, {NULL_KEY})"


def store_hashes(conn: duckdb.DuckDBPyConnection, qualified: str, changed_only: bool) -> None:
    """Keep ``_partition_current`` as the model's state: all of it, or only the pairs in ``_partition_changed``."""
    if changed_only:
        changed = f"(select {_pair('input', 'key_value')} from _partition_changed)"
        conn.execute(f"delete from build_state.partition_hashes where model = ? "
                     f"and {_pair('input', 'key_value')} in {changed}", [qualified])
        conn.execute(f"insert into build_state.partition_hashes select ?, c.* from _partition_current c "
                     f"where {_pair('c.input', 'c.key_value')} in {changed}", [qualified])
    else:
        conn.execute("delete from build_state.partition_hashes where model = ?", [qualified])
        conn.execute("insert into build_state.partition_hashes select ?, * from _partition_current", [qualified])


def in_dirty(column: str) -> str:
    """A predicate: ``column`` (null included) is one of the values to recompute."""
    return (f"coalesce({column}::varchar, {NULL_KEY}) in "
            f"(select coalesce(key_value, {NULL_KEY}) from _partition_dirty)")


def find_dirty(conn: duckdb.DuckDBPyConnection, qualified: str, logged: bool = False) -> int:
    """``_partition_changed``: the (input, value) pairs whose hash in ``_partition_current`` differs from the model's
    stored one — new, changed or gone — and, with ``logged``, the pairs of ``_partition_logged`` (read from the
    inputs' logs: ``read_logs``); ``_partition_dirty``: the key values among them. Returns how many."""
    conn.execute("""
        create or replace temp table _partition_changed as
        select coalesce(c.input, s.input) as input, coalesce(c.key_value, s.key_value) as key_value
        from _partition_current c
        full join (select * from build_state.partition_hashes where model = ?) s
            on s.input = c.input and s.key_value is not distinct from c.key_value
        where c.row_hash is distinct from s.row_hash or c.row_count is distinct from s.row_count""", [qualified])
    if logged:
        conn.execute("insert into _partition_changed select * from _partition_logged")
    conn.execute("create or replace temp table _partition_dirty as select distinct key_value "
                 "from _partition_changed where input not like '%:%'")
    return conn.execute("select count(*) from _partition_dirty").fetchone()[0]


def read_logs(conn: duckdb.DuckDBPyConnection, qualified: str, logged: dict[str, list[str]], key: str,
              linked: bool) -> bool:
    """``_partition_logged``: the (input, value) pairs of the rows each logged input (→ its link columns) changed
    since the model last read it (pipelines/changelog.py), named as ``_hash_current`` names them: per value of
    ``key`` (a column or an expression; null excluded when ``linked``) and of each link column. False when an
    input's changes are unknown: build in full."""
    conn.execute("create or replace temp table _partition_logged (input varchar, key_value varchar)")
    try:
        for dep, dep_links in logged.items():
            if not changelog.changes_since(conn, qualified, dep, "_partition_log_rows"):
                return False
            _per_value(conn, "_partition_logged", "_partition_log_rows", dep, key, dep_links, linked)
        return True
    finally:
        conn.execute("drop table if exists _partition_log_rows")


def _dirty_from_links(conn: duckdb.DuckDBPyConnection, links_of: dict[str, list[str]], key: str,
                      linked: bool) -> None:
    """Add to ``_partition_dirty`` the key values linked to a changed link value (by any input row holding both —
    the value may have changed in another input: an artifact's row in one, its arrivals under another key in the
    next; a null key left out when ``linked``, as ``_per_value`` leaves it out), then list in
    ``_partition_link_values`` every link value of the dirty keys: the rows to read with them."""
    pairs = [(dep, column) for dep, dep_links in links_of.items() for column in dep_links]
    for dep, column in pairs:
        changed = [f"{d}:{column}" for d, d_links in links_of.items() if column in d_links]
        with_key = f"{key} is not null and " if linked else ""
        conn.execute(f"insert into _partition_dirty select distinct {key}::varchar from {dep} "
                     f"where {with_key}{column}::varchar in (select key_value from _partition_changed "
                     f"where input in (select unnest(?::varchar[]))) and not {in_dirty(key)}", [changed])
    conn.execute("create or replace temp table _partition_link_values (link varchar, value varchar)")
    for dep, column in pairs:
        conn.execute(f"insert into _partition_link_values select distinct ?, {column}::varchar from {dep} "
                     f"where {column} is not null and {in_dirty(key)}", [column])


def _rows_to_read(dep_links: list[str], key: str) -> str:
    """A predicate on an input's rows: its key is dirty, or it shares a link value with a dirty key."""
    return " or ".join([in_dirty(key)] + [
        f"{c}::varchar in (select value from _partition_link_values where link = '{c}')" for c in dep_links])


def full_build(conn: duckdb.DuckDBPyConnection, model: Model, fp: str, diff: bool = True) -> tuple[int, str, int]:
    """Build ``model`` in full and keep its input hashes (``_partition_current``), fingerprint and the versions of
    its logged inputs as its state (``diff``: log its changes by comparing with its previous rows)."""
    changelog.replace(conn, model.qualified, model.sql, diff=diff)
    store_hashes(conn, model.qualified, changed_only=False)
    incremental.store_fingerprint(conn, model.qualified, fp)
    changelog.mark_read(conn, model.qualified, model.deps)
    rows = conn.execute(f"select count(*) from {model.qualified}").fetchone()[0]
    return rows, "full", rows


def run(conn: duckdb.DuckDBPyConnection, model: Model, full_refresh: bool = False) -> tuple[int, str, int | None]:
    """Bring ``model`` up to date; returns (rows, mode, rows computed) with mode ``full``, ``incremental``
    or ``unchanged`` (module docstring)."""
    conn.execute(incremental.STATE_DDL)
    conn.execute(STATE_DDL)
    conn.execute(changelog.STATE_DDL)
    key, links = model.partition_column, model.partition_links
    # with link columns, rows without the key count only through their links — unless the model keeps a null key
    linked = bool(links) and not model.partition_keeps_null
    partitioned, context = split_inputs(conn, model, key)
    links_of = {dep: _links_of(conn, dep, links) for dep in partitioned}
    fp = incremental.fingerprint(conn, model, content_of=context)
    reads_staging = any(dep.startswith("staging.") for dep in model.deps)
    # an input keeping a log of its changes is read from it; the others are hashed
    logged = {dep: dep_links for dep, dep_links in links_of.items() if changelog.is_logged(conn, dep)}
    try:
        _hash_current(conn, {d: ls for d, ls in links_of.items() if d not in logged}, key, linked=linked)
        if (full_refresh or reads_staging or not partitioned
                or incremental.stored_fingerprint(conn, model.qualified) != fp
                or not table_exists(conn, model.qualified)
                or not read_logs(conn, model.qualified, logged, key, linked=linked)):
            return full_build(conn, model, fp, diff=not full_refresh)
        find_dirty(conn, model.qualified, logged=True)
        if links:
            _dirty_from_links(conn, links_of, key, linked)
        dirty = conn.execute("select count(*) from _partition_dirty").fetchone()[0]
        if not dirty:
            store_hashes(conn, model.qualified, changed_only=True)  # link values that changed without touching a key
            changelog.mark_read(conn, model.qualified, model.deps)
            return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "unchanged", 0
        sql = model.sql
        views = []
        for dep in partitioned:
            view = f"_partition_{dep.replace('.', '_')}"
            conn.execute(f"create or replace temp view {view} as select * from {dep} "
                         f"where {_rows_to_read(links_of[dep], key)}")
            views.append(view)
            sql = incremental._swap(sql, dep, view)
        try:
            # only the dirty keys' rows: read through a link, a clean key's rows may be partial
            conn.execute(f"create or replace temp table _partition_rows as\nselect * from (\n{sql}\n) "
                         f"where {in_dirty(key)}")
            computed = conn.execute("select count(*) from _partition_rows").fetchone()[0]
            changelog.replace_rows(conn, model.qualified, in_dirty(key), "select * from _partition_rows")
            store_hashes(conn, model.qualified, changed_only=True)
            changelog.mark_read(conn, model.qualified, model.deps)
        finally:
            conn.execute("drop table if exists _partition_rows")
            for view in views:
                conn.execute(f"drop view if exists {view}")
        return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "incremental", computed
    finally:
        for table in (*TEMP_TABLES, "_partition_link_values", "_partition_logged"):
            conn.execute(f"drop table if exists {table}")
