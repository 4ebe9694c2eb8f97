-- intermediate.pushed_commits: one row per commit listed by a GitHub or GitLab push, with the parent the
-- push's order implies (staging.github_push_commits, staging.gitlab_push_commits). Kept by load: parsing
-- the pushes' payloads is most of the cost of intermediate.commits, and a push never changes once loaded.
-- incremental: event_key
select event_key, repository, commit_sha, parent_sha, occurred_at, received_at, source_tool
from staging.github_push_commits
union all
select event_key, repository, commit_sha, parent_sha, occurred_at, received_at, source_tool
from staging.gitlab_push_commits
