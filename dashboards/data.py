"""The dashboard's only door to data: read-only, parameterised queries on the published snapshot.

Rules (DESIGN §2 — a dashboard left open never blocks a load, a load never breaks the dashboard):

- every query opens a **short-lived read-only connection** on the snapshot (``serving.duckdb``) and closes
  it, so a newly published snapshot is picked up by the next query and no lock is held between reruns;
- results are **cached with the snapshot's version in the key** (path, inode, mtime_ns, size): a new
  snapshot, published by an atomic rename, is a new inode, so it is never served from an old entry;
- queries in this process run **one at a time**: DuckDB shares one database instance per path inside a
  process, so a connection opened while another is still open would read the *old* snapshot; serialising
  guarantees each connection opens the file the version stamp describes (and the stamp is checked again
  after the query — a result is only cached under the version it was read from);
- values are always **parameters** (``$name``), never formatted into SQL. Only column names chosen from
  constants in this module are ever put into SQL text.

The SQL computes figures from the ``marts.*`` contract (DESIGN §6), with the definitions of docs/metrics.md.
DORA figures are recomputed here from ``marts.deployments``/``changes``/``incidents`` because the sidebar's
filters combine (team *and* environment *and* any date range), which the pre-aggregated
``marts.dora_metrics`` grains cannot answer; with no filter over the data's whole range the figures equal
``marts.dora_metrics`` (``period = 'all'``, ``group_by = 'overall'``) — a test checks it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import streamlit as st

from pipelines import warehouse
from pipelines.config import resolve_paths

_QUERY_LOCK = threading.Lock()

DIMENSIONS = ("team", "app", "service", "environment")


class SnapshotChanged(RuntimeError):
    """A new snapshot was published while a query ran; the result is not cached under the old version."""


def snapshot_version() -> tuple[str, int, int, int] | None:
    """What identifies the published snapshot: its path, inode, mtime_ns and size (None when absent)."""
    path = resolve_paths().serving
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)


def snapshot_published_at() -> datetime | None:
    version = snapshot_version()
    if version is None:
        return None
    return datetime.fromtimestamp(version[2] / 1e9, tz=UTC)


# the read-only connection on the published snapshot, with the snapshot version it was opened on
_SNAPSHOT: dict[str, Any] = {"version": None, "conn": None}


def _snapshot_connection() -> Any:
    """One read-only connection per published snapshot, reused by every query until a new one is published.

    Why: opening the file reads its catalog again — ~70 ms on 10M events, more than most queries take. A new
    snapshot (another inode, ``snapshot_version``) gets a new connection; the old one is closed, releasing the
    replaced file. Call with ``_QUERY_LOCK`` held: queries never share the connection concurrently.
    """
    paths = resolve_paths()
    version = snapshot_version()
    if version is None:
        raise warehouse.NoSnapshot(paths.serving)
    if _SNAPSHOT["version"] != version:
        if _SNAPSHOT["conn"] is not None:
            _SNAPSHOT["conn"].close()
            _SNAPSHOT.update(version=None, conn=None)
        _SNAPSHOT.update(conn=warehouse.connect(paths.serving, read_only=True), version=version)
    return _SNAPSHOT["conn"]


def _run(sql: str, params: dict[str, Any]) -> pl.DataFrame:
    with _QUERY_LOCK:
        return _snapshot_connection().sql(sql, params=params or None).pl()


@st.cache_data(max_entries=1024, show_spinner=False)
def _cached(version: tuple, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    frame = _run(sql, params)
    if snapshot_version() != version:
        raise SnapshotChanged(version)
    return frame


def query(sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run a read-only query on the snapshot (cached per snapshot version). Raises ``warehouse.NoSnapshot``."""
    params = params or {}
    for _ in range(5):
        version = snapshot_version()
        if version is None:
            raise warehouse.NoSnapshot(resolve_paths().serving)
        try:
            return _cached(version, sql, params)
        except SnapshotChanged:
            continue
    return _run(sql, params)  # snapshots are being published faster than we can read: answer uncached


def _listing(sql: str, params: dict[str, Any], limit: int | None) -> pl.DataFrame:
    """``query`` of an ordered listing, cut at ``limit`` rows when one is given (what a page's table shows; its
    CSV download, without a limit, has them all)."""
    if limit is not None:
        sql, params = f"{sql} limit $limit", {**params, "limit": limit}
    return query(sql, params)


def table_exists(schema: str, table: str) -> bool:
    """Whether ``schema.table`` is in the snapshot (flow-analytics marts land later)."""
    return query(
        "select count(*) as n from information_schema.tables where table_schema = $schema and table_name = $table",
        {"schema": schema, "table": table},
    ).item() > 0


def table_columns(schema: str, table: str) -> list[str]:
    return query(
        "select column_name from information_schema.columns where table_schema = $schema and table_name = $table "
        "order by ordinal_position",
        {"schema": schema, "table": table},
    )["column_name"].to_list()


