-- marts.bottlenecks: one row per tool × stage (× environment) × period (`week`, ISO Monday start;
-- `month`; `all`) over the journeys that reached production in the period (by their first production
-- arrival), from marts.stage_durations:
--   share_of_lead_time = the stage's summed duration / the summed commit-to-production time of those
--     journeys (the stage's slice of the total time; the slices of a period add up to 1);
--   p50_s / p90_s = continuous percentiles of the stage's duration per journey (n = `journeys`);
--   waiting_share = summed waiting / summed duration of the stage (queued or idle, not the tool's own work);
--   trend: the same figures for the previous period (the week / month before) and the change in share
--     and p50 (null when the stage did not occur in the previous period);
--   rank_in_period = 1 for the stage with the largest share of the period.
-- Journeys with a negative stage duration (clock skew) are left out and counted per period in
-- `clock_skew_journeys_excluded`.
with durations as (
    select * from marts.stage_durations where reached_production
),

skewed as (
    select distinct artifact_id from durations where is_clock_skew
),

journeys as (
    select d.*
    from durations d
    where d.artifact_id not in (select artifact_id from skewed)
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
        j.*
    from journeys j
    cross join periods p
    cross join first_day f
),

totals as (
    select period, period_start, sum(duration_s) as lead_time_s, count(distinct artifact_id) as period_journeys
    from by_period
    group by period, period_start
),

excluded as (
    select
        p.period,
        case when p.period = 'all' then f.first_day else date_trunc(p.period, s.first_production_at) end
            as period_start,
        count(distinct s.artifact_id) as clock_skew_journeys_excluded
    from (select distinct artifact_id, first_production_at from durations where is_clock_skew) s
    cross join periods p
    cross join first_day f
    group by all
),

stages as (
    select
        period,
        period_start,
        tool,
        stage,
        environment,
        count(*) as journeys,
        sum(duration_s) as total_s,
        sum(waiting_s) as waiting_s,
        sum(active_s) as active_s,
        quantile_cont(duration_s, 0.5) as p50_s,
        quantile_cont(duration_s, 0.9) as p90_s,
        avg(duration_s) as mean_s
    from by_period
    group by period, period_start, tool, stage, environment
),

figures as (
    select
        s.*,
        t.period_journeys,
        t.lead_time_s as period_lead_time_s,
        s.total_s / nullif(t.lead_time_s, 0) as share_of_lead_time,
        s.waiting_s / nullif(s.total_s, 0) as waiting_share,
        coalesce(e.clock_skew_journeys_excluded, 0) as clock_skew_journeys_excluded
    from stages s
    join totals t using (period, period_start)
    left join excluded e using (period, period_start)
)

select
    f.tool,
    f.stage,
    f.environment,
    f.period,
    f.period_start,
    f.share_of_lead_time,
    f.p50_s,
    f.p90_s,
    f.waiting_share,
    f.mean_s,
    f.journeys,
    f.period_journeys,
    f.total_s,
    f.active_s,
    f.waiting_s,
    f.period_lead_time_s,
    prev.share_of_lead_time as previous_share_of_lead_time,
    prev.p50_s as previous_p50_s,
    prev.p90_s as previous_p90_s,
    prev.waiting_share as previous_waiting_share,
    f.share_of_lead_time - prev.share_of_lead_time as share_change,
    f.p50_s - prev.p50_s as p50_change_s,
    rank() over (partition by f.period, f.period_start order by f.share_of_lead_time desc) as rank_in_period,
    f.clock_skew_journeys_excluded
from figures f
left join figures prev
    on prev.period = f.period
    and f.period in ('week', 'month')
    and prev.period_start = f.period_start - case f.period when 'week' then interval 7 day else interval 1 month end
    and prev.tool = f.tool
    and prev.stage = f.stage
    and prev.environment is not distinct from f.environment
