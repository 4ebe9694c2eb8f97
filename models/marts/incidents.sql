-- marts.incidents: one row per incident with the deployment it is attributed to, how (`attribution`:
-- explicit_artifact | latest_production_deployment | none), and its plain time to restore
-- (resolved − opened; labelled as incident time, not deployment recovery time).
with incidents as (
    select * from intermediate.incidents
)

select
    incident_id,
    service,
    environment,
    severity,
    opened_at,
    resolved_at,
    deployment_id,
    attribution,
    named_artifact_id as artifact_id,
    hotfix_deployment_id,
    epoch(resolved_at) - epoch(opened_at) as time_to_restore_s,
    source_tool
from incidents
