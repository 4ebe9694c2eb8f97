-- marts.changes: one row per commit (change) with the first successful production deployment that
-- delivered it and its lead time (null while not in production).
-- lead_time_s = deployed_at − committed_at, where committed_at is the commit's own timestamp (git's epoch
-- seconds, else the push payload's, converted to UTC); when no commit time is known the basis is the
-- artifact's packaging time (`lead_time_basis` says which). Non-positive lead times (clock skew) are
-- kept here and excluded from percentiles in marts.dora_metrics.
-- indexes: deployed_artifact_id
with commits as (
    select * from intermediate.commits
),

deliveries as (
    select * from intermediate.change_deliveries
),

deployments as (
    select deployment_id, service, app, team, environment, cluster, artifact_id
    from intermediate.deployments
),

artifact_only as (
    -- commits known only because an artifact names them (no push or git history loaded)
    select distinct a.repository, a.commit_sha, a.packaged_at
    from intermediate.artifacts a
    where a.commit_sha is not null
      and not exists (select 1 from commits c where c.commit_sha = a.commit_sha)
),

all_commits as (
    select repository, commit_sha, committed_at, null::timestamptz as packaged_at, time_source from commits
    union all
    select repository, commit_sha, null, packaged_at, 'artifact' from artifact_only
)

select
    c.commit_sha,
    coalesce(c.repository, v.repository) as repository,
    coalesce(d.service, s.service) as service,
    coalesce(d.team, s.team) as team,
    coalesce(d.app, s.app) as app,
    c.committed_at,
    v.deployment_id,
    v.deployed_at,
    d.environment as deployed_environment,
    d.artifact_id as deployed_artifact_id,
    epoch(v.deployed_at) - epoch(coalesce(c.committed_at, c.packaged_at)) as lead_time_s,
    case
        when v.deployment_id is null then null
        when c.committed_at is not null then 'commit_time'
        else 'packaged_time'
    end as lead_time_basis,
    c.time_source
from all_commits c
left join deliveries v on v.commit_sha = c.commit_sha and v.repository is not distinct from c.repository
left join deployments d on d.deployment_id = v.deployment_id
left join intermediate.service_catalogue s on s.repository = coalesce(c.repository, v.repository)
-- written in time order: the dashboard's date filters then skip whole row groups (DuckDB's min/max zonemaps)
order by v.deployed_at nulls last, c.committed_at, c.commit_sha
