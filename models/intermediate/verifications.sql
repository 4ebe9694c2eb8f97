-- intermediate.verifications: one row per post-deployment verification result (stage verification_finished:
-- Keptn post-deployment evaluations and quality gates, Argo Rollouts analysis runs) and the successful
-- deployment it verifies — a failed one makes that deployment a failed change (marts.deployments). The
-- deployment is found the first way that works, recorded in `link`:
--   artifact  the latest deployment of the verified artifact to the same environment, at or before the verdict;
--   chain     the latest deployment of the same chain (Keptn's shkeptncontext), at or before the verdict;
--   version   the latest deployment of the same service, environment and version, at or before the verdict;
--   app       a verdict on a whole app (no service, no artifact: a KeptnApp's evaluation): the latest
--             deployment of each of the app's services to that environment since the app's previous verdict there.
-- A verdict with none of these (a canary analysis before promotion: its artifact is not deployed yet) keeps
-- deployment_id null and changes nothing.
with verifications as (
    select
        *,
        lag(occurred_at) over (partition by app, environment, service is null and artifact_id is null
                               order by occurred_at, event_key) as previous_verified_at
    from intermediate.canonical_events
    where stage = 'verification_finished'
),

deployments as (
    select * from intermediate.deployments where outcome = 'success'
),

by_artifact as (
    select v.event_key, d.deployment_id, 'artifact' as link, 1 as priority
    from verifications v
    asof join deployments d
        on d.artifact_id = v.artifact_id and d.environment = v.environment and v.occurred_at >= d.deployed_at
),

by_chain as (
    select v.event_key, d.deployment_id, 'chain' as link, 2 as priority
    from verifications v
    asof join deployments d on d.chain_id = v.chain_id and v.occurred_at >= d.deployed_at
),

by_version as (
    select v.event_key, d.deployment_id, 'version' as link, 3 as priority
    from verifications v
    asof join deployments d
        on d.service = v.service and d.environment = v.environment and d.version = v.version
        and v.occurred_at >= d.deployed_at
),

by_app as (
    select v.event_key, d.deployment_id, 'app' as link, 4 as priority
    from verifications v
    join deployments d
        on d.app = v.app and d.environment = v.environment and d.deployed_at <= v.occurred_at
        and (v.previous_verified_at is null or d.deployed_at > v.previous_verified_at)
    where v.service is null and v.artifact_id is null
    qualify row_number() over (partition by v.event_key, d.service order by d.deployed_at desc, d.deployment_id) = 1
),

candidates as (
    select * from by_artifact
    union all
    select * from by_chain
    union all
    select * from by_version
    union all
    select * from by_app
),

links as (
    -- the first way that found a deployment
    select * from candidates
    qualify rank() over (partition by event_key order by priority) = 1
)

select
    v.event_key,
    v.event_id,
    v.source_tool,
    v.raw_type,
    v.occurred_at as verified_at,
    v.outcome,
    v.service,
    v.app,
    v.environment,
    v.artifact_id,
    v.version,
    v.chain_id,
    l.deployment_id,
    l.link
from verifications v
left join links l using (event_key)
