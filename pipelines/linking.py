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

Kept by repository: a commit's delivery depends only on its repository's commits and on the production
deployments of that repository, so a build walks again only the repositories whose commits or deployments
changed since the last one and keeps the other repositories' deliveries (the hashes per key, their diff and
their stored state are pipelines/partitions.py's, with the repository as the key). The one rule that looks
across repositories — a deployment that names no repository, or one without its commit, is matched to the
one repository that has its commit — is applied in SQL to every deployment each build, before the hashing,
so a deployment that moves repository makes both dirty.

``first_deliveries`` is pure Python; ``build_change_deliveries`` is the thin SQL wrapper the model runner calls.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import duckdb
import polars as pl

from pipelines import changelog, incremental, partitions
from pipelines.warehouse import table_exists


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
    resolve: bool = True,
) -> list[Delivery]:
    """Deliveries for every commit reachable from a production deployment, first deployment wins.

    ``parents`` maps (repository, sha) → parent shas. A deployment whose repository is unknown is
    matched to the repository that has its commit, if exactly one does (``resolve=False``: the
    deployments' repositories are already resolved so, and ``parents`` may hold only some repositories).
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
        if resolve and (repo, dep.commit_sha) not in parents:
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


QUALIFIED = "intermediate.change_deliveries"

# Every successful production deployment of a commit, with its repository resolved as first_deliveries does:
# its own when the repository has its commit, else the one repository that has the commit, if exactly one.
_RESOLVED = """
create or replace temp table _delivery_deployments as
with deployments as (
    select deployment_id, deployed_at, repository, commit_sha
    from intermediate.deployments
    where is_production and outcome = 'success' and commit_sha is not null
),

holders as (
    -- the repositories holding each deployed commit (a struct counts a null repository as one)
    select commit_sha, count(distinct {'r': repository}) as repositories, any_value({'r': repository}).r as repository,
           list(coalesce(repository, chr(0))) as keys
    from intermediate.commits
    where commit_sha in (select commit_sha from deployments)
    group by commit_sha
)

select
    d.deployment_id,
    d.deployed_at,
    case when list_contains(h.keys, coalesce(d.repository, chr(0))) or h.repositories is distinct from 1
         then d.repository else h.repository end as repository,
    d.commit_sha
from deployments d
left join holders h using (commit_sha)
"""

# per repository, a hash of everything its deliveries are computed from, as partitions.py keeps them
_INPUT_HASHES = """
insert into _partition_current
select 'inputs', repository, sum(row_hash), count(*)
from (
    select repository, hash('commit', commit_sha, parent_shas)::hugeint as row_hash from intermediate.commits
    union all
    select repository, hash('deployment', deployment_id, deployed_at, commit_sha)::hugeint from _delivery_deployments
)
group by repository
"""

_IN_DIRTY = partitions.in_dirty("repository")


def _code_fingerprint() -> str:
    """What the stored deliveries were computed with: this module's code."""
    with open(__file__, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def build_change_deliveries(conn: duckdb.DuckDBPyConnection, full_refresh: bool = False) -> tuple[int, str, int]:
    """Bring ``intermediate.change_deliveries`` up to date from commits and successful production deployments:
    (rows, ``full`` | ``incremental`` | ``unchanged``, deliveries computed). Module docstring: by repository."""
    conn.execute(incremental.STATE_DDL)
    conn.execute(partitions.STATE_DDL)
    conn.execute(_RESOLVED)
    conn.execute(partitions.CURRENT_DDL)
    conn.execute(_INPUT_HASHES)
    fp = _code_fingerprint()
    full = (full_refresh or incremental.stored_fingerprint(conn, QUALIFIED) != fp
            or not table_exists(conn, QUALIFIED))
    try:
        if not full and not partitions.find_dirty(conn, QUALIFIED):
            return conn.execute(f"select count(*) from {QUALIFIED}").fetchone()[0], "unchanged", 0
        deliveries = _walk(conn, None if full else _IN_DIRTY)
        conn.register("_deliveries", _frame(deliveries))
        try:
            if full:
                conn.execute(f"create or replace table {QUALIFIED} as select * from _deliveries")
            else:  # only the deliveries that differ are rewritten: most of a dirty repository's come out the same
                changelog.replace_rows(conn, QUALIFIED, _IN_DIRTY, "select * from _deliveries")
        finally:
            conn.unregister("_deliveries")
        partitions.store_hashes(conn, QUALIFIED, changed_only=not full)
        incremental.store_fingerprint(conn, QUALIFIED, fp)
        rows = conn.execute(f"select count(*) from {QUALIFIED}").fetchone()[0]
        return rows, "full" if full else "incremental", len(deliveries)
    finally:
        for table in ("_delivery_deployments", *partitions.TEMP_TABLES):
            conn.execute(f"drop table if exists {table}")


def _walk(conn: duckdb.DuckDBPyConnection, only: str | None) -> list[Delivery]:
    """The deliveries of the repositories ``only`` selects (a predicate on ``repository``; None: all)."""
    where = f" where {only}" if only else ""
    # through Arrow, column by column: fetchall() of 1.5M rows costs 5 s at 10M events, this a third of it.
    # execute(), not sql(): the model runner leaves a result open on this connection (sql() refuses to run
    # then), and the build's transaction is only visible on this connection; the extra copy execute() warns
    # about is cheap next to fetchall()'s Python tuples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        commits = pl.from_arrow(conn.execute(
            f"select repository, commit_sha, parent_shas from intermediate.commits{where}").to_arrow_table())
    parents = {
        (repo, sha): tuple(ps or ())
        for repo, sha, ps in zip(commits["repository"].to_list(), commits["commit_sha"].to_list(),
                                 commits["parent_shas"].to_list(), strict=True)
    }
    deployments = [Deployment(*row) for row in conn.execute(
        f"select deployment_id, deployed_at, repository, commit_sha from _delivery_deployments{where}").fetchall()]
    return first_deliveries(parents, deployments, resolve=False)


def _frame(deliveries: list[Delivery]) -> pl.DataFrame:
    return pl.DataFrame(
        deliveries, orient="row",
        schema={"repository": pl.Utf8, "commit_sha": pl.Utf8, "deployment_id": pl.Utf8,
                "deployed_at": pl.Datetime("us", "UTC"), "is_deployed_commit": pl.Boolean},
    )
