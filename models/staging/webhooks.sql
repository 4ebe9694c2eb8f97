-- staging.webhooks: vendor webhooks, kept with their tool and event name verbatim and no stage until
-- that tool's source model maps them (they count as unknown event types meanwhile).
with source as (
    select * from raw.events where event_format = 'webhook'
)

select
    event_key,
    event_id,
    coalesce(source_tool, 'unknown') as source_tool,
    coalesce(source_tool, 'unknown') || ':' || coalesce(event_type, '?') as raw_type,
    null::varchar as stage,
    occurred_at,
    received_at,
    validation_errors
from source
