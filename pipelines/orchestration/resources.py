"""The warehouse as a Dagster resource: dagster-duckdb's DuckDBResource plus the single-writer lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster_duckdb import DuckDBResource

from pipelines import warehouse
from pipelines.config import Paths, memory_limit, resolve_paths


class WarehouseResource(DuckDBResource):
    """``database`` is the warehouse file; ``landing`` the landing zone (empty: beside the warehouse)."""

    landing: str = ""

    @property
    def paths(self) -> Paths:
        return resolve_paths(self.database, self.landing or None)

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection under the lock the CLI also takes, so a run and a CLI load never collide."""
        paths = self.paths
        paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
        with warehouse.warehouse_lock(paths), self.get_connection() as conn:
            warehouse.ensure_schema(conn)
            yield conn


def default_warehouse() -> WarehouseResource:
    paths = resolve_paths()
    return WarehouseResource(database=str(paths.warehouse), landing=str(paths.landing),
                             connection_config={"memory_limit": memory_limit()})
