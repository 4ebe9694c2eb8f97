-- staging.keptn_v1_events: Keptn v1 CloudEvents (type sh.keptn.*, the Keptn CloudEvents spec 0.2.x), one row
-- per event. Task events are `sh.keptn.event.<task>.<triggered|started|status.changed|finished>`, data
-- {project, stage, service, status: succeeded | errored | unknown, result: pass | warning | fail, <task>: {…}};
-- every event of one task sequence shares the `shkeptncontext` extension attribute: the chain id.
--   deployment   started → deploy_started; finished → deployed, or deploy_failed when errored / result fail
--   test         started → test_started; finished → test_finished
--   evaluation   finished → verification_finished: the quality gate's verdict on the deployment of the same
--                context (a failure makes that deployment a failed change: intermediate.verifications)
--   rollback     finished, succeeded → rolled_back (the service runs its previous version again)
--   triggered / status.changed events, sequence events (sh.keptn.event.<stage>.<sequence>.*), approval,
--   release, get-sli, monitoring, remediation, action, problem and any other task → ignored
-- Outcome: status errored → error, result fail → failure, pass or warning → success.
-- Identity: environment = the Keptn stage, app = the project, service = data.service, chain_id =
-- shkeptncontext; the image is the one the context's deployment was triggered with
-- (configurationChange.values.image): deployment, test and evaluation events of that context, stage and
-- service name its artifact (pkg:oci/<name>@<digest>, or @<tag> when the image has no digest) and version (the
-- tag). No commit: the `gitCommit` fields are the Keptn configuration repository's.
with source as (
    select event_key, event_id, event_type, event_source, occurred_at, received_at, validation_errors,
           case when transport in ('structured', 'batch') then payload -> 'data' else payload end as data,
           case when transport in ('structured', 'batch') then payload ->> 'shkeptncontext'
                else headers ->> 'ce-shkeptncontext' end as keptn_context
    from raw.events
    where event_format = 'cloudevent' and event_type like 'sh.keptn.%'
),

parsed as (
    select
        *,
        regexp_extract(event_type, '^sh\.keptn\.event\.([^.]+)\.(triggered|started|status\.changed|finished|invalidated)$',
                       ['task', 'status']) as t,
        lower(data ->> 'status') as task_status,
        lower(data ->> 'result') as result,
        data ->> 'project' as project,
        data ->> 'stage' as keptn_stage,
        data ->> 'service' as keptn_service,
        data -> 'configurationChange' -> 'values' ->> 'image' as triggered_image
    from source
),

chained as (
    select
        *,
        -- the image the context's deployment of this service in this stage was triggered with
        arg_min(triggered_image, occurred_at) filter (where triggered_image is not null)
            over (partition by keptn_context, keptn_stage, keptn_service) as context_image
    from parsed
),

classified as (
    select
        *,
        case
            when t.task = 'deployment' and t.status = 'started' then 'deploy_started'
            when t.task = 'deployment' and t.status = 'finished'
                then case when task_status = 'errored' or result = 'fail' then 'deploy_failed' else 'deployed' end
            when t.task = 'test' and t.status = 'started' then 'test_started'
            when t.task = 'test' and t.status = 'finished' then 'test_finished'
            when t.task = 'evaluation' and t.status = 'finished' then 'verification_finished'
            when t.task = 'rollback' and t.status = 'finished' and task_status = 'succeeded'
                 and result is distinct from 'fail' then 'rolled_back'
            else 'ignored'
        end as stage,
        case when task_status = 'errored' then 'error' when result = 'fail' then 'failure'
             when result in ('pass', 'warning') then 'success' end as task_outcome
    from chained
)

select
    event_key,
    event_id,
    'keptn' as source_tool,
    'keptn:' || event_type as raw_type,
    stage,
    coalesce(occurred_at, received_at) as occurred_at,
    received_at,
    case
        when stage in ('deployed', 'rolled_back') then 'success'
        when stage = 'deploy_failed' then 'failure'
        when stage in ('test_finished', 'verification_finished') then task_outcome
    end as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    case when stage in ('deploy_started', 'deployed', 'deploy_failed', 'test_started', 'test_finished',
                        'verification_finished')
         then normalise_purl(image_artifact_id(context_image)) end as artifact_id,
    case when stage <> 'rolled_back' then image_digest(context_image) end as digest,
    case when stage <> 'rolled_back' then image_tag(context_image) end as version,
    keptn_service as service,
    null::varchar as team,
    project as app,
    keptn_stage as environment,
    null::varchar as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    keptn_context as chain_id,
    null::json as links,
    concat_ws('/', project, keptn_stage, keptn_service) as subject_id,
    validation_errors,
    t.task as keptn_task,
    t.status as keptn_status,
    task_status,
    result,
    try_cast(data -> 'evaluation' ->> 'score' as double) as evaluation_score,
    data -> 'deployment' ->> 'deploymentstrategy' as deployment_strategy,
    json_extract_string(data, '$.deployment.deploymentURIsPublic[*]') as deployment_uris_public,
    event_source as keptn_source
from classified
