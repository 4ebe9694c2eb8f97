-- intermediate.dora_facts: what marts.dora_metrics counts, one row per fact with its time `ts` — a production
-- deployment (successful, or an aborted canary: caused_failure), a failed production attempt, a change delivered
-- by a production deployment (at the deployment's time, with its lead time), an incident (opened, with its time
-- to restore) — and one `as_of` row: the newest event that is not a commit (authors' clocks) nor an alert, where
-- the rolling windows end. Every row carries the bounds of all deployments (first and last week, first day): the
-- weeks a group's median counts and where `all` starts.
-- Apart so the mart can be maintained by period (pipelines/periods.py): a day's, week's or month's rows read only
-- the facts dated in it (a month also the weeks starting in it); the bounds ride on every row, so a change to
-- them changes every day's facts and recomputes every period.
with deployments as (
    select * from marts.deployments where is_production
),

facts as (
    select 'deployment' as kind, deployed_at as ts, service, app, team, environment,
           caused_failure, is_rework, recovery_time_s, null::double as lead_time_s, null::double as restore_s
    from deployments where outcome = 'success' or caused_failure
    union all
    select 'failed_attempt', deployed_at, service, app, team, environment, false, false, null, null, null
    from deployments where outcome = 'failure' and not caused_failure
    union all
    select 'change', d.deployed_at, d.service, d.app, d.team, d.environment, false, false, null, c.lead_time_s, null
    from marts.changes c join deployments d using (deployment_id)
    union all
    select 'incident', i.opened_at, i.service, s.app, s.team, i.environment, false, false, null, null,
           i.time_to_restore_s
    from marts.incidents i left join intermediate.service_catalogue s using (service)
    where i.opened_at is not null
),

as_of as (
    select as_of from intermediate.as_of
),

bounds as (
    select
        date_trunc('week', min(deployed_at)) as first_week,
        date_trunc('week', max(deployed_at)) as last_week,
        date_trunc('day', min(deployed_at)) as first_day
    from marts.deployments
)

select f.*, b.*
from (
    select * from facts
    union all by name
    select 'as_of' as kind, as_of as ts from as_of
) f
cross join bounds b
