-- staging.cloudevents: CloudEvents whose data is not a CDEvent. Kept with their type verbatim and
-- no stage until a source model maps them (they count as unknown event types meanwhile).
with source as (
    select * from raw.events where event_format = 'cloudevent'
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
