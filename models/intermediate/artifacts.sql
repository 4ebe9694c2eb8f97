-- intermediate.artifacts: one row per artifact (normalised purl) with the commit it was built from and
-- how that link was made, strongest first: the CDEvents artifact.packaged `change.id`, the build that
-- produced it (build.finished metadata), any event of its chain (chainId), a git tag equal to its
-- version; for webhook sources that name no build, the commit the registry records for the image
-- (GitHub packages' org.opencontainers.image.revision label) and last the revision its first deployment
-- synced (Argo CD, Flux, a GitHub/GitLab deployment of a sha). `commit_link` records which; null when no
-- link exists.
-- The facts per artifact come from intermediate.artifact_facts (kept by partition).
with tags as (
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
        t.commit_sha as tag_commit
    from intermediate.artifact_facts f
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
