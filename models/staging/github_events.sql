-- staging.github_events: every GitHub webhook except the pushes that list commits to a branch (those are
-- staging.github_push_commits, one row per commit), one row per event, mapped onto the canonical stages
-- (docs/sources.md has the full table). The event name is the `X-GitHub-Event` header, or for a bare
-- body loaded with --source github the name its shape gives (pipelines/sql/classify.sql).
--   pull_request          opened/reopened → change_opened; closed+merged → change_merged (commit = the
--                         merge commit); closed unmerged → change_abandoned; synchronize/edited/
--                         ready_for_review/converted_to_draft → change_updated
--   pull_request_review   submitted → change_reviewed
--   workflow_run          requested / in_progress / completed → build_queued / build_started /
--                         build_finished (test_* when the workflow's name says it runs tests); commit =
--                         head_sha, pipeline_run_id = the run id; outcome from the conclusion
--   workflow_job          queued|waiting / in_progress / completed → task_queued / task_started /
--                         task_finished, or test_* for a test job; queued/started/finished times kept
--   check_suite           completed → test_finished (all checks of the commit)
--   deployment            created → deploy_started
--   deployment_status     success → deployed; failure / error → deploy_failed
--   release               published → release_published (version = tag)
--   registry_package, package   published → artifact_published (purl with the digest; commit from
--                         the image's org.opencontainers.image.revision label, else target_oid)
--   issues                labelled as an incident: opened / reopened / labeled → incident_opened,
--                         closed → incident_resolved
--   create, delete, push without listed commits → branch_created, branch_deleted, tag_deleted,
--                         tag_created (tag push, commit = head_commit)
-- A deployment names what it deploys in its `payload` (`artifact_id`, `image`, `digest`) when the workflow
-- puts it there; else it deploys the repository's source at `sha` (pkg:github/<owner>/<repo>@<sha>).
-- Known events with no lifecycle meaning (ping, star, check_run, labels, comments, …) get stage
-- `ignored`; a name not listed in docs/sources.md keeps stage null (counted as unknown).
with candidates as (
    select
        event_key, event_id, event_type, received_at, validation_errors, payload,
        -- a push's ref and first commit, in one parse (pushes are the bulk of GitHub's events)
        case when event_type = 'push' then json_extract_string(payload, ['$.ref', '$.commits[0].id']) end as push
    from raw.events
    where source_tool = 'github' and event_format = 'webhook'
),

source as (
    select event_key, event_id, coalesce(event_type, '?') as kind, received_at, validation_errors, payload as body
    from candidates
    where not coalesce(push[1] like 'refs/heads/%' and push[2] is not null, false)
),

parsed as (
    select
        *,
        body ->> '$.action' as action,
        normalise_repository(body -> 'repository' ->> 'full_name') as repository,
        body -> 'repository' ->> 'name' as repo_name
    from source
),

pull_requests as (
    select
        *,
        coalesce(try_cast(body -> 'pull_request' ->> 'merged' as boolean), false) as merged,
        case
            when kind = 'pull_request_review' then
                case when action = 'submitted' then 'change_reviewed' else 'ignored' end
            when action in ('opened', 'reopened') then 'change_opened'
            when action = 'closed' and coalesce(try_cast(body -> 'pull_request' ->> 'merged' as boolean), false)
                then 'change_merged'
            when action = 'closed' then 'change_abandoned'
            when action in ('synchronize', 'edited', 'ready_for_review', 'converted_to_draft') then 'change_updated'
            else 'ignored'
        end as stage
    from parsed
    where kind in ('pull_request', 'pull_request_review')
),

pull_request_rows as (
    select
        event_key, event_id, kind, action, received_at, validation_errors,
        stage,
        parse_timestamp(case
            when kind = 'pull_request_review' then body -> 'review' ->> 'submitted_at'
            when action = 'opened' then body -> 'pull_request' ->> 'created_at'
            when stage = 'change_merged' then body -> 'pull_request' ->> 'merged_at'
            when stage = 'change_abandoned' then body -> 'pull_request' ->> 'closed_at'
            else body -> 'pull_request' ->> 'updated_at'
        end) as occurred_at,
        case when stage = 'change_merged' then 'success' end as outcome,
        coalesce(normalise_repository(body -> 'pull_request' -> 'base' -> 'repo' ->> 'full_name'), repository) as repository,
        case when stage = 'change_merged' then as_commit_sha(body -> 'pull_request' ->> 'merge_commit_sha')
             else as_commit_sha(body -> 'pull_request' -> 'head' ->> 'sha') end as commit_sha,
        coalesce(normalise_repository(body -> 'pull_request' -> 'base' -> 'repo' ->> 'full_name'), repository)
            || '#' || coalesce(body ->> '$.number', body -> 'pull_request' ->> 'number') as change_id,
        body -> 'pull_request' -> 'base' ->> 'ref' as branch
    from pull_requests
),

runs as (
    -- a workflow run is the CI pipeline run of a commit
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case
            when action = 'requested' then 'queued' when action = 'in_progress' then 'started'
            when action = 'completed' then 'finished'
        end as phase,
        is_test_job(coalesce(nullif(body -> 'workflow_run' ->> 'name', ''), body -> 'workflow' ->> 'name',
                             body -> 'workflow_run' ->> 'path')) as is_test,
        parse_timestamp(body -> 'workflow_run' ->> 'created_at') as queued_at,
        parse_timestamp(body -> 'workflow_run' ->> 'run_started_at') as started_at,
        case when action = 'completed' then parse_timestamp(body -> 'workflow_run' ->> 'updated_at') end as finished_at,
        github_outcome(body -> 'workflow_run' ->> 'conclusion') as conclusion,
        as_commit_sha(body -> 'workflow_run' ->> 'head_sha') as commit_sha,
        body -> 'workflow_run' ->> 'id' as pipeline_run_id,
        body -> 'workflow_run' ->> 'head_branch' as branch,
        coalesce(nullif(body -> 'workflow_run' ->> 'name', ''), body -> 'workflow' ->> 'name') as job_name
    from parsed
    where kind = 'workflow_run'
),

jobs as (
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case
            when action in ('queued', 'waiting') then 'queued' when action = 'in_progress' then 'started'
            when action = 'completed' then 'finished'
        end as phase,
        is_test_job(body -> 'workflow_job' ->> 'name') or is_test_job(body -> 'workflow_job' ->> 'workflow_name') as is_test,
        parse_timestamp(body -> 'workflow_job' ->> 'created_at') as queued_at,
        parse_timestamp(body -> 'workflow_job' ->> 'started_at') as started_at,
        parse_timestamp(body -> 'workflow_job' ->> 'completed_at') as finished_at,
        github_outcome(body -> 'workflow_job' ->> 'conclusion') as conclusion,
        as_commit_sha(body -> 'workflow_job' ->> 'head_sha') as commit_sha,
        body -> 'workflow_job' ->> 'run_id' as pipeline_run_id,
        body -> 'workflow_job' ->> 'head_branch' as branch,
        body -> 'workflow_job' ->> 'name' as job_name
    from parsed
    where kind = 'workflow_job'
),

ci_rows as (
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository, commit_sha, pipeline_run_id,
        branch, job_name, queued_at, started_at, finished_at,
        case
            when phase is null then 'ignored'
            when kind = 'workflow_run' and not is_test then 'build_' || phase
            when kind = 'workflow_job' and not is_test then 'task_' || phase
            else 'test_' || phase
        end as stage,
        case phase when 'queued' then queued_at when 'started' then coalesce(started_at, queued_at)
                   else coalesce(finished_at, started_at) end as occurred_at,
        case when phase = 'finished' then conclusion end as outcome
    from (select * from runs union all by name select * from jobs)
),

check_suites as (
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case when kind = 'check_suite' and action = 'completed' then 'test_finished' else 'ignored' end as stage,
        parse_timestamp(coalesce(body -> 'check_suite' ->> 'updated_at', body -> 'check_run' ->> 'completed_at',
                                 body -> 'check_run' ->> 'started_at')) as occurred_at,
        case when kind = 'check_suite' and action = 'completed' then github_outcome(body -> 'check_suite' ->> 'conclusion') end
            as outcome,
        as_commit_sha(coalesce(body -> 'check_suite' ->> 'head_sha', body -> 'check_run' ->> 'head_sha')) as commit_sha,
        coalesce(body -> 'check_suite' ->> 'head_branch', body -> 'check_run' -> 'check_suite' ->> 'head_branch') as branch
    from parsed
    where kind in ('check_suite', 'check_run')
),

deployments as (
    select
        *,
        -- what the deployment names as its artifact in its free-form payload, if anything
        case when json_type(body, '$.deployment.payload') = 'OBJECT' then body -> 'deployment' -> 'payload' end as dp,
        as_commit_sha(body -> 'deployment' ->> 'sha') as sha
    from parsed
    where kind in ('deployment', 'deployment_status')
),

deployment_rows as (
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case
            when kind = 'deployment' then case when coalesce(action, 'created') = 'created' then 'deploy_started' else 'ignored' end
            else case lower(body -> 'deployment_status' ->> 'state')
                when 'success' then 'deployed'
                when 'failure' then 'deploy_failed'
                when 'error' then 'deploy_failed'
                else 'ignored'
            end
        end as stage,
        parse_timestamp(case when kind = 'deployment' then body -> 'deployment' ->> 'created_at'
                             else body -> 'deployment_status' ->> 'created_at' end) as occurred_at,
        case when kind = 'deployment_status' and lower(body -> 'deployment_status' ->> 'state') in ('success', 'failure', 'error')
             then normalise_outcome(body -> 'deployment_status' ->> 'state') end as outcome,
        sha as commit_sha,
        coalesce(
            normalise_purl(coalesce(dp ->> 'artifact_id', dp ->> 'artifactId', dp ->> 'purl')),
            normalise_purl(image_artifact_id(case when dp ->> 'digest' like 'sha256:%'
                then coalesce(dp ->> 'image', dp ->> 'service', repo_name) || '@' || (dp ->> 'digest') else dp ->> 'image' end)),
            source_artifact_id(repository, sha)
        ) as raw_artifact_id,
        coalesce(dp ->> 'version', image_tag(dp ->> 'image')) as version,
        coalesce(dp ->> 'service', repo_name) as service,
        dp ->> 'team' as team,
        coalesce(dp ->> 'app', dp ->> 'part-of') as app,
        coalesce(body -> 'deployment_status' ->> 'environment', body -> 'deployment' ->> 'environment') as environment,
        dp ->> 'cluster' as cluster,
        body -> 'deployment' ->> 'id' as subject_id,
        body -> 'deployment' ->> 'ref' as branch
    from deployments
),

releases as (
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case when action = 'published' then 'release_published' else 'ignored' end as stage,
        parse_timestamp(coalesce(body -> 'release' ->> 'published_at', body -> 'release' ->> 'created_at')) as occurred_at,
        case when action = 'published' then 'success' end as outcome,
        as_commit_sha(body -> 'release' ->> 'target_commitish') as commit_sha,
        body -> 'release' ->> 'tag_name' as version,
        body -> 'release' ->> 'id' as subject_id
    from parsed
    where kind = 'release'
),

packages as (
    select
        *,
        coalesce(body -> 'registry_package', body -> 'package') as p,
        coalesce(body -> 'registry_package' -> 'package_version', body -> 'package' -> 'package_version') as pv
    from parsed
    where kind in ('registry_package', 'package')
),

package_fields as (
    select
        *,
        -- a container image when its version is a digest or its package type says so (GitHub's examples mix
        -- `ecosystem` and `package_type` up)
        regexp_full_match(lower(coalesce(pv ->> 'version', '')), 'sha256:[0-9a-f]{64}')
            or lower(coalesce(p ->> 'package_type', p ->> 'ecosystem', '')) in ('container', 'docker') as is_container,
        nullif(pv -> 'container_metadata' -> 'tag' ->> 'name', '') as tag,
        case when regexp_full_match(lower(coalesce(pv ->> 'version', '')), 'sha256:[0-9a-f]{64}') then lower(pv ->> 'version') end
            as digest,
        pv -> 'container_metadata' -> 'labels' -> 'all_labels' as oci_labels
    from packages
),

package_rows as (
    select
        event_key, event_id, kind, action, received_at, validation_errors,
        case when action = 'published' then 'artifact_published' else 'ignored' end as stage,
        parse_timestamp(coalesce(nullif(pv ->> 'created_at', '0001-01-01T00:00:00Z'), p ->> 'updated_at')) as occurred_at,
        case when action = 'published' then 'success' end as outcome,
        coalesce(normalise_repository(oci_labels ->> '$."org.opencontainers.image.source"'), repository) as repository,
        coalesce(as_commit_sha(oci_labels ->> '$."org.opencontainers.image.revision"'), as_commit_sha(pv ->> 'target_oid'))
            as commit_sha,
        case
            when is_container then normalise_purl(oci_artifact_id(p ->> 'name', digest, coalesce(tag, pv ->> 'version')))
            when pv ->> 'version' is not null then normalise_purl('pkg:' || lower(coalesce(p ->> 'package_type', p ->> 'ecosystem'))
                || '/' || (p ->> 'name') || '@' || (pv ->> 'version'))
        end as raw_artifact_id,
        digest,
        coalesce(nullif(oci_labels ->> '$."org.opencontainers.image.version"', ''), tag,
                 case when digest is null and not is_container then pv ->> 'version' end) as version,
        pv ->> 'id' as subject_id
    from package_fields
),

issues as (
    select
        *,
        coalesce(list_transform(json_extract_string(body, '$.issue.labels[*].name'), lambda l: lower(l)), []::varchar[])
            as labels
    from parsed
    where kind = 'issues'
),

issue_fields as (
    select
        *,
        list_has_any(labels, incident_labels())
            or coalesce(list_contains(incident_labels(), lower(body -> 'label' ->> 'name')), false) as is_incident,
        list_filter(labels, lambda l: regexp_matches(l, '^(service|svc)[:/=]')) as service_labels,
        list_filter(labels, lambda l: regexp_matches(l, '^(env|environment)[:/=]')) as environment_labels,
        list_filter(labels, lambda l: regexp_matches(l, '^(severity|sev|priority)[:/= -]?.+$|^(sev|p)[0-9]$')) as severity_labels
    from issues
),

issue_rows as (
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case
            when not is_incident then 'ignored'
            when action in ('opened', 'reopened') then 'incident_opened'
            when action = 'labeled' and list_contains(incident_labels(), lower(body -> 'label' ->> 'name'))
                then 'incident_opened'
            when action = 'closed' then 'incident_resolved'
            else 'ignored'
        end as stage,
        parse_timestamp(case
            when action = 'closed' then body -> 'issue' ->> 'closed_at'
            when action = 'reopened' then body -> 'issue' ->> 'updated_at'
            else body -> 'issue' ->> 'created_at'
        end) as occurred_at,
        case when is_incident then repository || '#' || (body -> 'issue' ->> 'number') end as incident_id,
        case when is_incident then coalesce(regexp_replace(service_labels[1], '^(service|svc)[:/=]\s*', ''), repo_name) end
            as service,
        regexp_replace(environment_labels[1], '^(env|environment)[:/=]\s*', '') as environment,
        regexp_replace(severity_labels[1], '^(severity|sev|priority)[:/= -]?', '') as severity
    from issue_fields
),

refs as (
    -- create / delete events, and pushes that list no commits (tag pushes, branch deletions, new branches)
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case
            when kind = 'create' and body ->> '$.ref_type' = 'branch' then 'branch_created'
            when kind = 'delete' and body ->> '$.ref_type' = 'branch' then 'branch_deleted'
            when kind = 'delete' and body ->> '$.ref_type' = 'tag' then 'tag_deleted'
            -- a tag push names the commit (the create event for a tag does not): the push is the tag_created
            when kind = 'push' and body ->> '$.ref' like 'refs/tags/%'
                 and not coalesce(try_cast(body ->> '$.deleted' as boolean), false) then 'tag_created'
            else 'ignored'
        end as stage,
        case when kind = 'push' and body ->> '$.ref' like 'refs/tags/%'
                  and not coalesce(try_cast(body ->> '$.deleted' as boolean), false)
             then as_commit_sha(coalesce(body -> 'head_commit' ->> 'id', body ->> '$.after')) end as commit_sha,
        case
            when kind = 'push' and body ->> '$.ref' like 'refs/tags/%' then replace(body ->> '$.ref', 'refs/tags/', '')
            when body ->> '$.ref_type' = 'tag' then body ->> '$.ref'
        end as version,
        coalesce(parse_timestamp(body -> 'head_commit' ->> 'timestamp'), received_at) as occurred_at
    from parsed
    where kind in ('create', 'delete', 'push')
),

others as (
    select
        event_key, event_id, kind, action, received_at, validation_errors, repository,
        case when kind in (
            'ping', 'star', 'watch', 'fork', 'member', 'membership', 'public', 'gollum', 'label', 'milestone',
            'project', 'project_card', 'project_column', 'projects_v2', 'projects_v2_item', 'projects_v2_status_update',
            'discussion', 'discussion_comment', 'issue_comment', 'commit_comment', 'pull_request_review_comment',
            'pull_request_review_thread', 'repository', 'repository_dispatch', 'workflow_dispatch', 'organization',
            'team', 'team_add', 'installation', 'installation_repositories', 'installation_target',
            'github_app_authorization', 'meta', 'sponsorship', 'marketplace_purchase', 'security_advisory',
            'repository_advisory', 'repository_vulnerability_alert', 'dependabot_alert', 'code_scanning_alert',
            'secret_scanning_alert', 'secret_scanning_alert_location', 'secret_scanning_scan', 'branch_protection_rule',
            'branch_protection_configuration', 'repository_ruleset', 'deploy_key', 'page_build', 'status',
            'merge_group', 'custom_property', 'custom_property_values', 'personal_access_token_request',
            'security_and_analysis', 'deployment_protection_rule', 'deployment_review', 'org_block',
            'repository_import', 'sub_issues', 'issue_dependencies')
            then 'ignored' end as stage,
        received_at as occurred_at
    from parsed
    where kind not in ('pull_request', 'pull_request_review', 'workflow_run', 'workflow_job', 'check_suite', 'check_run',
                       'deployment', 'deployment_status', 'release', 'registry_package', 'package', 'issues',
                       'create', 'delete', 'push')
),

unioned as (
    select * from pull_request_rows
    union all by name select * from ci_rows
    union all by name select * from check_suites
    union all by name select * from deployment_rows
    union all by name select * from releases
    union all by name select * from package_rows
    union all by name select * from issue_rows
    union all by name select * from refs
    union all by name select * from others
)

select
    event_key,
    event_id,
    'github' as source_tool,
    'github:' || kind || coalesce('.' || action, '') as raw_type,
    stage,
    coalesce(occurred_at, received_at) as occurred_at,
    received_at,
    case when stage in ('deployed', 'artifact_published', 'release_published', 'change_merged') then coalesce(outcome, 'success')
         else outcome end as outcome,
    repository,
    commit_sha,
    change_id,
    pipeline_run_id,
    raw_artifact_id as artifact_id,
    coalesce(digest, purl_digest(raw_artifact_id)) as digest,
    coalesce(version, purl_version(raw_artifact_id)) as version,
    service,
    team,
    app,
    environment,
    cluster,
    incident_id,
    severity,
    null::varchar as chain_id,
    null::json as links,
    subject_id,
    validation_errors,
    kind as github_event,
    action,
    branch,
    job_name,
    queued_at,
    started_at,
    finished_at
from unioned
