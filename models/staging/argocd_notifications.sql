-- staging.argocd_notifications: Argo CD notifications sent by the common webhook template that posts the
-- `app` object (`{"timestamp", "context": {"argocdUrl", …}, "app": {Application}}`), one row per
-- notification (header X-Lifecycle-Source: argocd, --source argocd, or the body's shape).
-- The body does not say which trigger fired; the Application's state does:
--   metadata.deletionTimestamp set                         → service_removed (on-deleted)
--   operationState.phase Failed / Error                    → deploy_failed (on-sync-failed)
--   operationState.phase Running / Terminating             → deploy_started (on-sync-running)
--   health Degraded                                        → service_degraded (on-health-degraded)
--   operationState.phase Succeeded (not degraded)          → deployed (on-sync-succeeded / on-deployed), or
--                                                            rolled_back when the synced revision is an
--                                                            older one of the app's history (not the last)
--   anything else (sync status unknown, no operation)      → ignored
-- Several triggers report the same sync (on-sync-succeeded then on-deployed, a later notification that
-- still carries the last operation): only the first notification of an operation (or of a degraded
-- episode, a deletion) keeps its stage, the repeats are `ignored` — one sync is one deployment.
-- Identity: commit = the synced Git revision (operationState.syncResult, else the operation's, else
-- status.sync.revision; for a multi-source app its first revision that is a sha) with the repository of
-- that source; artifact = the app's image (status.summary.images) named like the service (or its only
-- image; while a sync runs or after it failed, only an image with the synced tag, else none), digest-pinned
-- when the reference has one; for an app without images, the Helm chart (pkg:helm/<chart>@<version>), else
-- the synced Git source (pkg:github/<repo>@<sha>). Service =
-- label app.kubernetes.io/name, else the app name; team = annotation/label owner.team, team or owner;
-- app = label app.kubernetes.io/part-of; version = label app.kubernetes.io/version, else the image tag,
-- else the chart version; environment = label/annotation environment (or env), else the destination
-- cluster's name; cluster = label cluster, else the destination name or server host.
-- incremental: recompute (repeated notifications are deduplicated across events)
with source as (
    select event_key, event_id, event_type, received_at, validation_errors, payload as body
    from raw.events
    where source_tool = 'argocd' and event_format = 'webhook'
),

parsed as (
    select
        event_key, event_id, event_type, received_at, validation_errors,
        body ->> '$.context.argocdUrl' as argocd_url,
        parse_timestamp(body ->> '$.timestamp') as notified_at,
        body -> 'app' as app,
        body -> 'app' -> 'metadata' as md,
        body -> 'app' -> 'status' as st,
        body -> 'app' -> 'status' -> 'operationState' as op,
        body -> 'app' -> 'spec' as spec
    from source
),

fields as (
    select
        *,
        md ->> 'name' as app_name,
        coalesce(md ->> 'uid', (md ->> 'namespace') || '/' || (md ->> 'name')) as app_uid,
        md ->> 'deletionTimestamp' as deleted_at,
        op ->> 'phase' as phase,
        st -> 'health' ->> 'status' as health,
        st -> 'health' ->> 'lastTransitionTime' as health_since,
        st -> 'sync' ->> 'status' as sync_status,
        -- the revisions synced, one per source (single-source apps have one)
        coalesce(
            nullif(list_filter([nullif(op -> 'syncResult' ->> 'revision', '')], lambda r: r is not null), []),
            nullif(json_extract_string(op, '$.syncResult.revisions[*]'), []),
            nullif(list_filter([nullif(op -> 'operation' -> 'sync' ->> 'revision', '')], lambda r: r is not null), []),
            nullif(json_extract_string(op, '$.operation.sync.revisions[*]'), []),
            nullif(list_filter([nullif(st -> 'sync' ->> 'revision', '')], lambda r: r is not null), []),
            json_extract_string(st, '$.sync.revisions[*]')
        ) as revisions,
        case when json_type(spec, '$.sources') = 'ARRAY' then json_extract(spec, '$.sources[*]')
             else [spec -> 'source'] end as sources,
        coalesce(json_extract_string(st, '$.summary.images[*]'), []::varchar[]) as images,
        list_transform(coalesce(json_extract(st, '$.history[*]'), []::json[]),
            lambda h: coalesce(nullif(h ->> 'revision', ''), (h -> 'revisions')::varchar)) as history_revisions,
        coalesce(md -> 'labels', '{}'::json) as labels,
        coalesce(md -> 'annotations', '{}'::json) as annotations
    from parsed
),

identified as (
    select
        *,
        list_filter(list_zip(revisions, sources), lambda x: as_commit_sha(x[1]) is not null)[1] as git,
        list_filter(list_zip(revisions, sources), lambda x: as_commit_sha(x[1]) is null and x[1] is not null)[1] as chart,
        coalesce(labels ->> '$."app.kubernetes.io/name"', app_name) as service
    from fields
),

