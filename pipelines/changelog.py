"""What each write of a model changed, kept for the models that incremental models read: those then read the
changed rows of their inputs instead of hashing every input row again.

Why: a model kept by partition or period (pipelines/partitions.py, pipelines/periods.py) must find the key
values — artifacts, days — whose input rows changed. Hashing its inputs per key value each build finds them
whatever wrote the inputs, but costs a scan of every input row, whatever the size of the load: at 10M events
the 11M canonical events per artifact, chain and commit, the 7.8M journey events per artifact, hashed again by
each model that reads them — most of those models' time in an increment. The writer already knows what it
changed: the rows it replaced and the rows it wrote instead (an incremental write), or the difference between
the table before and after (a table built in full).

**Logged models** are the models an incremental model reads (``logged_models``). Each write of one gets the
next version number (``build_state.model_versions``) and appends the rows it changed — those gone and those new,
in the model's columns — to its log, ``build_state.<schema>__<name>__changes`` with ``_version`` and ``_delta``
(copies added; negative: gone) columns. Rows recomputed the same are not changes: a write logs the difference of
its old and new rows (compared by hashes of whole rows, ``record_difference``). A write that cannot say what
changed (no table before, different columns, ``--full-refresh``) starts the log again (``log_from``).

A **reader** keeps, per logged input, the version its own rows reflect (``build_state.read_versions``); the
input's changed rows since are those logged with a later version — or unknown, when the log started again after
it: the reader then builds in full. So does a reader of an input whose row count is not the one it read plus the
logged ``_delta`` since — rows added or removed outside the build (by hand, a test): not in the log
(one that changes rows in place keeps the count and is not noticed — run ``lifecycle build --full-refresh``
after editing a model's table by hand). Each input's log is pruned to the versions some reader still needs. An
input that keeps no log (a table made by hand, a model before its first logged write) is hashed as before.

Pure DuckDB, no Dagster imports.
"""

from __future__ import annotations

from functools import cache

import duckdb

from pipelines.warehouse import columns, table_exists

STATE_DDL = """
create schema if not exists build_state;
create table if not exists build_state.model_versions (
    model varchar primary key,   -- a logged model
    version bigint not null,     -- its latest write
    log_from bigint not null     -- the first version whose changes its log holds
);
create table if not exists build_state.read_versions (
    model varchar not null,      -- a reader: a model kept by partition or period
    input varchar not null,      -- one of its logged inputs
    version bigint not null,     -- the input's version the reader's rows reflect
    row_count bigint not null,   -- the input's rows then: with the logged changes since, what it must hold now
    primary key (model, input)
);
"""


@cache
def logged_models() -> frozenset[str]:
    """The models an incremental model (by partition or period) reads, staging views aside: they keep a log."""
    from pipelines.modeling import discover_models

    models = discover_models()
    readers = [m for m in models.values()
               if m.materialization == "table" and (m.partition_column or m.period_column)]
    return frozenset(d for m in readers for d in m.deps if models[d].materialization == "table")


def log_table(qualified: str) -> str:
    return f"build_state.{qualified.replace('.', '__')}__changes"


def _next_version(conn: duckdb.DuckDBPyConnection, qualified: str, restart: bool) -> int:
    conn.execute(STATE_DDL)
    stored = conn.execute("select version, log_from from build_state.model_versions where model = ?",
                          [qualified]).fetchone()
    version = (stored[0] if stored else 0) + 1
    log_from = version + 1 if restart or not stored else stored[1]
    conn.execute("insert or replace into build_state.model_versions values (?, ?, ?)", [qualified, version, log_from])
    return version


def _create_log(conn: duckdb.DuckDBPyConnection, qualified: str) -> None:
    conn.execute(f"create table if not exists {log_table(qualified)} as "
                 f"select *, 0::bigint as _version, 0::bigint as _delta from {qualified} limit 0")


def _count(conn: duckdb.DuckDBPyConnection, qualified: str) -> int:
    return conn.execute(f"select count(*) from {qualified}").fetchone()[0]


