-- staging.gitlab_events: every GitLab webhook other than the pushes that list commits
-- (staging.gitlab_push_commits) and the tag pushes that create a tag (staging.gitlab_tags), one row per
-- event. The kind is the body's `object_kind` (else the X-Gitlab-Event header, `Merge Request Hook` →
-- merge_request). GitLab's timestamps mix formats (`2021-01-01 10:00:00 UTC`, `+0200` offsets, ISO): all
-- become UTC (parse_timestamp).
--   merge_request   open, reopen → change_opened; update → change_updated; merge → change_merged (commit =
--                   merge_commit_sha); close → change_abandoned; approved, approval → change_reviewed
--   pipeline        created/pending/waiting_for_resource/preparing/scheduled/manual → build_queued;
--                   running → build_started; success/failed/canceled/skipped → build_finished
--   build, job      the same statuses → task_queued / task_started / task_finished, test_* for a test job
--                   (stage `test`, or a test-like name)
--   deployment      running → deploy_started; success → deployed; failed → deploy_failed; created,
--                   canceled, blocked → ignored. The sha is the last segment of `commit_url` (GitLab sends no
--                   full sha field); the artifact is the project's source at that sha (pkg:gitlab/…)
--   issue, work_item   an incident (type Incident, or labelled `incident`): open, reopen → incident_opened,
--                   close → incident_resolved; other issues and actions → ignored
--   release         create → release_published; update, delete → ignored
--   push            with no listed commits: a branch deletion (`after` all zeros) → branch_deleted, a new
--                   branch → branch_created, else ignored; tag_push deleting a tag → tag_deleted
--   note, wiki_page, feature_flag, emoji, member, subgroup, project, access_token, vulnerability → ignored
with source as (
    select
        event_key, event_id, event_type, received_at, validation_errors, payload as body,
        coalesce(payload ->> 'object_kind',
                 replace(replace(lower(regexp_replace(event_type, '^(Confidential )?(.*) Hook$', '\2')), ' ', '_'),
                         'job', 'build')) as kind
    from raw.events
    where source_tool = 'gitlab' and event_format = 'webhook'
      and event_key not in (select push_key from staging.gitlab_push_commits where push_key is not null)
      and event_key not in (select event_key from staging.gitlab_tags where event_key is not null)
),

parsed as (
    select
        *,
        body -> 'object_attributes' as oa,
        normalise_repository(coalesce(body -> 'project' ->> 'path_with_namespace', body -> 'project' ->> 'web_url',
                                      body -> 'repository' ->> 'homepage')) as repository,
        coalesce(body -> 'project' ->> 'name', body -> 'repository' ->> 'name', body ->> 'project_name') as project_name,
        list_transform(
            list_concat(coalesce(json_extract_string(body, '$.labels[*].title'), []::varchar[]),
                        coalesce(json_extract_string(body, '$.object_attributes.labels[*].title'), []::varchar[])),
            lambda l: lower(l)) as labels
    from source
),

merge_requests as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        oa ->> 'action' as action,
        case oa ->> 'action'
            when 'open' then 'change_opened' when 'reopen' then 'change_opened'
            when 'update' then 'change_updated'
            when 'merge' then 'change_merged'
            when 'close' then 'change_abandoned'
            when 'approved' then 'change_reviewed' when 'approval' then 'change_reviewed'
            else 'ignored'
        end as stage,
        parse_timestamp(case oa ->> 'action' when 'open' then oa ->> 'created_at'
                             else coalesce(oa ->> 'merged_at', oa ->> 'updated_at') end) as occurred_at,
        case when oa ->> 'action' = 'merge' then as_commit_sha(oa ->> 'merge_commit_sha')
             else as_commit_sha(oa -> 'last_commit' ->> 'id') end as commit_sha,
        repository || '!' || (oa ->> 'iid') as change_id,
        oa ->> 'target_branch' as branch
    from parsed
    where kind = 'merge_request'
),

