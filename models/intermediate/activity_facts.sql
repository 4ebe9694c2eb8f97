-- intermediate.activity_facts: the dated facts marts.team_activity counts — one row per successful or failed
-- deployment (its date), artifact (packaged, else first seen), artifact's first production arrival, commit (its
-- commit time), commit delivered to production (the delivering deployment's date) and incident (opened), with
-- the service and the owning team and app: the events' metadata, else the service catalogue
-- (intermediate.service_catalogue). Facts without a time are left out.
-- Apart so the mart can be maintained by period (pipelines/periods.py): its rows of a week or a month read only
-- the facts dated in it.
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
)

select * from owned
