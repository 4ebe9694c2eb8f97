"""The dashboard's only door to data: short-lived read-only connections on the published snapshot.

Opening per query (not per session) means a newly published snapshot is picked up on the next
rerun, and the dashboard never holds a lock that could block a load.
"""

from __future__ import annotations

import polars as pl

from pipelines import warehouse
from pipelines.config import resolve_paths


def query(sql: str, params: list | dict | None = None) -> pl.DataFrame:
    with warehouse.snapshot_reader(resolve_paths()) as conn:
        return conn.sql(sql, params=params).pl()