pipelines as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        oa ->> 'status' as action,
        case
            when oa ->> 'status' in ('created', 'waiting_for_resource', 'preparing', 'pending', 'scheduled', 'manual')
                then 'build_queued'
            when oa ->> 'status' = 'running' then 'build_started'
            when oa ->> 'status' in ('success', 'failed', 'canceled', 'skipped') then 'build_finished'
            else 'ignored'
        end as stage,
        case
            when oa ->> 'status' in ('success', 'failed', 'canceled', 'skipped')
                then coalesce(parse_timestamp(oa ->> 'finished_at'), parse_timestamp(oa ->> 'created_at'))
            when oa ->> 'status' = 'running'
                then parse_timestamp(oa ->> 'created_at')
                     + to_seconds(coalesce(try_cast(oa ->> 'queued_duration' as double), 0))
            else parse_timestamp(oa ->> 'created_at')
        end as occurred_at,
        case when oa ->> 'status' in ('success', 'failed', 'canceled', 'skipped') then normalise_outcome(oa ->> 'status') end
            as outcome,
        as_commit_sha(oa ->> 'sha') as commit_sha,
        oa ->> 'id' as pipeline_run_id,
        oa ->> 'ref' as branch,
        parse_timestamp(oa ->> 'created_at') as queued_at,
        parse_timestamp(oa ->> 'finished_at') as finished_at
    from parsed
    where kind = 'pipeline'
),

jobs as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        coalesce(body ->> 'build_status', body ->> 'job_status') as status,
        coalesce(body ->> 'build_name', body ->> 'job_name') as job_name,
        coalesce(body ->> 'build_stage', body ->> 'job_stage') as job_stage,
        parse_timestamp(coalesce(body ->> 'build_created_at', body ->> 'job_created_at')) as queued_at,
        parse_timestamp(coalesce(body ->> 'build_started_at', body ->> 'job_started_at')) as started_at,
        parse_timestamp(coalesce(body ->> 'build_finished_at', body ->> 'job_finished_at')) as finished_at,
        as_commit_sha(coalesce(body ->> 'sha', body -> 'commit' ->> 'sha')) as commit_sha,
        body ->> 'pipeline_id' as pipeline_run_id,
        body ->> 'ref' as branch
    from parsed
    where kind in ('build', 'job')
),

job_rows as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository, commit_sha, pipeline_run_id, branch,
        job_name, queued_at, started_at, finished_at, status as action,
        case
            when phase is null then 'ignored'
            when lower(coalesce(job_stage, '')) = 'test' or is_test_job(job_name) then 'test_' || phase
            else 'task_' || phase
        end as stage,
        case phase when 'queued' then queued_at when 'started' then coalesce(started_at, queued_at)
                   else coalesce(finished_at, started_at, queued_at) end as occurred_at,
        case when phase = 'finished' then normalise_outcome(status) end as outcome
    from (
        select
            *,
            case
                when status in ('created', 'waiting_for_resource', 'preparing', 'pending', 'scheduled', 'manual') then 'queued'
                when status = 'running' then 'started'
                when status in ('success', 'failed', 'canceled', 'skipped') then 'finished'
            end as phase
        from jobs
    )
),

deployments as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        body ->> 'status' as action,
        case body ->> 'status'
            when 'running' then 'deploy_started'
            when 'success' then 'deployed'
            when 'failed' then 'deploy_failed'
            else 'ignored'
        end as stage,
        parse_timestamp(body ->> 'status_changed_at') as occurred_at,
        case body ->> 'status' when 'success' then 'success' when 'failed' then 'failure' end as outcome,
        -- GitLab sends no full sha field: it is the last path segment of commit_url
        as_commit_sha(regexp_extract(body ->> 'commit_url', '/commits?/([0-9a-fA-F]{7,40})/?$', 1)) as commit_sha,
        body ->> 'environment' as environment,
        body ->> 'environment_tier' as environment_tier,
        project_name as service,
        body ->> 'deployment_id' as subject_id,
        body ->> 'deployable_id' as pipeline_run_id,
        body ->> 'ref' as branch
    from parsed
    where kind = 'deployment'
),

issues as (
    select
        *,
        lower(coalesce(oa ->> 'type', oa ->> 'issue_type', '')) = 'incident' or list_has_any(labels, incident_labels())
            as is_incident,
        list_filter(labels, lambda l: regexp_matches(l, '^(service|svc)(::|[:/=])')) as service_labels,
        list_filter(labels, lambda l: regexp_matches(l, '^(env|environment)(::|[:/=])')) as environment_labels
    from parsed
    where kind in ('issue', 'work_item')
),