def restart(conn: duckdb.DuckDBPyConnection, qualified: str) -> None:
    """A write of ``qualified`` whose changes are unknown: its readers build in full once."""
    _next_version(conn, qualified, restart=True)
    conn.execute(f"drop table if exists {log_table(qualified)}")
    _create_log(conn, qualified)


def _row_hashes(sql: str) -> str:
    """One ``h`` per row of ``sql``: the hash of the whole row."""
    return f"select hash(t) as h from ({sql}) t"


def _row_delta(conn: duckdb.DuckDBPyConnection, old_hashes: str, new_hashes: str) -> None:
    """Temp ``_row_delta``: each row hash (``h``, one per row of ``old_hashes`` and ``new_hashes``) whose number of
    copies differs, with ``delta`` = new copies − old. Rows are compared by a hash of the whole row — comparing the
    rows themselves (``except all``) took 10–22 s for a 0.5–0.8M-row table at 10M events, the hashes ~1 s."""
    conn.execute(f"""
        create or replace temp table _row_delta as
        select coalesce(n.h, o.h) as h, coalesce(n.copies, 0) - coalesce(o.copies, 0) as delta
        from (select h, count(*) as copies from ({new_hashes}) group by h) n
        full join (select h, count(*) as copies from ({old_hashes}) group by h) o on o.h = n.h
        where coalesce(n.copies, 0) <> coalesce(o.copies, 0)""")


def _log_row_delta(conn: duckdb.DuckDBPyConnection, qualified: str, old_sql: str, new_sql: str) -> None:
    """Append the rows of ``_row_delta`` to the log of ``qualified`` as its next version: each once, in the
    model's columns, with its ``_delta``."""
    version = _next_version(conn, qualified, restart=False)
    _create_log(conn, qualified)
    for rows, sign in ((new_sql, "> 0"), (old_sql, "< 0")):
        conn.execute(f"insert into {log_table(qualified)} select distinct t.*, ?, d.delta from ({rows}) t "
                     f"join _row_delta d on d.h = hash(t) and d.delta {sign}", [version])


def record_difference(conn: duckdb.DuckDBPyConnection, qualified: str, old_sql: str, new_sql: str) -> None:
    """A write of ``qualified`` replacing the rows of ``old_sql`` (read before the write) by those of ``new_sql``
    (same columns): logs each row whose number of copies differs, once, with ``_delta`` = new copies − old (gone:
    negative). Nothing to do for a model no one reads incrementally."""
    if qualified not in logged_models():
        return
    _row_delta(conn, _row_hashes(old_sql), _row_hashes(new_sql))
    _log_row_delta(conn, qualified, old_sql, new_sql)
    conn.execute("drop table _row_delta")


def replace_rows(conn: duckdb.DuckDBPyConnection, qualified: str, where: str, new_sql: str) -> None:
    """An incremental write: the rows of ``qualified`` that ``where`` selects replaced by those of ``new_sql``, the
    difference logged (a logged model). Only the difference is written: old rows whose hash the new rows do not
    have in as many copies are deleted, and the new rows of those hashes inserted; a row recomputed the same stays
    where it is (rows compared by their 64-bit hash, as the log compares them: two different rows with one hash
    would be taken for the same, odds ~n²/2⁶⁴). Why: a key is recomputed whole when any of its inputs changed,
    and most of its rows come out the same (the services an increment touches: 15 % of the 0.8M deployments at
    10M events, a few hundred of them changed) — deleting and inserting them all wrote them to the WAL, and
    DuckDB's checkpoint then vacuumed every row group they were deleted from (24 of the 31 s of the build's
    checkpoint). The old rows are found once, by ``rowid`` from the columns ``where`` reads — a filter with a
    subquery reads every column of every row before it joins (the 11M canonical events: seconds) —, then read
    and hashed once."""
    conn.execute(f"create or replace temp table _replaced_rowids as select rowid as replaced_rowid "
                 f"from {qualified} where {where}")
    conn.execute(f"create or replace temp table _replaced as select t.rowid as replaced_rowid, hash(t) as h "
                 f"from {qualified} t where t.rowid in (select replaced_rowid from _replaced_rowids)")
    _row_delta(conn, "select h from _replaced", _row_hashes(new_sql))
    if qualified in logged_models():
        old_sql = f"select * from {qualified} where rowid in (select replaced_rowid from _replaced)"
        _log_row_delta(conn, qualified, old_sql, new_sql)
    conn.execute(f"delete from {qualified} where rowid in "
                 f"(select replaced_rowid from _replaced where h in (select h from _row_delta))")
    conn.execute(f"insert into {qualified} by name select * from ({new_sql}) t "
                 f"where hash(t) in (select h from _row_delta)")
    for table in ("_replaced_rowids", "_replaced", "_row_delta"):
        conn.execute(f"drop table if exists {table}")


