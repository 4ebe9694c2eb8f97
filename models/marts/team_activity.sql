-- marts.team_activity: how active each team and app is — one row per period (`week`, ISO Monday start;
-- `month`; `all`) × grain (`team`, `app`, `service`) × group. Ownership (team, app) comes from the
-- events' metadata, else the service catalogue (intermediate.service_catalogue).
--   deployments / production_deployments / failed_deployments: successful deployments to any / a
--     production environment, and failed attempts, by deployment date;
--   services_deployed = distinct services with a successful deployment;
--   artifacts_built = artifacts packaged (else first seen) in the period; artifacts_to_production =
--     artifacts whose first production arrival is in the period;
--   changes = commits made in the period (commit time); changes_deployed = commits delivered to
--     production in the period (by the delivering deployment's date, as lead time counts them);
--   incidents = incidents opened in the period.
with catalogue as (
    select * from intermediate.service_catalogue
),

facts as (
    select 'deployment' as kind, deployed_at as ts, service, team, app, is_production, outcome, null::varchar as id
    from marts.deployments
    union all
    select 'artifact', coalesce(packaged_at, first_seen_at), service, team, app, null, null, artifact_id
    from intermediate.artifacts
    union all
    select 'artifact_to_production', first_production_at, service, team, app, null, null, artifact_id
    from marts.artifact_journeys
    where first_production_at is not null
    union all
    select 'change', committed_at, service, team, app, null, null, coalesce(repository, '') || '@' || commit_sha
    from marts.changes
    union all
    select 'change_deployed', deployed_at, service, team, app, null, null, coalesce(repository, '') || '@' || commit_sha
    from marts.changes
    where deployment_id is not null
    union all
    select 'incident', i.opened_at, i.service, c.team, c.app, null, null, i.incident_id
    from marts.incidents i
    left join catalogue c using (service)
),

owned as (
    select
        f.* exclude (team, app),
        coalesce(f.team, c.team) as team,
        coalesce(f.app, c.app) as app
    from facts f
    left join catalogue c using (service)
    where f.ts is not null
),

counted as (
    -- the facts counted per kind × owner × week × month first (a week may straddle two months), each week and
    -- month computed once per fact: every step below reads these ~10× fewer rows (at 10M events: 4.3M facts;
    -- grouping every fact three times, once per period, took ~10 s)
    select
        kind, outcome, is_production, service, team, app,
        date_trunc('week', ts) as week_start,
        date_trunc('month', ts) as month_start,
        count(*) as n,
        min(ts) as first_ts
    from owned
    group by all
),

grouped as (
    select
        c.*,
        unnest([
            {'group_by': 'team', 'group_value': c.team},
            {'group_by': 'app', 'group_value': c.app},
            {'group_by': 'service', 'group_value': c.service}
        ], recursive := true)
    from counted c
),

weekly as (
    select
        group_by,
        group_value,
        week_start,
        month_start,
        service,
        coalesce(sum(n) filter (where kind = 'deployment' and outcome = 'success'), 0) as deployments,
        coalesce(sum(n) filter (where kind = 'deployment' and outcome = 'success' and is_production), 0)
            as production_deployments,
        coalesce(sum(n) filter (where kind = 'deployment' and outcome = 'failure'), 0) as failed_deployments,
        coalesce(sum(n) filter (where kind = 'artifact'), 0) as artifacts_built,
        coalesce(sum(n) filter (where kind = 'artifact_to_production'), 0) as artifacts_to_production,
        coalesce(sum(n) filter (where kind = 'change'), 0) as changes,
        coalesce(sum(n) filter (where kind = 'change_deployed'), 0) as changes_deployed,
        coalesce(sum(n) filter (where kind = 'incident'), 0) as incidents
    from grouped
    where group_value is not null
    group by all
),

periods(period) as (
    values ('week'), ('month'), ('all')
),

first_day as (
    select date_trunc('day', min(first_ts)) as first_day from counted
)

select
    p.period,
    case p.period when 'week' then w.week_start when 'month' then w.month_start else f.first_day end as period_start,
    w.group_by,
    w.group_value,
    sum(w.deployments)::bigint as deployments,
    sum(w.production_deployments)::bigint as production_deployments,
    sum(w.failed_deployments)::bigint as failed_deployments,
    count(distinct w.service) filter (where w.deployments > 0) as services_deployed,
    sum(w.artifacts_built)::bigint as artifacts_built,
    sum(w.artifacts_to_production)::bigint as artifacts_to_production,
    sum(w.changes)::bigint as changes,
    sum(w.changes_deployed)::bigint as changes_deployed,
    sum(w.incidents)::bigint as incidents
from weekly w
cross join periods p
cross join first_day f
group by all
