-- marts.release_history: what ran where, and when — one row per successful deployment (rollbacks and
-- redeploys included) to a service × environment × cluster, valid from `deployed_at` until `valid_to`:
-- the next successful deployment there, or a `service_removed` event for that service × environment ×
-- cluster (`ended_by` says which; null while it still runs). The release inventory at any instant T is
-- the rows with deployed_at <= T and (valid_to is null or valid_to > T) — see marts.release_inventory and
-- the as-of query in docs/metrics.md. `running_since` is when the artifact started its current
-- uninterrupted run there (a redeploy of the running artifact does not reset it); `artifact_built_at`
-- (packaged, else first seen) orders a service's artifacts from old to new.
-- Every window is within a service: a build recomputes the services whose deployments, removals or artifacts
-- changed (pipelines/partitions.py); deployments with no service are the null service's rows.
-- incremental: partition (service, artifact_id) with null key
with deployments as (
    select *
    from marts.deployments
    where outcome = 'success'
),

removals as (
    select service, environment, cluster, removed_at, removal_id
    from intermediate.service_removals
),

changes as (
    select service, environment, cluster, deployed_at as changed_at, 'deployment' as kind, deployment_id as id
    from deployments
    union all
    select service, environment, cluster, removed_at, 'removal', removal_id
    from removals
),

ordered as (
    select
        *,
        lead(changed_at) over place as next_at,
        lead(kind) over place as next_kind,
        lag(kind) over place as prev_kind
    from changes
    window place as (partition by service, environment, cluster order by changed_at, kind, id)
),

runs as (
    -- a new run starts when the artifact differs from the one running just before (or after a removal)
    select
        d.*,
        o.next_at as valid_to,
        o.next_kind as ended_by,
        sum(case when d.is_redeploy and o.prev_kind = 'deployment' then 0 else 1 end)
            over (partition by d.service, d.environment, d.cluster order by d.deployed_at, d.deployment_id)
            as run_number
    from deployments d
    join ordered o on o.kind = 'deployment' and o.id = d.deployment_id
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
    r.valid_to,
    r.ended_by,
    min(r.deployed_at) over (partition by r.service, r.environment, r.cluster, r.run_number) as running_since,
    r.team,
    r.app,
    r.commit_sha,
    r.is_rollback,
    r.is_redeploy,
    coalesce(a.packaged_at, a.first_seen_at, r.deployed_at) as artifact_built_at
from runs r
left join intermediate.artifacts a using (artifact_id)
-- written in time order: the dashboard's date filters then skip whole row groups (DuckDB's min/max zonemaps)
order by r.deployed_at, r.deployment_id
