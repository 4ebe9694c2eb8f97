-- intermediate.deployments: one row per deployment outcome to one environment/cluster — successful
-- (deployed, or a reported rollback) and failed attempts (outcome = failure) — with rollback and
-- redeploy detection per (service, environment, cluster), in time order:
-- a redeploy is the artifact already running there; a rollback is a reported rollback, or an artifact
-- that ran there before but not just now (a previously deployed, older version).
-- The events are intermediate.deployment_events: what Kubernetes only observed is not counted twice.
-- A progressive rollout's end is a deployment too (is_canary): promoted, it succeeded; aborted, it failed after
-- serving part of the traffic since canary_started_at (the latest canary start of the artifact there).
-- Every rule works within a service (the event's, else its artifact's): a build recomputes the services whose
-- events, artifacts or canary starts changed (pipelines/partitions.py); a deployment whose event and artifact
-- name no service is in the null service's rows.
-- incremental: partition (service, artifact_id) with null key
with events as (
    select *
    from intermediate.deployment_events
),

canary_starts as (
    select artifact_id, environment, started_at
    from intermediate.canary_starts
),

enriched as (
    select
        e.event_id as deployment_id,
        coalesce(e.service, a.service) as service,
        coalesce(e.team, a.team, s.team) as team,
        coalesce(e.app, a.app, s.app) as app,
        e.environment,
        coalesce(e.cluster, e.environment) as cluster,
        e.environment_tier,
        e.environment_tier = 'production' as is_production,
        e.artifact_id,
        coalesce(e.version, a.version) as version,
        -- the artifact's commit; else the revision the deployment itself names (a deployment with no artifact)
        coalesce(a.commit_sha, e.commit_sha) as commit_sha,
        coalesce(a.commit_link, case when e.commit_sha is not null then 'deployment' end) as commit_link,
        coalesce(a.repository, e.repository, s.repository) as repository,
        e.occurred_at as deployed_at,
        case when e.stage in ('deploy_failed', 'canary_aborted') then 'failure' else 'success' end as outcome,
        e.stage = 'rolled_back' as reported_rollback,
        e.source_tool,
        e.chain_id,
        e.stage in ('canary_promoted', 'canary_aborted') as is_canary,
        case when e.stage in ('canary_promoted', 'canary_aborted') then c.started_at end as canary_started_at
    from events e
    asof left join canary_starts c
        on c.artifact_id = e.artifact_id and c.environment = e.environment and e.occurred_at >= c.started_at
    left join intermediate.artifacts a on a.artifact_id = e.artifact_id
    left join intermediate.service_catalogue s on s.service = coalesce(e.service, a.service)
),

successes as (
    select
        *,
        lag(artifact_id) over running as previous_artifact_id,
        count(*) over (
            partition by service, environment, cluster, artifact_id
            order by deployed_at, deployment_id rows between unbounded preceding and 1 preceding
        ) as earlier_runs_of_artifact
    from enriched
    where outcome = 'success'
    window running as (partition by service, environment, cluster order by deployed_at, deployment_id)
)

select
    * exclude (earlier_runs_of_artifact),
    artifact_id is not distinct from previous_artifact_id and not reported_rollback as is_redeploy,
    reported_rollback or (earlier_runs_of_artifact > 0 and artifact_id is distinct from previous_artifact_id)
        as is_rollback
from successes
union all by name
select
    *,
    null::varchar as previous_artifact_id,
    false as is_redeploy,
    false as is_rollback
from enriched
where outcome = 'failure'
