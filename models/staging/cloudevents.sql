-- staging.cloudevents: CloudEvents whose data is not a CDEvent. Kept with their type verbatim and
-- no stage until a source model maps them (they count as unknown event types meanwhile). Mapped ones:
-- Harbor's CloudEvents (type harbor.*: staging.harbor_events), kubewatch's (staging.kubewatch_events) and
-- the project's own alerts (type dev.lifecycle.alert.*: staging.lifecycle_alerts).
-- Also mapped: Tekton's (type dev.tekton.event.*: staging.tekton_events) and draft-binding CDEvents (type
-- dev.cdevents.pipelinerun.* / taskrun.*, the subject in extension attributes, as the Jenkins CDEvents plugin
-- sends them: staging.cdevents).
-- And Keptn's: v1 (type sh.keptn.*: staging.keptn_v1_events) and the lifecycle operator's (source keptn.sh:
-- staging.keptn_lifecycle_events).
with source as (
    select * from raw.events
    where event_format = 'cloudevent'
      and event_type not like 'harbor.%'
      and event_type is distinct from 'KUBERNETES_TOPOLOGY_CHANGE'
      and source_tool is distinct from 'kubewatch'
      and event_type not in ('dev.lifecycle.alert.fired.v1', 'dev.lifecycle.alert.cleared.v1')
      and event_type not like 'dev.tekton.event.%'
      and not regexp_matches(coalesce(event_type, ''), '^dev\.cdevents\.(pipelinerun|taskrun)\.')
      and event_type not like 'sh.keptn.%'
      and event_source is distinct from 'keptn.sh'
      and source_tool is distinct from 'keptn'
)

select
    event_key,
    event_id,
    coalesce(source_tool, tool_from_source(event_source)) as source_tool,
    event_type as raw_type,
    null::varchar as stage,
    occurred_at,
    received_at,
    validation_errors
from source
