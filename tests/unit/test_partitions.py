"""A model kept by partition (pipelines/partitions.py) recomputes only the key values whose input rows changed,
and equals what a full build gives — on a toy model whose right answers are worked out by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines import partitions
from pipelines.modeling import Model

TOTALS = Model("marts", "totals", Path("totals.sql"), """-- marts.totals: per artifact, its steps' n times the weight.
-- incremental: partition (artifact_id)
select artifact_id, sum(n) * (select w from intermediate.weights) as total, count(*) as steps
from intermediate.steps
group by artifact_id
""", ("intermediate.steps", "intermediate.weights"))


@pytest.fixture
def conn():
    conn = duckdb.connect()
    conn.execute("""
        create schema intermediate; create schema marts;
        create table intermediate.steps (artifact_id varchar, n integer);
        insert into intermediate.steps values ('a', 1), ('a', 2), ('b', 5), ('c', 7);
        create table intermediate.weights (w integer); insert into intermediate.weights values (10);
    """)
    yield conn
    conn.close()


def totals(conn) -> dict:
    return {a: (t, s) for a, t, s in conn.execute("select * from marts.totals").fetchall()}


def test_the_key_and_the_inputs_are_read_from_the_header_and_the_tables(conn):
    assert TOTALS.incremental == "partition" and TOTALS.partition_column == "artifact_id"
    assert partitions.split_inputs(conn, TOTALS) == (["intermediate.steps"], ["intermediate.weights"])


def test_only_changed_new_and_gone_artifacts_are_recomputed(conn):
    rows, mode, computed = partitions.run(conn, TOTALS)
    assert (rows, mode, computed) == (3, "full", 3)
    assert totals(conn) == {"a": (30, 2), "b": (50, 1), "c": (70, 1)}

    conn.execute("insert into intermediate.steps values ('b', 1), ('d', 4); delete from intermediate.steps "
                 "where artifact_id = 'c'")
    rows, mode, computed = partitions.run(conn, TOTALS)
    # b changed, d is new, c is gone: two rows computed, c's deleted, a's kept as they were
    assert (rows, mode, computed) == (3, "incremental", 2)
    assert totals(conn) == {"a": (30, 2), "b": (60, 2), "d": (40, 1)}

    assert partitions.run(conn, TOTALS) == (3, "unchanged", 0)


def test_a_changed_value_of_a_row_counts_as_a_change(conn):
    partitions.run(conn, TOTALS)
    conn.execute("update intermediate.steps set n = 3 where artifact_id = 'a' and n = 2")
    assert partitions.run(conn, TOTALS)[1:] == ("incremental", 1)
    assert totals(conn)["a"] == (40, 2)


def test_rows_without_a_key_are_one_more_partition(conn):
    conn.execute("insert into intermediate.steps values (null, 3)")
    assert partitions.run(conn, TOTALS) == (4, "full", 4)
    conn.execute("insert into intermediate.steps values (null, 1)")
    assert partitions.run(conn, TOTALS) == (4, "incremental", 1)
    assert totals(conn) == {"a": (30, 2), "b": (50, 1), "c": (70, 1), None: (40, 2)}


def test_a_changed_context_input_or_full_refresh_rebuild_everything(conn):
    partitions.run(conn, TOTALS)
    conn.execute("update intermediate.weights set w = 2")  # no artifact_id: every row may depend on it
    assert partitions.run(conn, TOTALS) == (3, "full", 3)
    assert totals(conn) == {"a": (6, 2), "b": (10, 1), "c": (14, 1)}
    assert partitions.run(conn, TOTALS, full_refresh=True)[1] == "full"
