-- dora_regression: a service's DORA figures of the last 7 days are worse than over the 28 days before them
-- (marts.dora_metrics, rolling periods 7d and 28d_before_7d, group_by service). One condition per service ×
-- metric:
--   lead_time_p50 — the lead time p50 rose by more than $lead_time_increase (0.5 = +50 %), with at least
--     $min_n changes in both windows;
--   <metric>_tier — the performance tier (marts.dora_benchmarks, newest report year: elite, high, medium,
--     low) of deployment frequency, lead time, change fail rate or recovery time dropped, with at least
--     $min_n deployments (lead time: changes; recovery time: recovered failed changes) in both windows.
-- The windows end with the newest event's day, so the condition clears when a newer week is no worse.
with current_window as (
    select * from marts.dora_metrics where period = '7d' and group_by = 'service'
),

baseline as (
    select * from marts.dora_metrics where period = '28d_before_7d' and group_by = 'service'
),

ranks as (
    select metric, tier, min(tier_rank) as tier_rank
    from marts.dora_benchmarks
    where report_year = (select max(report_year) from marts.dora_benchmarks)
    group by all
),

tiers as (
    select
        c.group_value as service,
        unnest([
            {'metric': 'deployment_frequency', 'label': 'deployment frequency',
             'current_tier': c.deployment_frequency_tier, 'baseline_tier': b.deployment_frequency_tier,
             'current_n': c.deployments, 'baseline_n': b.deployments},
            {'metric': 'lead_time', 'label': 'lead time', 'current_tier': c.lead_time_tier,
             'baseline_tier': b.lead_time_tier, 'current_n': c.lead_time_n, 'baseline_n': b.lead_time_n},
            {'metric': 'change_fail_rate', 'label': 'change fail rate', 'current_tier': c.change_fail_rate_tier,
             'baseline_tier': b.change_fail_rate_tier, 'current_n': c.deployments, 'baseline_n': b.deployments},
            {'metric': 'recovery_time', 'label': 'recovery time', 'current_tier': c.recovery_time_tier,
             'baseline_tier': b.recovery_time_tier, 'current_n': c.recovery_time_n, 'baseline_n': b.recovery_time_n}
        ], recursive := true)
    from current_window c
    join baseline b using (group_value)
),

tier_drops as (
    select
        t.service,
        t.metric || '_tier' as metric,
        t.service || ': ' || t.label || ' tier dropped from ' || t.baseline_tier || ' to ' || t.current_tier
        || ' (last 7 days vs the 28 days before; n = ' || t.current_n || ' / ' || t.baseline_n || ')' as summary,
        to_json({'current_tier': t.current_tier, 'baseline_tier': t.baseline_tier,
                 'current_n': t.current_n, 'baseline_n': t.baseline_n}) as details
    from tiers t
    join ranks rc on rc.metric = t.metric and rc.tier = t.current_tier
    join ranks rb on rb.metric = t.metric and rb.tier = t.baseline_tier
    where t.current_n >= $min_n and t.baseline_n >= $min_n and rc.tier_rank > rb.tier_rank
),

lead_time_rises as (
    select
        c.group_value as service,
        'lead_time_p50' as metric,
        c.group_value || ': lead time p50 rose ' || printf('%.0f', 100 * (c.lead_time_p50_s / b.lead_time_p50_s - 1))
        || '% to ' || printf('%.1f', c.lead_time_p50_s / 3600) || ' h in the last 7 days from '
        || printf('%.1f', b.lead_time_p50_s / 3600) || ' h over the 28 days before (n = ' || c.lead_time_n || ' / '
        || b.lead_time_n || ')' as summary,
        to_json({'current_p50_s': c.lead_time_p50_s, 'baseline_p50_s': b.lead_time_p50_s,
                 'current_n': c.lead_time_n, 'baseline_n': b.lead_time_n,
                 'threshold': $lead_time_increase}) as details
    from current_window c
    join baseline b using (group_value)
    where c.lead_time_n >= $min_n and b.lead_time_n >= $min_n
      and c.lead_time_p50_s > b.lead_time_p50_s * (1 + $lead_time_increase)
),

regressions as (
    select * from lead_time_rises
    union all
    select * from tier_drops
)

select
    'dora_regression' as kind,
    concat_ws('/', 'dora_regression', r.service, r.metric) as condition_key,
    'warning' as severity,
    r.summary,
    r.service,
    s.team,
    s.app,
    null::varchar as environment,
    null::varchar as cluster,
    null::varchar as artifact_id,
    null::varchar as version,
    null::varchar as deployment_id,
    r.details
from regressions r
left join intermediate.service_catalogue s using (service)
