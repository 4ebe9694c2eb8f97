-- intermediate.artifact_supersessions: for each artifact of a service, the first newer artifact of the same service
-- (built later: packaged, else first seen) to arrive — a first arrival, not a rollback — in an environment as far
-- as or further than this one's furthest, after this one got there (never deployed: after it was packaged, else
-- published, else first seen). One row per artifact so superseded; intermediate.artifact_outcomes says what that
-- makes it (superseded, never_deployed).
-- An artifact's row reads only its service's artifacts and arrivals and its own arrivals: a build recomputes the
-- services whose artifacts or arrivals changed (pipelines/partitions.py; a service's arrivals of another
-- service's artifact link the two through the artifact).
-- incremental: partition (service, artifact_id)
with artifacts as (
    select
        artifact_id,
        service,
        coalesce(packaged_at, first_seen_at) as built_at,
        coalesce(packaged_at, published_at, first_seen_at) as ready_at
    from intermediate.artifacts
),

furthest as (
    select distinct artifact_id, furthest_step_order, furthest_at
    from intermediate.artifact_arrivals
),

newer_arrivals as (
    -- first arrivals (not rollbacks) of the service's artifacts, with when each was built
    select r.service, r.artifact_id, r.step_order, r.deployed_at, a.built_at
    from intermediate.artifact_arrivals r
    join artifacts a using (artifact_id)
    where not r.is_rollback
)

select
    a.artifact_id,
    a.service,
    arg_min(n.artifact_id, n.deployed_at) as superseded_by_artifact_id,
    min(n.deployed_at) as superseded_at
from artifacts a
left join furthest f using (artifact_id)
join newer_arrivals n
    on n.service = a.service
    and n.artifact_id <> a.artifact_id
    and n.built_at > a.built_at
    and n.step_order >= coalesce(f.furthest_step_order, 0)
    and n.deployed_at > coalesce(f.furthest_at, a.ready_at)
group by a.artifact_id, a.service
