"""Which production deployment first delivered each commit: the ancestry walk behind change lead time.

A deployment of an artifact built from commit C ships every commit that C contains (C and its
ancestors) that no earlier production deployment of the same repository shipped — not only the commits
of the last push (Four Keys' known bug). Walking production deployments in time order and stopping at
commits already delivered makes the whole computation linear in commits + parent edges:

- a rollback or a redeploy reaches only delivered commits, so it delivers nothing;
- the same artifact reaching a second production cluster later delivers nothing more (a change reaches
  production once, at its first arrival);
- a commit contained by a later deployment only (e.g. merged after an earlier release was cut) is
  delivered by that later one.

Pure Python; ``build_change_deliveries`` is the thin SQL wrapper the model runner calls.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import duckdb
import polars as pl


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    deployed_at: datetime
    repository: str | None
    commit_sha: str | None


class Delivery(NamedTuple):
    """A tuple: a 10M-event warehouse has 1.4M of them, and a frozen dataclass costs 3× the time to create."""

    repository: str | None
    commit_sha: str
    deployment_id: str
    deployed_at: datetime
    is_deployed_commit: bool  # the artifact's own commit, as opposed to one of its ancestors


def first_deliveries(
    parents: Mapping[tuple[str | None, str], Sequence[str]],
    deployments: Iterable[Deployment],
) -> list[Delivery]:
    """Deliveries for every commit reachable from a production deployment, first deployment wins.

    ``parents`` maps (repository, sha) → parent shas. A deployment whose repository is unknown is
    matched to the repository that has its commit, if exactly one does.
    """
    repos_of_sha: dict[str, set[str | None]] = {}
    for repo, sha in parents:
        repos_of_sha.setdefault(sha, set()).add(repo)
    delivered: set[tuple[str | None, str]] = set()
    out: list[Delivery] = []
    for dep in sorted(deployments, key=lambda d: (d.deployed_at, d.deployment_id)):
        if not dep.commit_sha:
            continue
        repo = dep.repository
        if (repo, dep.commit_sha) not in parents:
            candidates = repos_of_sha.get(dep.commit_sha, set())
            if len(candidates) == 1:
                repo = next(iter(candidates))
        stack = [dep.commit_sha]
        while stack:
            sha = stack.pop()
            key = (repo, sha)
            if key in delivered:
                continue
            if sha != dep.commit_sha and key not in parents:
                continue  # a parent we know nothing about (history before what was loaded)
            delivered.add(key)
            out.append(Delivery(repo, sha, dep.deployment_id, dep.deployed_at, sha == dep.commit_sha))
            stack.extend(parents.get(key, ()))
    return out


def build_change_deliveries(conn: duckdb.DuckDBPyConnection) -> int:
    """(Re)create ``intermediate.change_deliveries`` from commits and successful production deployments."""
    # through Arrow, column by column: fetchall() of 1.5M rows costs 5 s at 10M events, this a third of it.
    # execute(), not sql(): the model runner leaves a result open on this connection (sql() refuses to run
    # then), and the build's transaction is only visible on this connection; the extra copy execute() warns
    # about is cheap next to fetchall()'s Python tuples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        commits = pl.from_arrow(
            conn.execute("select repository, commit_sha, parent_shas from intermediate.commits").to_arrow_table())
    parents = {
        (repo, sha): tuple(ps or ())
        for repo, sha, ps in zip(commits["repository"].to_list(), commits["commit_sha"].to_list(),
                                 commits["parent_shas"].to_list(), strict=True)
    }
    deployments = [
        Deployment(*row)
        for row in conn.execute(
            "select deployment_id, deployed_at, repository, commit_sha from intermediate.deployments "
            "where is_production and outcome = 'success' and commit_sha is not null"
        ).fetchall()
    ]
    deliveries = first_deliveries(parents, deployments)
    frame = pl.DataFrame(
        deliveries, orient="row",
        schema={"repository": pl.Utf8, "commit_sha": pl.Utf8, "deployment_id": pl.Utf8,
                "deployed_at": pl.Datetime("us", "UTC"), "is_deployed_commit": pl.Boolean},
    )
    conn.register("_deliveries", frame)
    try:
        conn.execute("create or replace table intermediate.change_deliveries as select * from _deliveries")
    finally:
        conn.unregister("_deliveries")
    return len(deliveries)
