"""CSV reports for people who live in spreadsheets: header row, ISO 8601 UTC timestamps, no index.

Each report is a query on the published snapshot, so exporting never touches the writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Report:
    name: str
    description: str
    sql: str  # may use $since (timestamp) and $team (varchar); both null when not given


_DORA_WEEKLY = """
        select period_start as week_start, group_value as {grain}, deployments, deployment_days,
               changes_deployed, lead_time_n, lead_time_p50_s, lead_time_p90_s, lead_time_nonpositive_excluded,
               failed_changes, change_fail_rate, failed_deployment_attempts, recovery_time_n, recovery_time_p50_s,
               rework_deployments, rework_rate, incidents, incident_time_to_restore_p50_s,
               deployment_frequency, lead_time_tier, change_fail_rate_tier, recovery_time_tier, benchmark_year
        from marts.dora_metrics
        where period = 'week' and group_by = '{grain}'
          and ($since::timestamptz is null or period_start >= date_trunc('week', $since::timestamptz))
          and ($team::varchar is null or {team_filter})
        order by week_start, {grain}
        """

REPORTS: tuple[Report, ...] = (
    Report("dora_weekly_by_team", "The DORA metrics per team and ISO week.",
           _DORA_WEEKLY.format(grain="team", team_filter="group_value = $team::varchar")),
    Report("dora_weekly_by_service", "The DORA metrics per service and ISO week.",
           _DORA_WEEKLY.format(grain="service", team_filter=(
               "group_value in (select service from intermediate.service_catalogue where team = $team::varchar)")
           )),
    Report(
        "deployments",
        "Every deployment (production and not, failed attempts included) behind the DORA figures.",
        """
        select deployment_id, deployed_at, service, team, app, environment, cluster, environment_tier, is_production,
               outcome, version, artifact_id, commit_sha, is_rollback, is_redeploy, is_hotfix, is_rework,
               caused_failure, recovered_at, recovery_time_s
        from marts.deployments
        where ($since::timestamptz is null or deployed_at >= $since::timestamptz)
          and ($team::varchar is null or team = $team::varchar)
        order by deployed_at, deployment_id
        """,
    ),
    Report(
        "changes",
        "Every commit with the production deployment that delivered it and its lead time.",
        """
        select commit_sha, repository, service, team, committed_at, deployment_id, deployed_at,
               deployed_environment, lead_time_s, lead_time_basis
        from marts.changes
        where ($since::timestamptz is null or coalesce(deployed_at, committed_at) >= $since::timestamptz)
          and ($team::varchar is null or team = $team::varchar)
        order by committed_at, commit_sha
        """,
    ),
    Report(
        "bottlenecks_weekly",
        "Per ISO week, each tool and stage's share of commit-to-production time, p50/p90, waiting share and trend.",
        """
        select period_start as week_start, rank_in_period, tool, stage, environment, share_of_lead_time, p50_s, p90_s,
               waiting_share, journeys, previous_share_of_lead_time, share_change, p50_change_s
        from marts.bottlenecks
        where period = 'week'
          and ($since::timestamptz is null or period_start >= date_trunc('week', $since::timestamptz))
        order by week_start, rank_in_period, tool, stage, environment
        """,
    ),
    Report(
        "artifact_funnel",
        "Artifacts per funnel step (built → published → each environment → production), yield and where they stopped.",
        """
        select group_by, group_value, step_order, step, reached, actually_reached, yield_from_previous,
               yield_from_start, stopped_here, stopped_in_flight, stopped_stuck, stopped_superseded,
               stopped_never_deployed, stopped_rejected, stopped_production
        from marts.artifact_funnel
        where $team::varchar is null or (group_by = 'team' and group_value = $team::varchar)
        order by group_by, group_value, step_order
        """,
    ),
    Report(
        "release_inventory",
        "Which version of each service runs in which environment/cluster, owner, app, drift vs production.",
        """
        select service, environment, cluster, version, artifact_id, deployed_at, running_since, team, app,
               production_version, versions_behind_production, behind_production_s, is_ahead_of_production, as_of
        from marts.release_inventory
        where $team::varchar is null or team = $team::varchar
        order by service, environment, cluster
        """,
    ),
    Report(
        "team_activity_weekly",
        "Deployments, artifacts and changes per team and ISO week.",
        """
        select period_start as week_start, group_value as team, deployments, production_deployments,
               failed_deployments, services_deployed, artifacts_built, artifacts_to_production, changes,
               changes_deployed, incidents
        from marts.team_activity
        where period = 'week' and group_by = 'team'
          and ($since::timestamptz is null or period_start >= date_trunc('week', $since::timestamptz))
          and ($team::varchar is null or group_value = $team::varchar)
        order by week_start, team
        """,
    ),
    Report(
        "artifact_risk",
        "Per artifact: vulnerabilities at scan, time in production, incidents and rollbacks, ranked.",
        """
        select risk_rank, artifact_id, service, team, app, version, scans, vulnerabilities_critical,
               vulnerabilities_high, vulnerabilities_medium, vulnerabilities_low, reached_production,
               production_running_s, in_production_now, incidents, rollbacks, failed_deployments, outcome
        from marts.artifact_risk
        where $team::varchar is null or team = $team::varchar
        order by risk_rank
        """,
    ),
    Report(
        "events_weekly",
        "Events per ISO week, tool and stage.",
        """
        select date_trunc('week', occurred_at) as week_start, source_tool, coalesce(stage, '(unmapped)') as stage,
               count(*) as events
        from marts.lifecycle_events
        where ($since::timestamptz is null or occurred_at >= $since::timestamptz)
          and ($team::varchar is null or team = $team::varchar)
        group by all order by week_start, source_tool, stage
        """,
    ),
    Report(
        "quarantine",
        "Records rejected at load, with the reason to act on.",
        """
        select file, line, element, reason, quarantined_at
        from raw.quarantine
        where $since::timestamptz is null or quarantined_at >= $since::timestamptz
        order by quarantined_at, file, line
        """,
    ),
)


def export_reports(
    conn: duckdb.DuckDBPyConnection,
    out_dir: Path,
    since: str | None = None,
    team: str | None = None,
    reports: tuple[Report, ...] = REPORTS,
) -> dict[str, int]:
    """Write every report to ``out_dir/<name>.csv``; returns rows written per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for report in reports:
        target = out_dir / f"{report.name}.csv"
        tmp = target.with_name(f".{target.name}.tmp")
        conn.execute(
            f"copy ({report.sql}) to '{_sql_path(tmp)}' "
            "(format csv, header true, timestampformat '%Y-%m-%dT%H:%M:%SZ')",
            {k: v for k, v in {"since": since, "team": team}.items() if f"${k}" in report.sql},
        )
        tmp.replace(target)
        written[target.name] = conn.execute("select count(*) from read_csv(?, header = true)", [str(target)]).fetchone()[0]
    return written


def _sql_path(path: Path) -> str:
    """COPY takes no parameter for its target, so the path is quoted here; it is ours, not user SQL."""
    return str(path).replace("'", "''")
