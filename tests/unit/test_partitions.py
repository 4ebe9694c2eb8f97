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
    assert partitions.split_inputs(conn, TOTALS, "artifact_id") == (["intermediate.steps"], ["intermediate.weights"])


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


def test_an_input_s_stored_row_hash_is_summed_instead_of_hashing_its_rows(conn):
    """intermediate.canonical_events writes each row's hash with the row (by load): the partition state sums that
    column rather than hashing 11M wide rows every build. What it changes: a row whose stored hash is unchanged
    counts as unchanged — the writer's promise that the hash covers the row."""
    conn.execute("alter table intermediate.steps add column row_hash ubigint")
    conn.execute("update intermediate.steps set row_hash = hash(artifact_id, n)")
    assert partitions.run(conn, TOTALS) == (3, "full", 3)
    conn.execute("update intermediate.steps set n = 3, row_hash = hash(artifact_id, 3) "
                 "where artifact_id = 'a' and n = 2")
    assert partitions.run(conn, TOTALS)[1:] == ("incremental", 1)
    assert totals(conn)["a"] == (40, 2)
    conn.execute("update intermediate.steps set n = 9 where artifact_id = 'b'")  # the row changed, its hash did not
    assert partitions.run(conn, TOTALS)[1:] == ("unchanged", 0)
    assert totals(conn)["b"] == (50, 1)


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


CHAINED = Model("marts", "chained", Path("chained.sql"), """-- marts.chained: per artifact, n summed over its own
-- rows and the rows without an artifact in its chain.
-- incremental: partition (artifact_id, chain_id)
with own as (select distinct artifact_id, chain_id from intermediate.items where artifact_id is not null)
select o.artifact_id, sum(i.n) as total
from own o
join intermediate.items i on i.artifact_id = o.artifact_id or (i.artifact_id is null and i.chain_id = o.chain_id)
group by o.artifact_id
""", ("intermediate.items",))


@pytest.fixture
def chained(conn):
    conn.execute("""
        create table intermediate.items (artifact_id varchar, chain_id varchar, n integer);
        insert into intermediate.items values ('a', 'X', 1), (null, 'X', 10), ('b', 'Y', 2), (null, 'Y', 20),
            (null, 'Z', 100), ('c', null, 5);
    """)
    return conn


def chained_totals(conn) -> dict:
    return dict(conn.execute("select * from marts.chained").fetchall())


def test_rows_without_the_key_count_through_their_link_columns(chained):
    conn = chained
    assert CHAINED.partition_column == "artifact_id" and CHAINED.partition_links == ("chain_id",)
    assert partitions.run(conn, CHAINED) == (3, "full", 3)
    assert chained_totals(conn) == {"a": 11, "b": 22, "c": 5}  # 1 + 10; 2 + 20; 5 (no chain)

    conn.execute("insert into intermediate.items values (null, 'X', 7)")  # a's chain: only a recomputed
    assert partitions.run(conn, CHAINED) == (3, "incremental", 1)
    assert chained_totals(conn) == {"a": 18, "b": 22, "c": 5}

    conn.execute("insert into intermediate.items values (null, 'Z', 1)")  # a chain no artifact is in
    assert partitions.run(conn, CHAINED) == (3, "unchanged", 0)
    assert partitions.run(conn, CHAINED) == (3, "unchanged", 0)  # its new hash was kept

    # b moves to chain X: b's own row changed, and so did chain X's rows (b's row is one of them), which a is
    # linked to: both recomputed; c untouched
    conn.execute("update intermediate.items set chain_id = 'X' where artifact_id = 'b'")
    assert partitions.run(conn, CHAINED) == (3, "incremental", 2)
    assert chained_totals(conn) == {"a": 18, "b": 19, "c": 5}  # 2 + 10 + 7
    conn.execute("create table full_build as " + CHAINED.sql.split("\n", 3)[3])
    assert dict(conn.execute("select * from full_build").fetchall()) == chained_totals(conn)


LINKED = Model("marts", "linked", Path("linked.sql"), """-- marts.linked: per artifact, n summed over its own rows
-- and the rows without an artifact in its chain or of its commit.
-- incremental: partition (artifact_id, chain_id, commit_sha)
with own as (select distinct artifact_id, chain_id, commit_sha from intermediate.runs where artifact_id is not null)
select o.artifact_id, sum(r.n) as total
from own o
join intermediate.runs r on r.artifact_id = o.artifact_id
    or (r.artifact_id is null and (r.chain_id = o.chain_id or r.commit_sha = o.commit_sha))
group by o.artifact_id
""", ("intermediate.runs",))


def test_a_key_read_through_another_keys_link_is_not_written_from_its_partial_rows(conn):
    conn.execute("""
        create table intermediate.runs (artifact_id varchar, chain_id varchar, commit_sha varchar, n integer);
        insert into intermediate.runs values ('a', 'X', 'C1', 1), ('d', 'W', 'C1', 2), (null, 'X', null, 10),
            (null, null, 'C1', 100), (null, 'W', null, 1000);
    """)
    assert partitions.run(conn, LINKED) == (2, "full", 2)
    assert dict(conn.execute("select * from marts.linked").fetchall()) == {"a": 111, "d": 1102}
    # chain X changes: a is recomputed, reading the rows of its commit C1 — d's own row among them, without
    # d's chain W: d's rows from that read would be 2 + 100, and must not replace its 1102
    conn.execute("insert into intermediate.runs values (null, 'X', null, 5)")
    assert partitions.run(conn, LINKED) == (2, "incremental", 1)
    assert conn.execute("select artifact_id, total from marts.linked order by all").fetchall() == [
        ("a", 116), ("d", 1102)]


