-- staging.github_push_commits: one row per commit listed in a GitHub `push` webhook to a branch.
-- A push lists its commits oldest first; the first one's parent is the push's `before`, each later one's
-- parent is the one before it (true for the first parent; enough for "contains" on the pushed branch).
-- Pushes with no commits (branch or tag deletions) and tag pushes produce no row. After a force push
-- the first commit's parent is left unknown: `before` was discarded, so it is not an ancestor.
-- incremental: per_event (the window orders commits within one push)
with pushes as (
    select event_key, event_id, received_at, payload as body
    from raw.events
    where source_tool = 'github' and event_type = 'push'
),

listed as (
    select
        event_key,
        event_id,
        received_at,
        normalise_repository(body -> 'repository' ->> 'full_name') as repository,
        body ->> 'ref' as ref,
        nullif(body ->> 'before', '0000000000000000000000000000000000000000') as before_sha,
        coalesce(try_cast(body ->> 'forced' as boolean), false) as forced,
        unnest(json_extract(body, '$.commits[*]')) as c,
        unnest(range(1, coalesce(json_array_length(body, '$.commits'), 0)::bigint + 1)) as position
    from pushes
    where body ->> 'ref' like 'refs/heads/%'
)

select
    md5(event_key || ':' || lower(c ->> 'id')) as event_key,
    event_id || ':' || lower(c ->> 'id') as event_id,
    'github' as source_tool,
    'github:push' as raw_type,
    'commit' as stage,
    try_cast(c ->> 'timestamp' as timestamptz) as occurred_at,
    received_at,
    repository,
    lower(c ->> 'id') as commit_sha,
    -- after a force push `before` is the discarded head, not an ancestor: the first commit's parent is
    -- then unknown (git history, if loaded, knows it) rather than wrong
    case when position = 1 then (case when forced then null else lower(before_sha) end)
         else lower(lag(c ->> 'id') over (partition by event_key order by position)) end as parent_sha,
    replace(ref, 'refs/heads/', '') as branch,
    coalesce(try_cast(c ->> 'distinct' as boolean), true) as is_distinct,
    forced,
    coalesce(c -> 'author' ->> 'email', c -> 'author' ->> 'username') as author,
    first_line(c ->> 'message') as subject,
    position
from listed
