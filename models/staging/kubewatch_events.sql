-- staging.kubewatch_events: kubewatch's CloudEvents (type KUBERNETES_TOPOLOGY_CHANGE: a Deployment, Pod, …
-- created, updated or deleted in a cluster), one row per event. Known but not mapped onto the journey:
-- stage `ignored` — the GitOps tool that applied the change (Argo CD, Flux) reports the deployment, and a
-- Kubernetes object carries no environment, artifact digest or commit to link it by. The object's kind,
-- operation, namespace and name are kept for inspection.
with source as (
    select event_key, event_id, event_type, occurred_at, received_at, validation_errors,
           case when transport in ('structured', 'batch') then payload -> 'data' else payload end as data
    from raw.events
    where event_format = 'cloudevent' and (event_type = 'KUBERNETES_TOPOLOGY_CHANGE' or source_tool = 'kubewatch')
)

select
    event_key,
    event_id,
    'kubewatch' as source_tool,
    'kubewatch:' || coalesce(data ->> 'kind', '?') || '.' || coalesce(data ->> 'operation', '?') as raw_type,
    'ignored' as stage,
    coalesce(occurred_at, received_at) as occurred_at,
    received_at,
    validation_errors,
    data ->> 'kind' as object_kind,
    data ->> 'operation' as operation,
    coalesce(data -> 'obj' -> 'metadata' ->> 'namespace', data -> 'oldObj' -> 'metadata' ->> 'namespace') as namespace,
    coalesce(data -> 'obj' -> 'metadata' ->> 'name', data -> 'oldObj' -> 'metadata' ->> 'name') as object_name
from source
