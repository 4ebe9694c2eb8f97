"""A logged model's writes keep the rows they changed (pipelines/changelog.py), and a model kept by partition reads
them instead of hashing that input — on toy models whose right answers are worked out by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines import changelog, partitions
from pipelines.modeling import Model

STEPS_SQL = "select artifact_id, n from source"  # intermediate.steps, a table built in full
TOTALS = Model("marts", "totals", Path("totals.sql"), """-- marts.totals: per artifact, the sum of its steps.
-- incremental: partition (artifact_id)
select artifact_id, sum(n) as total, count(*) as steps
from intermediate.steps
group by artifact_id
""", ("intermediate.steps",))
COUNTS = Model("marts", "counts", Path("counts.sql"), """-- marts.counts: a second reader of the same input.
-- incremental: partition (artifact_id)
select artifact_id, count(*) as steps from intermediate.steps group by artifact_id
""", ("intermediate.steps",))


@pytest.fixture
def conn(monkeypatch):
    monkeypatch.setattr(changelog, "logged_models", lambda: frozenset({"intermediate.steps"}))
    conn = duckdb.connect()
    conn.execute("""
        create schema intermediate; create schema marts;
        create table source (artifact_id varchar, n integer);
        insert into source values ('a', 1), ('a', 2), ('b', 5), ('c', 7);
    """)
    changelog.replace(conn, "intermediate.steps", STEPS_SQL)  # no table before: the log starts here
    yield conn
    conn.close()


def totals(conn) -> dict:
    return {a: (t, s) for a, t, s in conn.execute("select * from marts.totals").fetchall()}


def log(conn) -> list:
    return conn.execute(f"select * from {changelog.log_table('intermediate.steps')} order by all").fetchall()


def test_a_reader_recomputes_the_keys_whose_rows_its_logged_input_changed_or_dropped(conn):
    assert partitions.run(conn, TOTALS) == (3, "full", 3)  # first read: nothing to compare with
    # a logged input is not hashed: the reader keeps no state for it
    assert conn.execute("select count(*) from build_state.partition_hashes").fetchone()[0] == 0

    conn.execute("update source set n = 6 where artifact_id = 'b'; delete from source where artifact_id = 'c'; "
                 "insert into source values ('d', 4)")
    changelog.replace(conn, "intermediate.steps", STEPS_SQL)
    # version 2: b's row changed (old and new), c's gone, d's new; a's rows, recomputed the same, are no change
    assert log(conn) == [("b", 5, 2, -1), ("b", 6, 2, 1), ("c", 7, 2, -1), ("d", 4, 2, 1)]

    assert partitions.run(conn, TOTALS) == (3, "incremental", 2)  # b and d computed, c deleted, a kept
    assert totals(conn) == {"a": (3, 2), "b": (6, 1), "d": (4, 1)}
    assert log(conn) == []  # its only reader has read it

    changelog.replace(conn, "intermediate.steps", STEPS_SQL)  # the same rows again
    assert log(conn) == []
    assert partitions.run(conn, TOTALS) == (3, "unchanged", 0)


def test_a_reader_that_missed_writes_reads_all_of_them_and_the_log_waits_for_every_reader(conn):
    partitions.run(conn, TOTALS)
    partitions.run(conn, COUNTS)
    conn.execute("insert into source values ('a', 10)")
    changelog.replace(conn, "intermediate.steps", STEPS_SQL)  # version 2: a
    assert partitions.run(conn, COUNTS) == (3, "incremental", 1)
    assert log(conn) == [("a", 10, 2, 1)]  # TOTALS has not read version 2 yet

    conn.execute("insert into source values ('e', 1)")
    changelog.replace(conn, "intermediate.steps", STEPS_SQL)  # version 3: e
    assert partitions.run(conn, TOTALS) == (4, "incremental", 2)  # a (version 2) and e (version 3)
    assert totals(conn) == {"a": (13, 3), "b": (5, 1), "c": (7, 1), "e": (1, 1)}
    assert log(conn) == [("e", 1, 3, 1)]  # COUNTS still needs version 3
    assert partitions.run(conn, COUNTS) == (4, "incremental", 1)
    assert log(conn) == []


def test_a_write_that_cannot_say_what_changed_makes_its_readers_build_in_full(conn):
    partitions.run(conn, TOTALS)
    changelog.replace(conn, "intermediate.steps", STEPS_SQL, diff=False)  # as --full-refresh writes it
    assert partitions.run(conn, TOTALS) == (3, "full", 3)
    assert partitions.run(conn, TOTALS) == (3, "unchanged", 0)

    # new columns: the old rows cannot be compared with the new ones
    changelog.replace(conn, "intermediate.steps", "select artifact_id, n, n * 2 as double_n from source")
    assert partitions.run(conn, TOTALS) == (3, "full", 3)


def test_rows_added_or_removed_outside_the_build_make_the_readers_build_in_full(conn):
    partitions.run(conn, TOTALS)
    conn.execute("insert into intermediate.steps values ('b', 1)")  # by hand: not in the log
    assert partitions.run(conn, TOTALS) == (3, "full", 3)
    assert totals(conn)["b"] == (6, 2)
    conn.execute("delete from intermediate.steps where artifact_id = 'c'")
    assert partitions.run(conn, TOTALS) == (2, "full", 2)
    # a logged write since counts from the table as it found it
    conn.execute("insert into source values ('a', 10)")
    changelog.replace(conn, "intermediate.steps", STEPS_SQL)  # the source's rows again: b's hand-made row gone
    assert partitions.run(conn, TOTALS) == (3, "incremental", 3)  # a (new row), b (gone row), c (back)
    assert totals(conn) == {"a": (13, 3), "b": (5, 1), "c": (7, 1)}


def test_an_incremental_write_logs_only_the_rows_that_differ(conn):
    conn.execute("create table intermediate.kept as select * from (values ('a', 1), ('a', 2), ('b', 3)) t(k, n)")
    conn.execute("create table recomputed as select * from (values ('a', 1), ('a', 4)) t(k, n)")
    changelog.restart(conn, "intermediate.kept")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(changelog, "logged_models", lambda: frozenset({"intermediate.kept"}))
        changelog.record_difference(conn, "intermediate.kept", "select * from intermediate.kept where k = 'a'",
                                    "select * from recomputed")
    assert conn.execute(f"select * from {changelog.log_table('intermediate.kept')} order by all").fetchall() == [
        ("a", 2, 2, -1), ("a", 4, 2, 1)]  # a's (a, 1) was recomputed the same: no change


def test_an_incremental_write_logs_only_the_recomputed_rows_that_differ(conn, monkeypatch):
    monkeypatch.setattr(changelog, "logged_models", lambda: frozenset({"intermediate.steps", "marts.totals"}))
    partitions.run(conn, TOTALS)
    conn.execute("delete from source where artifact_id = 'a'; insert into source values ('a', 0), ('a', 3), ('d', 4)")
    changelog.replace(conn, "intermediate.steps", STEPS_SQL)
    assert partitions.run(conn, TOTALS) == (4, "incremental", 2)  # a and d recomputed
    # a's total is 0 + 3 over 2 steps, as before: only d's row is a change for the readers of marts.totals
    assert conn.execute(f"select * from {changelog.log_table('marts.totals')}").fetchall() == [("d", 4, 1, 2, 1)]


def test_copies_of_one_row_are_logged_once_with_how_many_came_or_went(conn):
    conn.execute("create table intermediate.kept as select * from (values ('a', 1), ('a', 1), ('b', 3)) t(k, n)")
    changelog.restart(conn, "intermediate.kept")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(changelog, "logged_models", lambda: frozenset({"intermediate.kept"}))
        changelog.record_difference(conn, "intermediate.kept", "select * from intermediate.kept",
                                    "select * from (values ('a', 1), ('b', 3), ('b', 3), ('b', 3)) t(k, n)")
    assert conn.execute(f"select * from {changelog.log_table('intermediate.kept')} order by all").fetchall() == [
        ("a", 1, 2, -1), ("b", 3, 2, 2)]  # one copy of (a, 1) gone, two of (b, 3) added: net +1 row


def test_a_model_no_one_reads_incrementally_keeps_no_log(conn):
    conn.execute("create table intermediate.unread as select 1 as n")
    changelog.replace(conn, "intermediate.unread", "select 2 as n")
    assert conn.execute("select * from intermediate.unread").fetchall() == [(2,)]
    assert not changelog.is_logged(conn, "intermediate.unread")


def test_replace_rows_writes_only_the_rows_that_differ_copies_counted(conn):
    # intermediate.steps holds a:1, a:2, b:5, c:7 (rowids 0..3); recompute keys a and b:
    # a's rows come out the same, b's row 5 becomes two copies of 6; c is not selected
    conn.execute("create temp table recomputed as select * from (values ('a', 1), ('a', 2), ('b', 6), ('b', 6)) "
                 "v(artifact_id, n)")
    changelog.replace_rows(conn, "intermediate.steps", "artifact_id in ('a', 'b')", "select * from recomputed")
    rows = conn.execute("select rowid, artifact_id, n from intermediate.steps order by all").fetchall()
    # a's two rows and c's keep their rowids (not deleted, not written again); b's old row is gone, the new two appended
    assert rows == [(0, "a", 1), (1, "a", 2), (3, "c", 7), (4, "b", 6), (5, "b", 6)]
    assert log(conn) == [("b", 5, 2, -1), ("b", 6, 2, 2)]

    # one copy of a row that had two: both old copies go, the one new copy is written
    conn.execute("delete from recomputed where artifact_id = 'a'")
    conn.execute("delete from recomputed where rowid = (select max(rowid) from recomputed)")
    changelog.replace_rows(conn, "intermediate.steps", "artifact_id = 'b'", "select * from recomputed")
    assert conn.execute("select artifact_id, n from intermediate.steps order by all").fetchall() == [
        ("a", 1), ("a", 2), ("b", 6), ("c", 7)]
    assert log(conn)[-1] == ("b", 6, 3, -1)
