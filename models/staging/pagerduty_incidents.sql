-- staging.pagerduty_incidents: PagerDuty v3 webhooks (header X-PagerDuty-Signature, --source pagerduty,
-- or a body with event.event_type and event.resource_type), one row per event, keyed by `event.id`.
--   incident.triggered, incident.reopened → incident_opened (time = the incident's created_at; reopened:
--                                           when it was reopened)
--   incident.acknowledged                 → incident_acknowledged
--   incident.resolved                     → incident_resolved (time = event.occurred_at)
--   every other incident.* event (annotated, escalated, reassigned, priority_updated, responder.*,
--   status_update_published, delegated, unacknowledged, …), service.*, pagey.ping → ignored
-- Identity: incident_id = the incident's id; service = the PagerDuty service's name (`service.summary`:
-- name PagerDuty services like the deployed services, or map them in the configuration); severity = the
-- priority (P1…), else the urgency; team = the first team's name.
with source as (
    select event_key, event_id, event_type, received_at, validation_errors, payload -> 'event' as ev
    from raw.events
    where source_tool = 'pagerduty' and event_format = 'webhook'
),

parsed as (
    select
        *,
        coalesce(event_type, ev ->> 'event_type') as kind,
        ev -> 'data' as data,
        parse_timestamp(ev ->> 'occurred_at') as event_at
    from source
)

select
    event_key,
    event_id,
    'pagerduty' as source_tool,
    'pagerduty:' || coalesce(kind, '?') as raw_type,
    case
        when kind in ('incident.triggered', 'incident.reopened') then 'incident_opened'
        when kind = 'incident.acknowledged' then 'incident_acknowledged'
        when kind = 'incident.resolved' then 'incident_resolved'
        when kind like 'incident.%' or kind like 'service.%' or kind = 'pagey.ping' then 'ignored'
    end as stage,
    coalesce(case when kind = 'incident.triggered' then parse_timestamp(data ->> 'created_at') end, event_at, received_at)
        as occurred_at,
    received_at,
    case when kind = 'incident.resolved' then 'success' end as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    null::varchar as artifact_id,
    null::varchar as digest,
    null::varchar as version,
    coalesce(data -> 'service' ->> 'summary', data -> 'incident' -> 'service' ->> 'summary') as service,
    data -> 'teams' -> 0 ->> 'summary' as team,
    null::varchar as app,
    null::varchar as environment,
    null::varchar as cluster,
    case
        when ev ->> 'resource_type' = 'incident' and data ->> 'type' = 'incident' then data ->> 'id'
        else data -> 'incident' ->> 'id'
    end as incident_id,
    coalesce(data -> 'priority' ->> 'summary', data ->> 'urgency') as severity,
    null::varchar as chain_id,
    null::json as links,
    coalesce(data ->> 'id', ev ->> 'id') as subject_id,
    validation_errors,
    data ->> 'title' as title,
    data ->> 'status' as status,
    data ->> 'html_url' as url
from parsed
