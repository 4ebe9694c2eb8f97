-- marts.deployment_activity: deployments per period (`day`, `week` — ISO, Monday start —, `month`) ×
-- service × team × app × environment × cluster — every environment, not only production. A tidy table
-- to pivot: deployments per environment, per app, per team, per cluster (tenant) are sums of its rows.
--   deployments = successful deployments (rollbacks and redeploys included, as DORA counts them);
--   new_artifact_deployments = neither a rollback nor a redeploy; rollbacks; redeploys;
--   failed_deployments = failed attempts (outcome failure); artifacts = distinct artifacts deployed;
--   deployment_days = distinct UTC dates with a successful deployment.
-- A build recomputes only the months whose deployments changed (pipelines/periods.py).
-- incremental: period (deployed_at)
with deployments as (
    select * from marts.deployments
),

periods as (
    select * from (values ('day'), ('week'), ('month')) p(period)
    where in_period_pass(period)
)

select
    p.period,
    date_trunc(p.period, d.deployed_at) as period_start,
    d.service,
    d.team,
    d.app,
    d.environment,
    d.environment_tier,
    d.is_production,
    d.cluster,
    count(*) filter (where d.outcome = 'success') as deployments,
    count(*) filter (where d.outcome = 'success' and not d.is_rollback and not d.is_redeploy)
        as new_artifact_deployments,
    count(*) filter (where d.outcome = 'success' and d.is_rollback) as rollbacks,
    count(*) filter (where d.outcome = 'success' and d.is_redeploy) as redeploys,
    count(*) filter (where d.outcome = 'failure') as failed_deployments,
    count(distinct d.artifact_id) filter (where d.outcome = 'success') as artifacts,
    count(distinct d.deployed_at::date) filter (where d.outcome = 'success') as deployment_days
from deployments d
cross join periods p
where d.deployed_at is not null
group by all
