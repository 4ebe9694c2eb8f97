-- staging.kubewatch_events: kubewatch's CloudEvents (type KUBERNETES_TOPOLOGY_CHANGE, data = {operation, kind,
-- obj, oldObj, …}: an object created, updated or deleted in a cluster), one row per event. A workload
-- (Deployment, StatefulSet, DaemonSet) is a deployment seen from the cluster:
--   create                                                   → deployed
--   update that changes the pod template's container images  → deployed (obj vs oldObj; without oldObj, vs the
--                                                              object's previous event; neither: deployed)
--   any other update (a scale, an annotation, a status change, no obj) → ignored
--   delete                                                   → service_removed
-- Every other kind (Pod, ReplicaSet, Service, ConfigMap, …) → ignored.
-- Identity, from obj (else oldObj) with the k8s_* macros: service = label app.kubernetes.io/name, else the
-- object's name; team = annotation/label owner.team; app = label app.kubernetes.io/part-of; artifact = the
-- service's image (named like the service, else the first container's) as a normalised purl, digest when the
-- image is pinned by digest; version = label app.kubernetes.io/version, else the image tag; environment = label
-- environment / env, else the namespace when it names an environment, else the cluster; cluster = lifecycle.toml
-- [kubernetes] (kubewatch names none). Time = the CloudEvent's time (kubewatch saw the new template: the rollout's
-- start). When a GitOps tool reports the same rollout, its report counts (intermediate.deployment_events).
with source as (
    select event_key, event_id, event_type, event_source, occurred_at, received_at, validation_errors,
           case when transport in ('structured', 'batch') then payload -> 'data' else payload end as data
    from raw.events
    where event_format = 'cloudevent' and (event_type = 'KUBERNETES_TOPOLOGY_CHANGE' or source_tool = 'kubewatch')
),

parsed as (
    select
        *,
        data ->> 'kind' as object_kind,
        data ->> 'operation' as operation,
        case when json_type(data, '$.obj') = 'OBJECT' then data -> 'obj' end as new_obj,
        case when json_type(data, '$.oldObj') = 'OBJECT' then data -> 'oldObj' end as old_obj,
        kubewatch_cluster(event_source, data ->> 'clusterUid') as cluster
    from source
),

fields as (
    select
        *,
        coalesce(new_obj, old_obj) as obj,
        case when new_obj is not null then k8s_images(new_obj) end as images,
        case when old_obj is not null then k8s_images(old_obj) end as old_images,
        coalesce(new_obj, old_obj) -> 'metadata' ->> 'namespace' as namespace,
        coalesce(new_obj, old_obj) -> 'metadata' ->> 'name' as object_name
    from parsed
),

classified as (
    select
        *,
        case
            when not k8s_is_workload(object_kind) then 'ignored'
            when operation = 'create' and new_obj is not null then 'deployed'
            when operation = 'delete' then 'service_removed'
            when operation = 'update' and new_obj is not null and images <> coalesce(old_images,
                last_value(images ignore nulls) over (
                    partition by cluster, object_kind, namespace, object_name
                    order by coalesce(occurred_at, received_at), event_key
                    rows between unbounded preceding and 1 preceding), []::varchar[])
                then 'deployed'
            else 'ignored'
        end as stage
    from fields
)

select
    event_key,
    event_id,
    'kubewatch' as source_tool,
    'kubewatch:' || coalesce(object_kind, '?') || '.' || coalesce(operation, '?') as raw_type,
    stage,
    coalesce(occurred_at, received_at) as occurred_at,
    received_at,
    case when stage in ('deployed', 'service_removed') then 'success' end as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    case when k8s_is_workload(object_kind) then normalise_purl(image_artifact_id(k8s_image(obj))) end as artifact_id,
    case when k8s_is_workload(object_kind) then image_digest(k8s_image(obj)) end as digest,
    case when k8s_is_workload(object_kind) then k8s_version(obj) end as version,
    case when k8s_is_workload(object_kind) then k8s_service(obj) end as service,
    case when k8s_is_workload(object_kind) then k8s_team(obj) end as team,
    case when k8s_is_workload(object_kind) then k8s_app(obj) end as app,
    case when k8s_is_workload(object_kind) then k8s_environment(obj, cluster) end as environment,
    case when k8s_is_workload(object_kind) then cluster end as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    concat_ws('/', object_kind, namespace, object_name) as subject_id,
    validation_errors,
    object_kind,
    operation,
    namespace,
    object_name,
    images
from classified
