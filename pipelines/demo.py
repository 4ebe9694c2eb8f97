"""The demo: the committed sample events → landing zone → warehouse → marts → snapshot → CSV reports.

Idempotent: running it twice loads nothing new (the ledger) and rebuilds the same marts.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from pipelines import export, tasks, warehouse
from pipelines.config import Paths
import sample_events

SAMPLE_DIR = Path(sample_events.__file__).parent / "data"
EXPECTED = Path(sample_events.__file__).parent / "expected.json"  # the scenario's ground truth, not an input


def sample_files() -> list[Path]:
    return [p for p in sorted(SAMPLE_DIR.iterdir()) if p.is_file() and p.suffix in (".json", ".ndjson", ".gz")]


def prepare(paths: Paths, out_dir: Path, echo: Callable[[str], None] = print, via_receiver: bool = False) -> str:
    """Sample → landing zone (copied, or posted through a local `lifecycle serve`) → warehouse → CSVs."""
    if via_receiver:
        from pipelines.receiver.replay import replay_via_local_receiver

        replayed = replay_via_local_receiver(paths.landing, sample_files())
        echo(f"sample events posted through a local receiver into {paths.landing}: {replayed}")
    else:
        target = paths.landing / "sample"
        target.mkdir(parents=True, exist_ok=True)
        for path in sample_files():
            shutil.copyfile(path, target / path.name)
        echo(f"sample events copied to the landing zone {target}")
    loaded = tasks.ingest_landing_zone(paths).as_metadata()
    echo(f"ingested: {loaded['accepted']} new events, {loaded['duplicates']} duplicates, "
         f"{loaded['quarantined']} quarantined, {loaded['files_skipped']} files already loaded")
    built = tasks.build(paths)
    rows = sum(run.rows or 0 for run in built.runs)
    echo(f"built {len(built.runs)} models ({rows} mart rows); snapshot {built.snapshot}")
    with warehouse.snapshot_reader(paths) as conn:
        written = export.export_reports(conn, out_dir)
    return f"demo ready: {len(written)} CSV reports in {out_dir}; warehouse {paths.warehouse}"
