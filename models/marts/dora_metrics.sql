-- marts.dora_metrics: the five DORA metrics per period (day, week, month, all, 30d, 7d, …) × grain (overall,
-- service, app, team, environment) × group. Production = environment tier production; each cluster's
-- deployment counts for frequency. Definitions (docs/metrics.md has them in full):
--   deployments: successful production deployments (rollbacks and redeploys included) and aborted production
--     canaries (a failed change that served production traffic: marts.deployments caused_failure); deployment_days:
--     distinct UTC dates with one; median_deployment_days_per_week over the weeks of the period
--     (zeros included) → deployment_frequency bucket;
--   lead time: per change delivered by a deployment of the period, p50/p90 (continuous, interpolated)
--     and mean of the positive lead times; non-positive ones (clock skew) are excluded and counted;
--   change_fail_rate = failed_changes / deployments; rework_rate = rework_deployments / deployments;
--   recovery_time: over the failed changes of the period; incident_time_to_restore: plain incident time.
-- Periods [period_start, period_end): calendar ones (day, week, month; all has no end) and rolling windows ending
-- with the UTC day of `as_of` (the newest event that is not a commit — authors' clocks — nor an alert):
--   30d (the 30 days up to as_of's day: the metrics exporter's window), 7d (the last 7 days) and
--   28d_before_7d (the 28 days before those 7: the baseline of the dora_regression alert). A rolling
--   window's frequency bucket uses its full 7-day blocks counted back from its end (30d: 4 blocks).
-- Tiers use the newest report year of marts.dora_benchmarks (benchmark_year says which).
-- A build recomputes only the months whose facts changed, and the `all` and rolling rows (pipelines/periods.py).
-- incremental: period (ts)
with facts as (
    select * exclude (first_week, last_week, first_day) from intermediate.dora_facts where kind <> 'as_of'
),

dated as (
    -- each fact's calendar periods computed once here, not once per group × period below (10× the rows; time
    -- zone arithmetic on timestamptz is what a build of this model spent most of its time on)
    select
        *,
        date_trunc('day', ts) as day_start,
        date_trunc('week', ts) as week_start,
        date_trunc('month', ts) as month_start,
        date_trunc('day', ts) + interval 1 day as day_end,
        date_trunc('week', ts) + interval 1 week as week_end,
        date_trunc('month', ts) + interval 1 month as month_end
    from facts
),

grouped as (
    -- only the columns the aggregates read: period_facts below holds ~20 rows per fact
    select
        f.kind, f.ts, f.day_start, f.week_start, f.month_start, f.day_end, f.week_end, f.month_end,
        f.caused_failure, f.is_rework, f.recovery_time_s, f.lead_time_s, f.restore_s,
        unnest([
            {'group_by': 'overall', 'group_value': 'all'},
            {'group_by': 'service', 'group_value': f.service},
            {'group_by': 'app', 'group_value': f.app},
            {'group_by': 'team', 'group_value': f.team},
            {'group_by': 'environment', 'group_value': f.environment}
        ], recursive := true)
    from dated f
),

periods as (
    select * from (values ('day'), ('week'), ('month'), ('all')) p(period)
    where in_period_pass(period)
),

as_of as (
    select max(ts) as as_of from intermediate.dora_facts where kind = 'as_of'
),

rolling_windows as (
    select
        w.period,
        w.days,
        date_trunc('day', o.as_of) + interval 1 day - to_days(w.offset_days + w.days) as period_start,
        date_trunc('day', o.as_of) + interval 1 day - to_days(w.offset_days) as period_end
    from (values ('30d', 30, 0), ('7d', 7, 0), ('28d_before_7d', 28, 7)) w(period, days, offset_days)
    cross join as_of o
    where o.as_of is not null and in_period_pass(w.period)
),

bounds as (
    select any_value(first_week) as first_week, any_value(last_week) as last_week, any_value(first_day) as first_day
    from intermediate.dora_facts
),

period_facts as (
    select
        p.period,
        case p.period when 'day' then g.day_start when 'week' then g.week_start when 'month' then g.month_start
            else b.first_day end as period_start,
        case p.period when 'day' then g.day_end when 'week' then g.week_end when 'month' then g.month_end
        end as period_end,
        g.* exclude (week_start, month_start, day_end, week_end, month_end)
    from grouped g
    cross join periods p
    cross join bounds b
    where g.group_value is not null
    union all
    select w.period, w.period_start, w.period_end, g.* exclude (week_start, month_start, day_end, week_end, month_end)
    from grouped g
    join rolling_windows w on g.ts >= w.period_start and g.ts < w.period_end
    where g.group_value is not null
),

