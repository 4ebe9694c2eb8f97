-- intermediate.commits: one row per (repository, commit sha) with when it was made and its parents.
-- Git history wins (true parents, epoch seconds); else GitHub and GitLab push payloads (first parent
-- inferred from the order of the push; a commit listed by several pushes keeps every inferred parent,
-- which only ever adds commits the deployment contains anyway). `time_source` says which: git,
-- github_push or gitlab_push (github_push when both list it).
with git as (
    select repository, commit_sha, any_value(parent_shas) as parent_shas, min(occurred_at) as committed_at
    from staging.git_history
    where record_kind = 'commit'
    group by repository, commit_sha
),

pushed as (
    select
        repository,
        commit_sha,
        coalesce(list(distinct parent_sha) filter (where parent_sha is not null), []::varchar[]) as parent_shas,
        min(occurred_at) as committed_at,
        min(received_at) as first_pushed_at,
        min(source_tool) || '_push' as push_source
    from intermediate.pushed_commits
    group by repository, commit_sha
)

select
    coalesce(g.repository, p.repository) as repository,
    coalesce(g.commit_sha, p.commit_sha) as commit_sha,
    coalesce(g.parent_shas, p.parent_shas) as parent_shas,
    coalesce(g.committed_at, p.committed_at) as committed_at,
    p.first_pushed_at,
    case when g.commit_sha is not null then 'git' else p.push_source end as time_source
from git g
full outer join pushed p on g.repository = p.repository and g.commit_sha = p.commit_sha
