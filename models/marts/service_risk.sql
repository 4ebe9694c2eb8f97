-- marts.service_risk: one row per service — incidents, rollbacks, failed changes and vulnerabilities
-- shipped to production, ranked without letting tiny samples top the list. Rates are per successful
-- production deployment (or per artifact that reached production for vulnerabilities) and shrunk toward
-- the all-services rate with a prior worth k = 10 deployments (artifacts):
--   smoothed = (events + k · overall_rate) / (n + k)
-- so a service with 1 failure in 2 deployments (raw 50 %) does not outrank one with 10 in 40 (25 %) when
-- the overall rate is low. risk_rank orders by the smoothed failed-change rate, then the smoothed incident
-- rate, then the smoothed share of production artifacts with critical or high findings.
with artifacts as (
    select * from marts.artifact_risk
),

deployments as (
    select * from marts.deployments where outcome = 'success' and is_production
),

per_service as (
    select
        s.service,
        any_value(s.team) as team,
        any_value(s.app) as app,
        coalesce(d.production_deployments, 0) as production_deployments,
        coalesce(d.failed_changes, 0) as failed_changes,
        coalesce(d.rollbacks, 0) as rollbacks,
        coalesce(i.incidents, 0) as incidents,
        coalesce(i.incidents_attributed, 0) as incidents_attributed,
        count(a.artifact_id) as artifacts,
        count(a.artifact_id) filter (where a.reached_production) as artifacts_to_production,
        count(a.artifact_id) filter (where a.scans > 0) as artifacts_scanned,
        count(a.artifact_id) filter (where a.reached_production and a.vulnerabilities_critical + a.vulnerabilities_high > 0)
            as production_artifacts_with_critical_or_high,
        coalesce(sum(a.vulnerabilities_critical) filter (where a.reached_production), 0)
            as critical_vulnerabilities_to_production,
        coalesce(sum(a.vulnerabilities_high) filter (where a.reached_production), 0) as high_vulnerabilities_to_production
    from intermediate.service_catalogue s
    left join artifacts a using (service)
    left join (
        select
            service,
            count(*) as production_deployments,
            count(*) filter (where caused_failure) as failed_changes,
            count(*) filter (where is_rollback) as rollbacks
        from deployments
        group by service
    ) d using (service)
    left join (
        select service, count(*) as incidents, count(deployment_id) as incidents_attributed
        from marts.incidents
        group by service
    ) i using (service)
    group by all
),

overall as (
    select
        sum(failed_changes) / nullif(sum(production_deployments), 0) as failure_rate,
        sum(incidents_attributed) / nullif(sum(production_deployments), 0) as incident_rate,
        sum(production_artifacts_with_critical_or_high) / nullif(sum(artifacts_to_production), 0) as vulnerable_share,
        10 as k
    from per_service
),

rated as (
    select
        p.*,
        p.failed_changes / nullif(p.production_deployments, 0) as change_fail_rate,
        (p.failed_changes + o.k * coalesce(o.failure_rate, 0)) / (p.production_deployments + o.k)
            as change_fail_rate_smoothed,
        p.incidents_attributed / nullif(p.production_deployments, 0) as incident_rate,
        (p.incidents_attributed + o.k * coalesce(o.incident_rate, 0)) / (p.production_deployments + o.k)
            as incident_rate_smoothed,
        p.production_artifacts_with_critical_or_high / nullif(p.artifacts_to_production, 0) as vulnerable_share,
        (p.production_artifacts_with_critical_or_high + o.k * coalesce(o.vulnerable_share, 0))
            / (p.artifacts_to_production + o.k) as vulnerable_share_smoothed,
        o.k as prior_weight
    from per_service p
    cross join overall o
)

select
    *,
    row_number() over (
        order by change_fail_rate_smoothed desc, incident_rate_smoothed desc, vulnerable_share_smoothed desc, service
    ) as risk_rank
from rated
