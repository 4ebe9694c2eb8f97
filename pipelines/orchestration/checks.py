"""Asset checks: the data-quality checks of ``pipelines.quality``, shown in the Dagster UI."""


import dagster as dg

from pipelines import quality
from pipelines.orchestration.assets import POOL, RAW_QUARANTINE
from pipelines.orchestration.resources import WarehouseResource

LIFECYCLE_EVENTS = dg.AssetKey(["marts", "lifecycle_events"])
DEPLOYMENTS = dg.AssetKey(["marts", "deployments"])
RELEASE_INVENTORY = dg.AssetKey(["marts", "release_inventory"])
STAGE_DURATIONS = dg.AssetKey(["marts", "stage_durations"])
ARTIFACT_JOURNEYS = dg.AssetKey(["marts", "artifact_journeys"])


def _check(asset_key: dg.AssetKey, check_fn) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset_key, name=check_fn.__name__, description=check_fn.__doc__, pool=POOL)
    def _run(warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse_db.writer() as conn:
            result = check_fn(conn)
        return dg.AssetCheckResult(
            passed=result.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=result.description,
            metadata={k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in result.metadata.items()},
        )

    return _run


ASSET_CHECKS = [
    _check(LIFECYCLE_EVENTS, quality.unknown_event_types),
    _check(LIFECYCLE_EVENTS, quality.duplicate_events),
    _check(LIFECYCLE_EVENTS, quality.clock_skew),
    _check(RAW_QUARANTINE, quality.quarantine_growth),
    _check(DEPLOYMENTS, quality.link_coverage),
    _check(RELEASE_INVENTORY, quality.release_inventory_consistency),
    _check(STAGE_DURATIONS, quality.stage_durations_consistency),
    _check(ARTIFACT_JOURNEYS, quality.stuck_artifacts),
]
