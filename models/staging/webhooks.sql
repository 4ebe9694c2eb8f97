-- staging.webhooks: vendor webhooks that no source model maps yet, kept with their tool and event name
-- verbatim and no stage (they count as unknown event types). Mapped ones: GitHub pushes
-- (staging.github_push_commits) and git history (staging.git_history).
with source as (
    select * from raw.events
    where event_format = 'webhook'
      and not (source_tool = 'github' and event_type = 'push')
      and source_tool is distinct from 'git'
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
