-- intermediate.artifact_events: one row per (artifact, event) for the events of an artifact's journey —
-- its own events (the event names the artifact: packaged, published, scanned, deploy started/failed,
-- deployed, rolled back, tests in an environment), and the events of the CI run that built it: the run's
-- chain (`chainId`) or, when the artifact has no chain, the latest event of each CI stage on the
-- artifact's commit before the artifact was first seen. `link` says which (artifact | chain | commit).
-- Only the flow stages are kept: CI run, build, task, test, artifact, deploy, canary, verification and
-- rollback events.
-- incremental: partition (artifact_id, chain_id, commit_sha)
with artifacts as (
    select * from intermediate.artifacts
),

events as (
    select *
    from intermediate.canonical_events
    where stage in (
        'pipeline_queued', 'pipeline_started', 'pipeline_finished',
        'build_queued', 'build_started', 'build_finished',
        'task_started', 'task_finished', 'test_queued', 'test_started', 'test_finished',
        'artifact_packaged', 'artifact_published', 'artifact_scanned',
        'deploy_started', 'deploy_failed', 'deployed', 'rolled_back',
        'canary_started', 'canary_promoted', 'canary_aborted', 'verification_finished'
    )
),

by_artifact as (
    select artifact_id as journey_artifact_id, 'artifact' as link, *
    from events
    where artifact_id is not null
),

by_chain as (
    select a.artifact_id as journey_artifact_id, 'chain' as link, e.*
    from artifacts a
    join events e on e.chain_id = a.chain_id
    where a.chain_id is not null and e.artifact_id is null
),

by_commit as (
    select a.artifact_id as journey_artifact_id, 'commit' as link, e.*
    from artifacts a
    join events e
        on e.commit_sha = a.commit_sha
        and (a.repository is null or e.repository is null or e.repository = a.repository)
    where a.chain_id is null
      and e.artifact_id is null
      and e.stage in ('pipeline_queued', 'pipeline_started', 'pipeline_finished', 'build_queued', 'build_started',
                      'build_finished', 'task_started', 'task_finished', 'test_queued', 'test_started', 'test_finished')
      and e.occurred_at <= a.first_seen_at
    qualify row_number() over (
        partition by a.artifact_id, e.stage, e.environment order by e.occurred_at desc, e.event_key
    ) = 1
)

select
    journey_artifact_id as artifact_id,
    link,
    event_key,
    event_id,
    stage,
    source_tool,
    occurred_at,
    outcome,
    environment,
    coalesce(cluster, environment) as cluster,
    environment_tier,
    pipeline_run_id,
    chain_id,
    commit_sha,
    artifact_id as event_artifact_id
from (
    select * from by_artifact
    union all by name
    select * from by_chain
    union all by name
    select * from by_commit
)
