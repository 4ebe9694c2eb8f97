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
    assert build_change_deliveries(conn) == (3, "full", 3)
    assert conn.execute("select commit_sha, deployment_id, is_deployed_commit from intermediate.change_deliveries "
                        "order by commit_sha").fetchall() == [("a", "d1", False), ("b", "d1", False), ("m", "d1", True)]


def _warehouse(commits: list[tuple], deployments: list[tuple]):
    """An in-memory warehouse with ``intermediate.commits`` (repository, sha, parents) and the production
    deployments (id, hour, repository, sha)."""
    import duckdb

    conn = duckdb.connect()
    conn.execute("create schema intermediate")
    conn.execute("create table intermediate.commits (repository varchar, commit_sha varchar, parent_shas varchar[])")
    conn.execute("create table intermediate.deployments (deployment_id varchar, deployed_at timestamptz, "
                 "repository varchar, commit_sha varchar, is_production boolean, outcome varchar)")
    _add(conn, commits, deployments)
    return conn


def _add(conn, commits: list[tuple] = (), deployments: list[tuple] = ()) -> None:
    if commits:
        conn.executemany("insert into intermediate.commits values (?, ?, ?)", [list(c) for c in commits])
    if deployments:
        conn.executemany("insert into intermediate.deployments values (?, ?, ?, ?, true, 'success')",
                         [[d, at(h), r, sha] for d, h, r, sha in deployments])


def _stored(conn) -> set[tuple]:
    return set(conn.execute("select repository, commit_sha, deployment_id, is_deployed_commit "
                            "from intermediate.change_deliveries").fetchall())


def _expected(conn) -> set[tuple]:
    """The definition: first_deliveries over every commit and deployment, resolving repositories itself."""
    parents = {(r, sha): tuple(ps) for r, sha, ps in conn.execute("select * from intermediate.commits").fetchall()}
    deployments = [Deployment(*row) for row in conn.execute(
        "select deployment_id, deployed_at, repository, commit_sha from intermediate.deployments").fetchall()]
    return {(d.repository, d.commit_sha, d.deployment_id, d.is_deployed_commit)
            for d in first_deliveries(parents, deployments)}


def test_repositories_are_resolved_in_sql_as_first_deliveries_resolves_them():
    from pipelines.linking import build_change_deliveries

    conn = _warehouse(
        [("a/one", "x1", []), ("a/one", "x2", ["x1"]), ("b/two", "y1", []), ("b/two", "s", []), ("c/three", "s", [])],
        [("own", 1, "a/one", "x2"),         # its repository has the commit
         ("unnamed", 2, None, "y1"),        # no repository: the one that has y1
         ("elsewhere", 3, "z/zed", "y1"),   # a repository without the commit: still the one that has it
         ("ambiguous", 4, None, "s"),       # two repositories have s: left unresolved
         ("unknown", 5, "a/one", "nope")])  # nobody has it: the deployed commit alone
    assert build_change_deliveries(conn)[1] == "full"
    assert _stored(conn) == _expected(conn) == {
        ("a/one", "x2", "own", True), ("a/one", "x1", "own", False), ("b/two", "y1", "unnamed", True),
        (None, "s", "ambiguous", True), ("a/one", "nope", "unknown", True)}


def test_a_later_build_walks_only_the_repositories_whose_commits_or_deployments_changed():
    from pipelines.linking import build_change_deliveries

    conn = _warehouse([("a/one", "a1", []), ("a/one", "a2", ["a1"]), ("b/two", "b1", [])],
                      [("da", 1, "a/one", "a2"), ("db", 2, "b/two", "b1")])
    assert build_change_deliveries(conn) == (3, "full", 3)
    assert build_change_deliveries(conn) == (3, "unchanged", 0)

    # b/two moves on: only its deliveries are computed again (b1 by db, b2 by db2), a/one's kept
    _add(conn, [("b/two", "b2", ["b1"])], [("db2", 3, "b/two", "b2")])
    assert build_change_deliveries(conn) == (4, "incremental", 2)
    assert _stored(conn) == _expected(conn)

    # a/one's history arrives late: a0, the parent a1 named, was unknown — da delivered it all along
    conn.execute("update intermediate.commits set parent_shas = ['a0'] where commit_sha = 'a1'")
    _add(conn, [("a/one", "a0", [])])
    assert build_change_deliveries(conn) == (5, "incremental", 3)
    assert ("a/one", "a0", "da", False) in _stored(conn)
    assert _stored(conn) == _expected(conn)

    # a deployment that named no repository moves when its commit turns up in a second one: both walked again
    _add(conn, [("c/three", "c1", [])], [("dc", 4, None, "c1")])
    assert build_change_deliveries(conn)[1:] == ("incremental", 1)
    assert ("c/three", "c1", "dc", True) in _stored(conn)
    _add(conn, [("d/four", "c1", [])])
    assert build_change_deliveries(conn)[1:] == ("incremental", 1)  # c/three's (none now) and the unresolved one
    assert (None, "c1", "dc", True) in _stored(conn) and _stored(conn) == _expected(conn)
    assert build_change_deliveries(conn, full_refresh=True)[1] == "full" and _stored(conn) == _expected(conn)
