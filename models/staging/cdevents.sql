-- staging.cdevents: every CDEvent (bare, or the data of a CloudEvent), spec v0.1–v0.5, all subjects,
-- mapped onto the canonical stages and identity columns (DESIGN §4). Parse, rename, cast — no joins
-- to other sources. Also the draft binding (before spec v0.1, still sent by the Jenkins CDEvents plugin): a
-- CloudEvent of type dev.cdevents.pipelinerun.* / taskrun.* whose subject rides in extension attributes (`url`,
-- `pipelinename`, `taskname`, `outcome`, `errors`) and whose data is the custom data — read as a CDEvent.
-- A run's finished event (pipelinerun, taskrun, build, testcaserun, testsuiterun) gets duration_s = its time −
-- the started event's of the same subject id and source; a test run's started and finished events share the
-- artifact and environment either names, so its start→finish span counts as active time in stage_durations.
-- Those two read other events of the same run: an incremental build (pipelines/incremental.py) recomputes the
-- rows of every run the new events belong to. `cdevents_run` is the subject of a run and null for every other
-- subject (a service's deployments, an artifact's publications…), whose rows read no other event: the new
-- deployments of a service do not make the build re-read its hundreds of earlier ones.
-- incremental: siblings (cdevents_run, subject_id, cdevents_source)
-- Speed: DuckDB's JSON type is text, so every `->>` re-parses the document. Each payload is parsed once by
-- json_transform into a struct of exactly the fields used below (a bare CDEvent at the top, a CloudEvent's
-- at `data`); struct fields cost nothing after that. A field of the wrong JSON type reads as null, as `->>` did.
with source as (
    select
        event_key, event_id, event_source, event_type, transport, source_tool, occurred_at, received_at,
        validation_errors, schema_version,
        event_format = 'cdevent' and transport in ('structured', 'batch') as in_data,
        json_transform(case
            when event_format = 'cdevent' then payload
            when transport in ('structured', 'batch') then json_object(
                'context', json_object('id', event_id, 'source', event_source, 'type', event_type),
                'subject', json_object('id', coalesce(payload ->> 'url', event_id), 'content', json_object(
                    'outcome', payload ->> 'outcome', 'errors', payload ->> 'errors', 'url', payload ->> 'url',
                    'pipelineName', payload ->> 'pipelinename', 'taskName', payload ->> 'taskname')),
                'customData', payload -> 'data')
            else json_object(
                'context', json_object('id', event_id, 'source', event_source, 'type', event_type),
                'subject', json_object('id', coalesce(headers ->> 'ce-url', event_id), 'content', json_object(
                    'outcome', headers ->> 'ce-outcome', 'errors', headers ->> 'ce-errors', 'url', headers ->> 'ce-url',
                    'pipelineName', headers ->> 'ce-pipelinename', 'taskName', headers ->> 'ce-taskname')),
                'customData', payload)
        end, '{"context": {"type": "VARCHAR", "specversion": "VARCHAR", "version": "VARCHAR", "timestamp": "VARCHAR", "source": "VARCHAR", "chainId": "VARCHAR", "links": "JSON"}, "subject": {"id": "VARCHAR", "content": {"environment": {"id": "VARCHAR"}, "name": "VARCHAR", "artifactId": "VARCHAR", "pipelineRun": {"id": "VARCHAR"}, "outcome": "VARCHAR", "repository": {"id": "VARCHAR"}, "change": {"id": "VARCHAR", "source": "VARCHAR"}, "service": {"id": "VARCHAR"}, "severity": "VARCHAR"}}, "customData": {"environment": "VARCHAR", "artifactId": "VARCHAR", "tool": "VARCHAR", "outcome": "VARCHAR", "repository": "VARCHAR", "commitSha": "VARCHAR", "version": "VARCHAR", "service": "VARCHAR", "team": "VARCHAR", "owner": "VARCHAR", "app": "VARCHAR", "partOf": "VARCHAR", "part-of": "VARCHAR", "cluster": "VARCHAR", "severity": "VARCHAR", "digest": "VARCHAR", "build": {"scmState": {"url": "VARCHAR", "commit": "VARCHAR"}}}, "data": {"context": {"type": "VARCHAR", "specversion": "VARCHAR", "version": "VARCHAR", "timestamp": "VARCHAR", "source": "VARCHAR", "chainId": "VARCHAR", "links": "JSON"}, "subject": {"id": "VARCHAR", "content": {"environment": {"id": "VARCHAR"}, "name": "VARCHAR", "artifactId": "VARCHAR", "pipelineRun": {"id": "VARCHAR"}, "outcome": "VARCHAR", "repository": {"id": "VARCHAR"}, "change": {"id": "VARCHAR", "source": "VARCHAR"}, "service": {"id": "VARCHAR"}, "severity": "VARCHAR"}}, "customData": {"environment": "VARCHAR", "artifactId": "VARCHAR", "tool": "VARCHAR", "outcome": "VARCHAR", "repository": "VARCHAR", "commitSha": "VARCHAR", "version": "VARCHAR", "service": "VARCHAR", "team": "VARCHAR", "owner": "VARCHAR", "app": "VARCHAR", "partOf": "VARCHAR", "part-of": "VARCHAR", "cluster": "VARCHAR", "severity": "VARCHAR", "digest": "VARCHAR", "build": {"scmState": {"url": "VARCHAR", "commit": "VARCHAR"}}}}}') as doc
    from raw.events
    where event_format = 'cdevent'
       or (event_format = 'cloudevent' and regexp_matches(event_type, '^dev\.cdevents\.(pipelinerun|taskrun)\.'))
),

