"""Jobs, the landing-zone sensor and the schedule."""


import json
import os

import dagster as dg

from pipelines import loader
from pipelines.config import resolve_paths

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


def landing_fingerprint(landing) -> dict:
    """What the sensor compares between ticks: how many closed files, and the newest change.

    It reads file metadata only — the sensor never opens the warehouse (readers never touch the
    writer's file), and the ledger makes a spurious run harmless anyway.
    """
    if not os.path.isdir(landing):
        return {"files": 0, "newest_ns": 0}
    files = loader.discover([landing])
    newest = max((f.stat().st_mtime_ns for f in files), default=0)
    return {"files": len(files), "newest_ns": newest}


@dg.sensor(job=load_and_build, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts a load when closed files appear or change in the landing zone.")
def landing_zone_sensor(context: dg.SensorEvaluationContext):
    current = landing_fingerprint(resolve_paths().landing)
    previous = json.loads(context.cursor) if context.cursor else None
    if current == previous or current["files"] == 0:
        return dg.SkipReason(f"no new files ({current['files']} in the landing zone)")
    context.update_cursor(json.dumps(current))
    return dg.RunRequest(run_key=f"landing-{current['files']}-{current['newest_ns']}")


nightly_rebuild = dg.ScheduleDefinition(
    name="nightly_load_and_build",
    job=load_and_build,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A nightly full load and rebuild, in case a sensor tick was missed.",
)
