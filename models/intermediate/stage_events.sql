-- intermediate.stage_events: each artifact's journey as an ordered list of milestones, one row per
-- (artifact, stage, environment), `seq` = its position. The milestones, each the first time it happened:
--   commit             the commit the artifact was built from (its time; tool: where the commit came from)
--   pipeline_queued, pipeline_started, build_queued, build_started, build_finished   its CI run
--   test_finished      per environment (CI unit tests, acceptance tests in qa…): the first passing run,
--                      else the first run (a failed test with no passing rerun)
--   artifact_packaged, artifact_published, artifact_scanned
--   canary_started     per environment: the first time a progressive rollout of it started there (Argo
--                      Rollouts, Flagger); the time to its `deployed` (promotion) is the canary's bake time
--   deployed           per environment: the first successful arrival (deployment or rollback) there
-- The commit comes first; the others follow in time order (ties by the canonical order of the stages).
-- The journey ends at the first production arrival: later milestones (the other production clusters,
-- re-scans) are not part of commit-to-production time. `tool` is the tool that reported the milestone.
-- Every CTE works within one artifact, so a build recomputes only the artifacts whose inputs changed
-- (pipelines/partitions.py).
-- incremental: partition (artifact_id)
with artifacts as (
    select * from intermediate.artifacts
),

linked as (
    select * from intermediate.artifact_events
),

commit_milestone as (
    select artifact_id, 'commit' as stage, null::varchar as environment, null::varchar as environment_tier, tool,
           committed_at as occurred_at, null::varchar as outcome
    from intermediate.artifact_commits
),

ci_milestones as (
    select
        artifact_id,
        stage,
        null::varchar as environment,
        null::varchar as environment_tier,
        arg_min(source_tool, occurred_at) as tool,
        min(occurred_at) as occurred_at,
        arg_min(outcome, occurred_at) as outcome
    from linked
    where stage in ('pipeline_queued', 'pipeline_started', 'build_queued', 'build_started', 'build_finished',
                    'artifact_packaged', 'artifact_published', 'artifact_scanned')
    group by artifact_id, stage
),

test_milestones as (
    -- per environment: the first passing run, else the first run
    select artifact_id, stage, environment, environment_tier, source_tool as tool, occurred_at, outcome
    from linked
    where stage = 'test_finished'
    qualify row_number() over (
        partition by artifact_id, environment
        order by coalesce(outcome, 'success') in ('failure', 'error'), occurred_at, event_key
    ) = 1
),

canary_milestones as (
    -- per environment: the first start of a progressive rollout (canary, blue-green preview)
    select
        artifact_id,
        'canary_started' as stage,
        environment,
        arg_min(environment_tier, occurred_at) as environment_tier,
        arg_min(source_tool, occurred_at) as tool,
        min(occurred_at) as occurred_at,
        null::varchar as outcome
    from linked
    where stage = 'canary_started'
    group by artifact_id, environment
),

arrivals as (
    -- the first successful arrival in each environment
    select
        artifact_id,
        'deployed' as stage,
        environment,
        environment_tier,
        source_tool as tool,
        deployed_at as occurred_at,
        outcome
    from intermediate.deployments
    where outcome = 'success' and artifact_id is not null
    qualify row_number() over (partition by artifact_id, environment order by deployed_at, deployment_id) = 1
),

milestones as (
    select * from commit_milestone
    union all by name
    select * from ci_milestones
    union all by name
    select * from test_milestones
    union all by name
    select * from canary_milestones
    union all by name
    select * from arrivals
),

ranked as (
    select
        m.*,
        case coalesce(m.environment_tier, 'unknown')
            when 'development' then 1 when 'unknown' then 2 when 'testing' then 3 when 'staging' then 4
            when 'production' then 5 else 2
        end as tier_rank,
        case m.stage
            when 'commit' then 0 when 'pipeline_queued' then 1 when 'pipeline_started' then 2
            when 'build_queued' then 3 when 'build_started' then 4 when 'build_finished' then 5
            when 'artifact_packaged' then 7 when 'artifact_published' then 8 when 'artifact_scanned' then 9
            else 10
        end as stage_rank
    from milestones m
),

production as (
    -- the first production arrival ends the journey
    select
        artifact_id,
        min(occurred_at) as first_production_at,
        arg_min(environment, occurred_at) as first_production_environment
    from ranked
    where stage = 'deployed' and environment_tier = 'production'
    group by artifact_id
),

journey as (
    select
        r.*,
        p.first_production_at,
        -- tie-break: canonical stage order; a test runs after the deployment to its environment, a canary
        -- starts before it
        case
            when r.stage = 'canary_started' then 9.5 + 2 * r.tier_rank
            when r.stage = 'deployed' then 10 + 2 * r.tier_rank
            when r.stage = 'test_finished' and r.environment_tier is distinct from 'unknown' then 11 + 2 * r.tier_rank
            when r.stage = 'test_finished' then 6
            else r.stage_rank
        end as order_rank
    from ranked r
    left join production p using (artifact_id)
    where r.stage = 'commit'
       or p.first_production_at is null
       or (r.occurred_at < p.first_production_at)
       or (r.occurred_at = p.first_production_at and r.stage <> 'deployed')
       or (r.stage = 'deployed' and r.environment = p.first_production_environment)
)

select
    j.artifact_id,
    a.service,
    a.team,
    a.app,
    a.version,
    a.repository,
    row_number() over (
        partition by j.artifact_id
        order by j.stage = 'commit' desc, j.occurred_at, j.order_rank, j.environment
    ) as seq,
    j.stage,
    j.environment,
    j.environment_tier,
    j.tool,
    j.occurred_at,
    j.outcome,
    j.stage = 'deployed' and j.environment_tier = 'production' as is_production_arrival,
    j.first_production_at
from journey j
join artifacts a using (artifact_id)
