-- staging.flux_alerts: Flux notification-controller events posted by the `generic` provider (header
-- Gotk-Component, --source flux, or a body with involvedObject + reportingController), one row per event.
-- Deploying objects (Kustomization, HelmRelease):
--   ReconciliationSucceeded, InstallSucceeded, UpgradeSucceeded → deployed — only when the revision differs
--       from the object's previous successful one (Flux re-reports a healthy reconciliation: not a new
--       deployment; the repeats are `ignored`)
--   Progressing                                                  → deploy_started
--   ReconciliationFailed, HealthCheckFailed, BuildFailed, ValidationFailed, PruneFailed, ArtifactFailed,
--   InstallFailed, UpgradeFailed, RollbackFailed                 → deploy_failed
--   RollbackSucceeded                                            → rolled_back
--   UninstallSucceeded                                           → service_removed
--   TestSucceeded, TestFailed                                    → test_finished (in the environment)
--   DependencyNotReady, UninstallFailed, other reasons of a known controller → ignored
-- Sources, image automation and the rest (GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket,
-- ImageRepository, ImagePolicy, ImageUpdateAutomation, Receiver, …) → ignored.
-- Identity: commit = the sha of the revision (`main@sha1:<sha>`, older `main/<sha>`), from metadata
-- `revision` or `<group>/revision`; artifact = the Helm chart of a HelmRelease (`with chart <name>@<version>`
-- in the message) as pkg:helm/<chart>@<version>, else the source at that sha (pkg:github/<repo>@<sha> when
-- the alert's eventMetadata names the `repository`, else pkg:generic/<namespace>/<name>@<sha>).
-- environment / cluster / service / team / app: the Alert's eventMetadata (`environment` or `env`,
-- `cluster`, `service`, `team` or `owner`, `app` or `part-of`); environment falls back to the cluster,
-- service to the object's name.
-- incremental: recompute (repeated notifications are deduplicated across events)
with source as (
    select event_key, event_id, event_type, received_at, validation_errors, payload as body
    from raw.events
    where source_tool = 'flux' and event_format = 'webhook'
),

parsed as (
    select
        *,
        coalesce(body ->> 'reason', event_type) as reason,
        body -> 'involvedObject' ->> 'kind' as object_kind,
        body -> 'involvedObject' ->> 'namespace' as object_namespace,
        body -> 'involvedObject' ->> 'name' as object_name,
        coalesce(body -> 'involvedObject' ->> 'uid',
                 concat_ws('/', body -> 'involvedObject' ->> 'kind', body -> 'involvedObject' ->> 'namespace',
                           body -> 'involvedObject' ->> 'name')) as object_key,
        case when json_type(body, '$.metadata') = 'OBJECT' then body -> 'metadata' else '{}'::json end as md,
        parse_timestamp(body ->> 'timestamp') as event_at,
        regexp_extract(body ->> 'message', 'chart ([A-Za-z0-9._-]+)@([^\s:]+)', ['chart', 'version']) as chart
    from source
),

fields as (
    select
        *,
        coalesce(md ->> 'revision',
                 json_extract_string(md, '$."' || list_filter(json_keys(md), lambda k: k like '%/revision')[1] || '"'))
            as revision
    from parsed
),

classified as (
    select
        *,
        coalesce(as_commit_sha(regexp_extract(revision, 'sha1:([0-9a-fA-F]{40})', 1)),
                 as_commit_sha(regexp_extract(revision, '(?:^|[/@])([0-9a-fA-F]{40})$', 1))) as revision_sha,
        case
            when object_kind in ('Kustomization', 'HelmRelease') then case
                when reason in ('ReconciliationSucceeded', 'InstallSucceeded', 'UpgradeSucceeded') then 'deployed'
                when reason = 'Progressing' then 'deploy_started'
                when reason in ('ReconciliationFailed', 'HealthCheckFailed', 'BuildFailed', 'ValidationFailed',
                                'PruneFailed', 'ArtifactFailed', 'InstallFailed', 'UpgradeFailed', 'RollbackFailed')
                    then 'deploy_failed'
                when reason = 'RollbackSucceeded' then 'rolled_back'
                when reason = 'UninstallSucceeded' then 'service_removed'
                when reason in ('TestSucceeded', 'TestFailed') then 'test_finished'
                when reason in ('DependencyNotReady', 'UninstallFailed', 'ReconciliationSkipped',
                                'DriftDetected', 'Suspended', 'ArtifactUpToDate') then 'ignored'
            end
            when object_kind is not null or body ->> 'reportingController' is not null then 'ignored'
        end as candidate_stage
    from fields
),

deduplicated as (
    select
        *,
        case
            when candidate_stage = 'deployed'
                 and lag(revision) over (partition by object_key, candidate_stage in ('deployed', 'rolled_back')
                                         order by event_at, event_key) is not distinct from revision
                then 'ignored'
            else candidate_stage
        end as stage
    from classified
)

select
    event_key,
    event_id,
    'flux' as source_tool,
    'flux:' || coalesce(reason, '?') as raw_type,
    stage,
    coalesce(event_at, received_at) as occurred_at,
    received_at,
    case
        when stage = 'deploy_failed' then 'failure'
        when stage in ('deployed', 'rolled_back', 'service_removed') then 'success'
        when stage = 'test_finished' then case when reason = 'TestSucceeded' then 'success' else 'failure' end
    end as outcome,
    normalise_repository(md ->> 'repository') as repository,
    revision_sha as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    case when stage in ('deploy_started', 'deployed', 'deploy_failed', 'rolled_back', 'service_removed', 'test_finished')
        then coalesce(
            case when object_kind = 'HelmRelease' and nullif(chart.chart, '') is not null
                 then normalise_purl('pkg:helm/' || lower(chart.chart) || '@' || chart.version) end,
            source_artifact_id(md ->> 'repository', revision_sha),
            case when revision_sha is not null
                 then 'pkg:generic/' || lower(object_namespace) || '/' || lower(object_name) || '@' || revision_sha end)
    end as artifact_id,
    regexp_extract(lower(revision), 'sha256:[0-9a-f]{64}') as digest,
    coalesce(md ->> 'version', nullif(chart.version, ''), case when revision_sha is null then revision end, revision_sha)
        as version,
    coalesce(md ->> 'service', object_name) as service,
    coalesce(md ->> 'team', md ->> 'owner') as team,
    coalesce(md ->> 'app', md ->> 'part-of') as app,
    coalesce(md ->> 'environment', md ->> 'env', md ->> 'cluster') as environment,
    md ->> 'cluster' as cluster,
    null::varchar as incident_id,
    body ->> 'severity' as severity,
    null::varchar as chain_id,
    null::json as links,
    concat_ws('/', object_kind, object_namespace, object_name) as subject_id,
    validation_errors,
    reason,
    object_kind,
    revision,
    body ->> 'message' as message,
    body ->> 'reportingController' as reporting_controller
from deduplicated