def test_supersessions_follow_an_artifact_deployed_under_another_service(conn):
    """intermediate.artifact_supersessions, `partition (service, artifact_id)`: artifact a1 of service s packaged
    08:00 reaches staging (step 4) at 10:00; artifact c — service u in intermediate.artifacts, but deployed as s —
    packaged 09:00 reaches staging at 11:00: a newer artifact of s arriving as far, later → a1 superseded by c at
    11:00. Then c's packaged time is corrected to 07:00: c is older than a1, so a1 is superseded by nothing. Only u's
    artifacts row changed; s is recomputed because s's arrivals name c (the artifact_id link)."""
    from pipelines.modeling import discover_models

    model = discover_models()["intermediate.artifact_supersessions"]
    conn.execute("""
        create table intermediate.artifacts as select * from (values
            ('a1', 's', '2026-03-02 08:00'::timestamptz, null::timestamptz, '2026-03-02 08:00'::timestamptz),
            ('c', 'u', '2026-03-02 09:00', null, '2026-03-02 09:00'))
            t(artifact_id, service, packaged_at, published_at, first_seen_at);
        create table intermediate.artifact_arrivals as select * from (values
            ('a1', 's', 4, '2026-03-02 10:00'::timestamptz, false, 4, '2026-03-02 10:00'::timestamptz),
            ('c', 's', 4, '2026-03-02 11:00', false, 4, '2026-03-02 11:00'))
            t(artifact_id, service, step_order, deployed_at, is_rollback, furthest_step_order, furthest_at);
    """)
    superseded = "select artifact_id, service, superseded_by_artifact_id, superseded_at::varchar from " + model.qualified
    assert partitions.run(conn, model)[:2] == (1, "full")
    assert conn.execute(superseded).fetchall() == [("a1", "s", "c", "2026-03-02 11:00:00+00")]
    conn.execute("update intermediate.artifacts set packaged_at = '2026-03-02 07:00' where artifact_id = 'c'")
    assert partitions.run(conn, model) == (0, "incremental", 0)
    assert conn.execute(superseded).fetchall() == []


PLACED = Model("marts", "placed", Path("placed.sql"), """-- marts.placed: per service, the items deployed to it
-- and how many items share their artifacts: an item names its service, or takes its artifact's; with neither,
-- the item is in the null service's row.
-- incremental: partition (service, artifact_id) with null key
select coalesce(i.service, a.service) as service, sum(i.n) as total, count(*) as items,
       sum((select count(*) from intermediate.items j where j.artifact_id = i.artifact_id)) as sharing
from intermediate.items i
left join intermediate.arts a using (artifact_id)
group by 1
""", ("intermediate.items", "intermediate.arts"))


@pytest.fixture
def placed(conn):
    conn.execute("""
        create table intermediate.items (service varchar, artifact_id varchar, n integer);
        insert into intermediate.items values ('s', 'a1', 1), (null, 'a2', 10), (null, 'a3', 100), (null, null, 1000);
        create table intermediate.arts (artifact_id varchar, service varchar);
        insert into intermediate.arts values ('a1', 's'), ('a2', 's'), ('a3', null);
    """)
    return conn


def placed_rows(conn) -> dict:
    return {s: (t, n, k) for s, t, n, k in conn.execute("select * from marts.placed").fetchall()}


def test_a_model_with_a_null_key_keeps_its_null_row_up_to_date(placed):
    """s: 1 (its own item) + 10 (a2's item, a2 being s's) = 11 from 2 items, each alone on its artifact; null: 100
    (a3: no service) + 1000 (nothing at all) = 1100 from 2, 1 sharing (a3's; no artifact shares nothing). Without
    ``with null key`` the null row would never be recomputed."""
    conn = placed
    assert PLACED.partition_keeps_null and PLACED.partition_links == ("artifact_id",)
    assert partitions.run(conn, PLACED) == (2, "full", 2)
    assert placed_rows(conn) == {"s": (11, 2, 2), None: (1100, 2, 1)}

    conn.execute("insert into intermediate.items values (null, null, 5)")  # the null row only
    assert partitions.run(conn, PLACED) == (2, "incremental", 1)
    assert placed_rows(conn) == {"s": (11, 2, 2), None: (1105, 3, 1)}

    # u's item on a3: u is new, and the null row's a3 item now shares a3 with it (through the link only)
    conn.execute("insert into intermediate.items values ('u', 'a3', 7)")
    assert partitions.run(conn, PLACED) == (3, "incremental", 2)
    assert placed_rows(conn) == {"s": (11, 2, 2), "u": (7, 1, 2), None: (1105, 3, 2)}

    # a3 becomes t's: its service-less item moves from the null row to t; u (linked by a3) recomputed the same
    conn.execute("update intermediate.arts set service = 't' where artifact_id = 'a3'")
    assert partitions.run(conn, PLACED) == (4, "incremental", 3)
    assert placed_rows(conn) == {"s": (11, 2, 2), "t": (100, 1, 2), "u": (7, 1, 2), None: (1005, 2, 0)}

    # a2's item (no service of its own) changes: the null key (its row) and s (a2's, through the link)
    conn.execute("update intermediate.items set n = 20 where artifact_id = 'a2'")
    assert partitions.run(conn, PLACED) == (4, "incremental", 2)
    assert placed_rows(conn) == {"s": (21, 2, 2), "t": (100, 1, 2), "u": (7, 1, 2), None: (1005, 2, 0)}
    assert placed_rows(conn) == {s: (t, n, k) for s, t, n, k in conn.execute(PLACED.sql).fetchall()}
