-- staging.lifecycle_alerts: the alerts lifecycle-analytics raises itself (pipelines/alerts.py, docs/alerts.md),
-- read back from the landing zone like any event: CloudEvents of type dev.lifecycle.alert.fired.v1 → stage
-- `alert_fired`, dev.lifecycle.alert.cleared.v1 → `alert_cleared`, one row per event, with the service, team,
-- app, environment, cluster, artifact and version the alert is about and its severity (so subscriptions route
-- them like other lifecycle events). Kept for inspection: alert_kind, condition_key, summary, deployment_id and
-- alert_id (the id of the `fired` event an episode started with; a `cleared` event names it).
with source as (
    select event_key, event_id, event_type, occurred_at, received_at, validation_errors,
           case when transport in ('structured', 'batch') then payload -> 'data' else payload end as data
    from raw.events
    where event_format = 'cloudevent'
      and event_type in ('dev.lifecycle.alert.fired.v1', 'dev.lifecycle.alert.cleared.v1')
)

select
    event_key,
    event_id,
    'lifecycle-analytics' as source_tool,
    event_type as raw_type,
    case event_type when 'dev.lifecycle.alert.fired.v1' then 'alert_fired' else 'alert_cleared' end as stage,
    coalesce(occurred_at, received_at) as occurred_at,
    received_at,
    normalise_purl(data ->> 'artifact_id') as artifact_id,
    data ->> 'version' as version,
    data ->> 'service' as service,
    data ->> 'team' as team,
    data ->> 'app' as app,
    data ->> 'environment' as environment,
    data ->> 'cluster' as cluster,
    lower(data ->> 'severity') as severity,
    validation_errors,
    data ->> 'kind' as alert_kind,
    data ->> 'condition_key' as condition_key,
    data ->> 'summary' as summary,
    data ->> 'deployment_id' as deployment_id,
    data ->> 'alert_id' as alert_id
from source
