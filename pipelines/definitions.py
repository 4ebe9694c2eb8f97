"""The Dagster code location: ``dagster dev -m pipelines.definitions``."""

import dagster as dg

from pipelines.orchestration.alerts import alerts_after_build, evaluate_alerts_job
from pipelines.orchestration.assets import MODEL_ASSETS, csv_reports, load_landing_zone, serving_snapshot
from pipelines.orchestration.automation import build_only, landing_zone_sensor, load_and_build, nightly_rebuild
from pipelines.orchestration.checks import ASSET_CHECKS
from pipelines.orchestration.resources import default_warehouse

defs = dg.Definitions(
    assets=[load_landing_zone, *MODEL_ASSETS, serving_snapshot, csv_reports],
    asset_checks=ASSET_CHECKS,
    jobs=[load_and_build, build_only, evaluate_alerts_job],
    sensors=[landing_zone_sensor, alerts_after_build],
    schedules=[nightly_rebuild],
    resources={"warehouse_db": default_warehouse()},
)
