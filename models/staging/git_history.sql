-- staging.git_history: commits and tags read from a local clone by `lifecycle ingest-git`
-- (records with X-Lifecycle-Source: git). Times are the epoch seconds git stores, in UTC.
with records as (
    select event_key, event_id, received_at, payload as body
    from raw.events
    where source_tool = 'git'
)

select
    event_key,
    event_id,
    'git' as source_tool,
    'git:' || (body ->> 'kind') as raw_type,
    case body ->> 'kind' when 'commit' then 'commit' when 'tag' then 'tag_created' end as stage,
    case body ->> 'kind'
        when 'commit' then try_cast(body ->> 'committed_at' as timestamptz)
        else try_cast(body ->> 'tagged_at' as timestamptz)
    end as occurred_at,
    received_at,
    body ->> 'kind' as record_kind,
    normalise_repository(body ->> 'repository') as repository,
    lower(body ->> 'sha') as commit_sha,
    coalesce(list_transform(json_extract_string(body, '$.parents[*]'), lambda p: lower(p)), []::varchar[]) as parent_shas,
    try_cast(body ->> 'authored_at' as timestamptz) as authored_at,
    body ->> 'name' as tag,
    body ->> 'author_email' as author,
    body ->> 'subject' as subject
from records
