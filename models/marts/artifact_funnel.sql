-- marts.artifact_funnel: one row per grain (overall, service, team, app) × group × step of the funnel
-- built → published → scanned (only when the data has scans) → each non-production environment in order
-- → production, from intermediate.artifact_outcomes:
--   reached = artifacts whose furthest step is this one or a later one (cumulative: an artifact that
--     reached qa passed dev, even if it skipped it); actually_reached = those with an event of the step
--     itself (a scan, an arrival in that environment);
--   yield_from_previous = reached / reached at the previous step; yield_from_start = reached / reached at
--     the first step;
--   stopped_here = artifacts whose furthest step is this one, split by outcome (production, in_flight —
--     of which stuck —, superseded, never_deployed, rejected).
with reached_envs as (
    select artifact_id, list(distinct environment) as environments
    from intermediate.deployments
    where outcome = 'success'
    group by artifact_id
),

outcomes as (
    select
        o.*,
        a.team,
        a.app,
        a.packaged_at is not null or a.build_finished_at is not null as was_built,
        a.published_at is not null as was_published,
        coalesce(r.environments, []::varchar[]) as environments
    from intermediate.artifact_outcomes o
    join intermediate.artifacts a using (artifact_id)
    left join reached_envs r using (artifact_id)
),

steps as (
    select distinct step, step_order from intermediate.environment_steps
    union
    select * from (values ('built', 1), ('published', 2)) v(step, step_order)
    union
    select 'scanned', 3 where exists (select 1 from outcomes where scanned_at is not null)
),

grouped as (
    select
        o.*,
        unnest([
            {'group_by': 'overall', 'group_value': 'all'},
            {'group_by': 'service', 'group_value': o.service},
            {'group_by': 'team', 'group_value': o.team},
            {'group_by': 'app', 'group_value': o.app}
        ], recursive := true)
    from outcomes o
),

groups as (
    select distinct group_by, group_value from grouped where group_value is not null
),

counted as (
    select
        g.group_by,
        g.group_value,
        s.step,
        s.step_order,
        count(o.artifact_id) filter (where o.furthest_step_order >= s.step_order) as reached,
        count(o.artifact_id) filter (where
            case
                when s.step = 'built' then o.was_built
                when s.step = 'published' then o.was_published
                when s.step = 'scanned' then o.scanned_at is not null
                when s.step = 'production' then o.first_production_at is not null
                else list_contains(o.environments, s.step)
            end) as actually_reached,
        count(o.artifact_id) filter (where o.furthest_step_order = s.step_order) as stopped_here,
        count(o.artifact_id) filter (where o.furthest_step_order = s.step_order and o.outcome = 'production')
            as stopped_production,
        count(o.artifact_id) filter (where o.furthest_step_order = s.step_order and o.outcome = 'in_flight')
            as stopped_in_flight,
        count(o.artifact_id) filter (where o.furthest_step_order = s.step_order and o.is_stuck) as stopped_stuck,
        count(o.artifact_id) filter (where o.furthest_step_order = s.step_order and o.outcome = 'superseded')
            as stopped_superseded,
        count(o.artifact_id) filter (where o.furthest_step_order = s.step_order and o.outcome = 'never_deployed')
            as stopped_never_deployed,
        count(o.artifact_id) filter (where o.furthest_step_order = s.step_order and o.outcome = 'rejected')
            as stopped_rejected
    from groups g
    cross join steps s
    left join grouped o on o.group_by = g.group_by and o.group_value = g.group_value
    group by all
)

select
    group_by,
    group_value,
    step,
    step_order,
    reached,
    actually_reached,
    reached / nullif(lag(reached) over w, 0) as yield_from_previous,
    reached / nullif(first_value(reached) over w, 0) as yield_from_start,
    stopped_here,
    stopped_production,
    stopped_in_flight,
    stopped_stuck,
    stopped_superseded,
    stopped_never_deployed,
    stopped_rejected
from counted
window w as (partition by group_by, group_value order by step_order)
