-- intermediate.incidents: one row per incident, attributed to the production deployment that caused it.
-- Attribution, strongest first (the method is recorded):
--   explicit_artifact: the incident names an artifact → the latest successful production deployment of
--     that artifact that finished before the incident started;
--   latest_production_deployment: else the latest successful production deployment of the same service
--     (any production cluster) that finished before the incident started (DevLake's rule);
--   none: no candidate — the incident is kept, unattributed.
-- Also the incident's hotfix: the first new-artifact production deployment of the service to the
-- incident's environment after it started and no later than 48 h after it was resolved.
with events as (
    select *
    from intermediate.canonical_events
    where stage in ('incident_opened', 'incident_resolved') and incident_id is not null
),

incidents as (
    select
        incident_id,
        min(occurred_at) filter (where stage = 'incident_opened') as opened_at,
        max(occurred_at) filter (where stage = 'incident_resolved') as resolved_at,
        mode(service) as service,
        mode(environment) as environment,
        any_value(artifact_id) filter (where artifact_id is not null) as named_artifact_id,
        any_value(severity) filter (where severity is not null) as severity,
        any_value(source_tool) as source_tool
    from events
    group by incident_id
),

production as (
    select * from intermediate.deployments where is_production and outcome = 'success'
),

by_artifact as (
    select i.incident_id, d.deployment_id
    from incidents i
    asof join production d on d.artifact_id = i.named_artifact_id and i.opened_at > d.deployed_at
),

by_service as (
    select i.incident_id, d.deployment_id
    from incidents i
    asof join production d on d.service = i.service and i.opened_at > d.deployed_at
),

hotfixes as (
    select i.incident_id, arg_min(d.deployment_id, d.deployed_at) as hotfix_deployment_id
    from incidents i
    join production d
        on d.service = i.service
        and d.environment = i.environment
        and d.deployed_at > i.opened_at
        and (i.resolved_at is null or d.deployed_at <= i.resolved_at + interval 48 hour)
        and not d.is_rollback
        and not d.is_redeploy
    group by i.incident_id
)

select
    i.*,
    coalesce(a.deployment_id, s.deployment_id) as deployment_id,
    case
        when a.deployment_id is not null then 'explicit_artifact'
        when s.deployment_id is not null then 'latest_production_deployment'
        else 'none'
    end as attribution,
    h.hotfix_deployment_id
from incidents i
left join by_artifact a using (incident_id)
left join by_service s using (incident_id)
left join hotfixes h using (incident_id)
