"""The steps users run — ingest, build (+ publish) — each taking the writer lock itself.

The CLI and the Dagster assets call these, so there is one implementation of every step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines import alerts, catalog, gitlog, kubernetes, loader, modeling, quality, source_config, warehouse
from pipelines.config import Paths


def ingest(
    paths: Paths,
    inputs: Iterable[str | Path],
    source: str | None = None,
    strict: bool = False,
    on_file: Callable[[Path, loader.FileResult], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> loader.LoadResult:
    """Load files/directories into the raw layer (idempotent)."""
    files = loader.discover(inputs)
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        return loader.load_files(conn, files, forced_source=source, strict=strict, on_file=on_file,
                                 on_bytes=on_bytes)


@dataclass
class GitIngestResult:
    repository: str
    commits: int
    tags: int
    landing_file: Path
    load: loader.LoadResult


def ingest_git(paths: Paths, repo: str | Path, branch: str | None = None,
               repo_url: str | None = None) -> GitIngestResult:
    """Read a local clone's commits and tags, write them to the landing zone, and load that file.

    The same loader as ``ingest`` loads it, so re-reading an unchanged history skips the file (ledger)
    and re-reading a grown one accepts only the new commits and tags (delivery ids).
    Raises ``gitlog.GitError`` when ``repo`` is not a git repository or has no commits.
    """
    repo = Path(repo)
    records = list(gitlog.read_history(repo, branch=branch, repo_url=repo_url))
    commits = sum(1 for r in records if r["kind"] == "commit")
    if not commits:
        raise gitlog.GitError(f"no commits to read in {repo}" + (f" on {branch}" if branch else ""))
    name = gitlog.repository_name(repo, repo_url)
    head = next(r["sha"] for r in records if r["kind"] == "commit")  # the newest tip, in topological order
    landing_file = gitlog.write_landing_file(records, paths.landing, name, head)
    load = ingest(paths, [landing_file])
    return GitIngestResult(name, commits, len(records) - commits, landing_file, load)


@dataclass
class KubernetesSnapshot:
    file: Path
    cluster: str
    deployments: int
    other_objects: int
    landing_file: Path


@dataclass
class KubernetesIngestResult:
    snapshots: list[KubernetesSnapshot]
    load: loader.LoadResult


def ingest_kubernetes(paths: Paths, files: Iterable[str | Path], cluster: str | None = None) -> KubernetesIngestResult:
    """Turn kubectl snapshots into one record per Deployment in the landing zone, and load those files.

    The cluster of each file: ``cluster``, else lifecycle.toml ``[kubernetes]`` (``files`` glob, ``cluster``);
    none is an error (an inventory per cluster needs one). Idempotent like ``ingest_git``: the same snapshot
    writes the same landing file, and the same Deployment state has the same delivery id.
    """
    config = source_config.load_config().kubernetes
    snapshots = []
    for file in loader.discover(files):
        name = cluster or config.cluster_for_file(file)
        if not name:
            raise kubernetes.SnapshotError(f"{file}: which cluster is it? pass --cluster NAME, or set [kubernetes] "
                                           "cluster (or files) in lifecycle.toml")
        deployments, others = kubernetes.read_snapshot(file)
        landing = kubernetes.write_landing_file(kubernetes.records(deployments, name, file.name), paths.landing, name)
        snapshots.append(KubernetesSnapshot(file, name, len(deployments), others, landing))
    load = ingest(paths, [s.landing_file for s in snapshots])
    return KubernetesIngestResult(snapshots, load)


@dataclass
class CatalogIngestResult:
    read: catalog.CatalogRead
    recorded: int
    valid_from: datetime


def ingest_catalog(paths: Paths, inputs: Iterable[str | Path], as_of: datetime | None = None) -> CatalogIngestResult:
    """Record the Backstage catalogue's state, valid from ``as_of`` (default: now), under the writer lock.

    Unchanged entities are not recorded again, so re-importing the same catalogue adds nothing.
    """
    read = catalog.read_catalog([Path(p) for p in inputs])
    valid_from = as_of or datetime.now(UTC)
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        recorded = catalog.record(conn, read.entities, valid_from)
    return CatalogIngestResult(read, recorded, valid_from)


def ingest_landing_zone(paths: Paths, on_file=None) -> loader.LoadResult:
    """Load every closed file in the landing zone that the ledger has not seen."""
    paths.landing.mkdir(parents=True, exist_ok=True)
    return ingest(paths, [paths.landing], on_file=on_file)


@dataclass
class BuildResult:
    runs: list[modeling.ModelRun]
    checks: list[quality.CheckResult]
    snapshot: Path
    checks_seconds: float = 0.0
    publish_seconds: float = 0.0
    index_seconds: float = 0.0  # creating the models' lookup indexes after the build commits (modeling.create_indexes)
    commit_seconds: float = 0.0  # committing the models' transaction (modeling.build_models)


def build(
    paths: Paths,
    on_model: Callable[[modeling.ModelRun], None] | None = None,
    full_refresh: bool = False,
) -> BuildResult:
    """Run every model, run the quality checks, then publish the snapshot — all under one lock.
    Incremental models fold in only new loads unless ``full_refresh`` (pipelines/incremental.py)."""
    with warehouse.warehouse_lock(paths):
        with warehouse.writer(paths) as conn:
            committed: list[float] = []
            runs = modeling.build_models(conn, on_model=on_model, full_refresh=full_refresh,
                                         on_commit=committed.append)
            started = time.perf_counter()
            modeling.create_indexes(conn)
            indexed = time.perf_counter()
            checks = quality.run_checks(conn)
            checked = time.perf_counter()
        snapshot = warehouse.publish_snapshot(paths)
    return BuildResult(runs, checks, snapshot, checked - indexed, time.perf_counter() - checked, indexed - started,
                       committed[0])


def evaluate_alerts(paths: Paths, settings: alerts.AlertSettings | None = None,
                    now: datetime | None = None) -> alerts.Evaluation:
    """Evaluate the alert conditions on the warehouse, write fired / cleared alerts to the landing zone and
    update ``alerts.state`` — under the writer lock; republish the snapshot when an alert fired or cleared,
    so ``lifecycle alerts list`` (which reads the snapshot, like every reader) sees the new state."""
    with warehouse.warehouse_lock(paths):
        with warehouse.writer(paths) as conn:
            evaluation = alerts.evaluate(conn, paths.landing, settings, now)
        if evaluation.changed:
            warehouse.publish_snapshot(paths)
    return evaluation
