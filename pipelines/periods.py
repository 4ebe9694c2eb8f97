"""Incremental maintenance of a model by period: ``-- incremental: period (ts)``.

Why: the period marts (``marts.dora_metrics``, ``marts.deployment_activity``) hold one row per period × group. A
load of new events changes the facts of a few recent days; recomputing every day, week and month of the whole
history for them was most of those marts' build time. (``marts.team_activity`` is built in full: measured by
period at 10M it was slower — its ``all`` rows, recomputed anyway, cost as much as the rest.)

What the declaration promises: the model has a ``period`` and a ``period_start`` column; its rows of a
**calendar period** (``day``, ``week``, ``month``) depend only on the rows of its inputs whose ``ts`` (the declared
column) falls in that period — for a month, also in a week starting in it (a month's weekly median counts the
weeks that start in it) — and on its **context** inputs (those without the column); its rows of every other
period (``all``, the rolling windows) may read every row. Its SQL limits the periods it computes with the
``in_period_pass(period)`` macro, which reads the ``period_pass`` variable this runner sets: ``calendar``, ``other``,
or unset — every period, so the SQL run by hand or in a full build gives the whole table.

A build:

1. hashes each input holding ``ts`` per UTC day (sum of the rows' hashes, and their count — the state and the
   diff of pipelines/partitions.py, with the day as the key);
2. the **dirty months**: the months of the days whose hash changed, and of those days' weeks' Mondays;
3. recomputes the calendar rows of the dirty months from the input rows of those months and of the weeks
   starting in them (``period_pass = 'calendar'``, inputs read through views filtered to one time range: from
   the first dirty month to 7 days past the last — a plain range, cheap to test, where a per-row month test
   cost more than it saved; rows read for a clean month are dropped with its rows);
4. recomputes the rows of the other periods from every row (``period_pass = 'other'``): an ``all`` row or a
   30-day window reads the whole history, and the window's end moves with every load;
5. replaces both sets of rows in the table.

A full build instead when: no stored state, a different fingerprint (the model's SQL, the macros, the
configuration tables and the content of its context inputs — keep them small), or ``--full-refresh``.

Pure DuckDB, no Dagster imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from pipelines import changelog, incremental, partitions
from pipelines.warehouse import table_exists

if TYPE_CHECKING:
    from pipelines.modeling import Model

_CALENDAR_SQL = "('day', 'week', 'month')"


def _hash_days(conn: duckdb.DuckDBPyConnection, inputs: list[str], day: str) -> None:
    """``_partition_current``: each input's rows hashed per UTC ``day`` (an expression of the period column)."""
    conn.execute(partitions.CURRENT_DDL)
    for dep in inputs:
        conn.execute(f"insert into _partition_current select ?, ({day})::varchar, "
                     f"sum(hash(t)), count(*) from {dep} t group by all", [dep])


def _dirty_months(conn: duckdb.DuckDBPyConnection) -> None:
    """``_period_months``: the months whose calendar rows read a changed day (``_partition_dirty``): its month
    and its week's Monday's month."""
    conn.execute("""
        create or replace temp table _period_months as
        select distinct unnest([date_trunc('month', day), date_trunc('month', date_trunc('week', day))]) as month_start
        from (select key_value::timestamptz as day from _partition_dirty where key_value is not null)""")


def _pass(conn: duckdb.DuckDBPyConnection, name: str, sql: str, keep: str) -> None:
    """``_period_rows_<name>``: the rows of the periods ``name`` computes that ``keep`` admits."""
    conn.execute("set variable period_pass = ?", [name])
    conn.execute(f"create or replace temp table _period_rows_{name} as\nselect * from (\n{sql}\n) where {keep}")


def run(conn: duckdb.DuckDBPyConnection, model: Model, full_refresh: bool = False) -> tuple[int, str, int | None]:
    """Bring ``model`` up to date; returns (rows, mode, rows computed) with mode ``full`` or ``incremental``
    (module docstring)."""
    conn.execute(incremental.STATE_DDL)
    conn.execute(partitions.STATE_DDL)
    conn.execute(changelog.STATE_DDL)
    column = model.period_column
    dated, context = partitions.split_inputs(conn, model, column)
    fp = incremental.fingerprint(conn, model, content_of=context)
    # an input keeping a log of its changes is read from it (pipelines/changelog.py); the others are hashed
    logged = {dep: [] for dep in dated if changelog.is_logged(conn, dep)}
    day = f"date_trunc('day', {column})"
    views: list[str] = []
    try:
        _hash_days(conn, [dep for dep in dated if dep not in logged], day)
        if (full_refresh or not dated or incremental.stored_fingerprint(conn, model.qualified) != fp
                or not table_exists(conn, model.qualified)
                or not partitions.read_logs(conn, model.qualified, logged, day, linked=False)):
            # period_pass unset: every period
            return partitions.full_build(conn, model, fp, diff=not full_refresh)
        partitions.find_dirty(conn, model.qualified, logged=True)
        _dirty_months(conn)
        in_months = "date_trunc('month', period_start) in (select month_start from _period_months)"
        sql = model.sql
        for dep in dated:
            view = f"_period_{dep.replace('.', '_')}"
            # the last week starting in a month ends at most 7 days into the next one
            conn.execute(f"create or replace temp view {view} as select * from {dep} where {column} >= "
                         f"(select min(month_start) from _period_months) and {column} < "
                         f"(select max(month_start) + interval 1 month + interval 7 day from _period_months)")
            views.append(view)
            sql = incremental._swap(sql, dep, view)
        _pass(conn, "calendar", sql, f"period in {_CALENDAR_SQL} and {in_months}")
        _pass(conn, "other", model.sql, f"period not in {_CALENDAR_SQL}")
        computed = conn.execute("select (select count(*) from _period_rows_calendar) "
                                "+ (select count(*) from _period_rows_other)").fetchone()[0]
        changelog.replace_rows(conn, model.qualified, f"period not in {_CALENDAR_SQL} or {in_months}",
                               "select * from _period_rows_calendar union all by name select * from _period_rows_other")
        partitions.store_hashes(conn, model.qualified, changed_only=True)
        changelog.mark_read(conn, model.qualified, model.deps)
        return conn.execute(f"select count(*) from {model.qualified}").fetchone()[0], "incremental", computed
    finally:
        conn.execute("reset variable period_pass")
        for view in views:
            conn.execute(f"drop view if exists {view}")
        for table in (*partitions.TEMP_TABLES, "_partition_logged", "_period_months", "_period_rows_calendar", "_period_rows_other"):
            conn.execute(f"drop table if exists {table}")
