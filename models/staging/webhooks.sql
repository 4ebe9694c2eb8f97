-- staging.webhooks: vendor webhooks that no source model maps yet, kept with their tool and event name
-- verbatim and no stage (they count as unknown event types). Mapped ones: GitHub pushes
-- (staging.github_push_commits), GitLab pushes that list commits (staging.gitlab_push_commits) and tag
-- pushes that create a tag (staging.gitlab_tags), and git history (staging.git_history). A GitLab push
-- that maps to nothing (a branch or tag deletion) stays here.
with source as (
    select * from raw.events
    where event_format = 'webhook'
      and not (source_tool = 'github' and event_type = 'push')
      and source_tool is distinct from 'git'
      and event_key not in (select push_key from staging.gitlab_push_commits where push_key is not null)
      and event_key not in (select event_key from staging.gitlab_tags where event_key is not null)
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
