-- staging.gitlab_push_commits: one row per commit listed in a GitLab `Push Hook` to a branch (header
-- `X-Gitlab-Event: Push Hook`, or a bare body loaded with --source gitlab: object_kind `push`).
-- GitLab lists a push's commits oldest first, and at most the newest 20 (`total_commits_count` says how
-- many the push had): the first listed commit's parent is taken to be the push's `before` — its true
-- parent when nothing was left out, else an ancestor, which is what "contains" needs — and each later
-- one's parent is the one before it. `timestamp` is the committer date, in any of GitLab's formats
-- (ISO, `2021-01-01 10:00:00 UTC`, `+0200` offsets), converted to UTC. GitLab does not say whether a
-- push was forced (`forced` null). Pushes with no commits (branch deletions) produce no row and stay in
-- staging.webhooks; `push_key` is the raw event the row came from.
-- incremental: per_event (the window orders commits within one push)
with pushes as (
    select event_key, event_id, received_at, payload as body
    from raw.events
    where source_tool = 'gitlab' and event_type in ('Push Hook', 'push')
),

listed as (
    select
        event_key,
        event_id,
        received_at,
        normalise_repository(coalesce(body -> 'project' ->> 'path_with_namespace', body -> 'project' ->> 'web_url',
                                      body -> 'repository' ->> 'homepage')) as repository,
        body ->> 'ref' as ref,
        nullif(body ->> 'before', '0000000000000000000000000000000000000000') as before_sha,
        unnest(json_extract(body, '$.commits[*]')) as c,
        unnest(range(1, coalesce(json_array_length(body, '$.commits'), 0)::bigint + 1)) as position
    from pushes
    where body ->> 'ref' like 'refs/heads/%'
)

select
    md5(event_key || ':' || lower(c ->> 'id')) as event_key,
    event_id || ':' || lower(c ->> 'id') as event_id,
    'gitlab' as source_tool,
    'gitlab:Push Hook' as raw_type,
    'commit' as stage,
    parse_timestamp(c ->> 'timestamp') as occurred_at,
    received_at,
    repository,
    lower(c ->> 'id') as commit_sha,
    case when position = 1 then lower(before_sha)
         else lower(lag(c ->> 'id') over (partition by event_key order by position)) end as parent_sha,
    replace(ref, 'refs/heads/', '') as branch,
    true as is_distinct,
    null::boolean as forced,
    coalesce(c -> 'author' ->> 'email', c -> 'author' ->> 'name') as author,
    first_line(coalesce(c ->> 'message', c ->> 'title')) as subject,
    position,
    event_key as push_key
from listed
