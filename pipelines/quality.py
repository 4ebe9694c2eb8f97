"""Data-quality checks on the warehouse, as plain SQL: the Dagster asset checks and the CLI's
build summary both call these, so a number means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

# Tolerances: a few unmapped types are normal while a new tool is being onboarded; a clock more
# than this far ahead of the receiver is skewed, not slow.
MAX_UNKNOWN_SHARE = 0.05
MAX_QUARANTINE_SHARE = 0.01
CLOCK_SKEW_SECONDS = 300


@dataclass
class CheckResult:
    name: str
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def unknown_event_types(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Events no source model maps to a stage: a tool we do not understand yet, or a new event type.

    Known kinds with no lifecycle meaning (a ping, a star, a label change: stage `ignored`, listed in
    docs/sources.md) are not unknown; their count is reported beside.
    """
    total, unknown, ignored = conn.execute(
        "select count(*), count(*) filter (where stage is null), count(*) filter (where stage = 'ignored') "
        "from marts.lifecycle_events"
    ).fetchone()
    top = conn.execute(
        "select raw_type, count(*) as n from marts.lifecycle_events where stage is null "
        "group by raw_type order by n desc, raw_type limit 10"
    ).fetchall()
    share = unknown / total if total else 0.0
    return CheckResult(
        "unknown_event_types",
        share <= MAX_UNKNOWN_SHARE,
        f"{unknown} of {total} events ({share:.1%}) have no canonical stage (allowed: {MAX_UNKNOWN_SHARE:.0%})",
        {"unknown": unknown, "total": total, "share": round(share, 4), "top_types": {t or "?": n for t, n in top},
         "ignored_known_kinds": ignored},
    )


