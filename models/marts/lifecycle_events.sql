-- marts.lifecycle_events: one row per canonical event, deduplicated (raw.events holds each event key
-- once). The union of every staging model, with the environment tier resolved.
with cdevents as (
    select * from staging.cdevents
),

cloudevents as (
    select * from staging.cloudevents
),

webhooks as (
    select * from staging.webhooks
),

github_commits as (
    select * exclude (parent_sha, branch, is_distinct, forced, author, subject, position)
    from staging.github_push_commits
),

git_history as (
    select * exclude (record_kind, parent_shas, authored_at, tag, author, subject)
    from staging.git_history
),

unioned as (
    select * from cdevents
    union all by name
    select * from cloudevents
    union all by name
    select * from webhooks
    union all by name
    select * from github_commits
    union all by name
    select * from git_history
)

select
    event_key,
    event_id,
    source_tool,
    raw_type,
    stage,
    occurred_at,
    received_at,
    outcome,
    repository,
    commit_sha,
    change_id,
    pipeline_run_id,
    artifact_id,
    digest,
    version,
    service,
    team,
    app,
    environment,
    default_environment_tier(environment) as environment_tier,
    cluster,
    incident_id,
    severity,
    chain_id,
    links,
    subject_id,
    validation_errors
from unioned