chosen as (
    select
        *,
        case
            -- images are the live state: while a sync runs, or after it failed, they are the old ones,
            -- unless one has the synced tag
            when op ->> 'phase' in ('Running', 'Terminating', 'Failed', 'Error') then
                list_filter(images, lambda i: image_name(i) = lower(service) and list_contains(revisions, image_tag(i)))[1]
            else coalesce(
                -- the service's image; with several (a rollout in progress) the one whose tag was synced
                list_filter(images, lambda i: image_name(i) = lower(service) and list_contains(revisions, image_tag(i)))[1],
                list_filter(images, lambda i: image_name(i) = lower(service))[1],
                case when len(images) = 1 then images[1] end)
        end as image,
        as_commit_sha(git[1]) as revision_sha,
        normalise_repository(git[2] ->> 'repoURL') as repository,
        git[2] ->> 'repoURL' as repo_url,
        chart[1] as chart_version,
        chart[2] ->> 'chart' as chart_name,
        -- the synced revision as the history names it (multi-source: the list of revisions)
        case when len(revisions) = 1 then revisions[1] else revisions::varchar end as history_key
    from identified
),

classified as (
    select
        *,
        case
            when deleted_at is not null then 'on-deleted'
            when phase in ('Failed', 'Error') then 'on-sync-failed'
            when phase in ('Running', 'Terminating') then 'on-sync-running'
            when health = 'Degraded' then 'on-health-degraded'
            when phase = 'Succeeded' and health = 'Healthy' then 'on-deployed'
            when phase = 'Succeeded' then 'on-sync-succeeded'
            when sync_status = 'Unknown' or health = 'Unknown' then 'on-sync-status-unknown'
            else 'app-status'
        end as notification,
        -- a sync to a revision the app ran before, other than the one it ran just before: a rollback
        len(history_revisions) >= 2
            and history_revisions[len(history_revisions)] = history_key
            and history_revisions[len(history_revisions) - 1] is distinct from history_key
            and list_contains(history_revisions[1:len(history_revisions) - 1], history_key) as is_rollback
    from chosen
),

staged as (
    select
        *,
        case notification
            when 'on-deleted' then 'service_removed'
            when 'on-sync-failed' then 'deploy_failed'
            when 'on-sync-running' then 'deploy_started'
            when 'on-health-degraded' then 'service_degraded'
            when 'on-deployed' then case when is_rollback then 'rolled_back' else 'deployed' end
            when 'on-sync-succeeded' then case when is_rollback then 'rolled_back' else 'deployed' end
            else 'ignored'
        end as candidate_stage,
        parse_timestamp(case
            when notification = 'on-deleted' then deleted_at
            when notification = 'on-sync-running' then op ->> 'startedAt'
            when notification in ('on-sync-failed', 'on-deployed', 'on-sync-succeeded') then op ->> 'finishedAt'
            when notification = 'on-health-degraded' then health_since
        end) as state_at,
        -- what identifies the occurrence several notifications may report
        case
            when notification = 'on-deleted' then deleted_at
            when notification = 'on-health-degraded' then health_since
            else op ->> 'startedAt'
        end as occurrence
    from classified
),

deduplicated as (
    select
        *,
        case
            when candidate_stage <> 'ignored' and row_number() over (
                partition by argocd_url, app_uid, candidate_stage in ('deployed', 'rolled_back'), candidate_stage, occurrence
                order by notified_at, event_key) > 1 then 'ignored'
            else candidate_stage
        end as stage
    from staged
)

select
    event_key,
    event_id,
    'argocd' as source_tool,
    'argocd:' || coalesce(event_type, notification) as raw_type,
    stage,
    coalesce(state_at, notified_at, received_at) as occurred_at,
    received_at,
    case
        when stage = 'deploy_failed' then 'failure'
        when stage in ('deployed', 'rolled_back', 'service_removed') then 'success'
    end as outcome,
    repository,
    revision_sha as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    artifact_id,
    image_digest(image) as digest,
    coalesce(labels ->> '$."app.kubernetes.io/version"', image_tag(image), chart_version, purl_version(artifact_id))
        as version,
    service,
    coalesce(annotations ->> '$."owner.team"', labels ->> '$."owner.team"', labels ->> '$.team',
             annotations ->> '$.team', labels ->> '$.owner', annotations ->> '$.owner') as team,
    coalesce(labels ->> '$."app.kubernetes.io/part-of"', annotations ->> '$."app.kubernetes.io/part-of"') as app,
    coalesce(labels ->> '$.environment', annotations ->> '$.environment', labels ->> '$.env', annotations ->> '$.env',
             meaningful_name(spec -> 'destination' ->> 'name')) as environment,
    coalesce(labels ->> '$.cluster', annotations ->> '$.cluster', meaningful_name(spec -> 'destination' ->> 'name'),
             meaningful_name(regexp_extract(spec -> 'destination' ->> 'server', '^[a-z]+://([^/:]+)', 1))) as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    app_name as subject_id,
    validation_errors,
    notification,
    phase,
    health,
    sync_status,
    image,
    is_rollback,
    spec -> 'destination' ->> 'namespace' as namespace,
    argocd_url
from (
    select
        *,
        case
            when image is not null then normalise_purl(image_artifact_id(image))
            -- an app that runs images whose synced image is not known yet (a sync running or failed): no
            -- artifact rather than one its deployment will not name
            when len(images) > 0 and phase in ('Running', 'Terminating', 'Failed', 'Error') then null
            when chart_name is not null and chart_version is not null
                then normalise_purl('pkg:helm/' || lower(chart_name) || '@' || chart_version)
            else source_artifact_id(repo_url, revision_sha)
        end as artifact_id
    from deduplicated
)
