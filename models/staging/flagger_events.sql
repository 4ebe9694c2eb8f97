-- staging.flagger_events: Flagger's event webhook (`--event-webhook`, or an analysis webhook of type `event`:
-- every Kubernetes event Flagger records for a canary, posted as `{"name", "namespace", "phase", "checksum",
-- "metadata": {"eventMessage", "eventType", "timestamp" (ms), …the webhook's own metadata}}`), one row per
-- event (header X-Lifecycle-Source: flagger — the receiver's /webhooks/flagger path —, --source flagger, or a
-- body of that shape). The message says what happened:
--   "New revision detected…", "Starting canary analysis…"           → canary_started
--   "Promotion completed…", "Canary analysis completed successfully…" (or phase Succeeded without a message)
--                                                                    → canary_promoted (deployed)
--   "Rolling back…" (failed checks threshold, progress deadline), "Canary failed…" (or phase Failed without a
--   message)                                                          → canary_aborted (a failed deployment)
--   any other message (Advance … canary weight, Copying … template spec, Routing all traffic to primary, Halt
--   advancement …, Initialization done, waiting for approval, …)    → ignored
-- One canary revision (its `checksum`; without one, the count of "New revision detected" so far) has one
-- start and one promotion or abort: repeats are ignored.
-- Identity: Flagger names no image; the canary webhook's metadata can (Alert-like `metadata` keys: `image`,
-- `version`, `repository`, `environment` or `env`, `cluster`, `service`, `team` or `owner`, `app` or `part-of`). Artifact =
-- that image (pkg:oci/<name>@<digest or tag>), else the canary's revision pkg:generic/<namespace>/<name>@<checksum>;
-- version = metadata version, else the image tag, else the checksum; service = metadata service, else the
-- canary's name; environment = metadata environment / env, else the namespace.
with source as (
    select event_key, event_id, received_at, validation_errors, payload as body
    from raw.events
    where source_tool = 'flagger' and event_format = 'webhook'
),

parsed as (
    select
        *,
        body ->> 'name' as canary,
        body ->> 'namespace' as namespace,
        body ->> 'phase' as phase,
        nullif(body ->> 'checksum', '') as checksum,
        case when json_type(body, '$.metadata') = 'OBJECT' then body -> 'metadata' else '{}'::json end as md
    from source
),

fields as (
    select
        *,
        md ->> 'eventMessage' as message,
        md ->> 'eventType' as k8s_event_type,
        coalesce(to_timestamp(try_cast(md ->> 'timestamp' as bigint) / 1000.0), received_at) as event_at
    from parsed
),

classified as (
    select
        *,
        case
            when message like 'New revision detected%' or message like 'Starting canary analysis%' then 'canary_started'
            when message like 'Promotion completed%' or message like 'Canary analysis completed successfully%'
                then 'canary_promoted'
            when message like 'Rolling back %' or message like 'Canary failed%' then 'canary_aborted'
            when message is null and phase = 'Succeeded' then 'canary_promoted'
            when message is null and phase = 'Failed' then 'canary_aborted'
            when canary is not null then 'ignored'
        end as candidate_stage,
        -- the revision: Flagger's checksum, else how many new revisions were detected so far
        coalesce(checksum, 'revision-' || (count(*) filter (where message like 'New revision detected%') over (
            partition by namespace, canary order by event_at, event_key rows between unbounded preceding and current row)
        )::varchar) as revision
    from fields
),

deduplicated as (
    select
        *,
        case
            when candidate_stage <> 'ignored' and row_number() over (
                partition by namespace, canary, revision, candidate_stage order by event_at, event_key) > 1 then 'ignored'
            else candidate_stage
        end as stage
    from classified
)

select
    event_key,
    event_id,
    'flagger' as source_tool,
    'flagger:' || coalesce(phase, '?') as raw_type,
    stage,
    event_at as occurred_at,
    received_at,
    case stage when 'canary_promoted' then 'success' when 'canary_aborted' then 'failure' end as outcome,
    normalise_repository(md ->> 'repository') as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    case when stage <> 'ignored' then coalesce(
        normalise_purl(image_artifact_id(md ->> 'image')),
        'pkg:generic/' || lower(namespace) || '/' || lower(canary) || '@' || revision) end as artifact_id,
    image_digest(md ->> 'image') as digest,
    coalesce(md ->> 'version', image_tag(md ->> 'image'), checksum) as version,
    coalesce(md ->> 'service', canary) as service,
    coalesce(md ->> 'team', md ->> 'owner') as team,
    coalesce(md ->> 'app', md ->> 'part-of') as app,
    coalesce(md ->> 'environment', md ->> 'env', namespace) as environment,
    md ->> 'cluster' as cluster,
    null::varchar as incident_id,
    case k8s_event_type when 'Warning' then 'warning' when 'Normal' then 'info' end as severity,
    null::varchar as chain_id,
    null::json as links,
    concat_ws('/', namespace, canary) as subject_id,
    validation_errors,
    phase,
    checksum,
    revision,
    message,
    k8s_event_type
from deduplicated
