-- staging.kubernetes_deployments: the Deployments of Kubernetes snapshots (`kubectl get deployments -A -o json`)
-- loaded by `lifecycle ingest-kubernetes` (records with X-Lifecycle-Source: kubernetes, body = {cluster, file,
-- deployed_at, object}), one row per Deployment state recorded. Stage deployed — unless its container images
-- equal those of the same Deployment's previous recorded state (a restart, a scale: ignored). The same state in a
-- later snapshot is the same delivery id, so a duplicate, not a row (pipelines/kubernetes.py).
-- Time = deployed_at as the importer derived it: the Progressing condition's lastUpdateTime (the last time the
-- rollout progressed or completed), else metadata.creationTimestamp. Cluster = the importer's (--cluster, else
-- lifecycle.toml [kubernetes]). Identity as for kubewatch (k8s_* macros): service, team (owner.team), app
-- (part-of), version, artifact = the service's image as a normalised purl, digest when pinned, environment.
-- When a GitOps tool or kubewatch reports the same artifact there, theirs counts (intermediate.deployment_events).
with source as (
    select event_key, event_id, received_at, validation_errors, payload as body
    from raw.events
    where source_tool = 'kubernetes' and event_format = 'webhook'
),

parsed as (
    select
        *,
        body -> 'object' as obj,
        body ->> 'cluster' as cluster,
        body ->> 'file' as snapshot_file,
        parse_timestamp(body ->> 'deployed_at') as deployed_at,
        coalesce(body ->> '$.object.kind', 'Deployment') as object_kind,
        body ->> '$.object.metadata.namespace' as namespace,
        body ->> '$.object.metadata.name' as object_name,
        k8s_images(body -> 'object') as images
    from source
),

classified as (
    select
        *,
        case
            when images = lag(images) over (partition by cluster, object_kind, namespace, object_name
                                            order by deployed_at, event_key) then 'ignored'
            else 'deployed'
        end as stage
    from parsed
)

select
    event_key,
    event_id,
    'kubernetes' as source_tool,
    'kubernetes:' || object_kind as raw_type,
    stage,
    coalesce(deployed_at, received_at) as occurred_at,
    received_at,
    case when stage = 'deployed' then 'success' end as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    normalise_purl(image_artifact_id(k8s_image(obj))) as artifact_id,
    image_digest(k8s_image(obj)) as digest,
    k8s_version(obj) as version,
    k8s_service(obj) as service,
    k8s_team(obj) as team,
    k8s_app(obj) as app,
    k8s_environment(obj, cluster) as environment,
    cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    concat_ws('/', cluster, namespace, object_name) as subject_id,
    validation_errors,
    object_kind,
    namespace,
    object_name,
    images,
    snapshot_file
from classified
