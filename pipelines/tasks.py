"""The steps users run — ingest, build (+ publish) — each taking the writer lock itself.

The CLI and the Dagster assets call these, so there is one implementation of every step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipelines import loader, modeling, quality, warehouse
from pipelines.config import Paths


def ingest(
    paths: Paths,
    inputs: Iterable[str | Path],
    source: str | None = None,
    strict: bool = False,
    on_file: Callable[[Path, loader.FileResult], None] | None = None,
) -> loader.LoadResult:
    """Load files/directories into the raw layer (idempotent)."""
    files = loader.discover(inputs)
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        return loader.load_files(conn, files, forced_source=source, strict=strict, on_file=on_file)


def ingest_landing_zone(paths: Paths, on_file=None) -> loader.LoadResult:
    """Load every closed file in the landing zone that the ledger has not seen."""
    paths.landing.mkdir(parents=True, exist_ok=True)
    return ingest(paths, [paths.landing], on_file=on_file)


@dataclass
class BuildResult:
    runs: list[modeling.ModelRun]
    checks: list[quality.CheckResult]
    snapshot: Path


def build(
    paths: Paths,
    on_model: Callable[[modeling.ModelRun], None] | None = None,
) -> BuildResult:
    """Run every model, run the quality checks, then publish the snapshot — all under one lock."""
    with warehouse.warehouse_lock(paths):
        with warehouse.writer(paths) as conn:
            runs = modeling.build_models(conn, on_model=on_model)
            checks = quality.run_checks(conn)
        snapshot = warehouse.publish_snapshot(paths)
    return BuildResult(runs, checks, snapshot)
