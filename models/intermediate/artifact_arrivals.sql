-- intermediate.artifact_arrivals: each artifact's first arrival in each environment — its first successful
-- deployment there (by time, then deployment id) — with the environment's funnel step and tier rank
-- (intermediate.environment_steps: development 1, unknown 2, testing 3, staging 4, production 5), and on every
-- row the artifact's furthest step (`furthest_step_order`) and when it first got there (`furthest_at`).
-- Apart so intermediate.artifact_outcomes and intermediate.artifact_supersessions read one definition.
-- An artifact's rows read only its own deployments: a build recomputes the artifacts deployed since
-- (pipelines/partitions.py).
-- incremental: partition (artifact_id)
with deployments as (
    select * from intermediate.deployments
    where outcome = 'success' and artifact_id is not null
),

arrivals as (
    select d.*, s.tier_rank, s.step_order, max(s.step_order) over (partition by d.artifact_id) as furthest_step_order
    from deployments d
    join intermediate.environment_steps s using (environment)
    qualify row_number() over (partition by d.artifact_id, d.environment order by d.deployed_at, d.deployment_id) = 1
)

select
    *,
    min(deployed_at) filter (where step_order = furthest_step_order) over (partition by artifact_id) as furthest_at
from arrivals
