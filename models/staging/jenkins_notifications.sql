-- staging.jenkins_notifications: the Jenkins Notification plugin's JSON (`{"name": <job>, "url", "build":
-- {"full_url", "number", "queue_id", "phase", "status", "timestamp", "duration", "scm": {"url", "branch",
-- "commit"}, "parameters"}}`; header X-Lifecycle-Source: jenkins, --source jenkins, or the body's shape),
-- one row per notification. What a job does comes from lifecycle.toml `[jenkins] jobs` (config.jenkins_jobs:
-- the first rule whose pattern matches the job's name; none matches: a build job), with the service and
-- environment its name carries (`{service}`, `{environment}`) or the rule names:
--   phase      build job        test job        deploy job
--   QUEUED     build_queued     task_queued     task_queued      (time = when it entered the queue)
--   STARTED    build_started    test_started    deploy_started
--   COMPLETED  build_finished   test_finished   deployed (status SUCCESS), deploy_failed (FAILURE, UNSTABLE,
--                                                ABORTED); NOT_BUILT → ignored
--   FINALIZED  ignored when the build's COMPLETED was received (the same result again), else as COMPLETED
-- outcome from the status: SUCCESS success, FAILURE and UNSTABLE failure, ABORTED cancelled, NOT_BUILT skipped.
-- Times: build.timestamp (epoch milliseconds: the plugin sends the enqueue time with QUEUED, the start with
-- STARTED, start + duration with COMPLETED; older releases an ISO string), else the receive time;
-- duration_s = build.duration / 1000 on a finished build.
-- Identity: commit = scm.commit (else parameter GIT_COMMIT / COMMIT), repository = scm.url (else parameter
-- GIT_URL), pipeline_run_id = the build's URL; environment = the rule's, else parameter ENVIRONMENT / ENV;
-- service = the rule's, else parameter SERVICE, else the repository's name, else the job's name; artifact =
-- parameter IMAGE (an image reference, or a purl) — else, for a deploy job and a test job run against an
-- environment, the source at the commit (pkg:github/<repo>@<sha>, as a GitHub deployment); version =
-- parameter VERSION, else the image's tag.
with source as (
    select event_key, event_id, event_type, received_at, validation_errors, payload as body
    from raw.events
    where source_tool = 'jenkins' and event_format = 'webhook'
),

parsed as (
    select
        *,
        body ->> 'name' as job,
        upper(coalesce(body ->> '$.build.phase', event_type)) as phase,
        upper(body ->> '$.build.status') as status,
        try_cast(body ->> '$.build.number' as bigint) as build_number,
        body ->> '$.build.queue_id' as queue_id,
        coalesce(body ->> '$.build.full_url', body ->> '$.build.url') as build_url,
        body ->> '$.build.scm.branch' as branch,
        case when json_type(body, '$.build.parameters') = 'OBJECT' then list_transform(
            map_entries(json_transform(body -> '$.build.parameters', '"MAP(VARCHAR, JSON)"')),
            lambda e: {'name': e.key, 'value': e.value}) end as params,
        coalesce(to_timestamp(try_cast(body ->> '$.build.timestamp' as double) / 1000),
                 parse_timestamp(body ->> '$.build.timestamp')) as reported_at,
        try_cast(body ->> '$.build.duration' as double) / 1000 as build_duration_s
    from source
),

ruled as (
    select
        p.*,
        -- the first [jenkins] jobs rule (config.jenkins_jobs) whose pattern matches the job's name
        (select {'stage': j.stage,
                 'service': coalesce(j.service, regexp_extract(p.job, j.service_regex, 1)),
                 'environment': coalesce(j.environment, regexp_extract(p.job, j.environment_regex, 1))}
         from config.jenkins_jobs j
         where regexp_full_match(coalesce(p.job, ''), j.match_regex)
         order by j.position
         limit 1) as rule
    from parsed p
),

identified as (
    select
        *,
        coalesce(rule.stage, 'build') as job_stage,
        coalesce(as_commit_sha(body ->> '$.build.scm.commit'), as_commit_sha(named_value(params, ['git_commit', 'commit'])))
            as commit_sha,
        normalise_repository(coalesce(body ->> '$.build.scm.url', named_value(params, ['git_url']))) as repository,
        coalesce(body ->> '$.build.scm.url', named_value(params, ['git_url'])) as repository_url,
        named_value(params, ['image', 'artifact']) as image,
        coalesce(rule.environment, named_value(params, ['environment', 'env'])) as environment,
        bool_or(upper(coalesce(body ->> '$.build.phase', event_type)) = 'COMPLETED')
            over (partition by coalesce(body ->> '$.build.full_url', body ->> '$.build.url')) as completed_reported
    from ruled
),

classified as (
    select
        *,
        case
            when phase in ('COMPLETED', 'FINALIZED') then case upper(coalesce(status, ''))
                when 'SUCCESS' then 'success' when 'FAILURE' then 'failure' when 'UNSTABLE' then 'failure'
                when 'ABORTED' then 'cancelled' when 'NOT_BUILT' then 'skipped'
            end
        end as outcome,
        case
            when phase = 'FINALIZED' and completed_reported then 'ignored'
            when phase = 'QUEUED' then case when job_stage = 'build' then 'build_queued' else 'task_queued' end
            when phase = 'STARTED' then case job_stage
                when 'build' then 'build_started' when 'test' then 'test_started' else 'deploy_started' end
            when phase in ('COMPLETED', 'FINALIZED') then case
                when job_stage = 'build' then 'build_finished'
                when job_stage = 'test' then 'test_finished'
                when upper(coalesce(status, '')) = 'SUCCESS' then 'deployed'
                when upper(coalesce(status, '')) = 'NOT_BUILT' then 'ignored'
                else 'deploy_failed'
            end
        end as stage
    from identified
)

select
    event_key,
    event_id,
    'jenkins' as source_tool,
    'jenkins:' || coalesce(phase, '?') as raw_type,
    stage,
    coalesce(reported_at, received_at) as occurred_at,
    received_at,
    outcome,
    repository,
    commit_sha,
    null::varchar as change_id,
    build_url as pipeline_run_id,
    case when stage <> 'ignored' then coalesce(
        case when image like 'pkg:%' then normalise_purl(image) else image_artifact_id(image) end,
        case when job_stage = 'deploy' or (job_stage = 'test' and environment is not null)
             then source_artifact_id(repository_url, commit_sha) end)
    end as artifact_id,
    coalesce(purl_digest(image), image_digest(image)) as digest,
    coalesce(named_value(params, ['version']), case when image like 'pkg:%' then purl_version(image) else image_tag(image) end)
        as version,
    coalesce(rule.service, named_value(params, ['service']), regexp_extract(repository, '([^/]+)$', 1), job) as service,
    null::varchar as team,
    null::varchar as app,
    environment,
    null::varchar as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    build_url as subject_id,
    validation_errors,
    case when phase in ('COMPLETED', 'FINALIZED') then build_duration_s end as duration_s,
    job,
    build_number,
    queue_id,
    phase,
    status,
    job_stage,
    branch
from classified
