-- marts.artifact_journeys: one row per artifact with the time it reached each stage of its journey from
-- commit to production: first commit it delivered (else its own commit), build queued/started/finished,
-- packaged, published, first successful arrival in each environment tier, first production arrival,
-- when it was rolled back (replaced by a rollback deployment), and the incidents attributed to it.
-- A progressive rollout to production shows its bake time: canary_started_at (when the canary of its first
-- production deployment started) and canary_bake_s (from there to the promotion, first_production_at).
-- furthest_stage is the last of: built, published, development, testing, staging, production (by tier).
-- Flow (intermediate.artifact_outcomes): furthest_step (built, published, scanned, each environment by
-- name, production), outcome (production | rejected | never_deployed | superseded | in_flight) with who
-- superseded it or where it was rejected, the stage it is in, for how long, that stage's p90 and is_stuck.
-- indexes: artifact_id
with artifacts as (
    select * from intermediate.artifacts
),

deployments as (
    select * from marts.deployments where outcome = 'success'
),

arrivals as (
    select
        artifact_id,
        min(deployed_at) filter (where environment_tier = 'development') as first_development_at,
        min(deployed_at) filter (where environment_tier = 'testing') as first_testing_at,
        min(deployed_at) filter (where environment_tier = 'staging') as first_staging_at,
        min(deployed_at) filter (where environment_tier = 'production') as first_production_at,
        arg_min(canary_started_at, deployed_at) filter (where environment_tier = 'production') as canary_started_at,
        count(*) filter (where environment_tier = 'production') as production_deployments,
        list(distinct environment order by environment) as environments_reached
    from deployments
    group by artifact_id
),

rolled_back as (
    -- the artifact was running and a rollback replaced it
    select previous_artifact_id as artifact_id, min(deployed_at) as rolled_back_at
    from deployments
    where is_rollback and previous_artifact_id is not null
    group by previous_artifact_id
),

delivered as (
    select d.artifact_id, min(c.committed_at) as first_commit_at, count(*) as changes
    from intermediate.change_deliveries v
    join marts.deployments d using (deployment_id)
    join intermediate.commits c on c.commit_sha = v.commit_sha and c.repository is not distinct from v.repository
    group by d.artifact_id
),

incidents as (
    select d.artifact_id, count(*) as incidents, min(i.opened_at) as first_incident_at
    from marts.incidents i
    join marts.deployments d using (deployment_id)
    group by d.artifact_id
)

select
    a.artifact_id,
    a.service,
    a.team,
    a.app,
    a.version,
    a.digest,
    a.repository,
    a.commit_sha,
    a.commit_link,
    coalesce(dl.first_commit_at, own.committed_at) as first_commit_at,
    coalesce(dl.changes, 0) as changes_delivered,
    a.build_queued_at,
    a.build_started_at,
    a.build_finished_at,
    a.packaged_at,
    a.published_at,
    o.scanned_at,
    ar.first_development_at,
    ar.first_testing_at,
    ar.first_staging_at,
    ar.first_production_at,
    ar.canary_started_at,
    epoch(ar.first_production_at) - epoch(ar.canary_started_at) as canary_bake_s,
    coalesce(ar.production_deployments, 0) as production_deployments,
    coalesce(ar.environments_reached, []::varchar[]) as environments_reached,
    rb.rolled_back_at,
    coalesce(i.incidents, 0) as incidents,
    i.first_incident_at,
    case
        when ar.first_production_at is not null then 'production'
        when ar.first_staging_at is not null then 'staging'
        when ar.first_testing_at is not null then 'testing'
        when ar.first_development_at is not null then 'development'
        when a.published_at is not null then 'published'
        when a.packaged_at is not null or a.build_finished_at is not null then 'built'
        else 'seen'
    end as furthest_stage,
    ar.first_production_at is not null as reached_production,
    o.furthest_step,
    o.furthest_step_order,
    o.furthest_environment,
    o.outcome,
    o.rejected_stage,
    o.rejected_environment,
    o.rejected_at,
    o.superseded_by_artifact_id,
    o.superseded_at,
    o.current_stage,
    o.current_environment,
    o.in_stage_since,
    o.time_in_stage_s,
    o.stage_p90_s,
    o.stage_p90_basis,
    o.is_stuck,
    o.as_of
from artifacts a
left join arrivals ar using (artifact_id)
left join rolled_back rb using (artifact_id)
left join delivered dl using (artifact_id)
left join incidents i using (artifact_id)
left join intermediate.artifact_outcomes o using (artifact_id)
left join intermediate.commits own on own.commit_sha = a.commit_sha and own.repository is not distinct from a.repository