issue_rows as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        oa ->> 'action' as action,
        case
            when not is_incident then 'ignored'
            when oa ->> 'action' in ('open', 'reopen') then 'incident_opened'
            when oa ->> 'action' = 'close' then 'incident_resolved'
            else 'ignored'
        end as stage,
        parse_timestamp(case oa ->> 'action'
            when 'open' then oa ->> 'created_at'
            when 'close' then coalesce(oa ->> 'closed_at', oa ->> 'updated_at')
            else oa ->> 'updated_at'
        end) as occurred_at,
        case when is_incident then repository || '#' || (oa ->> 'iid') end as incident_id,
        case when is_incident then coalesce(regexp_replace(service_labels[1], '^(service|svc)(::|[:/=])\s*', ''),
                                            project_name) end as service,
        regexp_replace(environment_labels[1], '^(env|environment)(::|[:/=])\s*', '') as environment,
        nullif(lower(oa ->> 'severity'), 'unknown') as severity
    from issues
),

releases as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        body ->> 'action' as action,
        case when body ->> 'action' = 'create' then 'release_published' else 'ignored' end as stage,
        parse_timestamp(coalesce(body ->> 'released_at', body ->> 'created_at')) as occurred_at,
        case when body ->> 'action' = 'create' then 'success' end as outcome,
        as_commit_sha(body -> 'commit' ->> 'id') as commit_sha,
        body ->> 'tag' as version
    from parsed
    where kind = 'release'
),

refs as (
    -- pushes and tag pushes the commit and tag models produced nothing for
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        case
            when kind = 'push' and body ->> 'after' = '0000000000000000000000000000000000000000' then 'branch_deleted'
            when kind = 'push' and body ->> 'before' = '0000000000000000000000000000000000000000' then 'branch_created'
            when kind = 'tag_push' and body ->> 'after' = '0000000000000000000000000000000000000000' then 'tag_deleted'
            else 'ignored'
        end as stage,
        received_at as occurred_at,
        case when kind = 'tag_push' then replace(body ->> 'ref', 'refs/tags/', '') end as version,
        replace(body ->> 'ref', 'refs/heads/', '') as branch
    from parsed
    where kind in ('push', 'tag_push')
),

others as (
    select
        event_key, event_id, kind, received_at, validation_errors, repository,
        case when kind in ('note', 'wiki_page', 'feature_flag', 'emoji', 'member', 'subgroup', 'project',
                           'access_token', 'vulnerability', 'repository_update', 'system_hook')
             then 'ignored' end as stage,
        received_at as occurred_at
    from parsed
    where kind not in ('merge_request', 'pipeline', 'build', 'job', 'deployment', 'issue', 'work_item', 'release',
                       'push', 'tag_push')
       or kind is null
),

unioned as (
    select * from merge_requests
    union all by name select * from pipelines
    union all by name select * from job_rows
    union all by name select * from deployments
    union all by name select * from issue_rows
    union all by name select * from releases
    union all by name select * from refs
    union all by name select * from others
)

select
    event_key,
    event_id,
    'gitlab' as source_tool,
    'gitlab:' || coalesce(kind, '?') || coalesce('.' || action, '') as raw_type,
    stage,
    coalesce(occurred_at, received_at) as occurred_at,
    received_at,
    case when stage in ('deployed', 'change_merged', 'release_published') then coalesce(outcome, 'success') else outcome end
        as outcome,
    repository,
    commit_sha,
    change_id,
    pipeline_run_id,
    case when stage in ('deploy_started', 'deployed', 'deploy_failed') and commit_sha is not null and repository is not null
         then 'pkg:gitlab/' || repository || '@' || commit_sha end as artifact_id,
    null::varchar as digest,
    case when stage in ('deploy_started', 'deployed', 'deploy_failed') then commit_sha else version end as version,
    service,
    null::varchar as team,
    null::varchar as app,
    environment,
    environment_tier,
    null::varchar as cluster,
    incident_id,
    severity,
    null::varchar as chain_id,
    null::json as links,
    subject_id,
    validation_errors,
    kind as gitlab_event,
    action,
    branch,
    job_name,
    queued_at,
    started_at,
    finished_at
from unioned
