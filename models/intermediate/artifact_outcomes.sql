-- intermediate.artifact_outcomes: one row per artifact with how far it got and what became of it, as of
-- `as_of` = the newest event in the warehouse that is not a commit (authors' clocks) nor an alert (derived).
-- Furthest step: built → published → scanned → each non-production environment (ordered by tier:
-- development, unknown, testing, staging; then by name) → production (any production environment).
-- Outcome, first rule that holds:
--   production     it reached a production environment;
--   rejected       its latest outcome-bearing event (a test run, a scan, a deploy attempt or deployment) is
--                  a failure or error: it failed a test, a scan or a deploy and nothing succeeded after;
--   never_deployed never deployed anywhere, and a newer artifact of the service arrived somewhere after
--                  it was built (it will not be deployed: the newer one went instead);
--   superseded     a newer artifact of the same service (built later: packaged, else first seen) arrived
--                  (first arrival, not a rollback) in an environment as far as or further than this one's
--                  furthest, after this one got there;
--   in_flight      none of these: still the newest candidate at its furthest step.
-- Stuck: in flight, and the time since its last milestone (intermediate.stage_events) exceeds the
-- historical p90 of the time artifacts spent after that milestone (stage + environment) before the next
-- one — the service's own p90 when it has at least 5 such exits, else every service's.
with artifacts as (
    select * from intermediate.artifacts
),

as_of as (
    select max(occurred_at) as as_of from intermediate.canonical_events where stage not in ('commit', 'alert_fired', 'alert_cleared')
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

milestones as (
    select
        *,
        lead(occurred_at) over (partition by artifact_id order by seq) as next_at,
        max(seq) over (partition by artifact_id) as last_seq
    from intermediate.stage_events
),

exits as (
    -- historical time spent after each milestone, before the next one
    select service, stage, environment, epoch(next_at) - epoch(occurred_at) as after_s
    from milestones
    where next_at is not null and next_at >= occurred_at
),

p90_service as (
    select service, stage, environment, quantile_cont(after_s, 0.9) as p90_s, count(*) as n
    from exits
    group by all
),

p90_all as (
    select stage, environment, quantile_cont(after_s, 0.9) as p90_s, count(*) as n
    from exits
    group by all
),

current_stage as (
    select artifact_id, service, stage, environment, occurred_at
    from milestones
    where seq = last_seq
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
    cs.stage as current_stage,
    cs.environment as current_environment,
    cs.occurred_at as in_stage_since,
    case when c.outcome = 'in_flight' then epoch(o.as_of) - epoch(cs.occurred_at) end as time_in_stage_s,
    case when coalesce(ps.n, 0) >= 5 then ps.p90_s else pa.p90_s end as stage_p90_s,
    case when coalesce(ps.n, 0) >= 5 then 'service' when pa.n is not null then 'all_services' end as stage_p90_basis,
    coalesce(
        c.outcome = 'in_flight'
        and epoch(o.as_of) - epoch(cs.occurred_at) > (case when coalesce(ps.n, 0) >= 5 then ps.p90_s else pa.p90_s end),
        false
    ) as is_stuck,
    o.as_of
from classified c
cross join as_of o
left join current_stage cs using (artifact_id)
left join p90_service ps
    on ps.service = cs.service and ps.stage = cs.stage and ps.environment is not distinct from cs.environment
left join p90_all pa
    on pa.stage = cs.stage and pa.environment is not distinct from cs.environment