# ---------------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The sidebar's view: an inclusive UTC date range and, per dimension, the values kept (empty = all)."""

    start: date
    end: date
    team: tuple[str, ...] = ()
    app: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    environment: tuple[str, ...] = ()

    @property
    def start_ts(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def end_ts(self) -> datetime:
        """Exclusive end: midnight UTC after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of the same length just before this one (for trends)."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def describe(self) -> str:
        parts = [f"{self.start:%Y-%m-%d} → {self.end:%Y-%m-%d} (UTC, {self.days} days)"]
        for dim in DIMENSIONS:
            values = getattr(self, dim)
            if values:
                parts.append(f"{dim}: {', '.join(values)}")
        return " · ".join(parts)


def where(f: Filters, ts: str | None = None, **columns: str) -> tuple[str, dict[str, Any]]:
    """A SQL predicate for ``f``: ``ts`` is the timestamp column, ``columns`` map a dimension to its column.

    Column names come from this module's constants; every value is a ``$parameter``.
    """
    clauses = ["true"]
    params: dict[str, Any] = {}
    if ts is not None:
        clauses.append(f"{ts} >= $start and {ts} < $end")
        params.update(start=f.start_ts, end=f.end_ts)
    for dim, column in columns.items():
        if dim not in DIMENSIONS:
            raise ValueError(f"unknown filter dimension {dim}")
        values = getattr(f, dim)
        if values:
            clauses.append(f"list_contains(${dim}::varchar[], {column})")
            params[dim] = list(values)
    return " and ".join(clauses), params


DEFAULT_DAYS = 28  # the view a session opens on: the data's last four weeks (trend: the four before)


@dataclass(frozen=True)
class FilterOptions:
    first: date
    last: date
    team: list[str] = field(default_factory=list)
    app: list[str] = field(default_factory=list)
    service: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    # service → (team, app), to narrow the service list when a team or app is chosen
    catalogue: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def default_start(self) -> date:
        return max(self.first, self.last - timedelta(days=DEFAULT_DAYS - 1))

    def default(self) -> Filters:
        """The last ``DEFAULT_DAYS`` days of data (all of it when there is less)."""
        return Filters(self.default_start, self.last)

    def everything(self) -> Filters:
        return Filters(self.first, self.last)


# one row: the date bounds, each dimension's values (sorted, no null), the environments' tiers and the catalogue
_FILTER_OPTIONS_SQL = """
with built as materialized (
    select service, team, app, count(*) as n,
           min(coalesce(packaged_at, build_finished_at, published_at)) as first_at,
           max(coalesce(packaged_at, build_finished_at, published_at)) as last_at
    from marts.artifact_journeys group by all
),

combos as materialized (
    select service, team, app, count(*) as n from marts.deployments group by all
    union all select service, team, app, n from built
),

teams as (
    select service, first(team order by n desc, team) as team
    from (select service, team, sum(n) as n from combos where team is not null group by all) group by service
),

apps as (
    select service, first(app order by n desc, app) as app
    from (select service, app, sum(n) as n from combos where app is not null group by all) group by service
),

bounds as (
    select min(first_at)::date as first, max(last_at)::date as last from (
        select min(deployed_at) as first_at, max(deployed_at) as last_at from marts.deployments
        union all select min(opened_at), max(opened_at) from marts.incidents
        union all select min(first_at), max(last_at) from built
    )
)

select
    first, last,
    (select list_sort(list(distinct team) filter (where team is not null)) from combos) as team,
    (select list_sort(list(distinct app) filter (where app is not null)) from combos) as app,
    (select list_sort(list(distinct service) filter (where service is not null)) from combos) as service,
    (select list({'environment': environment, 'tier': environment_tier})
     from (select distinct environment, environment_tier from marts.deployments where environment is not null))
        as environment_tiers,
    (select list({'service': service, 'team': team, 'app': app})
     from (select distinct service from combos where service is not null)
          left join teams using (service) left join apps using (service)) as catalogue
from bounds
"""


def filter_options() -> FilterOptions:
    """The values the sidebar offers, and the data's date range: from the first to the last deployment, incident
    or artifact build (commits, which precede them, do not widen it); with none of those, the events' range.

    Why one query (``_FILTER_OPTIONS_SQL``): it was four round trips (bounds, catalogue, values, environment
    order), each scanning ``marts.deployments`` again, ~420 ms at 10M events. Now each table is grouped once to
    its (service, team, app) combinations with their row counts (thousands of rows, not millions) and the lists,
    the catalogue (each service's most frequent team and app: the ``mode`` of before, from the summed counts) and
    the bounds come from those. The result is the same, except where ``mode`` met a tie, which it broke by the
    row it happened to read first: the smallest value wins now; and an environment with several tiers
    (``any_value`` took one) takes the lowest rank.
    """
    options = query(_FILTER_OPTIONS_SQL).row(0, named=True)
    if options["first"] is None:
        options.update(query(
            "select min(occurred_at)::date as first, max(occurred_at)::date as last from marts.lifecycle_events"
        ).row(0, named=True))
    today = datetime.now(UTC).date()
    ranks = _environment_ranks(options["environment_tiers"] or [])
    return FilterOptions(
        first=options["first"] or today, last=options["last"] or today,
        team=options["team"] or [], app=options["app"] or [], service=options["service"] or [],
        environment=sorted(ranks, key=lambda e: (ranks[e], e)),
        catalogue={c["service"]: (c["team"], c["app"]) for c in sorted(options["catalogue"] or [],
                                                                          key=lambda c: c["service"])},
    )


TIER_ORDER = {"development": 1, "testing": 2, "staging": 3, "production": 4}


def _environment_ranks(pairs: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Environment → its tier's rank, from its distinct (``environment``, ``tier``) pairs: an environment seen
    with several tiers takes the lowest rank."""
    ranks: dict[str, int] = {}
    for pair in pairs:
        ranks[pair["environment"]] = min(ranks.get(pair["environment"], 5), TIER_ORDER.get(pair["tier"], 5))
    return ranks


def environment_order() -> dict[str, int]:
    """Environment → its position (by tier: development, testing, staging, production, then the rest)."""
    return _environment_ranks(query(
        "select distinct environment, environment_tier as tier from marts.deployments where environment is not null"
    ).iter_rows(named=True))


# ---------------------------------------------------------------------------------------------------
# DORA
# ---------------------------------------------------------------------------------------------------

# the column a DORA table is grouped by; constants only (never user text)
DORA_GROUPS = {
    "overall": "'all'",
    "team": "team",
    "app": "app",
    "service": "service",
    "environment": "environment",
    "week": "date_trunc('week', ts)",
}

# Each kind of fact is aggregated on its own (not one union of all facts with filtered aggregates): the
# changes, the bulk of the rows, then only feed their own five aggregates, and the team/app catalogue
# (a mode over every deployment) is computed only for the services of incidents in range.
_DORA_SQL = """
with production as (
    -- production deployments in view (all outcomes: a change counts by the deployment that delivered it)
    select {group} as group_value, * from (
        select deployed_at as ts, service, app, team, environment, deployment_id, outcome, caused_failure,
               is_rework, recovery_time_s
        from marts.deployments where is_production
    ) where {where}
),

deployment_facts as (
    select *,
           case when outcome = 'success' or caused_failure then 'deployment'
                when outcome = 'failure' and not caused_failure then 'failed_attempt' end as kind
    from production
),

catalogue as (
    -- team and app of the services of the incidents in range (the only facts without their own)
    select service, mode(team) as team, mode(app) as app from marts.deployments
    where service in (select service from marts.incidents where opened_at >= $start and opened_at < $end)
    group by service
),

incident_facts as (
    select {group} as group_value, * from (
        select i.opened_at as ts, i.service, s.app, s.team, i.environment, i.time_to_restore_s as restore_s
        from marts.incidents i left join catalogue s using (service)
        where i.opened_at is not null
    ) where {where}
),

deployment_metrics as (
    select
        group_value,
        count(*) filter (where kind = 'deployment') as deployments,
        count(distinct ts::date) filter (where kind = 'deployment') as deployment_days,
        count(*) filter (where kind = 'failed_attempt') as failed_deployment_attempts,
        count(*) filter (where kind = 'deployment' and caused_failure) as failed_changes,
        count(*) filter (where kind = 'deployment' and is_rework) as rework_deployments,
        count(*) filter (where kind = 'deployment' and caused_failure and recovery_time_s is not null)
            as recovery_time_n,
        count(*) filter (where kind = 'deployment' and caused_failure and recovery_time_s is null) as unrecovered,
        quantile_cont(recovery_time_s, [0.5, 0.9]) filter (where kind = 'deployment' and caused_failure)
            as recovery_time_q
    from deployment_facts where kind is not null
    group by group_value
),

change_metrics as (
    select
        d.group_value,
        count(*) as changes_deployed,
        count(*) filter (where c.lead_time_s > 0) as lead_time_n,
        count(*) filter (where c.lead_time_s <= 0) as lead_time_nonpositive_excluded,
        quantile_cont(c.lead_time_s, [0.5, 0.9]) filter (where c.lead_time_s > 0) as lead_time_q,
        avg(c.lead_time_s) filter (where c.lead_time_s > 0) as lead_time_mean_s
    from marts.changes c join production d using (deployment_id)
    group by d.group_value
),

incident_metrics as (
    select group_value, count(*) as incidents, count(restore_s) as incident_time_to_restore_n,
           quantile_cont(restore_s, 0.5) as incident_time_to_restore_p50_s
    from incident_facts group by group_value
),

metrics as (
    -- every group with at least one fact
    select
        k.group_value,
        coalesce(d.deployments, 0) as deployments,
        coalesce(d.deployment_days, 0) as deployment_days,
        coalesce(d.failed_deployment_attempts, 0) as failed_deployment_attempts,
        coalesce(d.failed_changes, 0) as failed_changes,
        coalesce(d.rework_deployments, 0) as rework_deployments,
        coalesce(c.changes_deployed, 0) as changes_deployed,
        coalesce(c.lead_time_n, 0) as lead_time_n,
        coalesce(c.lead_time_nonpositive_excluded, 0) as lead_time_nonpositive_excluded,
        c.lead_time_q[1] as lead_time_p50_s,
        c.lead_time_q[2] as lead_time_p90_s,
        c.lead_time_mean_s,
        coalesce(d.recovery_time_n, 0) as recovery_time_n,
        coalesce(d.unrecovered, 0) as unrecovered,
        d.recovery_time_q[1] as recovery_time_p50_s,
        d.recovery_time_q[2] as recovery_time_p90_s,
        coalesce(i.incidents, 0) as incidents,
        coalesce(i.incident_time_to_restore_n, 0) as incident_time_to_restore_n,
        i.incident_time_to_restore_p50_s
    from (
        select group_value from deployment_metrics
        union select group_value from change_metrics
        union select group_value from incident_metrics
    ) k
    left join deployment_metrics d on d.group_value is not distinct from k.group_value
    left join change_metrics c on c.group_value is not distinct from k.group_value
    left join incident_metrics i on i.group_value is not distinct from k.group_value
),

weeks as (
    select unnest(generate_series(date_trunc('week', $start::timestamptz),
                                  date_trunc('week', $end::timestamptz - interval 1 second),
                                  interval 1 week)) as week_start
),

weekly_days as (
    select group_value, date_trunc('week', ts) as week_start, count(distinct ts::date) as days
    from deployment_facts where kind = 'deployment' group by all
),

calendar as (
    -- every week of the selected range, for every group: weeks without a deployment count as zero
    select m.group_value, w.week_start, coalesce(d.days, 0) as days
    from metrics m cross join weeks w
    left join weekly_days d on d.group_value is not distinct from m.group_value and d.week_start = w.week_start
),

weekly as (
    select group_value, median(days) as median_deployment_days_per_week,
           avg((days > 0)::int) as share_of_weeks_with_deployments, count(*) as weeks
    from calendar group by group_value
)

select m.*, w.median_deployment_days_per_week, w.share_of_weeks_with_deployments, coalesce(w.weeks, 0) as weeks
from metrics m left join weekly w on w.group_value is not distinct from m.group_value
order by m.group_value
"""

DORA_COUNT_COLUMNS = ("deployments", "deployment_days", "failed_deployment_attempts", "failed_changes",
                      "rework_deployments", "changes_deployed", "lead_time_n", "lead_time_nonpositive_excluded",
                      "recovery_time_n", "unrecovered", "incidents", "incident_time_to_restore_n", "weeks")


def dora_table(f: Filters, group: str = "overall") -> pl.DataFrame:
    """The DORA inputs per group (``DORA_GROUPS``) over ``f``: counts, n, continuous percentiles (seconds)."""
    predicate, params = where(f, "ts", team="team", app="app", service="service", environment="environment")
    params.setdefault("start", f.start_ts)
    params.setdefault("end", f.end_ts)
    sql = _DORA_SQL.format(group=DORA_GROUPS[group], where=predicate)
    frame = query(sql, params)
    if group == "week":
        frame = frame.with_columns(pl.col("group_value").cast(pl.Datetime("us", "UTC")).alias("week_start"))
    return frame.with_columns(
        (pl.col("failed_changes") / pl.col("deployments")).alias("change_fail_rate"),
        (pl.col("rework_deployments") / pl.col("deployments")).alias("rework_rate"),
        ((pl.col("failed_changes") + pl.col("failed_deployment_attempts"))
         / (pl.col("deployments") + pl.col("failed_deployment_attempts"))).alias("change_fail_rate_incl_failed_attempts"),
    ).with_columns(
        pl.when(pl.col("deployments") > 0).then(pl.col(c)).otherwise(None).alias(c)
        for c in ("change_fail_rate", "rework_rate")
    )


def dora_summary(f: Filters) -> dict[str, Any]:
    """One row of DORA inputs for the whole view (zeros when nothing matches)."""
    frame = dora_table(f, "overall")
    if frame.height:
        return frame.row(0, named=True)
    row = {c: 0 for c in DORA_COUNT_COLUMNS}
    weeks = len(_weeks(f))
    row.update(weeks=weeks, median_deployment_days_per_week=0.0 if weeks else None,
               share_of_weeks_with_deployments=0.0 if weeks else None)
    return row


def dora_weekly(f: Filters) -> pl.DataFrame:
    """DORA inputs per ISO week of the range, weeks without any fact included (zeros / nulls)."""
    frame = dora_table(f, "week")
    calendar = pl.DataFrame({"week_start": _weeks(f)}, schema={"week_start": pl.Datetime("us", "UTC")})
    frame = calendar.join(frame.drop("group_value"), on="week_start", how="left")
    return frame.with_columns(pl.col(c).fill_null(0) for c in DORA_COUNT_COLUMNS if c in frame.columns)


def _weeks(f: Filters) -> list[datetime]:
    first = f.start - timedelta(days=f.start.weekday())
    last = f.end - timedelta(days=f.end.weekday())
    out, week = [], first
    while week <= last:
        out.append(datetime.combine(week, time(), UTC))
        week += timedelta(weeks=1)
    return out


def benchmarks() -> list[dict[str, Any]]:
    return query("select * from marts.dora_benchmarks order by report_year, metric, tier_rank").to_dicts()


# ---------------------------------------------------------------------------------------------------
# Deployments
# ---------------------------------------------------------------------------------------------------

_DEPLOYMENT_DIMS = {"team": "team", "app": "app", "service": "service", "environment": "environment"}


def deployments(f: Filters, limit: int | None = None) -> pl.DataFrame:
    """Every deployment in view (all environments, failed attempts included), newest first; ``limit``: at most
    that many (what the page lists; its CSV download has them all)."""
    predicate, params = where(f, "deployed_at", **_DEPLOYMENT_DIMS)
    sql = f"""
        select deployed_at, service, team, app, environment, cluster, environment_tier, is_production,
               outcome, version, is_rollback, is_redeploy, is_hotfix, is_rework, caused_failure,
               recovery_time_s / 3600 as recovery_time_hours, artifact_id, commit_sha, deployment_id
        from marts.deployments
        where {predicate}
        order by deployed_at desc, deployment_id
    """
    return _listing(sql, params, limit)


def deployments_summary(f: Filters) -> dict[str, int]:
    """The deployments page's tiles for the view: ``attempts`` (every row of ``deployments``), ``deployments``
    (successful, all environments), ``production``, ``rollbacks`` (successful ones) and ``failed`` attempts.
    Counted in SQL: the page lists only the newest deployments (249k in a 4-week view at 10M events)."""
    predicate, params = where(f, "deployed_at", **_DEPLOYMENT_DIMS)
    return query(
        f"""
        select count(*) as attempts,
               count(*) filter (where outcome = 'success') as deployments,
               count(*) filter (where outcome = 'success' and is_production) as production,
               count(*) filter (where outcome = 'success' and is_rollback) as rollbacks,
               count(*) filter (where outcome = 'failure') as failed
        from marts.deployments
        where {predicate}
        """,
        params,
    ).row(0, named=True)


def deployments_per_period(f: Filters, grain: str) -> pl.DataFrame:
    """Per day or ISO week and environment: successful deployments, rollbacks, failed attempts."""
    if grain not in ("day", "week"):
        raise ValueError(grain)
    predicate, params = where(f, "deployed_at", **_DEPLOYMENT_DIMS)
    params["grain"] = grain
    return query(
        f"""
        select date_trunc($grain, deployed_at) as period_start, environment,
               any_value(is_production) as is_production,
               count(*) filter (where outcome = 'success') as deployments,
               count(*) filter (where outcome = 'success' and is_rollback) as rollbacks,
               count(*) filter (where outcome = 'failure') as failed_deployments
        from marts.deployments
        where {predicate}
        group by all
        order by period_start, environment
        """,
        params,
    )


def production_deployment_days(f: Filters) -> pl.DataFrame:
    """Successful production deployments per UTC day, for the calendar heatmap (days without one omitted)."""
    predicate, params = where(f, "deployed_at", **_DEPLOYMENT_DIMS)
    return query(
        f"""
        select deployed_at::date as day, count(*) as production_deployments,
               count(*) filter (where is_rollback) as rollbacks,
               count(*) filter (where caused_failure) as failed_changes
        from marts.deployments
        where is_production and outcome = 'success' and {predicate}
        group by all order by day
        """,
        params,
    )


# ---------------------------------------------------------------------------------------------------
# Lead time
# ---------------------------------------------------------------------------------------------------


def _changes_in_view(f: Filters) -> tuple[str, dict[str, Any]]:
    """The changes delivered to production by a deployment in view (``c``: the change, ``d``: its deployment)."""
    predicate, params = where(f, "d.deployed_at", team="d.team", app="d.app", service="d.service",
                              environment="d.environment")
    return (f"from marts.changes c join marts.deployments d using (deployment_id) "
            f"where d.is_production and {predicate}"), params


def changes(f: Filters, limit: int | None = None) -> pl.DataFrame:
    """Changes delivered to production by a deployment in view, with their lead time (by deployment date).

    ``limit``: at most that many, a deterministic sample (the lowest hashes of commit and deployment): what a
    chart can draw, spread over the whole range like the rest (the N most recent would all sit at its end), and
    the same rows on every rerun. A change sampled in a wide view stays sampled in a narrower view holding it.
    """
    from_where, params = _changes_in_view(f)
    sample = ""
    if limit is not None:
        sample = "order by hash(c.commit_sha, c.deployment_id), c.commit_sha, c.deployment_id limit $limit"
        params["limit"] = limit
    return query(
        f"""
        select * from (
            select c.commit_sha, c.repository, d.service, d.team, d.app, c.committed_at, d.deployed_at,
                   d.environment as deployed_environment, d.version as deployed_version,
                   c.lead_time_s, c.lead_time_s / 3600 as lead_time_hours, c.lead_time_basis,
                   c.lead_time_s > 0 as in_percentiles, c.deployment_id
            {from_where}
            {sample}
        )
        order by deployed_at, committed_at, commit_sha
        """,
        params,
    )


def changes_summary(f: Filters) -> dict[str, Any]:
    """The lead-time figures of the changes in view, without loading them: ``total`` changes, ``n`` with a
    positive lead time and ``excluded`` (the others: clock skew), and over the positive ones ``p50_s``/``p90_s``
    (continuous percentiles, ``quantile_cont`` = ``metrics.percentile_cont``), ``mean_s``, ``min_s``, ``max_s``.
    """
    from_where, params = _changes_in_view(f)
    row = query(
        f"""
        select count(*) as total,
               count(*) filter (where c.lead_time_s > 0) as n,
               quantile_cont(c.lead_time_s, [0.5, 0.9]) filter (where c.lead_time_s > 0) as q,
               avg(c.lead_time_s) filter (where c.lead_time_s > 0) as mean_s,
               min(c.lead_time_s) filter (where c.lead_time_s > 0) as min_s,
               max(c.lead_time_s) filter (where c.lead_time_s > 0) as max_s
        {from_where}
        """,
        params,
    ).row(0, named=True)
    q = row.pop("q") or [None, None]
    return {**row, "excluded": row["total"] - row["n"], "p50_s": q[0], "p90_s": q[1]}


def changes_histogram(f: Filters, bin_s: float) -> pl.DataFrame:
    """The positive lead times in view counted in bins of ``bin_s`` seconds from 0 (``bin_start_s``,
    ``changes``; empty bins omitted): the distribution without loading every change."""
    from_where, params = _changes_in_view(f)
    params["bin_s"] = float(bin_s)
    return query(
        f"""
        select floor(c.lead_time_s / $bin_s) * $bin_s as bin_start_s, count(*) as changes
        {from_where} and c.lead_time_s > 0
        group by 1 order by 1
        """,
        params,
    )


# ---------------------------------------------------------------------------------------------------
# Journeys
# ---------------------------------------------------------------------------------------------------

_ARTIFACT_TIME = "coalesce(packaged_at, build_finished_at, published_at, first_development_at, first_commit_at)"


def find_artifacts(f: Filters, text: str = "", limit: int = 500) -> pl.DataFrame:
    """Artifacts in view (built in the date range), matching ``text`` in service, version, commit or id."""
    predicate, params = where(f, _ARTIFACT_TIME, team="team", app="app", service="service")
    if f.environment:
        predicate += " and len(list_intersect(environments_reached, $environment::varchar[])) > 0"
        params["environment"] = list(f.environment)
    params.update(text=text.strip(), limit=limit)
    return query(
        f"""
        select artifact_id, service, version, commit_sha, team, app, furthest_stage, reached_production,
               {_ARTIFACT_TIME} as built_at, first_production_at
        from marts.artifact_journeys
        where {predicate}
          and ($text = '' or service ilike '%' || $text || '%' or version ilike '%' || $text || '%'
               or commit_sha ilike $text || '%' or artifact_id ilike '%' || $text || '%')
        order by reached_production desc, built_at desc nulls last, artifact_id
        limit $limit
        """,
        params,
    )


def journey(artifact_id: str) -> dict[str, Any] | None:
    rows = query("select * from marts.artifact_journeys where artifact_id = $a", {"a": artifact_id})
    return rows.row(0, named=True) if rows.height else None


def journey_deployments(artifact_id: str) -> pl.DataFrame:
    return query(
        """
        select deployed_at, environment, cluster, environment_tier, outcome, is_rollback, is_redeploy,
               caused_failure, source_tool, deployment_id
        from marts.deployments where artifact_id = $a order by deployed_at, deployment_id
        """,
        {"a": artifact_id},
    )


def journey_rollbacks(artifact_id: str) -> pl.DataFrame:
    """Rollback deployments that replaced this artifact (what was restored, where, by which tool)."""
    return query(
        """
        select deployed_at, environment, cluster, version as restored_version, source_tool, deployment_id
        from marts.deployments
        where previous_artifact_id = $a and is_rollback and outcome = 'success'
        order by deployed_at, deployment_id
        """,
        {"a": artifact_id},
    )


_JOURNEY_EVENT_COLUMNS = ("occurred_at, stage, source_tool, environment, outcome, raw_type, commit_sha, version, event_id, "
                          "received_at")


def journey_events(artifact_id: str) -> pl.DataFrame:
    """Every event behind an artifact's journey: its own, its CI/CD chain's, its commits' (push, PR) and
    those of the incidents attributed to it.

    Index lookups (the ``-- indexes:`` of intermediate.canonical_events and of the marts read for the keys),
    ~30 ms at 11M events where scans took ~1 s. DuckDB answers from an index only a scan with one filter, an equality or ``in`` a constant list:
    so the journey's keys (its events' chains, its commits, its incidents) are read first and passed as list
    parameters (a join's keys would be a scan), nothing else is filtered in those scans (``list_filter``
    drops null chains after), and the commit branch's stage filter sits behind a window (filters are not
    pushed through one). ``union`` removes an event found by two branches; rows cannot collapse otherwise,
    ``event_key`` being unique (the duplicate_events check).
    """
    keys = query(
        """
        select
            (select list_filter(list(distinct chain_id), lambda c: c is not null) from marts.lifecycle_events
             where artifact_id = $a) as chains,
            (select coalesce(list(distinct commit_sha), []) from (
                select commit_sha from marts.artifact_journeys where artifact_id = $a and commit_sha is not null
                union all
                select commit_sha from marts.changes where deployed_artifact_id = $a)) as commits,
            (select coalesce(list(distinct i.incident_id), []) from marts.incidents i
             join marts.deployments d using (deployment_id) where d.artifact_id = $a) as incidents
        """,
        {"a": artifact_id},
    ).row(0, named=True)
    return query(
        f"""
        select {_JOURNEY_EVENT_COLUMNS} from (
            select {_JOURNEY_EVENT_COLUMNS}, event_key from marts.lifecycle_events where artifact_id = $a
            union
            select {_JOURNEY_EVENT_COLUMNS}, event_key from marts.lifecycle_events
            where chain_id in (select unnest($chains::varchar[]))
            union
            select {_JOURNEY_EVENT_COLUMNS}, event_key from (
                select *, count(*) over () as _fence from marts.lifecycle_events
                where commit_sha in (select unnest($commits::varchar[]))
            ) where stage in ('commit', 'change_opened', 'change_merged')
            union
            select {_JOURNEY_EVENT_COLUMNS}, event_key from marts.lifecycle_events
            where incident_id in (select unnest($incidents::varchar[]))
        )
        order by occurred_at, event_key
        """,
        {"a": artifact_id, **keys},
    )


def journey_commits(artifact_id: str) -> pl.DataFrame:
    return query(
        """
        select commit_sha, repository, committed_at, lead_time_s / 3600 as lead_time_hours, deployed_at,
               deployed_environment
        from marts.changes where deployed_artifact_id = $a order by committed_at, commit_sha
        """,
        {"a": artifact_id},
    )


# ---------------------------------------------------------------------------------------------------
# Funnel
# ---------------------------------------------------------------------------------------------------

FUNNEL_STAGES = (  # (stage, the journey column that says it was reached)
    ("built", "coalesce(packaged_at, build_finished_at)"),
    ("published", "published_at"),
    ("development", "first_development_at"),
    ("testing", "first_testing_at"),
    ("staging", "first_staging_at"),
    ("production", "first_production_at"),
)


MART_OUTCOME_COLUMNS = ("outcome", "is_stuck", "in_stage_since", "time_in_stage_s", "stage_p90_s")


def funnel_uses_mart() -> bool:
    """Whether marts.artifact_journeys carries the per-artifact outcome (the flow-analytics models)."""
    return missing("marts.artifact_journeys", MART_OUTCOME_COLUMNS) is None


def _funnel_in_view(f: Filters, prefer_mart: bool = True) -> tuple[str, dict[str, Any]]:
    """The artifacts built in view, one row each, as a query the funnel functions select from: each with the
    stage it stopped in (``furthest_stage``, ``stage_rank``), since when (``entered_at``, ``hours_in_stage``),
    its status, ``built_at`` (the time that puts it in view) and the time it reached each later step
    (``published_at`` … ``production_at``). Every artifact in view counts as built: ``built_at`` is set.

    With the flow-analytics columns of ``marts.artifact_journeys`` (``outcome``, ``is_stuck``…) the status is
    the mart's (docs/metrics.md, "Funnel and outcomes"): in production, rejected, never deployed, superseded,
    in flight, or stuck (in flight longer than the stage's historical p90). Without them (an older snapshot)
    it is computed here: ``in production``; ``superseded`` — a later artifact of the same service got at least
    as far; ``stuck`` — in its furthest stage longer than that stage's p90 dwell time (over artifacts that
    moved on); else ``in flight``. "Now" is the snapshot's newest event, not the wall clock.
    """
    ranks = " ".join(f"when '{name}' then {i}" for i, (name, _) in enumerate(FUNNEL_STAGES))
    if prefer_mart and funnel_uses_mart():
        predicate, params = where(f, _ARTIFACT_TIME, team="team", app="app", service="service")
        stage_cols = ", ".join(f"{col} as {name}_at" for name, col in FUNNEL_STAGES[1:])
        return f"""
            select artifact_id, service, team, app, version, commit_sha,
                   case furthest_stage when 'seen' then 'built' else furthest_stage end as furthest_stage,
                   case furthest_stage {ranks} else 0 end as stage_rank,
                   {_ARTIFACT_TIME} as built_at, in_stage_since as entered_at, environments_reached,
                   {stage_cols},
                   time_in_stage_s / 3600 as hours_in_stage, stage_p90_s / 3600 as stage_p90_hours,
                   case
                       when outcome = 'production' then 'in production'
                       when is_stuck then 'stuck'
                       else replace(outcome, '_', ' ')
                   end as status
            from marts.artifact_journeys
            where {predicate}
        """, params
    predicate, params = where(f, "r.built_sort_at", team="r.team", app="r.app", service="r.service")
    stage_cols = ",\n".join(f"{col} as {name}_at" for name, col in FUNNEL_STAGES)
    entered = " ".join(f"when '{name}' then {name}_at" for name, _ in FUNNEL_STAGES)
    # dwell of stage k for artifacts that moved on: next reached stage's time − this stage's time
    return f"""
        with journeys as (
            select artifact_id, service, team, app, version, commit_sha, environments_reached,
                   {_ARTIFACT_TIME} as built_sort_at,
                   {stage_cols},
                   case furthest_stage when 'seen' then 'built' else furthest_stage end as furthest_stage
            from marts.artifact_journeys
        ),
        ranked as (
            select *, case furthest_stage {ranks} end as stage_rank,
                   case furthest_stage {entered} end as entered_at
            from journeys
        ),
        moves as (
            -- how long artifacts that moved on stayed in each stage
            select stage, epoch(next_at) - epoch(stage_at) as dwell_s from (
                select unnest([{", ".join(f"'{n}'" for n, _ in FUNNEL_STAGES)}]) as stage,
                       unnest([{", ".join(f"{n}_at" for n, _ in FUNNEL_STAGES)}]) as stage_at,
                       unnest([{", ".join(
                           "least(" + ", ".join(f"{m}_at" for m, _ in FUNNEL_STAGES[i + 1:]) + ")"
                           if i + 1 < len(FUNNEL_STAGES) else "null::timestamptz"
                           for i in range(len(FUNNEL_STAGES)))}]) as next_at
                from ranked
            ) where stage_at is not null and next_at is not null and next_at >= stage_at
        ),
        p90 as (
            select stage, quantile_cont(dwell_s, 0.9) as p90_dwell_s, count(*) as dwell_n from moves group by stage
        ),
        now as (select max(occurred_at) as now from marts.lifecycle_events),
        superseded as (
            -- the furthest rank among the service's artifacts built strictly later (a window, not a self-join of
            -- each service's artifacts: that join grew with the square of them, ~25 s at 10M events)
            select artifact_id from (
                select artifact_id, stage_rank,
                       max(stage_rank) over (partition by service order by built_sort_at
                                             range between current row and unbounded following exclude group)
                           as later_rank
                from ranked where service is not null and built_sort_at is not null
            ) where later_rank >= stage_rank
        )
        select r.artifact_id, r.service, r.team, r.app, r.version, r.commit_sha, r.furthest_stage, r.stage_rank,
               r.built_sort_at as built_at, r.entered_at, r.environments_reached,
               {", ".join(f"r.{n}_at" for n, _ in FUNNEL_STAGES[1:])},
               (epoch(now.now) - epoch(r.entered_at)) / 3600 as hours_in_stage,
               p.p90_dwell_s / 3600 as stage_p90_hours,
               case
                   when r.furthest_stage = 'production' then 'in production'
                   when s.artifact_id is not null then 'superseded'
                   when p.p90_dwell_s is not null and epoch(now.now) - epoch(r.entered_at) > p.p90_dwell_s then 'stuck'
                   else 'in flight'
               end as status
        from ranked r
        cross join now
        left join p90 p on p.stage = r.furthest_stage
        left join superseded s using (artifact_id)
        where {predicate}
    """, params


def funnel_artifacts(f: Filters, prefer_mart: bool = True, *, stuck: bool = False,
                     limit: int | None = None) -> pl.DataFrame:
    """Artifacts built in view (``_funnel_in_view``), newest first; ``stuck``: only the stuck ones, longest in
    their stage first; ``limit``: at most that many (what a table shows; the CSV download has them all)."""
    rows, params = _funnel_in_view(f, prefer_mart)
    order = "built_at desc nulls last, artifact_id"
    sql = f"select * from ({rows})"
    if stuck:
        sql, order = sql + " where status = 'stuck'", "hours_in_stage desc, " + order
    sql += f" order by {order}"
    return _listing(sql, params, limit)


def funnel_summary(f: Filters, prefer_mart: bool = True) -> pl.DataFrame:
    """Artifacts built in view per furthest stage × status (``artifacts``), and how many of them reached each
    step (``reached_built`` … ``reached_production``: the step's time is set), by stage order then status.

    Why grouped in SQL: the page's tiles (sums by status), funnel (sums of ``reached_*``) and stage × status
    table all follow from these few rows, where loading every artifact in view (179k rows at 10M events) cost
    the page a third of a second before it drew anything.
    """
    rows, params = _funnel_in_view(f, prefer_mart)
    reached = ", ".join(f"count({name}_at) as reached_{name}" for name, _ in FUNNEL_STAGES)
    return query(
        f"""
        select furthest_stage, status, count(*) as artifacts, {reached}
        from ({rows})
        group by furthest_stage, stage_rank, status
        order by stage_rank nulls first, status nulls first
        """,
        params,
    )


_FUNNEL_FLOWS_SQL = """
with artifacts as ({rows}),

paths as (
    -- artifacts with the same start, environments and status take the same path: each path once, with its count
    select row_number() over () as path_id, * from (
        select built_at is not null or published_at is not null as built, published_at is not null as published,
               environments_reached, status, count(*) as artifacts
        from artifacts group by all
    )
),

reached as (
    -- a path's environments with their rank (1–3 before production, 4 production); others are not drawn
    select path_id, environment, rank
    from (select path_id, unnest(environments_reached) as environment from paths)
    join (select unnest($environments::varchar[]) as environment, unnest($ranks::integer[]) as rank)
        using (environment)
),

steps as (
    -- a path up to production: built, published, then its non-production environments by rank, then name
    select path_id, 0 as position, 'built' as node from paths where built
    union all select path_id, 1, 'published' from paths where published
    union all select path_id, 1 + rank, environment from reached where rank < 4
),

ordered as (
    select path_id, node, lead(node) over (partition by path_id order by position, node) as next_node from steps
),

links as (
    select path_id, node as source, next_node as target from ordered where next_node is not null
    union all  -- from its last step to each production environment
    select path_id, o.node, r.environment from ordered o join reached r using (path_id)
    where o.next_node is null and r.rank = 4
    union all  -- from its last step to its status, unless in production
    select path_id, o.node, p.status from ordered o join paths p using (path_id)
    where o.next_node is null and p.status is distinct from 'in production'
)

select source as "from", target as "to", sum(p.artifacts)::bigint as artifacts
from links join paths p using (path_id)
group by all
order by artifacts desc, "from", "to" nulls last
"""


def funnel_flows(f: Filters, prefer_mart: bool = True, order: dict[str, int] | None = None) -> pl.DataFrame:
    """The funnel's Sankey links, ``from`` → ``to`` with the ``artifacts`` built in view that took them.

    An artifact's path: ``built`` (when built or published), ``published``, its non-production environments in
    the order of ``order`` (``environment_order``: by tier, then by name), and from the last of these a link to
    each production environment it reached and, unless in production, to its status. Environments of another
    or no tier are left out. Computed in SQL over the distinct paths (ten in a 4-week view at 10M events), not
    per artifact in Python (the page's former loop over the 179k artifacts of that view took seconds).
    """
    rows, params = _funnel_in_view(f, prefer_mart)
    order = environment_order() if order is None else order
    params.update(environments=list(order), ranks=list(order.values()))
    return query(_FUNNEL_FLOWS_SQL.format(rows=rows), params)


# ---------------------------------------------------------------------------------------------------
# Incidents & risk
# ---------------------------------------------------------------------------------------------------


def incidents(f: Filters) -> pl.DataFrame:
    """Incidents opened in view, with the deployment they are attributed to and both recovery figures."""
    predicate, params = where(f, "i.opened_at", team="s.team", app="s.app", service="i.service",
                              environment="i.environment")
    return query(
        f"""
        with catalogue as (
            select service, mode(team) as team, mode(app) as app from marts.deployments group by service
        )
        select i.incident_id, i.service, s.team, s.app, i.environment, i.severity, i.opened_at, i.resolved_at,
               i.time_to_restore_s / 3600 as incident_time_to_restore_hours,
               i.attribution, d.version as attributed_version, d.deployed_at as attributed_deployed_at,
               d.recovery_time_s / 3600 as deployment_recovery_hours,
               h.version as hotfix_version, h.deployed_at as hotfix_deployed_at,
               i.deployment_id, i.artifact_id as named_artifact_id
        from marts.incidents i
        left join catalogue s using (service)
        left join marts.deployments d on d.deployment_id = i.deployment_id
        left join marts.deployments h on h.deployment_id = i.hotfix_deployment_id
        where {predicate}
        order by i.opened_at desc, i.incident_id
        """,
        params,
    )


def risk_by_service(f: Filters) -> pl.DataFrame:
    """Per service, in view: production deployments, failed changes, rollbacks, failed attempts, incidents."""
    dep_pred, params = where(f, "deployed_at", **_DEPLOYMENT_DIMS)
    inc_pred, inc_params = where(f, "i.opened_at", team="s.team", app="s.app", service="i.service",
                                 environment="i.environment")
    params.update(inc_params)
    return query(
        f"""
        with catalogue as (
            select service, mode(team) as team, mode(app) as app from marts.deployments group by service
        ),
        deps as (
            select service,
                   count(*) filter (where outcome = 'success') as production_deployments,
                   count(*) filter (where outcome = 'success' and caused_failure) as failed_changes,
                   count(*) filter (where outcome = 'success' and is_rollback) as rollbacks,
                   count(*) filter (where outcome = 'failure') as failed_deployments
            from marts.deployments where is_production and {dep_pred} group by service
        ),
        incs as (
            select i.service, count(*) as incidents from marts.incidents i left join catalogue s using (service)
            where {inc_pred} group by i.service
        )
        select * from (
            select service, coalesce(production_deployments, 0) as production_deployments,
                   coalesce(failed_changes, 0) as failed_changes, coalesce(rollbacks, 0) as rollbacks,
                   coalesce(failed_deployments, 0) as failed_deployments, coalesce(incidents, 0) as incidents
            from deps full join incs using (service)
        )
        order by failed_changes + rollbacks + failed_deployments + incidents desc, service
        """,
        params,
    )


def scanned_artifacts(f: Filters) -> pl.DataFrame:
    """Artifacts built in view (as in ``_vulnerable_in_view``) with scan events (stage ``artifact_scanned``):
    how many, the latest, their outcomes, and whether the artifact reached production — production ones
    first, then the most recently scanned. For a snapshot without ``marts.artifact_risk``.

    Only the events of the artifacts in view are aggregated (a semi-join, the lookup holds the view's
    artifacts). The distinct outcomes are ``list_distinct`` of the list (null when none is known), not a
    ``distinct`` aggregate, which would cost a second grouping of every event.
    """
    predicate, params = where(f, _ARTIFACT_TIME, team="team", app="app", service="service")
    return query(
        f"""
        with in_view as (
            select artifact_id, reached_production from marts.artifact_journeys where {predicate}
        ),
        scans as (
            select e.artifact_id, any_value(e.service) as service, any_value(e.version) as version,
                   count(*) as scans, max(e.occurred_at) as last_scanned_at,
                   nullif(list_distinct(list(e.outcome)), []) as outcomes
            from marts.lifecycle_events e
            where e.stage = 'artifact_scanned' and e.artifact_id in (select artifact_id from in_view)
            group by e.artifact_id
        )
        select s.*, coalesce(v.reached_production, false) as reached_production
        from scans s join in_view v using (artifact_id)
        order by reached_production desc, last_scanned_at desc, artifact_id
        """,
        params,
    )


# ---------------------------------------------------------------------------------------------------
# Flow-analytics marts (pages check ``missing`` first: the marts may be absent from an older snapshot)
# ---------------------------------------------------------------------------------------------------

NEEDS = {
    "marts.stage_durations": ("artifact_id", "stage", "environment", "tool", "duration_s", "active_s", "waiting_s",
                              "reached_production", "is_clock_skew", "first_production_at", "service", "team",
                              "app"),
    "marts.release_inventory": ("service", "environment", "cluster", "is_production", "version", "artifact_id",
                                "deployed_at", "running_since", "team", "app", "production_version",
                                "versions_behind_production", "is_ahead_of_production", "as_of"),
    "marts.release_history": ("service", "environment", "cluster", "environment_tier", "is_production", "version",
                              "artifact_id", "deployment_id", "deployed_at", "valid_to", "running_since", "team",
                              "app", "commit_sha", "is_rollback", "artifact_built_at"),
    "marts.artifact_risk": ("artifact_id", "service", "team", "app", "version", "scans", "last_scanned_at",
                            "vulnerabilities_critical", "vulnerabilities_high", "vulnerabilities_medium",
                            "vulnerabilities_low", "vulnerabilities_total", "reached_production", "incidents",
                            "rollbacks"),
}


def missing(table: str, columns: tuple[str, ...] | None = None) -> str | None:
    """Why ``table`` (``schema.name``) cannot be used yet: None when it exists with ``columns``."""
    schema, name = table.split(".")
    if not table_exists(schema, name):
        return "missing"
    have = set(table_columns(schema, name))
    lacking = [c for c in (columns or NEEDS.get(table, ())) if c not in have]
    return f"lacks column(s) {', '.join(lacking)}" if lacking else None


_BOTTLENECK_SQL = """
with durations as (
    select * from marts.stage_durations
    where reached_production and first_production_at >= $start and first_production_at < $end and {where}
),

skewed as (
    select distinct artifact_id from durations where is_clock_skew
),

journeys as (
    select *, date_trunc($grain, first_production_at) as period_start
    from durations where artifact_id not in (select artifact_id from skewed)
),

totals as (
    select period_start, sum(duration_s) as period_lead_time_s, count(distinct artifact_id) as period_journeys
    from journeys group by period_start
),

stages as (
    select period_start, tool, stage, environment, count(*) as journeys, sum(duration_s) as total_s,
           sum(waiting_s) as waiting_s, sum(active_s) as active_s,
           quantile_cont(duration_s, 0.5) as p50_s, quantile_cont(duration_s, 0.9) as p90_s
    from journeys group by all
)

select s.*, t.period_journeys, t.period_lead_time_s,
       s.total_s / nullif(t.period_lead_time_s, 0) as share_of_lead_time,
       s.waiting_s / nullif(s.total_s, 0) as waiting_share,
       (select count(*) from skewed) as clock_skew_journeys_excluded
from stages s join totals t using (period_start)
order by period_start, share_of_lead_time desc, tool, stage, environment
"""


def bottlenecks(f: Filters, grain: str = "all") -> pl.DataFrame:
    """Stage × tool × environment figures of ``marts.bottlenecks``, recomputed for the view from
    ``marts.stage_durations`` (the same rule: journeys that reached production, by their first production
    arrival in the range; journeys with clock skew left out). ``grain``: ``week``, ``month`` or ``all`` (one
    period: the whole range). The environment filter does not apply (a journey crosses environments).
    """
    if grain not in ("week", "month", "all"):
        raise ValueError(grain)
    predicate, params = where(f, None, team="team", app="app", service="service")
    params.update(start=f.start_ts, end=f.end_ts, grain="year" if grain == "all" else grain)
    sql = _BOTTLENECK_SQL.format(where=predicate)
    if grain == "all":  # one period for the whole range, starting at the range's start
        sql = sql.replace("date_trunc($grain, first_production_at)", "$start::timestamptz")
        params.pop("grain")
    return query(sql, params)


def slowest_step_tools(f: Filters) -> pl.DataFrame:
    """Per tool: in how many journeys (reached production in view) it performed the longest step.

    The longest step of each journey is a grouped ``max`` joined back, not a window over every step (a window
    partitions and buffers all the steps' columns; the aggregate keeps one value per journey).
    """
    predicate, params = where(f, "first_production_at", team="team", app="app", service="service")
    return query(
        f"""
        with journeys as (
            select artifact_id, tool, duration_s from marts.stage_durations
            where reached_production and {predicate}
              and artifact_id not in (select artifact_id from marts.stage_durations where is_clock_skew)
        ),
        longest as (
            select artifact_id, max(duration_s) as duration_s from journeys group by artifact_id
        ),
        slowest as (
            select artifact_id, tool from journeys join longest using (artifact_id, duration_s)
        )
        select tool, count(distinct artifact_id) as slowest_step_journeys,
               count(distinct artifact_id) / (select count(artifact_id) from longest) as slowest_step_share
        from slowest group by tool order by slowest_step_journeys desc, tool
        """,
        params,
    )


def release_inventory(f: Filters) -> pl.DataFrame:
    """``marts.release_inventory`` (what runs where as of the snapshot), filtered by team/app/service/environment."""
    predicate, params = where(f, None, **_DEPLOYMENT_DIMS)
    return query(
        f"""
        select service, environment, cluster, is_production, version, running_since, deployed_at,
               production_version, versions_behind_production, is_ahead_of_production, team, app, artifact_id,
               as_of
        from marts.release_inventory where {predicate}
        order by service, environment, cluster
        """,
        params,
    )


_INVENTORY_AS_OF_SQL = """
-- the as-of release inventory documented in docs/metrics.md ("Release inventory as of a point in time"),
-- with the instant as $as_of; filters are applied to its result so the production reference is the service's
with params as (
    select $as_of::timestamptz as as_of
),

running as (
    -- the instant as a parameter, not a join with params: then the scan itself filters (and can skip row groups)
    select h.*
    from marts.release_history h
    where h.deployed_at <= $as_of::timestamptz and (h.valid_to is null or h.valid_to > $as_of::timestamptz)
),

arrivals as (
    select service, artifact_id, any_value(artifact_built_at) as built_at, min(deployed_at) as arrived_at
    from marts.release_history
    where is_production and deployed_at <= $as_of::timestamptz
    group by service, artifact_id
),

reference as (
    select
        service,
        arg_max(artifact_id, artifact_built_at) as production_artifact_id,
        arg_max(version, artifact_built_at) as production_version,
        max(artifact_built_at) as production_built_at
    from running
    where is_production
    group by service
),

drift as (
    select
        r.service, r.environment, r.cluster,
        count(a.artifact_id) as versions_behind_production
    from running r
    left join reference f using (service)
    left join arrivals a
        on a.service = r.service and a.built_at > r.artifact_built_at and a.built_at <= f.production_built_at
    group by r.service, r.environment, r.cluster
),

inventory as (
    select
        r.service, r.environment, r.cluster, r.is_production, r.version, r.running_since, r.deployed_at,
        f.production_version, d.versions_behind_production,
        coalesce(r.artifact_built_at > f.production_built_at, false) as is_ahead_of_production,
        r.team, r.app, r.artifact_id, p.as_of
    from running r
    cross join params p
    left join reference f using (service)
    left join drift d using (service, environment, cluster)
)

select * from inventory where {where} order by service, environment, cluster
"""


def release_inventory_as_of(f: Filters, as_of: datetime) -> pl.DataFrame:
    """What ran where at ``as_of`` (from ``marts.release_history``), with the same drift columns as the mart."""
    predicate, params = where(f, None, **_DEPLOYMENT_DIMS)
    params["as_of"] = as_of
    return query(_INVENTORY_AS_OF_SQL.format(where=predicate), params)


def _vulnerable_in_view(f: Filters) -> tuple[str, dict[str, Any]]:
    """The scanned artifacts of ``marts.artifact_risk`` built in view, as the funnel and journeys count
    artifacts (``_ARTIFACT_TIME`` in the range; team, app, service), each with its latest scan's findings.

    Why by build, not by scan date: the sidebar's range ends at the last build, deployment or incident, so a
    scan after it (a scanner works hours behind the registry) could not be reached by any view; and a
    scheduled re-scan of every image would move every old artifact into the current view.
    """
    predicate, params = where(f, _ARTIFACT_TIME, team="team", app="app", service="service")
    return (f"from marts.artifact_risk where scans > 0 "
            f"and artifact_id in (select artifact_id from marts.artifact_journeys where {predicate})"), params


def vulnerable_artifacts(f: Filters, limit: int | None = None) -> pl.DataFrame:
    """Scanned artifacts in view (``_vulnerable_in_view``), production ones first, then the most severe findings;
    ``limit``: at most that many (what the table shows; the CSV download has them all)."""
    from_where, params = _vulnerable_in_view(f)
    sql = f"""
        select service, version, reached_production, vulnerabilities_critical, vulnerabilities_high,
               vulnerabilities_medium, vulnerabilities_low, vulnerabilities_total, scans, last_scanned_at,
               incidents, rollbacks, team, app, artifact_id
        {from_where}
        order by reached_production desc, coalesce(vulnerabilities_critical, 0) desc,
                 coalesce(vulnerabilities_high, 0) desc, coalesce(vulnerabilities_total, 0) desc, service, version,
                 artifact_id
    """
    return _listing(sql, params, limit)


def vulnerable_artifacts_count(f: Filters) -> int:
    """How many scanned artifacts are in view (``_vulnerable_in_view``): the table's "N of M"."""
    from_where, params = _vulnerable_in_view(f)
    return query(f"select count(*) as n {from_where}", params).item()


# ---------------------------------------------------------------------------------------------------
# Warehouse health
# ---------------------------------------------------------------------------------------------------


def health_totals() -> dict[str, Any]:
    return query(
        """
        select
            (select count(*) from marts.lifecycle_events) as events,
            (select count(*) from marts.lifecycle_events where stage is null) as unmapped,
            (select count(distinct source_tool) from marts.lifecycle_events) as tools,
            (select count(*) from raw.quarantine) as quarantined,
            (select max(loaded_at) from raw.loaded_files) as last_load_at,
            (select count(*) from raw.loaded_files) as files_loaded,
            (select max(received_at) from marts.lifecycle_events) as last_received_at,
            (select max(occurred_at) from marts.lifecycle_events) as last_occurred_at,
            (select min(occurred_at) from marts.lifecycle_events) as first_occurred_at
        """
    ).row(0, named=True)


def events_by_tool_and_stage() -> pl.DataFrame:
    return query(
        """
        select coalesce(source_tool, '(unknown)') as source_tool, coalesce(stage, '(no stage)') as stage,
               count(*) as events
        from marts.lifecycle_events group by all order by events desc, source_tool, stage
        """
    )


def events_per_day() -> pl.DataFrame:
    """Events per UTC day and tool. The day is ``make_timestamp(epoch_us(…))::date``: the same UTC date as
    ``occurred_at::date`` in the session's UTC, by plain arithmetic, where the timestamptz cast goes through
    the ICU time-zone code for each of the millions of events (4× slower on the whole table); only an infinite
    timestamp, which has no epoch, takes the cast."""
    return query(
        """
        select case when isfinite(occurred_at) then make_timestamp(epoch_us(occurred_at))::date
                    else occurred_at::date end as day,
               coalesce(source_tool, '(unknown)') as source_tool, count(*) as events
        from marts.lifecycle_events where occurred_at is not null group by all order by day, source_tool
        """
    )


def quarantine_reasons() -> pl.DataFrame:
    return query(
        """
        select reason, count(*) as records, count(distinct file) as files,
               arg_min(file || coalesce(':' || line, ''), quarantined_at) as first_example,
               max(quarantined_at) as last_quarantined_at
        from raw.quarantine group by reason order by records desc, reason
        """
    )


def recent_loads(limit: int = 20) -> pl.DataFrame:
    return query(
        """
        select loaded_at, file, records, accepted, duplicates, quarantined, forced_source, load_id
        from raw.loaded_files order by loaded_at desc, file limit $limit
        """,
        {"limit": limit},
    )


def link_coverage() -> pl.DataFrame:
    """Successful production deployments per artifact → commit link method (``unlinked`` = not traced)."""
    return query(
        """
        select coalesce(commit_link, 'unlinked') as link_method, count(*) as production_deployments,
               count(*) / sum(count(*)) over () as share
        from marts.deployments where is_production and outcome = 'success'
        group by 1 order by production_deployments desc, link_method
        """
    )
