"""The public schema (DESIGN §6) is a contract: these tables and columns must exist, with these types.

SQL users, the dashboard and the CSV reports rely on them; renaming one needs a migration note.
"""

from __future__ import annotations

import pytest

from pipelines import tasks
from tests.conftest import CONFORMANCE, query

CONTRACT = {
    "lifecycle_events": "event_id source_tool raw_type stage occurred_at received_at outcome repository commit_sha "
                        "artifact_id version service team app environment environment_tier",
    "deployments": "deployment_id service app team environment environment_tier is_production artifact_id version "
                   "commit_sha deployed_at outcome is_rollback is_rework caused_failure recovered_at",
    "changes": "commit_sha repository committed_at deployment_id deployed_at lead_time_s",
    "incidents": "incident_id service environment opened_at resolved_at deployment_id attribution",
    "artifact_journeys": "artifact_id service version commit_sha furthest_stage reached_production",
    "dora_metrics": "period period_start group_by group_value deployments deployment_days lead_time_p50_s "
                    "lead_time_p90_s change_fail_rate recovery_time_p50_s rework_rate",
    "stage_durations": "artifact_id stage tool entered_at exited_at duration_s active_s waiting_s",
    "bottlenecks": "tool stage period_start share_of_lead_time p50_s p90_s waiting_share",
    "release_inventory": "service environment version artifact_id deployed_at team app",
}


@pytest.fixture(scope="module")
def columns(tmp_path_factory):
    from pipelines.config import resolve_paths

    paths = resolve_paths(tmp_path_factory.mktemp("contract") / "warehouse.duckdb")
    tasks.ingest(paths, [CONFORMANCE])
    tasks.build(paths)
    rows = query(paths, "select table_name, column_name, data_type from information_schema.columns "
                        "where table_schema = 'marts'")
    found: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        found.setdefault(table, {})[column] = data_type
    return found


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_contract_columns_exist(columns, table):
    assert table in columns, f"marts.{table} is missing"
    missing = [c for c in CONTRACT[table].split() if c not in columns[table]]
    assert not missing, f"marts.{table} lacks {missing}"


def test_timestamps_are_utc_timestamptz_and_durations_double(columns):
    for table, cols in columns.items():
        for name, data_type in cols.items():
            if name.endswith("_at") or name == "period_start":
                assert data_type == "TIMESTAMP WITH TIME ZONE", (table, name, data_type)
            if name.endswith("_s"):
                assert data_type == "DOUBLE", (table, name, data_type)
