"""A model kept by period (pipelines/periods.py) recomputes only the calendar rows of the months whose facts changed
(and the rows of the other periods), and equals what a full build gives — on a toy model whose right answers are
worked out by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines import modeling, periods
from pipelines.modeling import Model

COUNTS = Model("marts", "counts", Path("counts.sql"), """-- marts.counts: facts per day, week, month and in all.
-- incremental: period (ts)
with periods as (
    select * from (values ('day'), ('week'), ('month'), ('all')) p(period)
    where in_period_pass(period)
)
select
    p.period,
    case when p.period = 'all' then (select min(date_trunc('day', ts)) from intermediate.facts)
         else date_trunc(p.period, f.ts) end::date as period_start,
    count(*) * (select w from intermediate.weights) as n
from intermediate.facts f
cross join periods p
group by all
""", ("intermediate.facts", "intermediate.weights"))


@pytest.fixture
def conn():
    conn = duckdb.connect()
    conn.execute("set timezone = 'UTC'")
    modeling.create_macros(conn)
    conn.execute("""
        create schema intermediate; create schema marts;
        create table intermediate.facts (ts timestamptz);
        -- Wed 28 Jan; Sun 1 Feb (its week starts Mon 26 Jan); Tue 10 Feb; Thu 5 Mar
        insert into intermediate.facts values ('2026-01-28 10:00Z'), ('2026-02-01 09:00Z'), ('2026-02-10 09:00Z'),
            ('2026-03-05 09:00Z');
        create table intermediate.weights (w integer); insert into intermediate.weights values (1);
    """)
    yield conn
    conn.close()


def counts(conn) -> dict:
    return {(p, s.isoformat()): n for p, s, n in conn.execute("select * from marts.counts").fetchall()}


BEFORE = {("day", "2026-01-28"): 1, ("day", "2026-02-01"): 1, ("day", "2026-02-10"): 1, ("day", "2026-03-05"): 1,
          ("week", "2026-01-26"): 2, ("week", "2026-02-09"): 1, ("week", "2026-03-02"): 1,
          ("month", "2026-01-01"): 1, ("month", "2026-02-01"): 2, ("month", "2026-03-01"): 1,
          ("all", "2026-01-28"): 4}


def test_the_column_and_the_inputs_are_read_from_the_header_and_the_tables(conn):
    assert COUNTS.incremental == "period" and COUNTS.period_column == "ts"


def test_a_changed_day_recomputes_its_month_and_its_week_s_month(conn):
    assert periods.run(conn, COUNTS) == (11, "full", 11)
    assert counts(conn) == BEFORE

    conn.execute("insert into intermediate.facts values ('2026-02-01 12:00Z')")
    # dirty day 1 Feb → months February (its own) and January (its week's Monday, 26 Jan): their calendar rows
    # (days 28 Jan, 1 Feb, 10 Feb; weeks 26 Jan, 9 Feb; months Jan, Feb) = 7, plus `all` = 8 computed; March kept
    assert periods.run(conn, COUNTS) == (11, "incremental", 8)
    assert counts(conn) == {**BEFORE, ("day", "2026-02-01"): 2, ("week", "2026-01-26"): 3, ("month", "2026-02-01"): 3,
                            ("all", "2026-01-28"): 5}

    # nothing changed: the `all` row alone is computed again (it may read anything)
    assert periods.run(conn, COUNTS) == (11, "incremental", 1)


def test_a_gone_day_removes_its_rows_and_the_result_equals_a_full_build(conn):
    periods.run(conn, COUNTS)
    conn.execute("delete from intermediate.facts where ts = '2026-03-05 09:00Z'")
    conn.execute("insert into intermediate.facts values ('2026-03-31 23:00Z')")  # Tue 31 Mar: week of Mon 30 Mar
    rows, mode, _ = periods.run(conn, COUNTS)
    assert (rows, mode) == (11, "incremental")
    expected = {k: v for k, v in BEFORE.items() if "2026-03" not in k[1]}
    assert counts(conn) == {**expected, ("day", "2026-03-31"): 1, ("week", "2026-03-30"): 1, ("month", "2026-03-01"): 1}
    full = {(p, s.isoformat()): n for p, s, n in conn.execute(COUNTS.sql).fetchall()}  # variable unset: every period
    assert counts(conn) == full


def test_a_changed_context_input_rebuilds_in_full(conn):
    periods.run(conn, COUNTS)
    conn.execute("update intermediate.weights set w = 2")
    assert periods.run(conn, COUNTS) == (11, "full", 11)
    assert counts(conn)[("all", "2026-01-28")] == 8


def test_the_pass_variable_limits_the_periods_and_is_left_unset(conn):
    periods.run(conn, COUNTS)
    assert conn.execute("select getvariable('period_pass')").fetchone()[0] is None
    conn.execute("set variable period_pass = 'other'")
    assert {r[0] for r in conn.execute(COUNTS.sql).fetchall()} == {"all"}
    conn.execute("set variable period_pass = 'calendar'")
    assert {r[0] for r in conn.execute(COUNTS.sql).fetchall()} == {"day", "week", "month"}
