-- intermediate.canonical_events: the union of every staging model, one row per canonical event.
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

gitlab_commits as (
    select * exclude (parent_sha, branch, is_distinct, forced, author, subject, position, push_key)
    from staging.gitlab_push_commits
),

gitlab_tags as (
    select * exclude (record_kind, tag, author)
    from staging.gitlab_tags
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
    select * from gitlab_commits
    union all by name
    select * from gitlab_tags
    union all by name
    select * from git_history
)

select
    *,
    default_environment_tier(environment) as environment_tier
from unioned
