-- intermediate.artifacts: one row per artifact (normalised purl) with the commit it was built from and
-- how that link was made, strongest first: the CDEvents artifact.packaged `change.id`, the build that
-- produced it (build.finished metadata), any event of its chain (chainId), a git tag equal to its
-- version; for webhook sources that name no build, the commit the registry records for the image
-- (GitHub packages' org.opencontainers.image.revision label) and last the revision its first deployment
-- synced (Argo CD, Flux, a GitHub/GitLab deployment of a sha). `commit_link` records which; null when no
-- link exists.
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
),

tags as (
    -- each tag under the versions it names (`v1.2.0` names `v1.2.0` and `1.2.0`): an equi-join on `version`
    -- instead of `tag in (version, 'v' || version)`, which DuckDB can only run as a nested loop
    select repository, tag, commit_sha, unnest(
        case when tag like 'v%' then [tag, substr(tag, 2)] else [tag] end
    ) as version
    from staging.git_history
    where record_kind = 'tag'
),

linked as (
    select
        f.*,
        c.commit_sha as chain_commit,
        c.build_queued_at,
        c.build_started_at,
        t.commit_sha as tag_commit
    from facts f
    left join chains c on c.chain_id = f.chain_id
    left join tags t
        on t.version = f.version and (f.repository is null or t.repository = f.repository)
    qualify row_number() over (partition by f.artifact_id order by t.tag) = 1
)

select
    l.artifact_id,
    coalesce(l.service, s.service) as service,
    coalesce(l.team, s.team) as team,
    coalesce(l.app, s.app) as app,
    l.version,
    l.digest,
    coalesce(l.repository, s.repository) as repository,
    coalesce(l.packaged_commit, l.build_commit, l.published_commit, l.chain_commit, l.tag_commit, l.deployed_commit)
        as commit_sha,
    case
        when l.packaged_commit is not null then 'artifact_packaged'
        when l.build_commit is not null then 'build'
        when l.published_commit is not null then 'artifact_published'
        when l.chain_commit is not null then 'chain_id'
        when l.tag_commit is not null then 'version_tag'
        when l.deployed_commit is not null then 'deployment'
    end as commit_link,
    l.chain_id,
    l.build_queued_at,
    l.build_started_at,
    l.build_finished_at,
    l.packaged_at,
    l.published_at,
    l.first_seen_at
from linked l
left join intermediate.service_catalogue s on s.service = l.service
