-- marts.stage_durations: one row per artifact × stage reached (× environment for `deployed` and
-- `test_finished`): the time between the previous milestone of the artifact's journey
-- (intermediate.stage_events) and this one, attributed to the tool that performed this stage.
--   entered_at = the previous milestone's time, exited_at = this stage's time, duration_s = the difference;
--   active_s   = the part of it covered by that tool's own started→finished spans on this artifact
--                (build_started→build_finished, test_started→test_finished, task_started→task_finished,
--                deploy_started→deployed | deploy_failed | rolled_back in the same environment — failed
--                attempts are work too; a canary's canary_started→canary_promoted | canary_aborted: its bake
--                time); pipeline runs are not spans (a run includes its own queues);
--   waiting_s  = duration_s − active_s: queued, or idle between one tool finishing and the next starting.
-- A journey starts at its commit, so the first milestone has no row; it ends at the first production
-- arrival. A negative duration (a clock ahead of the next tool's) is kept, flagged `is_clock_skew`, with
-- active/waiting null; marts.bottlenecks leaves such journeys out.
-- Every CTE works within one artifact, so a build recomputes only the artifacts whose milestones or events
-- changed (pipelines/partitions.py).
-- incremental: partition (artifact_id)
with milestones as (
    select * from intermediate.stage_events
),

steps as (
    select
        m.*,
        lag(m.stage) over journey as previous_stage,
        lag(m.environment) over journey as previous_environment,
        lag(m.tool) over journey as previous_tool,
        lag(m.occurred_at) over journey as entered_at
    from milestones m
    window journey as (partition by m.artifact_id order by m.seq)
),

intervals as (
    select
        *,
        occurred_at as exited_at,
        epoch(occurred_at) - epoch(entered_at) as duration_s
    from steps
    where entered_at is not null
),

events as (
    select *, coalesce(environment, '') as env_key
    from intermediate.artifact_events
),

starts as (
    select
        artifact_id,
        case stage
            when 'build_started' then 'build' when 'test_started' then 'test'
            when 'task_started' then 'task' when 'deploy_started' then 'deploy' when 'canary_started' then 'deploy'
        end as kind,
        env_key,
        source_tool as tool,
        occurred_at as started_at
    from events
    where stage in ('build_started', 'test_started', 'task_started', 'deploy_started', 'canary_started')
),

finishes as (
    select
        artifact_id,
        case
            when stage = 'build_finished' then 'build' when stage = 'test_finished' then 'test'
            when stage = 'task_finished' then 'task'
            else 'deploy'
        end as kind,
        env_key,
        occurred_at as finished_at
    from events
    where stage in ('build_finished', 'test_finished', 'task_finished', 'deployed', 'deploy_failed', 'rolled_back',
                    'canary_promoted', 'canary_aborted')
),

spans as (
    -- each start with the first finish of the same kind, artifact and environment at or after it
    select s.artifact_id, s.tool, s.kind, s.started_at, f.finished_at
    from starts s
    asof join finishes f
        on f.artifact_id = s.artifact_id and f.kind = s.kind and f.env_key = s.env_key
        and f.finished_at >= s.started_at
),

active as (
    select
        i.artifact_id,
        i.seq,
        sum(greatest(0, epoch(least(i.exited_at, sp.finished_at)) - epoch(greatest(i.entered_at, sp.started_at))))
            as active_s
    from intervals i
    join spans sp
        on sp.artifact_id = i.artifact_id
        and sp.tool = i.tool
        and sp.started_at < i.exited_at
        and sp.finished_at > i.entered_at
    where i.duration_s > 0
    group by i.artifact_id, i.seq
),

journeys as (
    select
        artifact_id,
        min(occurred_at) filter (where seq = 1) as journey_started_at,
        bool_or(stage = 'commit') as starts_at_commit
    from milestones
    group by artifact_id
)

select
    i.artifact_id,
    i.stage,
    i.environment,
    i.environment_tier,
    i.tool,
    i.entered_at,
    i.exited_at,
    i.duration_s,
    case when i.duration_s >= 0 then least(coalesce(a.active_s, 0), i.duration_s) end as active_s,
    case when i.duration_s >= 0 then i.duration_s - least(coalesce(a.active_s, 0), i.duration_s) end as waiting_s,
    i.seq,
    i.previous_stage,
    i.previous_environment,
    i.previous_tool,
    i.outcome,
    i.duration_s < 0 as is_clock_skew,
    i.service,
    i.team,
    i.app,
    i.version,
    i.is_production_arrival,
    i.first_production_at is not null as reached_production,
    i.first_production_at,
    j.journey_started_at,
    j.starts_at_commit
from intervals i
left join active a using (artifact_id, seq)
left join journeys j using (artifact_id)
-- written in time order: the dashboard's date filters then skip whole row groups (DuckDB's min/max zonemaps)
order by i.first_production_at nulls last, i.artifact_id, i.seq
