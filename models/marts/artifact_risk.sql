-- marts.artifact_risk: one row per artifact with what it brought: the vulnerabilities its latest scan
-- found, by severity (intermediate.artifact_scans; null when never scanned or the scan reported no
-- counts), whether it reached production and for how long it ran there, and the trouble it caused.
--   production_running_s = summed time it ran in production clusters (cluster-seconds: two clusters for an
--     hour = 7200) up to `as_of` (marts.release_history); in_production_now = still running in one;
--   incidents = incidents attributed to one of its deployments (marts.incidents);
--   rollbacks = rollback deployments that replaced it; failed_deployments = its production deployments
--     that were failed changes (caused_failure);
--   risk_rank: 1 = riskiest — production artifacts first, then by critical, high findings, incidents,
--     rollbacks, failed changes and time in production (counts per artifact: no rate to inflate).
with artifacts as (
    select * from marts.artifact_journeys
),

params as (
    select as_of from intermediate.as_of
),

production_time as (
    select
        h.artifact_id,
        sum(epoch(coalesce(least(h.valid_to, p.as_of), p.as_of)) - epoch(h.deployed_at)) as production_running_s,
        bool_or(h.valid_to is null) as in_production_now,
        count(distinct h.cluster) as production_clusters
    from marts.release_history h
    cross join params p
    where h.is_production and h.deployed_at <= p.as_of
    group by h.artifact_id
),

deployment_trouble as (
    select
        artifact_id,
        count(*) filter (where is_production and caused_failure) as failed_deployments
    from marts.deployments
    where outcome = 'success'
    group by artifact_id
),

replaced_by_rollback as (
    select previous_artifact_id as artifact_id, count(*) as rollbacks
    from marts.deployments
    where outcome = 'success' and is_rollback and previous_artifact_id is not null
    group by previous_artifact_id
),

attributed as (
    select d.artifact_id, count(distinct i.incident_id) as incidents
    from marts.incidents i
    join marts.deployments d using (deployment_id)
    group by d.artifact_id
),

combined as (
    select
        a.artifact_id,
        a.service,
        a.team,
        a.app,
        a.version,
        s.scans,
        s.first_scanned_at,
        s.last_scanned_at,
        s.scanner,
        s.scanner_name,
        s.scan_outcome,
        s.vulnerabilities_critical,
        s.vulnerabilities_high,
        s.vulnerabilities_medium,
        s.vulnerabilities_low,
        s.vulnerabilities_other,
        s.vulnerabilities_critical + s.vulnerabilities_high + s.vulnerabilities_medium + s.vulnerabilities_low
            + s.vulnerabilities_other as vulnerabilities_total,
        a.reached_production,
        a.first_production_at,
        coalesce(t.production_running_s, 0) as production_running_s,
        coalesce(t.in_production_now, false) as in_production_now,
        coalesce(t.production_clusters, 0) as production_clusters,
        coalesce(i.incidents, 0) as incidents,
        coalesce(r.rollbacks, 0) as rollbacks,
        coalesce(d.failed_deployments, 0) as failed_deployments,
        a.outcome
    from artifacts a
    left join intermediate.artifact_scans s using (artifact_id)
    left join production_time t using (artifact_id)
    left join attributed i using (artifact_id)
    left join replaced_by_rollback r using (artifact_id)
    left join deployment_trouble d using (artifact_id)
)

select
    c.*,
    row_number() over (
        order by
            c.reached_production desc,
            coalesce(c.vulnerabilities_critical, 0) desc,
            coalesce(c.vulnerabilities_high, 0) desc,
            c.incidents desc,
            c.rollbacks desc,
            c.failed_deployments desc,
            c.production_running_s desc,
            c.artifact_id
    ) as risk_rank,
    p.as_of
from combined c
cross join params p
