-- intermediate.deployment_events: the deployment events that count (stages deployed, rolled_back,
-- deploy_failed, and a progressive rollout's canary_promoted / canary_aborted), without double counting what
-- Kubernetes observes. kubewatch and Kubernetes snapshots see the
-- rollouts a deploying tool (Argo CD, Flux, a CDEvents producer, GitHub / GitLab deployments…) applies, so the
-- sources rank: deploying tools, then kubewatch, then snapshots (`lifecycle ingest-kubernetes`). An event of a
-- lower rank is dropped when a higher-ranked source reported a successful deployment of the same artifact to the
-- same environment (and the same cluster, when both name one) — at any time: Kubernetes then only adds the
-- rollouts nobody else reported (kubectl, Helm by hand, a cluster without GitOps). The dropped events stay in
-- marts.lifecycle_events with their stage.
-- Likewise a GitOps sync (`deployed`) of an artifact that a progressive delivery controller (Argo Rollouts,
-- Flagger) then rolls out to the same environment (and cluster) is not a deployment of its own: the canary's
-- promotion or abort is.
-- Both rules compare events of the same artifact (an event without one is only ever kept): a build recomputes
-- the artifacts with changed events (pipelines/partitions.py).
-- incremental: partition (artifact_id)
with events as (
    select
        *,
        case source_tool when 'kubewatch' then 1 when 'kubernetes' then 2 else 0 end as report_rank
    from intermediate.canonical_events
    where stage in ('deployed', 'rolled_back', 'deploy_failed', 'canary_promoted', 'canary_aborted')
)

select e.* exclude (report_rank)
from events e
where (e.report_rank = 0 or not exists (
    select 1
    from events r
    where r.report_rank < e.report_rank
      and r.stage in ('deployed', 'rolled_back', 'canary_promoted')
      and r.artifact_id = e.artifact_id
      and r.environment = e.environment
      and (r.cluster is null or e.cluster is null or r.cluster = e.cluster)
))
and not (e.stage = 'deployed' and exists (
    select 1
    from intermediate.canonical_events c
    where c.stage = 'canary_started'
      and c.artifact_id = e.artifact_id
      and c.environment = e.environment
      and (c.cluster is null or e.cluster is null or c.cluster = e.cluster)
))
