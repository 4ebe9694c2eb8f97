"""Where things live: warehouse, serving snapshot, landing zone, lock — from flags or environment.

One place resolves paths so the CLI, Dagster and the dashboard agree on them.

Environment variables (a contract, see README):
- ``LIFECYCLE_WAREHOUSE``: the writer's DuckDB file (default ``./data/warehouse.duckdb``).
- ``LIFECYCLE_SERVING``: the published read-only snapshot (default: ``serving.duckdb`` beside the warehouse).
- ``LIFECYCLE_LANDING``: the landing zone directory (default: ``landing/`` beside the warehouse).
- ``LIFECYCLE_REPORTS``: where the Dagster report asset writes CSVs (default: ``reports/`` beside the warehouse).
- ``LIFECYCLE_LOCK_TIMEOUT``: seconds a writer waits for the warehouse lock (default 600).
- ``LIFECYCLE_MEMORY_LIMIT``: DuckDB's memory limit per connection (default ``3GB``); above it DuckDB spills
  to a temp directory beside the database instead of growing (docs/performance.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WAREHOUSE = Path("data") / "warehouse.duckdb"


@dataclass(frozen=True)
class Paths:
    warehouse: Path
    serving: Path
    landing: Path

    @property
    def lock(self) -> Path:
        """The file lock shared by every writer (CLI and Dagster) of this warehouse."""
        return self.warehouse.with_name(self.warehouse.name + ".lock")

    @property
    def data_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def reports(self) -> Path:
        env = os.environ.get("LIFECYCLE_REPORTS")
        return Path(env).expanduser().absolute() if env else self.data_dir / "reports"


def resolve_paths(warehouse: str | os.PathLike | None = None, landing: str | os.PathLike | None = None) -> Paths:
    """Resolve paths: explicit argument, then environment variable, then the default under ``./data/``.

    The serving snapshot and landing zone default to siblings of the warehouse, so pointing
    ``--warehouse`` somewhere else moves the whole set and two projects never share a snapshot.
    """
    wh = Path(warehouse or os.environ.get("LIFECYCLE_WAREHOUSE") or DEFAULT_WAREHOUSE).expanduser().absolute()
    serving_env = os.environ.get("LIFECYCLE_SERVING") if warehouse is None else None
    serving = Path(serving_env).expanduser().absolute() if serving_env else wh.with_name("serving.duckdb")
    if serving == wh:
        raise ValueError(f"the serving snapshot cannot be the warehouse itself ({wh})")
    landing_env = landing or (os.environ.get("LIFECYCLE_LANDING") if warehouse is None else None)
    land = Path(landing_env).expanduser().absolute() if landing_env else wh.parent / "landing"
    return Paths(warehouse=wh, serving=serving, landing=land)


def lock_timeout() -> float:
    return float(os.environ.get("LIFECYCLE_LOCK_TIMEOUT", "600"))


DEFAULT_MEMORY_LIMIT = "3GB"
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def memory_limit() -> str:
    """DuckDB's ``memory_limit`` for every connection: a 1M-event file staged whole peaks near 4 GB without
    it; with it, DuckDB spills (measured in docs/performance.md)."""
    value = os.environ.get("LIFECYCLE_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    if not _MEMORY.match(value):
        raise ValueError(f"LIFECYCLE_MEMORY_LIMIT={value!r}: expected a size such as 3GB or 512MiB")
    return value.strip()
