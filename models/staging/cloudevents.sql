-- staging.cloudevents: CloudEvents whose data is not a CDEvent. Kept with their type verbatim and
-- no stage until a source model maps them (they count as unknown event types meanwhile). Mapped ones:
-- Harbor's CloudEvents (type harbor.*: staging.harbor_events) and kubewatch's (staging.kubewatch_events).
with source as (
    select * from raw.events
    where event_format = 'cloudevent'
      and event_type not like 'harbor.%'
      and event_type is distinct from 'KUBERNETES_TOPOLOGY_CHANGE'
      and source_tool is distinct from 'kubewatch'
)

select
    event_key,
    event_id,
    coalesce(source_tool, tool_from_source(event_source)) as source_tool,
    event_type as raw_type,
    null::varchar as stage,
    occurred_at,
    received_at,
    validation_errors
from source
