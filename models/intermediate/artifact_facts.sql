-- intermediate.artifact_facts: what an artifact's own events and its CI chain's say about it, one row per
-- artifact: the commits each kind of event names, its chain's commit and build times, its first milestones.
-- intermediate.artifacts picks its commit from these. A table of its own because it is the heavy part (every
-- canonical event that names an artifact or a chain, grouped) and can be kept by partition: an artifact's row
-- reads only its own events and its chain's (pipelines/partitions.py). The git tags and the service catalogue,
-- which change with most loads (as context they would rebuild every artifact), are joined in artifacts.
-- incremental: partition (artifact_id, chain_id)
with events as (
    -- only the columns used: the CTE is materialised, and canonical events are wide
    select artifact_id, service, team, app, version, digest, repository, commit_sha, chain_id, stage, occurred_at
    from intermediate.canonical_events
    where artifact_id is not null
),

chains as (
    select
        chain_id,
        any_value(commit_sha) filter (where commit_sha is not null) as commit_sha,
        min(occurred_at) filter (where stage in ('pipeline_queued', 'build_queued')) as build_queued_at,
        min(occurred_at) filter (where stage in ('pipeline_started', 'build_started')) as build_started_at
    from intermediate.canonical_events
    where chain_id is not null
    group by chain_id
),

facts as (
    select
        artifact_id,
        mode(service) as service,
        mode(team) as team,
        mode(app) as app,
        mode(version) as version,
        any_value(digest) filter (where digest is not null) as digest,
        mode(repository) as repository,
        any_value(commit_sha) filter (where stage = 'artifact_packaged' and commit_sha is not null) as packaged_commit,
        any_value(commit_sha) filter (where stage = 'build_finished' and commit_sha is not null) as build_commit,
        any_value(commit_sha) filter (where stage = 'artifact_published' and commit_sha is not null) as published_commit,
        arg_min(commit_sha, occurred_at) filter (where stage in ('deploy_started', 'deployed', 'rolled_back', 'deploy_failed')
            and commit_sha is not null) as deployed_commit,
        any_value(chain_id) filter (where stage in ('artifact_packaged', 'build_finished') and chain_id is not null)
            as chain_id,
        min(occurred_at) filter (where stage = 'build_finished') as build_finished_at,
        min(occurred_at) filter (where stage = 'artifact_packaged') as packaged_at,
        min(occurred_at) filter (where stage = 'artifact_published') as published_at,
        min(occurred_at) as first_seen_at
    from events
    group by artifact_id
)

select
    f.*,
    c.commit_sha as chain_commit,
    c.build_queued_at,
    c.build_started_at
from facts f
left join chains c on c.chain_id = f.chain_id
