-- marts.release_inventory: the release inventory — one row per service × environment × cluster with the
-- artifact running there as of `as_of` (the newest non-commit event in the warehouse): the latest
-- successful deployment there (rollbacks and redeploys included) unless a `service_removed` came after it.
-- Version, artifact, deployment, deployed_at (that latest deployment), running_since, team, app.
-- Drift against production (a service's production reference = the newest artifact, by build time,
-- running in any of its production clusters):
--   versions_behind_production = the service's artifacts that reached production by as_of and are newer
--     than the one running here, up to the production reference (0 when level with or ahead of it);
--   behind_production_since = the later of running_since and the first production arrival of the oldest
--     of those; behind_production_s = as_of − that (null when not behind);
--   is_ahead_of_production = the artifact here is newer than the production reference (usual before
--     production: dev, qa, staging run candidates).
-- The same query with `as_of` bound to any instant is the as-of inventory (docs/metrics.md, "Release
-- inventory", tested verbatim); marts.release_history holds the validity intervals it reads.
with params as (
    select as_of from intermediate.as_of
),

running as (
    select h.*
    from marts.release_history h, params p
    where h.deployed_at <= p.as_of and (h.valid_to is null or h.valid_to > p.as_of)
),

arrivals as (
    select service, artifact_id, any_value(artifact_built_at) as built_at, min(deployed_at) as arrived_at
    from marts.release_history, params p
    where is_production and deployed_at <= p.as_of
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
        count(a.artifact_id) as versions_behind_production,
        min(a.arrived_at) as first_newer_arrival_at
    from running r
    left join reference f using (service)
    left join arrivals a
        on a.service = r.service and a.built_at > r.artifact_built_at and a.built_at <= f.production_built_at
    group by r.service, r.environment, r.cluster
)

select
    r.service,
    r.environment,
    r.cluster,
    r.environment_tier,
    r.is_production,
    r.version,
    r.artifact_id,
    r.deployment_id,
    r.deployed_at,
    r.running_since,
    r.team,
    r.app,
    r.commit_sha,
    r.is_rollback,
    f.production_version,
    f.production_artifact_id,
    d.versions_behind_production,
    case when d.versions_behind_production > 0 then greatest(r.running_since, d.first_newer_arrival_at) end
        as behind_production_since,
    case when d.versions_behind_production > 0
        then epoch(p.as_of) - epoch(greatest(r.running_since, d.first_newer_arrival_at)) end as behind_production_s,
    coalesce(r.artifact_built_at > f.production_built_at, false) as is_ahead_of_production,
    p.as_of
from running r
cross join params p
left join reference f using (service)
left join drift d using (service, environment, cluster)
