-- staging.gitlab_tags: one row per tag created or moved by a GitLab `Tag Push Hook` (header
-- `X-Gitlab-Event: Tag Push Hook`, or object_kind `tag_push` with --source gitlab), in the columns of
-- staging.git_history's tag records. The commit is `checkout_sha` (an annotated tag's `after` is the tag
-- object, not the commit), else `after`. The payload carries no time: `occurred_at` is when the request
-- was received. Tag deletions (`after` all zeros) produce no row and stay in staging.webhooks.
with pushes as (
    select event_key, event_id, received_at, payload as body
    from raw.events
    where source_tool = 'gitlab' and event_type in ('Tag Push Hook', 'tag_push')
)

select
    event_key,
    event_id,
    'gitlab' as source_tool,
    'gitlab:Tag Push Hook' as raw_type,
    'tag_created' as stage,
    received_at as occurred_at,
    received_at,
    'tag' as record_kind,
    normalise_repository(coalesce(body -> 'project' ->> 'path_with_namespace', body -> 'project' ->> 'web_url',
                                  body -> 'repository' ->> 'homepage')) as repository,
    lower(coalesce(body ->> 'checkout_sha', body ->> 'after')) as commit_sha,
    replace(body ->> 'ref', 'refs/tags/', '') as tag,
    coalesce(body ->> 'user_email', body ->> 'user_username', body ->> 'user_name') as author
from pushes
where body ->> 'ref' like 'refs/tags/%'
  and coalesce(body ->> 'checkout_sha', body ->> 'after') is not null
  and coalesce(body ->> 'checkout_sha', body ->> 'after') <> '0000000000000000000000000000000000000000'
