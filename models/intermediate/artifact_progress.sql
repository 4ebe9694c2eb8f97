-- intermediate.artifact_progress: one row per artifact with how far it got and what became of it — the part of
-- intermediate.artifact_outcomes (which holds the definitions) that depends only on the artifact's own rows:
-- furthest step, outcome (production, rejected, never_deployed, superseded, in_flight), the rejecting event,
-- the superseding artifact, and its current stage (its last milestone). An artifact's row reads only rows of that
-- artifact: a build recomputes the artifacts whose rows changed (pipelines/partitions.py); the age-dependent
-- columns (time in stage against the historical p90, stuck), which every load moves, are artifact_outcomes'.
-- incremental: partition (artifact_id)
with artifacts as (
    select * from intermediate.artifacts
),

arrivals as (
    -- each artifact's first arrival per environment (intermediate.artifact_arrivals)
    select * from intermediate.artifact_arrivals
),

furthest as (
    select
        artifact_id,
        max(step_order) as step_order,
        arg_max(case when tier_rank = 5 then 'production' else environment end, (step_order, -epoch(deployed_at)))
            as step,
        arg_max(environment, (step_order, -epoch(deployed_at))) as environment,
        min(deployed_at) filter (where tier_rank = 5) as first_production_at,
        min(deployed_at) as first_deployed_at,
        -- when it first got to its furthest step
        any_value(furthest_at) as furthest_at
    from arrivals
    group by artifact_id
),

scans as (
    select artifact_id, min(occurred_at) as scanned_at
    from intermediate.artifact_events
    where stage = 'artifact_scanned'
    group by artifact_id
),

last_verdict as (
    -- the latest event that says whether the artifact passed: tests, scans, deploy attempts, deployments,
    -- canaries, post-deployment verifications
    select artifact_id, stage, environment, outcome, occurred_at
    from intermediate.artifact_events
    where stage in ('test_finished', 'artifact_scanned', 'deploy_failed', 'deployed', 'rolled_back',
                    'canary_promoted', 'canary_aborted', 'verification_finished')
    qualify row_number() over (partition by artifact_id order by occurred_at desc, stage) = 1
),

superseding as (
    select * from intermediate.artifact_supersessions
),

current_stage as (
    -- its last milestone (intermediate.stage_events)
    select artifact_id, service, stage, environment, occurred_at
    from intermediate.stage_events
    qualify seq = max(seq) over (partition by artifact_id)
),

classified as (
    select
        a.artifact_id,
        a.service,
        case
            when f.first_production_at is not null then 'production'
            when v.outcome in ('failure', 'error') then 'rejected'
            when f.artifact_id is null and s.superseded_at is not null then 'never_deployed'
            when s.superseded_at is not null then 'superseded'
            else 'in_flight'
        end as outcome,
        case
            when f.step is not null then f.step
            when sc.scanned_at is not null then 'scanned'
            when a.published_at is not null then 'published'
            when a.packaged_at is not null or a.build_finished_at is not null then 'built'
            else 'seen'
        end as furthest_step,
        case
            when f.step_order is not null then f.step_order
            when sc.scanned_at is not null then 3
            when a.published_at is not null then 2
            when a.packaged_at is not null or a.build_finished_at is not null then 1
            else 0
        end as furthest_step_order,
        f.environment as furthest_environment,
        f.furthest_at,
        f.first_deployed_at,
        f.first_production_at,
        sc.scanned_at,
        case when v.outcome in ('failure', 'error') and f.first_production_at is null then v.stage end as rejected_stage,
        case when v.outcome in ('failure', 'error') and f.first_production_at is null then v.environment end
            as rejected_environment,
        case when v.outcome in ('failure', 'error') and f.first_production_at is null then v.occurred_at end
            as rejected_at,
        s.superseded_by_artifact_id,
        s.superseded_at
    from artifacts a
    left join furthest f using (artifact_id)
    left join scans sc using (artifact_id)
    left join last_verdict v using (artifact_id)
    left join superseding s using (artifact_id)
)

select
    c.* exclude (superseded_by_artifact_id, superseded_at),
    case when c.outcome in ('superseded', 'never_deployed') then c.superseded_by_artifact_id end
        as superseded_by_artifact_id,
    case when c.outcome in ('superseded', 'never_deployed') then c.superseded_at end as superseded_at,
    cs.service as current_service,
    cs.stage as current_stage,
    cs.environment as current_environment,
    cs.occurred_at as in_stage_since
from classified c
left join current_stage cs using (artifact_id)
