"""DORA figures on the committed sample equal the scenario's ground truth.

`sample_events/expected.json` is computed by the generator from its world model with the rules in
`sample_events/SCENARIO.md` §5 — an independent implementation — so any disagreement is a defect in one
of the two, found by this test.
"""

from __future__ import annotations

import json

import pytest

from pipelines import tasks
from pipelines.demo import EXPECTED, SAMPLE_DIR
from tests.conftest import query

GROUPS = {"overall": "overall", "by_service": "service", "by_team": "team", "by_app": "app"}


@pytest.fixture(scope="module")
def sample_metrics(tmp_path_factory):
    from pipelines.config import resolve_paths

    paths = resolve_paths(tmp_path_factory.mktemp("sample") / "warehouse.duckdb")
    tasks.ingest(paths, [SAMPLE_DIR])
    tasks.build(paths)
    rows = query(paths, "select * from marts.dora_metrics")
    columns = [c for (c,) in query(paths, "select column_name from information_schema.columns where "
                                          "table_schema = 'marts' and table_name = 'dora_metrics' order by ordinal_position")]
    metrics = [dict(zip(columns, row, strict=True)) for row in rows]
    return paths, metrics, json.loads(EXPECTED.read_text())["dora"]


def _row(metrics, period, group_by, group_value, period_start=None):
    found = [m for m in metrics if m["period"] == period and m["group_by"] == group_by and m["group_value"] == group_value
             and (period_start is None or m["period_start"].strftime("%Y-%m") == period_start)]
    assert len(found) == 1, (period, group_by, group_value, period_start)
    return found[0]


def _cases(dora):
    yield "overall", "all", dora["overall"]
    for key, group_by in GROUPS.items():
        if key != "overall":
            for value, truth in dora[key].items():
                yield group_by, value, truth


def test_whole_window_figures_match_the_scenario(sample_metrics):
    _, metrics, dora = sample_metrics
    for group_by, value, truth in _cases(dora):
        got = _row(metrics, "all", group_by, value)
        where = f"{group_by}={value}"
        assert got["deployments"] == truth["production_deployments"], where
        assert got["deployment_days"] == truth["deployment_days"], where
        assert got["failed_changes"] == truth["failed_changes"], where
        assert got["change_fail_rate"] == pytest.approx(truth["change_fail_rate"]), where
        assert got["failed_deployment_attempts"] == truth["failed_deployment_attempts"], where
        assert got["change_fail_rate_incl_failed_attempts"] == pytest.approx(
            truth["change_fail_rate_incl_failed_attempts"]), where
        assert got["rework_deployments"] == truth["rework_deployments"], where
        assert got["rework_rate"] == pytest.approx(truth["rework_rate"]), where
        assert got["changes_deployed"] == truth["changes_deployed"], where
        lead = truth["lead_time"]
        assert got["lead_time_n"] == lead["n"], where
        assert got["lead_time_nonpositive_excluded"] == lead["nonpositive_excluded"], where
        assert got["lead_time_p50_s"] == pytest.approx(lead["p50_s"]), where
        assert got["lead_time_p90_s"] == pytest.approx(lead["p90_s"]), where
        assert got["lead_time_mean_s"] == pytest.approx(lead["mean_s"]), where
        recovery = truth["recovery_time"]
        assert got["recovery_time_n"] == recovery["n"], where
        assert got["unrecovered"] == recovery["unrecovered"], where
        assert got["recovery_time_p50_s"] == pytest.approx(recovery["p50_s"]), where
        assert got["recovery_time_p90_s"] == pytest.approx(recovery["p90_s"]), where
        assert got["incidents"] == truth["incidents"], where
        assert got["incident_time_to_restore_p50_s"] == pytest.approx(truth["incident_time_to_restore"]["p50_s"]), where


def test_median_deployment_days_per_week_matches(sample_metrics):
    _, metrics, dora = sample_metrics
    for group_by, value, truth in _cases(dora):
        got = _row(metrics, "all", group_by, value)
        assert got["median_deployment_days_per_week"] == truth["median_deployment_days_per_week"], (group_by, value)


def test_monthly_figures_group_changes_by_the_delivering_deployment(sample_metrics):
    _, metrics, dora = sample_metrics
    for month, truth in dora["by_month"].items():
        got = _row(metrics, "month", "overall", "all", period_start=month)
        assert got["deployments"] == truth["production_deployments"], month
        assert got["deployment_days"] == truth["deployment_days"], month
        assert got["lead_time_n"] == truth["lead_time"]["n"], month
        assert got["lead_time_p50_s"] == pytest.approx(truth["lead_time"]["p50_s"]), month
        assert got["lead_time_p90_s"] == pytest.approx(truth["lead_time"]["p90_s"]), month


def test_per_deployment_flags_match(sample_metrics):
    paths, _, _ = sample_metrics
    truth = {d["deployment_id"]: d for d in json.loads(EXPECTED.read_text())["production_deployments"]}
    rows = query(paths, "select deployment_id, outcome, is_rollback, is_hotfix, is_rework, is_redeploy, caused_failure, "
                        "strftime(recovered_at, '%Y-%m-%dT%H:%M:%SZ') from marts.deployments where is_production")
    assert {r[0] for r in rows} == set(truth)
    for deployment_id, outcome, *flags, recovered_at in rows:
        t = truth[deployment_id]
        assert outcome == t["outcome"], t
        if outcome == "success":
            assert flags == [t["is_rollback"], t["is_hotfix"], t["is_rework"], t["is_redeploy"], t["caused_failure"]], t
            assert recovered_at == t["recovered_at"], t


def test_incident_attribution_matches(sample_metrics):
    paths, _, _ = sample_metrics
    truth = json.loads(EXPECTED.read_text())["incidents"]
    got = {r[0]: r[1:] for r in query(paths, "select incident_id, attribution, deployment_id from marts.incidents")}
    assert got == {i["incident_id"]: (i["attribution"], i.get("deployment_id")) for i in truth}


def test_funnel_counts_artifacts_by_furthest_stage(sample_metrics):
    """Cumulative: an artifact that reached production also reached every earlier step."""
    paths, _, _ = sample_metrics
    truth = json.loads(EXPECTED.read_text())["funnel"]["artifacts"]
    reached = dict(query(paths, """
        select step, count(*) from (select unnest([
            {'step': 'built', 'ok': packaged_at is not null or build_finished_at is not null},
            {'step': 'published', 'ok': published_at is not null},
            -- cumulative: an artifact already in dev passed the scan step even while its scan is queued
            {'step': 'scanned', 'ok': scanned_at is not null
                                      or furthest_stage in ('development', 'testing', 'staging', 'production')},
            {'step': 'dev', 'ok': furthest_stage in ('development', 'testing', 'staging', 'production')},
            {'step': 'qa', 'ok': furthest_stage in ('testing', 'staging', 'production')},
            {'step': 'staging', 'ok': furthest_stage in ('staging', 'production')},
            {'step': 'production', 'ok': reached_production}], recursive := true) from marts.artifact_journeys)
        where ok group by step"""))
    assert reached == truth
