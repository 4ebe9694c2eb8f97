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

grouped as (
    -- each fact's week and month computed once here, not once per group × period below
    select
        o.*,
        date_trunc('week', o.ts) as week_start,
        date_trunc('month', o.ts) as month_start,
        unnest([
            {'group_by': 'team', 'group_value': o.team},
            {'group_by': 'app', 'group_value': o.app},
            {'group_by': 'service', 'group_value': o.service}
        ], recursive := true)
    from owned o
),

periods(period) as (
    values ('week'), ('month'), ('all')
),

first_day as (
    select date_trunc('day', min(ts)) as first_day from owned
)

select
    p.period,
    case p.period when 'week' then g.week_start when 'month' then g.month_start else f.first_day end as period_start,
    g.group_by,
    g.group_value,
    count(*) filter (where g.kind = 'deployment' and g.outcome = 'success') as deployments,
    count(*) filter (where g.kind = 'deployment' and g.outcome = 'success' and g.is_production)
        as production_deployments,
    count(*) filter (where g.kind = 'deployment' and g.outcome = 'failure') as failed_deployments,
    count(distinct g.service) filter (where g.kind = 'deployment' and g.outcome = 'success') as services_deployed,
    count(*) filter (where g.kind = 'artifact') as artifacts_built,
    count(*) filter (where g.kind = 'artifact_to_production') as artifacts_to_production,
    count(*) filter (where g.kind = 'change') as changes,
    count(*) filter (where g.kind = 'change_deployed') as changes_deployed,
    count(*) filter (where g.kind = 'incident') as incidents
from grouped g
cross join periods p
cross join first_day f
where g.group_value is not null
group by all