metrics as (
    select
        period,
        period_start,
        period_end,
        group_by,
        group_value,
        count(*) filter (where kind = 'deployment') as deployments,
        count(distinct day_start) filter (where kind = 'deployment') as deployment_days,
        count(*) filter (where kind = 'failed_attempt') as failed_deployment_attempts,
        count(*) filter (where kind = 'deployment' and caused_failure) as failed_changes,
        count(*) filter (where kind = 'deployment' and is_rework) as rework_deployments,
        count(*) filter (where kind = 'change') as changes_deployed,
        count(*) filter (where kind = 'change' and lead_time_s > 0) as lead_time_n,
        count(*) filter (where kind = 'change' and lead_time_s <= 0) as lead_time_nonpositive_excluded,
        quantile_cont(lead_time_s, 0.5) filter (where kind = 'change' and lead_time_s > 0) as lead_time_p50_s,
        quantile_cont(lead_time_s, 0.9) filter (where kind = 'change' and lead_time_s > 0) as lead_time_p90_s,
        avg(lead_time_s) filter (where kind = 'change' and lead_time_s > 0) as lead_time_mean_s,
        count(*) filter (where kind = 'deployment' and caused_failure and recovery_time_s is not null)
            as recovery_time_n,
        count(*) filter (where kind = 'deployment' and caused_failure and recovery_time_s is null) as unrecovered,
        quantile_cont(recovery_time_s, 0.5) filter (where kind = 'deployment' and caused_failure) as recovery_time_p50_s,
        quantile_cont(recovery_time_s, 0.9) filter (where kind = 'deployment' and caused_failure) as recovery_time_p90_s,
        count(*) filter (where kind = 'incident') as incidents,
        quantile_cont(restore_s, 0.5) filter (where kind = 'incident') as incident_time_to_restore_p50_s
    from period_facts
    group by all
),

weekly_days as (
    select group_by, group_value, week_start, count(distinct day_start) as days
    from grouped
    where kind = 'deployment' and group_value is not null
    group by all
),

calendar as (
    -- every week the data touches, for every group: weeks without a deployment count as zero
    select g.group_by, g.group_value, w.week_start, coalesce(d.days, 0) as days
    from (select distinct group_by, group_value from metrics) g
    cross join (
        select unnest(generate_series(first_week, last_week, interval 1 week)) as week_start from bounds
    ) w
    left join weekly_days d using (group_by, group_value, week_start)
),

rolling_blocks as (
    -- a rolling window's full 7-day blocks, counted back from its end, that end after the first deployment
    select w.period, w.period_start, e.block_end - interval 7 day as block_start, e.block_end
    from rolling_windows w
    cross join bounds b
    cross join lateral (
        select unnest(generate_series(w.period_end - to_days(7 * (w.days // 7 - 1)), w.period_end, interval 7 day))
            as block_end
    ) e
    where e.block_end > b.first_day
),

rolling_calendar as (
    -- deployment days per block, for every group with a fact in the window: blocks without one count as zero
    select m.period, m.period_start, m.group_by, m.group_value, k.block_end,
           count(distinct f.day_start) as days
    from metrics m
    join rolling_blocks k using (period, period_start)
    left join period_facts f
        on f.period = m.period and f.period_start = m.period_start and f.group_by = m.group_by
        and f.group_value = m.group_value and f.kind = 'deployment'
        and f.ts >= k.block_start and f.ts < k.block_end
    group by all
),

weekly_median as (
    select
        p.period,
        case when p.period = 'all' then b.first_day else date_trunc(p.period, c.week_start) end as period_start,
        c.group_by,
        c.group_value,
        median(c.days) as median_deployment_days_per_week,
        avg((c.days > 0)::int) as share_of_weeks_with_deployments,
        count(*) as weeks
    from calendar c
    cross join (values ('month'), ('all')) p(period)
    cross join bounds b
    group by all
    union all
    select 'week', week_start, group_by, group_value, days, (days > 0)::int, 1
    from calendar
    union all
    select period, period_start, group_by, group_value, median(days), avg((days > 0)::int), count(*)
    from rolling_calendar
    group by all
),

benchmark as (
    select * from marts.dora_benchmarks
    where report_year = (select max(report_year) from marts.dora_benchmarks)
),

combined as (
    select
        m.*,
        m.failed_changes / nullif(m.deployments, 0) as change_fail_rate,
        (m.failed_changes + m.failed_deployment_attempts)
            / nullif(m.deployments + m.failed_deployment_attempts, 0) as change_fail_rate_incl_failed_attempts,
        m.rework_deployments / nullif(m.deployments, 0) as rework_rate,
        w.median_deployment_days_per_week,
        case
            when w.weeks is null then null
            when w.median_deployment_days_per_week >= 5 then 'on-demand'
            when w.median_deployment_days_per_week >= 1 then 'daily-weekly'
            when w.share_of_weeks_with_deployments >= 0.25 then 'weekly-monthly'
            when m.deployments > 0 then 'monthly-6-monthly'
            else 'fewer'
        end as deployment_frequency
    from metrics m
    left join weekly_median w using (period, period_start, group_by, group_value)
)

select
    c.*,
    (select max(report_year) from benchmark) as benchmark_year,
    (select b.tier from benchmark b where b.metric = 'deployment_frequency' and b.label = c.deployment_frequency
     order by b.tier_rank limit 1) as deployment_frequency_tier,
    case when c.lead_time_n > 0 then
        (select b.tier from benchmark b where b.metric = 'lead_time'
            and (b.upper_bound is null or c.lead_time_p50_s < b.upper_bound) order by b.tier_rank limit 1)
    end as lead_time_tier,
    case when c.deployments > 0 then
        (select b.tier from benchmark b where b.metric = 'change_fail_rate'
            and (b.upper_bound is null or c.change_fail_rate <= b.upper_bound) order by b.tier_rank limit 1)
    end as change_fail_rate_tier,
    case when c.recovery_time_n > 0 then
        (select b.tier from benchmark b where b.metric = 'recovery_time'
            and (b.upper_bound is null or c.recovery_time_p50_s < b.upper_bound) order by b.tier_rank limit 1)
    end as recovery_time_tier
from combined c
