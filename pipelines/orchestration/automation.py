"""Jobs, the landing-zone sensor and the schedule."""


import json
import os
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from pipelines import loader
from pipelines.config import resolve_paths
from pipelines.orchestration.assets import SINCE_TAG


def recent_partitions(now: datetime | None = None) -> date:
    """The first ``date=`` partition a sensor run reads: yesterday's (UTC; a file closed just after midnight
    lies in it). Files outside any partition are always read; the nightly load reads every partition, in case a
    file ever lands in an older one. So a tick never lists or hashes years of old partitions."""
    return ((now or datetime.now(UTC)) - timedelta(days=1)).date()

load_and_build = dg.define_asset_job(
    "load_and_build",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Load new landing-zone files, rebuild the models, publish the snapshot.",
)

build_only = dg.define_asset_job(
    "build_models",
    selection=dg.AssetSelection.groups("staging", "intermediate", "marts", "serving"),
    executor_def=dg.in_process_executor,
    description="Rebuild the models from raw and publish the snapshot (no load).",
)


def landing_fingerprint(landing, since: date | None = None) -> dict:
    """What the sensor compares between ticks: how many closed files, and the newest change.

    It reads file metadata only — the sensor never opens the warehouse (readers never touch the
    writer's file), and the ledger makes a spurious run harmless anyway. ``since`` prunes older
    ``date=`` partitions (``loader.discover``).
    """
    if not os.path.isdir(landing):
        return {"files": 0, "newest_ns": 0}
    files = loader.discover([landing], since=since)
    newest = max((f.stat().st_mtime_ns for f in files), default=0)
    return {"files": len(files), "newest_ns": newest}


@dg.sensor(job=load_and_build, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts a load when closed files appear or change in the landing zone.")
def landing_zone_sensor(context: dg.SensorEvaluationContext):
    since = recent_partitions()
    current = landing_fingerprint(resolve_paths().landing, since)
    previous = json.loads(context.cursor) if context.cursor else None
    if current == previous or current["files"] == 0:
        return dg.SkipReason(f"no new files ({current['files']} in the landing zone since {since})")
    context.update_cursor(json.dumps(current))
    return dg.RunRequest(run_key=f"landing-{since}-{current['files']}-{current['newest_ns']}",
                         tags={SINCE_TAG: since.isoformat()})


nightly_rebuild = dg.ScheduleDefinition(
    name="nightly_load_and_build",
    job=load_and_build,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A nightly full load and rebuild, in case a sensor tick was missed.",
)
