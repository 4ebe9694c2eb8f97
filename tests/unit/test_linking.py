"""pipelines.linking.first_deliveries: which production deployment first shipped each commit."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.linking import Delivery, Deployment, first_deliveries

REPO = "org/shop"


def at(hour: int) -> datetime:
    return datetime(2026, 7, 1, hour, tzinfo=UTC)


def graph(edges: dict[str, list[str]], repo: str | None = REPO) -> dict:
    return {(repo, sha): tuple(parents) for sha, parents in edges.items()}


def delivered(deliveries: list[Delivery]) -> dict[str, str]:
    return {d.commit_sha: d.deployment_id for d in deliveries}


def test_a_merge_commit_delivers_both_parents_lines():
    # a ─ b ─┐
    #  └─ c ─ m   (m merges b and c)
    parents = graph({"a": [], "b": ["a"], "c": ["a"], "m": ["b", "c"]})
    out = first_deliveries(parents, [Deployment("d1", at(10), REPO, "m")])
    assert delivered(out) == {"m": "d1", "b": "d1", "c": "d1", "a": "d1"}
    assert [d.commit_sha for d in out if d.is_deployed_commit] == ["m"]
    assert {d.repository for d in out} == {REPO} and {d.deployed_at for d in out} == {at(10)}


def test_later_deployments_deliver_only_what_is_new_whatever_the_input_order():
    parents = graph({"a": [], "b": ["a"], "c": ["b"]})
    out = first_deliveries(parents, [Deployment("d2", at(12), REPO, "c"), Deployment("d1", at(10), REPO, "a")])
    assert delivered(out) == {"a": "d1", "b": "d2", "c": "d2"}


def test_a_rollback_to_an_older_commit_delivers_nothing():
    parents = graph({"a": [], "b": ["a"]})
    out = first_deliveries(parents, [Deployment("d1", at(10), REPO, "b"), Deployment("rollback", at(11), REPO, "a")])
    assert delivered(out) == {"a": "d1", "b": "d1"}


def test_the_same_commit_reaching_a_second_cluster_delivers_nothing():
    parents = graph({"a": [], "b": ["a"]})
    out = first_deliveries(parents, [Deployment("prod-eu", at(10), REPO, "b"), Deployment("prod-us", at(11), REPO, "b")])
    assert delivered(out) == {"a": "prod-eu", "b": "prod-eu"}
    assert len(out) == 2


def test_an_unknown_parent_is_skipped_but_an_unknown_deployed_commit_is_delivered():
    # b's parent x is older than the history loaded; z was deployed but no history names it
    parents = graph({"b": ["x"]})
    out = first_deliveries(parents, [Deployment("d1", at(10), REPO, "b"), Deployment("d2", at(11), REPO, "z")])
    assert delivered(out) == {"b": "d1", "z": "d2"}


def test_a_deployment_without_repository_is_matched_by_its_commit():
    parents = {**graph({"a": [], "b": ["a"]}), **graph({"q": []}, repo="org/other")}
    out = first_deliveries(parents, [Deployment("d1", at(10), None, "b")])
    assert [(d.repository, d.commit_sha) for d in out] == [(REPO, "b"), (REPO, "a")]


def test_deployments_without_a_commit_deliver_nothing():
    assert first_deliveries(graph({"a": []}), [Deployment("d1", at(10), REPO, None)]) == []


def test_the_table_is_built_inside_the_build_transaction_with_a_result_left_open():
    """The model runner calls it on its own connection, mid-transaction, with a count's result still open."""
    import duckdb

    from pipelines.linking import build_change_deliveries

    conn = duckdb.connect()
    conn.execute("begin transaction")
    conn.execute("create schema intermediate")
    conn.execute("create table intermediate.commits as select ? as repository, 'm' as commit_sha, ['a', 'b'] as "
                 "parent_shas union all select ?, 'a', []::varchar[] union all select ?, 'b', ['a']",
                 [REPO, REPO, REPO])
    conn.execute("create table intermediate.deployments as select 'd1' as deployment_id, ? as deployed_at, "
                 "? as repository, 'm' as commit_sha, true as is_production, 'success' as outcome", [at(10), REPO])
    assert conn.execute("select count(*) from intermediate.commits").fetchone() == (3,)  # left open
    assert build_change_deliveries(conn) == 3
    assert conn.execute("select commit_sha, deployment_id, is_deployed_commit from intermediate.change_deliveries "
                        "order by commit_sha").fetchall() == [("a", "d1", False), ("b", "d1", False), ("m", "d1", True)]