def quarantine_growth(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Share of the records of the latest load that were quarantined (a producer started sending junk)."""
    row = conn.execute(
        "with last as (select max(loaded_at) as at from raw.loaded_files) "
        "select coalesce(sum(records), 0), coalesce(sum(quarantined), 0) from raw.loaded_files, last "
        "where loaded_at >= last.at - interval 1 hour"
    ).fetchone()
    records, quarantined = row
    total = conn.execute("select count(*) from raw.quarantine").fetchone()[0]
    reasons = conn.execute(
        "select regexp_replace(reason, ':.*', '') as r, count(*) from raw.quarantine group by r order by 2 desc limit 5"
    ).fetchall()
    share = quarantined / records if records else 0.0
    return CheckResult(
        "quarantine_growth",
        share <= MAX_QUARANTINE_SHARE,
        f"{quarantined} of {records} records of the latest load quarantined ({share:.1%}); {total} in quarantine overall",
        {"latest_records": records, "latest_quarantined": quarantined, "total_quarantined": total,
         "top_reasons": {r: n for r, n in reasons}},
    )


def duplicate_events(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Each event key must appear once in the public table: deduplication is a promise.

    As many distinct hashes of the keys as rows proves every key distinct (two equal keys share a hash) at a
    quarter less than grouping the keys themselves (11M events: 2.2 s against 3.0); the keys are grouped only
    when the hashes do not prove it (a duplicate, or two keys sharing a hash).
    """
    rows, hashes = conn.execute(
        "select count(*), count(distinct hash(event_key)) from marts.lifecycle_events").fetchone()
    dupes = 0 if rows == hashes else conn.execute(
        "select count(*) from (select event_key from marts.lifecycle_events group by event_key having count(*) > 1)"
    ).fetchone()[0]
    return CheckResult("duplicate_events", dupes == 0, f"{dupes} event keys appear more than once", {"duplicate_keys": dupes})


def clock_skew(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Events that claim to have happened after they were received: the producer's clock is off."""
    skewed, total = conn.execute(
        "select count(*) filter (where occurred_at > received_at + to_seconds(?)), count(*) from marts.lifecycle_events",
        [CLOCK_SKEW_SECONDS],
    ).fetchone()
    return CheckResult(
        "clock_skew",
        skewed == 0,
        f"{skewed} of {total} events occurred more than {CLOCK_SKEW_SECONDS}s after they were received",
        {"skewed": skewed, "total": total},
    )


MIN_LINK_COVERAGE = 0.9


def link_coverage(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Share of successful production deployments traced back to a commit (so their lead times count)."""
    total, linked = conn.execute(
        "select count(*), count(*) filter (where commit_sha is not null) from marts.deployments "
        "where is_production and outcome = 'success'"
    ).fetchone()
    methods = conn.execute(
        "select coalesce(commit_link, 'unlinked'), count(*) from marts.deployments "
        "where is_production and outcome = 'success' group by 1 order by 2 desc"
    ).fetchall()
    share = linked / total if total else 1.0
    return CheckResult(
        "link_coverage",
        share >= MIN_LINK_COVERAGE,
        f"{linked} of {total} production deployments ({share:.1%}) traced to a commit (wanted: {MIN_LINK_COVERAGE:.0%})",
        {"linked": linked, "total": total, "share": round(share, 4), "by_method": {m: n for m, n in methods}},
    )


def release_inventory_consistency(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """The release inventory holds, per service × environment × cluster, the latest successful deployment."""
    mismatched = conn.execute("""
        with latest as (
            select service, environment, cluster, deployment_id
            from marts.release_history, (select max(as_of) as as_of from marts.release_inventory) p
            where deployed_at <= p.as_of
            qualify row_number() over (partition by service, environment, cluster order by deployed_at desc,
                                       deployment_id desc) = 1
              and (valid_to is null or valid_to > p.as_of)
        )
        select count(*) from latest l
        full outer join marts.release_inventory i using (service, environment, cluster)
        where l.deployment_id is distinct from i.deployment_id
    """).fetchone()[0]
    total = conn.execute("select count(*) from marts.release_inventory").fetchone()[0]
    return CheckResult(
        "release_inventory_consistency",
        mismatched == 0,
        f"{mismatched} of {total} service × environment × cluster rows differ from the latest deployment there",
        {"mismatched": mismatched, "rows": total},
    )


def stage_durations_consistency(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Each production journey's stage durations add up to its commit-to-production time; skewed ones counted."""
    broken, skewed, journeys = conn.execute("""
        with j as (
            select artifact_id, sum(duration_s) as total,
                   any_value(epoch(first_production_at) - epoch(journey_started_at)) as span,
                   bool_or(is_clock_skew) as skewed
            from marts.stage_durations where reached_production group by artifact_id
        )
        select count(*) filter (where abs(total - span) > 0.001), count(*) filter (where skewed), count(*) from j
    """).fetchone()
    return CheckResult(
        "stage_durations_consistency",
        broken == 0,
        f"{broken} of {journeys} production journeys do not add up; {skewed} have a negative stage (clock skew)",
        {"broken": broken, "clock_skew": skewed, "journeys": journeys},
    )


def stuck_artifacts(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Artifacts in flight longer than their stage's historical p90 (a warning for the team, not a data error)."""
    stuck, in_flight = conn.execute(
        "select count(*) filter (where is_stuck), count(*) filter (where outcome = 'in_flight') "
        "from marts.artifact_journeys"
    ).fetchone()
    where = conn.execute(
        "select coalesce(current_environment, current_stage), count(*) from marts.artifact_journeys "
        "where is_stuck group by 1 order by 2 desc"
    ).fetchall()
    return CheckResult(
        "stuck_artifacts",
        stuck == 0,
        f"{stuck} of {in_flight} artifacts in flight are stuck (longer than their stage's p90)",
        {"stuck": stuck, "in_flight": in_flight, "by_stage": {k or "?": n for k, n in where}},
    )


ALL_CHECKS = (unknown_event_types, quarantine_growth, duplicate_events, clock_skew, link_coverage,
              release_inventory_consistency, stage_durations_consistency, stuck_artifacts)


def run_checks(conn: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    return [check(conn) for check in ALL_CHECKS]
