-- marts.bottleneck_tools: the ranking of bottleneck tools — one row per tool × period (`week`, `month`,
-- `all`, by the journey's first production arrival) over the journeys that reached production:
--   slowest_stage_journeys = in how many journeys this tool performed the journey's longest stage
--     (ties: every tool on a longest stage counts); slowest_stage_share = that / the period's journeys;
--   share_of_lead_time = the tool's summed stage durations / the summed commit-to-production time;
--   waiting_share = the tool's summed waiting / its summed duration;
--   top_stage / top_environment = the tool's stage with the largest share;
--   rank = 1 for the tool that most often sits on the slowest part of the journeys (ties broken by
--     share_of_lead_time).
-- Journeys with clock skew are left out (as in marts.bottlenecks).
with durations as (
    select * from marts.stage_durations where reached_production
),

journeys as (
    select *
    from durations
    where artifact_id not in (select artifact_id from durations where is_clock_skew)
),

slowest as (
    select artifact_id, tool
    from journeys
    qualify duration_s = max(duration_s) over (partition by artifact_id)
),

periods(period) as (
    values ('week'), ('month'), ('all')
),

first_day as (
    select date_trunc('day', min(first_production_at)) as first_day from durations
),

by_period as (
    select
        p.period,
        case when p.period = 'all' then f.first_day else date_trunc(p.period, j.first_production_at) end
            as period_start,
        j.*,
        exists (select 1 from slowest s where s.artifact_id = j.artifact_id and s.tool = j.tool) as tool_is_slowest
    from journeys j
    cross join periods p
    cross join first_day f
),

totals as (
    select period, period_start, sum(duration_s) as lead_time_s, count(distinct artifact_id) as journeys
    from by_period
    group by period, period_start
),

stage_totals as (
    select period, period_start, tool, stage, environment, sum(duration_s) as total_s
    from by_period
    group by all
),

top_stage as (
    select period, period_start, tool, stage as top_stage, environment as top_environment
    from stage_totals
    qualify row_number() over (partition by period, period_start, tool order by total_s desc, stage, environment) = 1
),

tools as (
    select
        period,
        period_start,
        tool,
        count(distinct artifact_id) filter (where tool_is_slowest) as slowest_stage_journeys,
        count(distinct artifact_id) as tool_journeys,
        sum(duration_s) as total_s,
        sum(waiting_s) as waiting_s
    from by_period
    group by period, period_start, tool
)

select
    t.tool,
    t.period,
    t.period_start,
    rank() over (
        partition by t.period, t.period_start
        order by t.slowest_stage_journeys desc, t.total_s / nullif(p.lead_time_s, 0) desc
    ) as rank,
    t.slowest_stage_journeys,
    p.journeys,
    t.slowest_stage_journeys / p.journeys as slowest_stage_share,
    t.total_s / nullif(p.lead_time_s, 0) as share_of_lead_time,
    t.waiting_s / nullif(t.total_s, 0) as waiting_share,
    t.total_s,
    t.tool_journeys,
    s.top_stage,
    s.top_environment
from tools t
join totals p using (period, period_start)
left join top_stage s using (period, period_start, tool)
