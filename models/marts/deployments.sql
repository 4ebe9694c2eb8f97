-- marts.deployments: one row per deployment to one environment/cluster. An artifact rolled out to two
-- production clusters is two deployments (deployment frequency counts each); failed attempts are kept
-- with outcome = 'failure' and are not deployments for the rates.
-- For successful production deployments:
--   is_rework: a rollback, or the hotfix of an incident (see intermediate.incidents);
--   caused_failure: an incident is attributed to it, or a post-deployment verification of it failed
--     (intermediate.verifications: a Keptn evaluation, an Argo Rollouts analysis), or — not itself a
--     rollback — the next successful deployment of the service in the same cluster is a rollback or a hotfix;
--   failure_started_at / recovered_at: with attributed incidents, from the earliest one's start to the
--     earlier of its resolution and the first rework deployment in the cluster after that start; without,
--     from the deployment to the next deployment in the cluster. Null when not a failure or not recovered.
-- For failed attempts, recovered_at is the next successful deployment in the same cluster — except an
-- aborted production canary (is_canary): it served part of production's traffic, so it is a failed change
-- (caused_failure, counted with the deployments in marts.dora_metrics) from its canary start until the abort
-- put all traffic back on the stable version (recovered_at = its deployed_at).
-- Every rule works within a service × environment × cluster, and incidents and verifications reach a deployment
-- by its id (an incident may name another service's artifact): a build recomputes the services whose
-- deployments changed or whose deployments an incident or verification that changed names (pipelines/partitions.py).
-- incremental: partition (service, deployment_id) with null key
-- indexes: artifact_id
with deployments as (
    select * from intermediate.deployments
),

incidents as (
    select * from intermediate.incidents
),

hotfix_ids as (
    select distinct hotfix_deployment_id as deployment_id from incidents where hotfix_deployment_id is not null
),

flagged as (
    select
        d.*,
        h.deployment_id is not null and d.is_production and d.outcome = 'success' as is_hotfix
    from deployments d
    left join hotfix_ids h using (deployment_id)
),

sequenced as (
    -- the next successful deployment in the same service/environment/cluster
    select
        *,
        lead(deployment_id) over next_in_cluster as next_deployment_id,
        lead(deployed_at) over next_in_cluster as next_deployed_at,
        lead(is_rollback or is_hotfix) over next_in_cluster as next_is_rework
    from flagged
    where outcome = 'success'
    window next_in_cluster as (partition by service, environment, cluster order by deployed_at, deployment_id)
),

verified as (
    -- failed post-deployment verifications of each deployment
    select deployment_id, count(*) as failed_verifications
    from intermediate.verifications
    where deployment_id is not null and outcome = 'failure'
    group by deployment_id
),

attributed as (
    select
        i.deployment_id,
        arg_min(i.opened_at, i.opened_at) as first_incident_at,
        arg_min(i.resolved_at, i.opened_at) as first_incident_resolved_at,
        count(*) as incidents
    from incidents i
    where i.deployment_id is not null
    group by i.deployment_id
),

rework_after as (
    -- the first rework deployment in the cluster after the first attributed incident started
    select a.deployment_id, min(r.deployed_at) as rework_at
    from attributed a
    join sequenced d on d.deployment_id = a.deployment_id
    join sequenced r
        on r.service = d.service and r.environment = d.environment and r.cluster = d.cluster
        and (r.is_rollback or r.is_hotfix) and r.deployed_at > a.first_incident_at
    group by a.deployment_id
),

successes as (
    select
        s.*,
        coalesce(a.incidents, 0) as attributed_incidents,
        coalesce(v.failed_verifications, 0) as failed_verifications,
        s.is_production and (a.incidents is not null or v.failed_verifications is not null
                             or (not s.is_rollback and coalesce(s.next_is_rework, false))) as caused_failure,
        case when a.incidents is not null then a.first_incident_at else s.deployed_at end as failure_start,
        case
            when a.incidents is not null then least(a.first_incident_resolved_at, r.rework_at)
            else s.next_deployed_at
        end as failure_end
    from sequenced s
    left join attributed a using (deployment_id)
    left join rework_after r using (deployment_id)
    left join verified v using (deployment_id)
),

failed_attempts as (
    select
        f.*,
        (select min(s.deployed_at) from flagged s
         where s.outcome = 'success' and s.service = f.service and s.environment = f.environment
           and s.cluster = f.cluster and s.deployed_at > f.deployed_at) as next_success_at
    from flagged f
    where f.outcome = 'failure'
)

select
    deployment_id, service, app, team, environment, cluster, environment_tier, is_production,
    artifact_id, version, commit_sha, commit_link, repository, deployed_at, outcome,
    is_rollback, is_redeploy, is_hotfix,
    is_production and (is_rollback or is_hotfix) as is_rework,
    caused_failure,
    attributed_incidents,
    case when caused_failure then failure_start end as failure_started_at,
    case when caused_failure then failure_end end as recovered_at,
    case when caused_failure then epoch(failure_end) - epoch(failure_start) end as recovery_time_s,
    previous_artifact_id, source_tool, chain_id, failed_verifications, is_canary, canary_started_at
from successes
union all by name
select
    deployment_id, service, app, team, environment, cluster, environment_tier, is_production,
    artifact_id, version, commit_sha, commit_link, repository, deployed_at, outcome,
    false as is_rollback, false as is_redeploy, false as is_hotfix, false as is_rework,
    coalesce(is_production and is_canary, false) as caused_failure,
    0 as attributed_incidents,
    case when is_production and is_canary then coalesce(canary_started_at, deployed_at) else deployed_at end
        as failure_started_at,
    case when is_production and is_canary then deployed_at else next_success_at end as recovered_at,
    case when is_production and is_canary then epoch(deployed_at) - epoch(coalesce(canary_started_at, deployed_at))
         else epoch(next_success_at) - epoch(deployed_at) end as recovery_time_s,
    previous_artifact_id, source_tool, chain_id, 0 as failed_verifications, is_canary, canary_started_at
from failed_attempts
-- written in time order: the dashboard's date filters then skip whole row groups (DuckDB's min/max zonemaps)
order by deployed_at, deployment_id
