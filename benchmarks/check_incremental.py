"""Compare every model kept incrementally (by partition or by period) with a full recompute of its SQL, on a
warehouse of any size — what the integration harness checks on the sample, for a benchmark's warehouse after
an incremental build.

    python benchmarks/check_incremental.py WAREHOUSE [MODEL ...]

Each table and its recompute are compared as multisets of row hashes (``except all`` of the rows themselves
takes minutes for the 7.8M journey events at 10M). Prints the rows only in the table and only in the
recompute — both 0 when the incremental path gave what a full build gives — and exits 1 otherwise. Opens the
warehouse for writing (the recompute is a temp table): stop other writers first.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines import modeling  # noqa: E402


def incremental_models() -> list[str]:
    return [q for q, m in modeling.discover_models().items()
            if m.materialization == "table" and (m.partition_column or m.period_column)]


def compare(conn: duckdb.DuckDBPyConnection, qualified: str) -> tuple[int, int, int]:
    """(rows recomputed, row hashes only in the table, only in the recompute) — counted with multiplicity."""
    conn.execute("reset variable period_pass")  # a period model's SQL computes every period
    conn.execute(f"create or replace temp table _recomputed as {modeling.discover_models()[qualified].sql}")
    only_table, only_recompute = conn.execute(f"""
        select coalesce(sum(greatest(coalesce(t.n, 0) - coalesce(r.n, 0), 0)), 0),
               coalesce(sum(greatest(coalesce(r.n, 0) - coalesce(t.n, 0), 0)), 0)
        from (select hash(x) as h, count(*) as n from {qualified} x group by h) t
        full join (select hash(x) as h, count(*) as n from _recomputed x group by h) r on r.h = t.h""").fetchone()
    rows = conn.execute("select count(*) from _recomputed").fetchone()[0]
    conn.execute("drop table _recomputed")
    return rows, int(only_table), int(only_recompute)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("models", nargs="*", help="qualified names (default: every model kept by partition or period)")
    args = parser.parse_args(argv)
    conn = duckdb.connect(str(args.warehouse))
    conn.execute("set enable_progress_bar = false")
    modeling.create_macros(conn)
    differ = 0
    for qualified in args.models or incremental_models():
        started = time.perf_counter()
        rows, only_table, only_recompute = compare(conn, qualified)
        differ += only_table + only_recompute
        print(f"{qualified}: {rows} rows recomputed; only in the table {only_table}, only in the recompute "
              f"{only_recompute} ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
