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
-- The per-artifact part is intermediate.artifact_progress (kept by artifact); this model adds what every load
-- moves: `as_of` and each in-flight artifact's time in stage against the p90s.
with as_of as (
    select as_of from intermediate.as_of
),

exits as (
    -- historical time spent after each milestone, before the next one
    select service, stage, environment, epoch(next_at) - epoch(occurred_at) as after_s
    from (
        select *, lead(occurred_at) over (partition by artifact_id order by seq) as next_at
        from intermediate.stage_events
    )
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
)

select
    c.* exclude (current_service, current_stage, current_environment, in_stage_since),
    c.current_stage,
    c.current_environment,
    c.in_stage_since,
    case when c.outcome = 'in_flight' then epoch(o.as_of) - epoch(c.in_stage_since) end as time_in_stage_s,
    case when coalesce(ps.n, 0) >= 5 then ps.p90_s else pa.p90_s end as stage_p90_s,
    case when coalesce(ps.n, 0) >= 5 then 'service' when pa.n is not null then 'all_services' end as stage_p90_basis,
    coalesce(
        c.outcome = 'in_flight'
        and epoch(o.as_of) - epoch(c.in_stage_since) > (case when coalesce(ps.n, 0) >= 5 then ps.p90_s else pa.p90_s end),
        false
    ) as is_stuck,
    o.as_of
from intermediate.artifact_progress c
cross join as_of o
left join p90_service ps
    on ps.service = c.current_service and ps.stage = c.current_stage
    and ps.environment is not distinct from c.current_environment
left join p90_all pa
    on pa.stage = c.current_stage and pa.environment is not distinct from c.current_environment
