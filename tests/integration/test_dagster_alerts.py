"""Alerts in Dagster: the sensor asks for an evaluation after a successful build run, and the evaluation job
fires once, then stays quiet (the scenario of tests/unit/test_alerts.py's failed deployment)."""

from __future__ import annotations

import dagster as dg

from pipelines import definitions
from pipelines.orchestration.alerts import alerts_after_build, evaluate_alerts_job
from pipelines.orchestration.resources import WarehouseResource
from tests.unit.test_flow_world import FlowWorld


def _resources(paths):
    return {"warehouse_db": WarehouseResource(database=str(paths.warehouse), landing=str(paths.landing))}


def _output_metadata(result) -> dict:
    output, = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in output.event_specific_data.metadata.items()}


def test_a_successful_build_run_starts_an_evaluation_that_fires_once(paths, tmp_path):
    """svc 1.0.0 deployed to prod-eu at 09:00, 1.1.0 fails to deploy there at 10:00 → one deployment_failed
    alert: the first evaluation run fires it (one file in <landing>/alerts), the second fires nothing."""
    w = FlowWorld()
    w.deploy("d1", 60, w.purl("1.0.0"), "prod-eu", "deployed")
    w.failed_deploy("f2", 120, w.purl("1.1.0"), "prod-eu")
    w.build_warehouse(paths, tmp_path)

    instance = dg.DagsterInstance.ephemeral()
    build = definitions.defs.resolve_job_def("build_models").execute_in_process(
        instance=instance, resources=_resources(paths))
    assert build.success
    context = dg.build_run_status_sensor_context(
        sensor_name="alerts_after_build", dagster_instance=instance, dagster_run=build.dagster_run,
        dagster_event=build.get_run_success_event())
    request = alerts_after_build(context)
    assert isinstance(request, dg.RunRequest) and request.run_key == f"alerts-after-{build.run_id}"

    first = evaluate_alerts_job.execute_in_process(instance=instance, resources=_resources(paths))
    assert first.success
    meta = _output_metadata(first)
    assert (meta["fired"], meta["cleared"], meta["active"]) == (1, 0, 1)
    assert len(list((paths.landing / "alerts").rglob("*.ndjson"))) == 1

    second = evaluate_alerts_job.execute_in_process(instance=instance, resources=_resources(paths))
    assert second.success
    meta = _output_metadata(second)
    assert (meta["fired"], meta["cleared"], meta["active"], meta["file"]) == (0, 0, 1, "")
    assert len(list((paths.landing / "alerts").rglob("*.ndjson"))) == 1