events as (
    select
        * exclude (doc, in_data),
        case when in_data then doc.data
             else {'context': doc.context, 'subject': doc.subject, 'customData': doc.customData} end as cd
    from source
),

parsed as (
    select
        * exclude (cd),
        cd.context as ctx,
        regexp_extract(cd.context.type,
            '^dev\.cdevents\.([a-z0-9]+)\.([a-z0-9]+)\.(.+)$', ['subject', 'predicate', 'type_version']) as t,
        coalesce(cd.context.specversion, cd.context.version) as cdevents_version,
        cd.subject.id as subject_id,
        cd.subject.content as content,
        cd.customData as custom,
        coalesce(try_cast(cd.context.timestamp as timestamptz), occurred_at) as event_at
    from events
),

stage_map(subject, predicate, stage) as (
    values
        ('branch', 'created', 'branch_created'), ('branch', 'deleted', 'branch_deleted'),
        ('repository', 'created', 'repository_created'), ('repository', 'modified', 'repository_modified'),
        ('repository', 'deleted', 'repository_deleted'),
        ('change', 'created', 'change_opened'), ('change', 'updated', 'change_updated'),
        ('change', 'reviewed', 'change_reviewed'), ('change', 'merged', 'change_merged'),
        ('change', 'abandoned', 'change_abandoned'),
        ('build', 'queued', 'build_queued'), ('build', 'started', 'build_started'), ('build', 'finished', 'build_finished'),
        ('pipelinerun', 'queued', 'pipeline_queued'), ('pipelinerun', 'started', 'pipeline_started'),
        ('pipelinerun', 'finished', 'pipeline_finished'),
        ('taskrun', 'started', 'task_started'), ('taskrun', 'finished', 'task_finished'),
        ('testcaserun', 'queued', 'test_queued'), ('testcaserun', 'started', 'test_started'),
        ('testcaserun', 'finished', 'test_finished'), ('testcaserun', 'skipped', 'test_skipped'),
        ('testsuiterun', 'queued', 'test_queued'), ('testsuiterun', 'started', 'test_started'),
        ('testsuiterun', 'finished', 'test_finished'),
        ('testoutput', 'published', 'test_output_published'),
        ('artifact', 'packaged', 'artifact_packaged'), ('artifact', 'published', 'artifact_published'),
        ('artifact', 'signed', 'artifact_signed'), ('artifact', 'downloaded', 'artifact_downloaded'),
        ('artifact', 'deleted', 'artifact_deleted'),
        ('environment', 'created', 'environment_created'), ('environment', 'modified', 'environment_modified'),
        ('environment', 'deleted', 'environment_deleted'),
        ('service', 'deployed', 'deployed'), ('service', 'upgraded', 'deployed'),
        ('service', 'rolledback', 'rolled_back'), ('service', 'removed', 'service_removed'),
        ('service', 'published', 'service_published'),
        ('incident', 'detected', 'incident_opened'), ('incident', 'reported', 'incident_opened'),
        ('incident', 'resolved', 'incident_resolved'),
        ('ticket', 'created', 'ticket_opened'), ('ticket', 'updated', 'ticket_updated'), ('ticket', 'closed', 'ticket_closed')
),

