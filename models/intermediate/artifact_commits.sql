-- intermediate.artifact_commits: one row per artifact whose commit (intermediate.artifacts) has a known
-- time: that commit's earliest time (intermediate.commits) and the tool it came from (a push, else the git
-- history or the SCM's event) — the first milestone of the artifact's journey (intermediate.stage_events).
-- A model of its own so that the journey models, kept by artifact, read commits keyed by artifact.
select
    a.artifact_id,
    a.commit_sha,
    regexp_replace(c.time_source, '_push$', '') as tool,
    c.committed_at
from intermediate.artifacts a
join intermediate.commits c
    on c.commit_sha = a.commit_sha and (a.repository is null or c.repository = a.repository)
where c.committed_at is not null
qualify row_number() over (partition by a.artifact_id order by c.committed_at) = 1
