"""The Dagster code location: loads, validates, materializes idempotently, checks, and senses."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines import definitions
from pipelines.orchestration import assets, automation, checks
from pipelines.orchestration.resources import WarehouseResource
from tests.conftest import CONFORMANCE, cloudevent, query, write_lines


def _resources(paths):
    return {"warehouse_db": WarehouseResource(database=str(paths.warehouse), landing=str(paths.landing))}


def _all_assets():
    return [assets.load_landing_zone, *assets.MODEL_ASSETS, assets.serving_snapshot, assets.csv_reports,
            *checks.ASSET_CHECKS]


def test_definitions_load_with_every_layer_jobs_sensor_and_schedule():
    defs = definitions.defs
    repo = defs.get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert {"raw/events", "raw/quarantine", "staging/cdevents", "marts/lifecycle_events", "serving/snapshot"} <= keys
    assert defs.resolve_job_def("load_and_build") and defs.resolve_job_def("build_models")
    assert {s.name for s in defs.sensors} == {"landing_zone_sensor", "alerts_after_build"}
    assert {s.name for s in defs.schedules} == {"nightly_load_and_build"}
    check_names = {k.name for k in repo.asset_graph.asset_check_keys}
    assert {"unknown_event_types", "quarantine_growth", "duplicate_events", "clock_skew", "link_coverage"} <= check_names


def test_materializing_twice_is_idempotent(paths):
    shutil.copytree(CONFORMANCE, paths.landing / "conformance")
    write_lines(paths.landing / "broken.ndjson", [cloudevent(1), "{not json"])
    first = dg.materialize(_all_assets(), resources=_resources(paths))
    assert first.success
    counts = query(paths, "select (select count(*) from raw.events), (select count(*) from raw.quarantine), "
                          "(select count(*) from marts.lifecycle_events)")[0]
    assert counts == (91, 1, 91)
    load_meta = first.asset_materializations_for_node("load_landing_zone")[0].metadata
    assert load_meta["accepted"].value == 91 and load_meta["quarantined"].value == 1
    checks_run = {e.asset_check_key.name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks_run["duplicate_events"] and checks_run["unknown_event_types"]
    assert not checks_run["quarantine_growth"]  # 1 of 92 records is over the 1% tolerance: it must warn

    second = dg.materialize(_all_assets(), resources=_resources(paths))
    assert second.success
    assert query(paths, "select (select count(*) from raw.events), (select count(*) from raw.quarantine), "
                        "(select count(*) from marts.lifecycle_events)")[0] == counts
    assert second.asset_materializations_for_node("load_landing_zone")[0].metadata["files_skipped"].value == 91
    assert paths.serving.exists()
    assert (paths.reports / "dora_weekly_by_team.csv").exists() and (paths.reports / "deployments.csv").exists()


def test_sensor_requests_a_run_only_when_the_landing_zone_changes(paths):
    instance = dg.DagsterInstance.ephemeral()
    ctx = dg.build_sensor_context(instance=instance)
    assert isinstance(automation.landing_zone_sensor(ctx), dg.SkipReason)  # empty landing zone
    write_lines(paths.landing / "a.ndjson", [cloudevent(1)])
    ctx = dg.build_sensor_context(instance=instance)
    request = automation.landing_zone_sensor(ctx)
    assert isinstance(request, dg.RunRequest)
    cursor = ctx.cursor
    assert json.loads(cursor)["files"] == 1
    same = automation.landing_zone_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(same, dg.SkipReason)
    write_lines(paths.landing / "b.ndjson.open", [cloudevent(2)])  # still being written: ignored
    assert isinstance(automation.landing_zone_sensor(dg.build_sensor_context(instance=instance, cursor=cursor)),
                      dg.SkipReason)


def test_a_sensor_run_reads_only_the_recent_partitions_and_the_nightly_load_reads_all(paths):
    now = datetime.now(UTC)
    today, old = now.date(), (now - timedelta(days=30)).date()
    write_lines(paths.landing / "receiver" / f"date={old}" / "h-1-1.ndjson", [cloudevent(1)])
    write_lines(paths.landing / "receiver" / f"date={today}" / "h-1-2.ndjson", [cloudevent(2)])
    write_lines(paths.landing / "git" / "repo" / "head.ndjson", [cloudevent(3)])  # outside any partition
    ctx = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral())
    request = automation.landing_zone_sensor(ctx)
    assert request.tags[assets.SINCE_TAG] == str(today - timedelta(days=1))
    assert json.loads(ctx.cursor)["files"] == 2  # the old partition is not even listed
    load_only = [assets.load_landing_zone]
    assert dg.materialize(load_only, resources=_resources(paths), tags=request.tags).success
    assert sorted(i for (i,) in query(paths, "select event_id from raw.events")) == ["evt-2", "evt-3"]
    assert dg.materialize(load_only, resources=_resources(paths)).success  # no tag: the nightly full load
    assert sorted(i for (i,) in query(paths, "select event_id from raw.events")) == ["evt-1", "evt-2", "evt-3"]