identified as (
    select
        p.*,
        m.stage as mapped_stage,
        case when (t).subject in ('pipelinerun', 'taskrun', 'build', 'testcaserun', 'testsuiterun')
             then (t).subject end as cdevents_run,
        coalesce(custom.environment, content.environment.id,
                 case when (t).subject = 'environment' then coalesce(content.name, subject_id) end) as environment,
        case (t).subject
            when 'artifact' then subject_id
            else coalesce(content.artifactId, custom.artifactId)
        end as raw_artifact_id,
        case
            when (t).subject = 'pipelinerun' then subject_id
            when (t).subject = 'taskrun' then content.pipelineRun.id
        end as pipeline_run_id,
        normalise_outcome(content.outcome) as reported_outcome
    from parsed p
    left join stage_map m on m.subject = (p.t).subject and m.predicate = (p.t).predicate
),

runs as (
    -- a run's events (same subject, subject id and source): the finish's duration; a test run's artifact and
    -- environment, from whichever of its events names them
    select
        * replace (
            case when (t).subject in ('testcaserun', 'testsuiterun')
                 then coalesce(raw_artifact_id, max(raw_artifact_id) over run) else raw_artifact_id end as raw_artifact_id,
            case when (t).subject in ('testcaserun', 'testsuiterun')
                 then coalesce(environment, max(environment) over run) else environment end as environment),
        case when (t).predicate = 'finished' and cdevents_run is not null
             then epoch(event_at) - epoch(min(event_at) filter (where (t).predicate = 'started') over run) end as duration_s
    from identified
    window run as (partition by cdevents_run, subject_id, ctx.source)
)

select
    event_key,
    event_id,
    coalesce(source_tool, custom.tool, tool_from_source(event_source)) as source_tool,
    event_type as raw_type,
    case
        -- a pipeline run that names an environment is a deployment pipeline (DESIGN §4 stages)
        when mapped_stage = 'pipeline_started' and environment is not null then 'deploy_started'
        when mapped_stage = 'pipeline_finished' and environment is not null
             and coalesce(reported_outcome, normalise_outcome(custom.outcome)) in ('failure', 'error') then 'deploy_failed'
        else mapped_stage
    end as stage,
    event_at as occurred_at,
    received_at,
    coalesce(
        reported_outcome,
        normalise_outcome(custom.outcome),
        case when mapped_stage in ('deployed', 'rolled_back', 'service_removed', 'artifact_published', 'artifact_packaged',
                                   'change_merged', 'build_finished') then 'success' end
    ) as outcome,
    normalise_repository(coalesce(custom.repository, content.repository.id, content.change.source,
             case when (t).subject = 'repository' then coalesce(content.name, subject_id) end,
             custom.build.scmState.url)) as repository,
    -- customData.build.scmState: the Jenkins CDEvents plugin's custom data (the job model) names the commit
    coalesce(as_commit_sha(custom.commitSha), as_commit_sha(content.change.id),
             as_commit_sha(custom.build.scmState.commit)) as commit_sha,
    case when (t).subject = 'change' then subject_id else content.change.id end as change_id,
    pipeline_run_id,
    normalise_purl(raw_artifact_id) as artifact_id,
    coalesce(purl_digest(raw_artifact_id), purl_digest(custom.digest)) as digest,
    coalesce(custom.version, purl_version(raw_artifact_id)) as version,
    coalesce(custom.service,
             case when (t).subject = 'service' then subject_id end,
             content.service.id) as service,
    coalesce(custom.team, custom.owner) as team,
    coalesce(custom.app, custom.partOf, custom."part-of") as app,
    environment,
    custom.cluster as cluster,
    case when (t).subject = 'incident' then subject_id end as incident_id,
    coalesce(custom.severity, content.severity) as severity,
    ctx.chainId as chain_id,
    ctx.links as links,
    subject_id,
    (t).subject as cdevents_subject,
    cdevents_run,
    (t).predicate as cdevents_predicate,
    cdevents_version,
    validation_errors,
    schema_version,
    duration_s,
    ctx.source as cdevents_source
from runs
