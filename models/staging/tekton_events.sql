-- staging.tekton_events: Tekton Pipelines' own CloudEvents (type dev.tekton.event.<kind>.<predicate>.v1, data
-- {"pipelineRun": …} or {"taskRun": …}: the run object), one row per event.
--   pipelinerun started            → build_started (time = status.startTime)
--   pipelinerun successful / failed → build_finished, outcome success / failure (cancelled when the Succeeded
--                                    condition's reason says Cancelled, StoppedRunFinally, CancelledRunFinally);
--                                    time = status.completionTime, duration_s = completionTime − startTime
--   taskrun of its own (no tekton.dev/pipelineRun label): the same as a pipeline run
--   taskrun of a pipeline run      → ignored: the pipeline run reports that work, so a build's active time
--                                    (marts.stage_durations) is counted once
--   running, unknown (a condition change while running), customrun.*, run.* → ignored
-- Identity, from the run's params (spec.params) and results (status.results; v1beta1 pipelineResults /
-- taskResults), names compared case-insensitively: commit = result `commit` (the git-clone task's) else param
-- `gitrevision` / `git-revision` / `revision` / `commit` / `commit-sha` (a 7–40 hex value only);
-- repository = result `url` else param `gitrepositoryurl` / `git-url` / `repo-url` / `repository` / `url`;
-- the artifact = results IMAGE_URL + IMAGE_DIGEST (Tekton Chains' type hints, as the buildah / kaniko tasks
-- write them): pkg:oci/<image name>@<digest>, version = the URL's tag. The events of one run share what any of
-- them knows (a run's start names no results yet). pipeline_run_id = <namespace>/<run name> (a task run of a
-- pipeline: its pipeline run's); service = the image name, else the repository's name; team / app = labels
-- `owner.team` (or `team`) / `app.kubernetes.io/part-of`.
with source as (
    select event_key, event_id, event_type, occurred_at, received_at, validation_errors,
           case when transport in ('structured', 'batch') then payload -> 'data' else payload end as data
    from raw.events
    where event_format = 'cloudevent' and event_type like 'dev.tekton.event.%'
),

parsed as (
    select
        *,
        regexp_extract(event_type, '^dev\.tekton\.event\.([a-z]+)\.([a-z]+)\.', ['kind', 'predicate']) as t,
        coalesce(data -> 'pipelineRun', data -> 'taskRun', data -> 'customRun', data -> 'run') as run
    from source
),

fields as (
    select
        *,
        (t).kind as tekton_kind,
        (t).predicate as predicate,
        run ->> '$.metadata.namespace' as namespace,
        run ->> '$.metadata.name' as run_name,
        run ->> '$.metadata.labels."tekton.dev/pipelineRun"' as parent_run,
        coalesce(run ->> '$.metadata.labels."tekton.dev/pipeline"', run ->> '$.spec.pipelineRef.name') as pipeline,
        coalesce(run ->> '$.metadata.labels."tekton.dev/task"', run ->> '$.spec.taskRef.name') as task,
        json_transform(run -> '$.spec.params', '[{"name": "VARCHAR", "value": "JSON"}]') as params,
        json_transform(coalesce(run -> '$.status.results', run -> '$.status.pipelineResults',
                                run -> '$.status.taskResults'), '[{"name": "VARCHAR", "value": "JSON"}]') as results,
        list_filter(json_transform(run -> '$.status.conditions',
                                   '[{"type": "VARCHAR", "status": "VARCHAR", "reason": "VARCHAR", "lastTransitionTime": "VARCHAR"}]'),
                    lambda c: c.type = 'Succeeded')[1] as succeeded,
        parse_timestamp(run ->> '$.status.startTime') as started_at,
        parse_timestamp(run ->> '$.status.completionTime') as completed_at
    from parsed
),

identified as (
    select
        *,
        case
            when tekton_kind not in ('pipelinerun', 'taskrun') then 'ignored'
            when tekton_kind = 'taskrun' and parent_run is not null then 'ignored'
            when predicate = 'started' then 'build_started'
            when predicate in ('successful', 'failed') then 'build_finished'
            else 'ignored'
        end as stage,
        nullif(concat_ws('/', namespace, coalesce(parent_run, run_name)), '') as pipeline_run_id,
        coalesce(as_commit_sha(named_value(results, ['commit', 'git-commit', 'commit-sha'])),
                 as_commit_sha(named_value(params, ['gitrevision', 'git-revision', 'revision', 'commit',
                                                    'commit-sha', 'git-commit']))) as run_commit,
        normalise_repository(coalesce(named_value(results, ['url', 'git-url']),
                                      named_value(params, ['gitrepositoryurl', 'git-url', 'repo-url', 'repository',
                                                           'git-repository-url', 'url']))) as run_repository,
        named_value(results, ['image_url']) as image_url,
        coalesce(named_value(results, ['image_digest']), image_digest(named_value(results, ['image_url'])))
            as image_digest_result
    from fields
),

runs as (
    -- what one run's events know, shared by all of them (its start names no results yet)
    select
        *,
        oci_artifact_id(image_name(image_url), image_digest_result, image_tag(image_url)) as run_artifact
    from identified
),

shared as (
    select
        *,
        coalesce(run_commit, max(run_commit) over run) as commit_sha,
        coalesce(run_repository, max(run_repository) over run) as repository,
        coalesce(run_artifact, max(run_artifact) over run) as artifact_id,
        coalesce(image_url, max(image_url) over run) as shared_image_url
    from runs
    window run as (partition by tekton_kind, pipeline_run_id)
)

select
    event_key,
    event_id,
    'tekton' as source_tool,
    'tekton:' || coalesce(tekton_kind, '?') || '.' || coalesce(predicate, '?') as raw_type,
    stage,
    case
        when stage = 'build_started' then coalesce(started_at, occurred_at, received_at)
        when stage = 'build_finished' then coalesce(completed_at, parse_timestamp(succeeded.lastTransitionTime),
                                                    occurred_at, received_at)
        else coalesce(occurred_at, received_at)
    end as occurred_at,
    received_at,
    case
        when stage <> 'build_finished' then null
        when predicate = 'successful' then 'success'
        when succeeded.reason in ('Cancelled', 'PipelineRunCancelled', 'TaskRunCancelled', 'StoppedRunFinally',
                                  'CancelledRunFinally') then 'cancelled'
        else 'failure'
    end as outcome,
    repository,
    commit_sha,
    null::varchar as change_id,
    pipeline_run_id,
    case when stage <> 'ignored' then artifact_id end as artifact_id,
    case when stage <> 'ignored' then purl_digest(artifact_id) end as digest,
    case when stage <> 'ignored' then image_tag(shared_image_url) end as version,
    coalesce(image_name(shared_image_url), regexp_extract(repository, '([^/]+)$', 1)) as service,
    coalesce(run ->> '$.metadata.labels."owner.team"', run ->> '$.metadata.labels.team') as team,
    run ->> '$.metadata.labels."app.kubernetes.io/part-of"' as app,
    null::varchar as environment,
    null::varchar as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    nullif(concat_ws('/', namespace, run_name), '') as subject_id,
    validation_errors,
    case when stage = 'build_finished' then epoch(completed_at) - epoch(started_at) end as duration_s,
    tekton_kind,
    predicate,
    pipeline,
    task,
    succeeded.reason as reason,
    started_at,
    completed_at
from shared
