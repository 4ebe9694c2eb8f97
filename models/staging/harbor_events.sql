-- staging.harbor_events: Harbor webhooks in both payload formats, one row per resource (artifact) an event
-- names — the Default format (header X-Lifecycle-Source: harbor, --source harbor, or the body's shape:
-- `type` + `occur_at` + `event_data`) and the CloudEvents format (a CloudEvent of type harbor.*, whose
-- `data` is the Default format's `event_data`).
--   PUSH_ARTIFACT      harbor.artifact.pushed              → artifact_published
--   PULL_ARTIFACT      harbor.artifact.pulled              → artifact_downloaded
--   DELETE_ARTIFACT    harbor.artifact.deleted             → artifact_deleted
--   SCANNING_COMPLETED harbor.scan.completed               → artifact_scanned (severity, vulnerability counts,
--                                                          `findings`: severity → count)
--   SCANNING_FAILED    harbor.scan.failed                  → scan_failed (outcome error)
--   SCANNING_STOPPED   harbor.scan.stopped                 → scan_failed (outcome cancelled)
--   QUOTA_EXCEED, QUOTA_WARNING, REPLICATION, TAG_RETENTION, UPLOAD_CHART, DOWNLOAD_CHART, DELETE_CHART
--   (harbor.quota.exceeded / .warned, harbor.replication.status.changed, harbor.tag_retention.finished)
--                                                          → ignored
-- Identity: artifact_id = pkg:oci/<image name>@<digest> (the image name is the last segment of the
-- repository: library/nginx → nginx), version = the tag unless it is the digest itself, service = the image
-- name. Times: `occur_at` (epoch seconds, UTC) or the CloudEvent's `time`.
with webhooks as (
    select event_key, event_id, upper(event_type) as harbor_type, received_at, validation_errors,
           payload ->> 'operator' as operator, to_timestamp(try_cast(payload ->> 'occur_at' as bigint)) as event_at,
           payload -> 'event_data' as data, 'default' as payload_format
    from raw.events
    where source_tool = 'harbor' and event_format = 'webhook'
),

cloudevents as (
    select event_key, event_id, event_type as ce_type, received_at, validation_errors, occurred_at as event_at,
           case when transport in ('structured', 'batch') then payload -> 'data' else payload end as data,
           case when transport in ('structured', 'batch') then payload ->> 'operator' end as operator,
           'cloudevents' as payload_format
    from raw.events
    where event_format = 'cloudevent' and event_type like 'harbor.%'
),

type_map(ce_type, harbor_type) as (
    values
        ('harbor.artifact.pushed', 'PUSH_ARTIFACT'), ('harbor.artifact.pulled', 'PULL_ARTIFACT'),
        ('harbor.artifact.deleted', 'DELETE_ARTIFACT'), ('harbor.scan.completed', 'SCANNING_COMPLETED'),
        ('harbor.scan.failed', 'SCANNING_FAILED'), ('harbor.scan.stopped', 'SCANNING_STOPPED'),
        ('harbor.quota.exceeded', 'QUOTA_EXCEED'), ('harbor.quota.warned', 'QUOTA_WARNING'),
        ('harbor.replication.status.changed', 'REPLICATION'), ('harbor.tag_retention.finished', 'TAG_RETENTION')
),

events as (
    select event_key, event_id, harbor_type, harbor_type as raw_name, received_at, validation_errors, operator,
           event_at, data, payload_format
    from webhooks
    union all
    select c.event_key, c.event_id, coalesce(m.harbor_type, c.ce_type), c.ce_type, c.received_at, c.validation_errors,
           c.operator, c.event_at, c.data, c.payload_format
    from cloudevents c
    left join type_map m using (ce_type)
),

resources as (
    -- one row per resource; an event without resources (replication, retention) keeps one row
    select
        *,
        unnest(coalesce(nullif(json_extract(data, '$.resources[*]'), []), [null::json])) as resource,
        unnest(range(1, greatest(coalesce(json_array_length(data, '$.resources'), 0), 1)::bigint + 1)) as position
    from events
),

fields as (
    select
        *,
        coalesce(data -> 'repository' ->> 'repo_full_name', image_parts(resource ->> 'resource_url').path) as image_repository,
        coalesce(image_name(data -> 'repository' ->> 'repo_full_name'), data -> 'repository' ->> 'name',
                 image_name(resource ->> 'resource_url')) as image,
        lower(resource ->> 'digest') as resource_digest,
        case when lower(resource ->> 'tag') not like 'sha256:%' then resource ->> 'tag' end as tag,
        json_extract(resource, '$.scan_overview.*')[1] as scan
    from resources
)

select
    case when position = 1 then event_key else md5(event_key || ':' || position) end as event_key,
    case when position = 1 then event_id else event_id || ':' || position end as event_id,
    'harbor' as source_tool,
    'harbor:' || coalesce(raw_name, '?') as raw_type,
    case harbor_type
        when 'PUSH_ARTIFACT' then 'artifact_published'
        when 'PULL_ARTIFACT' then 'artifact_downloaded'
        when 'DELETE_ARTIFACT' then 'artifact_deleted'
        when 'SCANNING_COMPLETED' then 'artifact_scanned'
        when 'SCANNING_FAILED' then 'scan_failed'
        when 'SCANNING_STOPPED' then 'scan_failed'
        when 'QUOTA_EXCEED' then 'ignored' when 'QUOTA_WARNING' then 'ignored'
        when 'REPLICATION' then 'ignored' when 'TAG_RETENTION' then 'ignored'
        when 'UPLOAD_CHART' then 'ignored' when 'DOWNLOAD_CHART' then 'ignored' when 'DELETE_CHART' then 'ignored'
    end as stage,
    coalesce(event_at, received_at) as occurred_at,
    received_at,
    case harbor_type
        when 'PUSH_ARTIFACT' then 'success'
        when 'SCANNING_COMPLETED' then 'success'
        when 'SCANNING_FAILED' then 'error'
        when 'SCANNING_STOPPED' then 'cancelled'
    end as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    case when harbor_type in ('PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'SCANNING_COMPLETED', 'SCANNING_FAILED',
                              'SCANNING_STOPPED')
         then normalise_purl(oci_artifact_id(image, resource_digest, tag)) end as artifact_id,
    case when regexp_full_match(coalesce(resource_digest, ''), 'sha256:[0-9a-f]{64}') then resource_digest end as digest,
    tag as version,
    image as service,
    null::varchar as team,
    null::varchar as app,
    null::varchar as environment,
    null::varchar as cluster,
    null::varchar as incident_id,
    nullif(lower(scan ->> 'severity'), '') as severity,
    null::varchar as chain_id,
    null::json as links,
    resource ->> 'resource_url' as subject_id,
    validation_errors,
    payload_format,
    harbor_type,
    operator,
    image_repository,
    scan ->> 'scan_status' as scan_status,
    try_cast(scan -> 'summary' ->> 'total' as integer) as vulnerabilities,
    try_cast(scan -> 'summary' ->> 'fixable' as integer) as fixable,
    try_cast(scan -> 'summary' -> 'summary' ->> 'Critical' as integer) as critical,
    try_cast(scan -> 'summary' -> 'summary' ->> 'High' as integer) as high,
    try_cast(scan -> 'summary' -> 'summary' ->> 'Medium' as integer) as medium,
    try_cast(scan -> 'summary' -> 'summary' ->> 'Low' as integer) as low,
    scan -> 'scanner' ->> 'name' as scanner,
    -- the scan's findings as intermediate.artifact_scans reads any scanner's: severity → count, the rest of the
    -- total as `other`; null when the overview gives no counts
    case when coalesce(critical, high, medium, low, vulnerabilities) is not null then json_object(
        'critical', critical, 'high', high, 'medium', medium, 'low', low,
        'other', greatest(vulnerabilities - coalesce(critical, 0) - coalesce(high, 0) - coalesce(medium, 0)
                          - coalesce(low, 0), 0)
    ) end as findings
from fields
