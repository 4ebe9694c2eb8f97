"""Alerts in Dagster: after every successful build, a run that evaluates them (pipelines/alerts.py).

A run-status sensor (not an asset in the build jobs) so that a failed build never raises or clears an alert,
and so the evaluation is its own run in the history, with what fired and cleared as metadata. The op takes
the warehouse pool and the single-writer lock like every writer. The alert files it writes land in the
landing zone, so the landing sensor loads them back with the next run; that run's success evaluates again,
finds nothing new, and writes nothing — the loop ends there.
"""

import dagster as dg

from pipelines import tasks
from pipelines.orchestration.assets import POOL
from pipelines.orchestration.automation import build_only, load_and_build
from pipelines.orchestration.resources import WarehouseResource


@dg.op(pool=POOL, description="Evaluate the alert conditions; write fired / cleared alerts to the landing zone.")
def evaluate_alerts(context: dg.OpExecutionContext, warehouse_db: WarehouseResource) -> dg.Output[None]:
    evaluation = tasks.evaluate_alerts(warehouse_db.paths)
    for event in evaluation.fired + evaluation.cleared:
        context.log.info(f"{event['type'].split('.')[-2]}: {event['data']['summary']}")
    return dg.Output(None, metadata={
        "fired": len(evaluation.fired), "cleared": len(evaluation.cleared), "active": evaluation.active,
        "file": str(evaluation.file) if evaluation.file else "",
    })


@dg.job(description="Evaluate the alerts on the freshly built warehouse (started after each successful build).")
def evaluate_alerts_job():
    evaluate_alerts()


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[load_and_build, build_only],
    request_job=evaluate_alerts_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the alerts after each successful load-and-build or build run.",
)
def alerts_after_build(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=f"alerts-after-{context.dagster_run.run_id}")
