"""Assets: the raw load, one asset per SQL model (grouped by layer), and the published snapshot."""

from datetime import date

import dagster as dg

from models import MODELS_DIR
from pipelines import export, loader, modeling, warehouse
from pipelines.orchestration.resources import WarehouseResource

POOL = "warehouse"  # dagster.yaml limits every pool to 1: one writer at a time
RAW_EVENTS = dg.AssetKey(["raw", "events"])
RAW_QUARANTINE = dg.AssetKey(["raw", "quarantine"])
SNAPSHOT = dg.AssetKey(["serving", "snapshot"])
SINCE_TAG = "lifecycle/since"  # a run with this tag loads only the landing zone's date= partitions from that day


@dg.multi_asset(
    specs=[
        dg.AssetSpec(RAW_EVENTS, description="Every accepted event as received, deduplicated.", group_name="raw",
                     kinds={"duckdb"}),
        dg.AssetSpec(RAW_QUARANTINE, description="Rejected records with the reason to act on.", group_name="raw",
                     kinds={"duckdb"}),
    ],
    pool=POOL,
)
def load_landing_zone(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource):
    """Load every closed landing-zone file the ledger has not seen (idempotent). A run started by the sensor
    reads only the recent ``date=`` partitions (its ``lifecycle/since`` tag); any other run reads them all."""
    paths = warehouse_db.paths
    paths.landing.mkdir(parents=True, exist_ok=True)
    since_tag = context.run.tags.get(SINCE_TAG)
    since = date.fromisoformat(since_tag) if since_tag else None
    files = loader.discover([paths.landing], since=since)
    context.log.info(f"{len(files)} files in {paths.landing}" + (f" (partitions since {since})" if since else ""))
    with warehouse_db.writer() as conn:
        result = loader.load_files(
            conn, files,
            on_file=lambda path, r: context.log.info(
                f"{path.name}: {r.status} records={r.records} accepted={r.accepted} "
                f"duplicates={r.duplicates} quarantined={r.quarantined} {r.note}"),
        )
        events_total = conn.execute("select count(*) from raw.events").fetchone()[0]
        quarantine_total = conn.execute("select count(*) from raw.quarantine").fetchone()[0]
    meta = result.as_metadata()
    yield dg.MaterializeResult(asset_key=RAW_EVENTS, metadata={**meta, "dagster/row_count": events_total})
    yield dg.MaterializeResult(asset_key=RAW_QUARANTINE,
                               metadata={"quarantined": meta["quarantined"], "dagster/row_count": quarantine_total})


def _model_key(qualified: str) -> dg.AssetKey:
    return dg.AssetKey(qualified.split("."))


def _model_asset(model: modeling.Model) -> dg.AssetsDefinition:
    deps = [_model_key(d) for d in model.deps]
    if model.layer == "staging":
        deps.append(RAW_EVENTS)

    @dg.asset(
        key=_model_key(model.qualified),
        deps=deps,
        group_name=model.layer,
        description=model.description or None,
        kinds={"duckdb", "sql"},
        pool=POOL,
        metadata={"source_file": str(model.path.relative_to(MODELS_DIR.parent)), "materialization": model.materialization},
    )
    def _asset(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
        with warehouse_db.writer() as conn:
            modeling.create_macros(conn)
            rows = modeling.run_model(conn, model)
        return dg.MaterializeResult(metadata={} if rows is None else {"dagster/row_count": rows})

    return _asset


MODEL_ASSETS = [_model_asset(m) for m in modeling.build_order()]
MART_KEYS = [_model_key(m.qualified) for m in modeling.build_order() if m.layer == "marts"]


@dg.asset(key=SNAPSHOT, deps=MART_KEYS, group_name="serving", pool=POOL, kinds={"duckdb"},
          description="The read-only copy the dashboard, `lifecycle sql` and exports read; replaced atomically.")
def serving_snapshot(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    paths = warehouse_db.paths
    with warehouse.warehouse_lock(paths):
        published = warehouse.publish_snapshot(paths)
    return dg.MaterializeResult(metadata={"path": str(published), "bytes": published.stat().st_size})


@dg.asset(key=dg.AssetKey(["reports", "csv"]), deps=[SNAPSHOT], group_name="serving", kinds={"csv"},
          description="The CSV reports (weekly DORA per team and per service, deployments, changes) from the snapshot.")
def csv_reports(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    paths = warehouse_db.paths
    with warehouse.snapshot_reader(paths) as conn:
        written = export.export_reports(conn, paths.reports)
    context.log.info(f"wrote {len(written)} reports to {paths.reports}")
    return dg.MaterializeResult(metadata={"directory": str(paths.reports), **{k: v for k, v in written.items()}})
