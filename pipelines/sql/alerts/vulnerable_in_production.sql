-- vulnerable_in_production: an artifact whose latest scan found critical or high vulnerabilities
-- (marts.artifact_risk) is running in a production environment now (marts.release_inventory, as of the
-- newest event). One condition per service × production environment × artifact; severity critical when the
-- scan found a critical one, else high. It clears when another artifact replaces it there (or the service
-- is removed from it), or a newer scan of the artifact finds none.
with running as (
    select
        service,
        environment,
        artifact_id,
        any_value(version) as version,
        any_value(team) as team,
        any_value(app) as app,
        list(cluster order by cluster) as clusters,
        min(running_since) as running_since
    from marts.release_inventory
    where is_production and artifact_id is not null
    group by service, environment, artifact_id
),

vulnerable as (
    select *
    from marts.artifact_risk
    where coalesce(vulnerabilities_critical, 0) + coalesce(vulnerabilities_high, 0) > 0
)

select
    'vulnerable_in_production' as kind,
    concat_ws('/', 'vulnerable_in_production', coalesce(r.service, '-'), r.environment, r.artifact_id)
        as condition_key,
    case when coalesce(v.vulnerabilities_critical, 0) > 0 then 'critical' else 'high' end as severity,
    coalesce(r.service, '?') || ' ' || coalesce(r.version, r.artifact_id) || ' runs in ' || r.environment
    || ' with ' || coalesce(v.vulnerabilities_critical, 0) || ' critical and ' || coalesce(v.vulnerabilities_high, 0)
    || ' high vulnerabilities found by ' || coalesce(v.scanner_name, v.scanner, 'its scan') as summary,
    r.service,
    coalesce(r.team, v.team) as team,
    coalesce(r.app, v.app) as app,
    r.environment,
    null::varchar as cluster,
    r.artifact_id,
    r.version,
    null::varchar as deployment_id,
    to_json({
        'vulnerabilities_critical': v.vulnerabilities_critical,
        'vulnerabilities_high': v.vulnerabilities_high,
        'vulnerabilities_medium': v.vulnerabilities_medium,
        'vulnerabilities_low': v.vulnerabilities_low,
        'last_scanned_at': v.last_scanned_at,
        'clusters': r.clusters,
        'running_since': r.running_since
    }) as details
from running r
join vulnerable v using (artifact_id)