def replace(conn: duckdb.DuckDBPyConnection, qualified: str, sql: str, diff: bool = True) -> None:
    """``create or replace table qualified as sql`` — for a logged model, logging what changed (``diff``: compare
    with the table it replaces; else, or when there is none or its columns differ, start the log again)."""
    if qualified not in logged_models():
        conn.execute(f"create or replace table {qualified} as\n{sql}")
        return
    if not (diff and table_exists(conn, qualified)):
        conn.execute(f"create or replace table {qualified} as\n{sql}")
        restart(conn, qualified)
        return
    schema, name = qualified.split(".")
    following = f"{qualified}__next"
    conn.execute(f"create or replace table {following} as\n{sql}")
    comparable = columns(conn, following) == columns(conn, qualified) and table_exists(conn, log_table(qualified))
    if comparable:
        record_difference(conn, qualified, f"select * from {qualified}", f"select * from {following}")
    conn.execute(f"drop table {qualified}")
    conn.execute(f"alter table {following} rename to {name}")
    if not comparable:
        restart(conn, qualified)


def is_logged(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether ``qualified`` has a log: its readers read its changes instead of hashing it. (``STATE_DDL`` has
    run: the incremental builds run it once before they ask.)"""
    return bool(conn.execute("select count(*) from build_state.model_versions where model = ?",
                             [qualified]).fetchone()[0])


def changes_since(conn: duckdb.DuckDBPyConnection, reader: str, qualified: str, table: str) -> bool:
    """Temp ``table``: the rows of the logged input ``qualified`` changed since ``reader`` last read it (gone and
    new; ``_delta``). False when they are unknown — never read, its log started again since, or its row count is not
    the one read plus the logged ``_delta`` since (rows added or removed outside the build): ``reader``
    builds in full."""
    version, log_from = conn.execute("select version, log_from from build_state.model_versions where model = ?",
                                     [qualified]).fetchone()
    read = conn.execute("select version, row_count from build_state.read_versions where model = ? and input = ?",
                        [reader, qualified]).fetchone()
    if read is None or read[0] + 1 < log_from or read[0] > version:
        return False
    conn.execute(f"create or replace temp table {table} as select * exclude (_version) "
                 f"from {log_table(qualified)} where _version > ?", [read[0]])
    net = conn.execute(f"select coalesce(sum(_delta), 0) from {table}").fetchone()[0]
    return _count(conn, qualified) == read[1] + net


def mark_read(conn: duckdb.DuckDBPyConnection, reader: str, inputs: list[str] | tuple[str, ...]) -> None:
    """``reader``'s rows now reflect the current version of each of its logged ``inputs``; prune their logs to
    the versions a reader still needs."""
    conn.execute(STATE_DDL)
    for qualified in inputs:
        current = conn.execute("select version from build_state.model_versions where model = ?",
                               [qualified]).fetchone()
        if current is None:
            continue
        conn.execute("insert or replace into build_state.read_versions values (?, ?, ?, ?)",
                     [reader, qualified, current[0], _count(conn, qualified)])
        conn.execute(f"delete from {log_table(qualified)} where _version <= "
                     f"(select min(version) from build_state.read_versions where input = ?)", [qualified])
