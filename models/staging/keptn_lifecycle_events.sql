-- staging.keptn_lifecycle_events: the CloudEvents of the Keptn lifecycle operator (Keptn Lifecycle Toolkit,
-- KeptnConfig `cloudEventsEndpoint`), one row per event: source `keptn.sh` (or X-Lifecycle-Source / --source
-- keptn), type `<phase>.<state>` — the phase's long name as the operator sends it (`Workload Deployment.Started`,
-- `App Pre-Deployment Tasks.Finished`) or its short name (`WorkloadDeploy.Started`, `AppPreDeployTasks.Succeeded`),
-- data {message, type: Normal | Warning, version, resource {name, namespace, …}}.
-- A finished phase succeeded unless the event is a Warning (the operator reports a deployment timeout as a
-- Warning `Finished`); `Failed` / `Errored` failed.
--   Workload Deployment        Started → deploy_started; finished → deployed / deploy_failed
--   App Deployment             → ignored: the app's workloads report their own deployments (an app deployment
--                                fails only when one of them does)
--   Pre-Deployment Tasks / Evaluations, Post-Deployment Tasks (app and workload)
--                              Started → test_started; finished → test_finished (a gate before, a test after)
--   Post-Deployment Evaluations (app and workload)
--                              finished → verification_finished: the verdict on the running deployment (a
--                              failure makes it a failed change: intermediate.verifications)
--   other states (StatusChanged, ReconcileError, …), Promotion Tasks, Completed, Deprecated, Cancelled and the
--   operator's bookkeeping phases (Reconcile *, Create *, Update *, Deprecate *) → ignored
-- Identity: environment = the namespace (map it with lifecycle.toml aliases); version = data.version (the
-- workload's, or the app's); a workload event's object is the KeptnWorkloadVersion `<app>-<workload>-<version>`:
-- app = the longest app of the namespace's app-level events (KeptnAppVersion `<app>-<version>-<hash>`) that
-- prefixes it, service = the workload without that prefix; artifact = its image known only by its version,
-- pkg:oci/<workload>@<version> (the id Argo CD gives a tag-only image of the same name). App-level events name
-- the app, no service and no artifact.
with source as (
    select event_key, event_id, event_type, occurred_at, received_at, validation_errors,
           case when transport in ('structured', 'batch') then payload -> 'data' else payload end as data
    from raw.events
    where event_format = 'cloudevent'
      and event_type not like 'sh.keptn.%'
      and (event_source = 'keptn.sh' or source_tool = 'keptn')
),

parsed as (
    select
        *,
        regexp_extract(event_type, '^(.+)\.([A-Za-z]+)$', ['phase', 'state']) as t,
        data -> 'resource' ->> 'name' as object_name,
        data -> 'resource' ->> 'namespace' as namespace,
        nullif(data ->> 'version', '') as version,
        data ->> 'type' as k8s_event_type,
        data ->> 'message' as message
    from source
),

phased as (
    select
        *,
        -- long and short phase names alike: `App Pre-Deployment Tasks` and `AppPreDeployTasks` → apppredeploytasks
        replace(lower(regexp_replace(t.phase, '[^A-Za-z]', '', 'g')), 'deployment', 'deploy') as phase_key,
        lower(t.state) as state
    from parsed
),

leveled as (
    select
        *,
        case when phase_key like 'app%' then 'app' when phase_key like 'workload%' then 'workload' end as level,
        regexp_replace(phase_key, '^(app|workload)', '') as step,
        state in ('finished', 'succeeded', 'failed', 'errored') as is_finish,
        case
            when state in ('failed', 'errored') then 'failure'
            when state in ('finished', 'succeeded') and k8s_event_type = 'Warning' then 'failure'
            when state in ('finished', 'succeeded') then 'success'
        end as phase_outcome,
        -- a KeptnWorkloadVersion `<app>-<workload>-<version>` → the KeptnWorkload; a KeptnAppVersion
        -- `<app>-<version>-<hash>` → the app
        case when version is not null and ends_with(object_name, '-' || version)
             then left(object_name, length(object_name) - length(version) - 1) else object_name end as workload_object,
        case
            when version is not null and regexp_matches(object_name, '-[0-9a-f]{8}$')
                 and ends_with(left(object_name, length(object_name) - 9), '-' || version)
                then left(object_name, length(object_name) - 9 - length(version) - 1)
            when version is not null and ends_with(object_name, '-' || version)
                then left(object_name, length(object_name) - length(version) - 1)
            else object_name
        end as app_object
    from phased
),

apps as (
    select
        *,
        -- the apps the namespace's app-level events name, to take a workload's app prefix off
        list(distinct app_object) filter (where level = 'app') over (partition by namespace) as namespace_apps
    from leveled
),

named as (
    select
        *,
        case
            when level = 'app' then coalesce(data ->> 'appName', app_object)
            when level = 'workload' then coalesce(data ->> 'appName', list_sort(
                list_filter(coalesce(namespace_apps, []), lambda a: starts_with(workload_object, a || '-')),
                'DESC')[1])
        end as app_name
    from apps
),

classified as (
    select
        *,
        case when level = 'workload' then
            case when app_name is not null and starts_with(workload_object, app_name || '-')
                 then substr(workload_object, length(app_name) + 2) else workload_object end
        end as workload,
        case
            when level = 'workload' and step = 'deploy' then case
                when state = 'started' then 'deploy_started'
                when is_finish and phase_outcome = 'success' then 'deployed'
                when is_finish then 'deploy_failed'
                else 'ignored' end
            when level = 'app' and step = 'deploy' then 'ignored'
            when level is not null and step in ('predeploytasks', 'predeployevaluations', 'postdeploytasks') then case
                when state = 'started' then 'test_started'
                when is_finish then 'test_finished'
                else 'ignored' end
            when level is not null and step = 'postdeployevaluations' then case
                when is_finish then 'verification_finished'
                else 'ignored' end
            when level is not null and step = 'completed' then 'ignored'
            when phase_key in ('promotiontasks', 'completed', 'deprecated', 'cancelled')
                 or regexp_matches(phase_key, '^(reconcile|create|update|deprecate)') then 'ignored'
        end as candidate_stage
    from named
),

deduplicated as (
    select
        *,
        -- a phase reported twice (a deployment timeout is a Warning `Finished`, then `Failed`): the first counts
        case
            when candidate_stage is distinct from 'ignored' and candidate_stage is not null and row_number() over (
                partition by namespace, object_name, phase_key, candidate_stage order by occurred_at, event_key) > 1
                then 'ignored'
            else candidate_stage
        end as stage
    from classified
)

select
    event_key,
    event_id,
    'keptn' as source_tool,
    'keptn:' || event_type as raw_type,
    stage,
    coalesce(occurred_at, received_at) as occurred_at,
    received_at,
    case when stage in ('deployed', 'deploy_failed', 'test_finished', 'verification_finished') then phase_outcome end
        as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    case when level = 'workload' and stage <> 'ignored'
         then normalise_purl(oci_artifact_id(workload, null, version)) end as artifact_id,
    null::varchar as digest,
    version,
    workload as service,
    null::varchar as team,
    app_name as app,
    namespace as environment,
    null::varchar as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    object_name as subject_id,
    validation_errors,
    t.phase as keptn_phase,
    t.state as keptn_state,
    level as keptn_level,
    k8s_event_type,
    message
from deduplicated
