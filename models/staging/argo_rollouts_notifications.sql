-- staging.argo_rollouts_notifications: Argo Rollouts notifications (the notifications engine's `webhook`
-- service), one row per notification (header X-Lifecycle-Source: argo-rollouts — the receiver's
-- /webhooks/argo-rollouts path —, --source argo-rollouts, or a body whose `rollout` is an argoproj.io Rollout).
-- The body is the template's: `{"trigger": "<trigger>", "timestamp": …, "rollout": {{toJson .rollout}}}` (the
-- whole Rollout), or a flat one built from the template variables (`rollout` = its name, `namespace`, `phase`,
-- `revision`, `image`, `environment`, `cluster`) — docs/sources.md#argo-rollouts.
--   on-rollout-updated                          → canary_started (a new revision's canary, or blue-green preview)
--   on-rollout-completed                        → canary_promoted (the revision serves all traffic: deployed)
--   on-rollout-aborted                          → canary_aborted (back to the stable revision: a failed deployment)
--   on-analysis-run-failed / on-analysis-run-error → verification_finished (failure / error)
--   on-rollout-step-completed, on-rollout-paused, on-analysis-run-running, on-scaling-replica-set → ignored
-- A body without `trigger` is read from the Rollout's status: aborted → on-rollout-aborted, phase Healthy →
-- on-rollout-completed, else ignored. One revision has one start, one promotion or abort: repeats are ignored.
-- Identity: service = label app.kubernetes.io/name, else the Rollout's name; artifact = the image of the pod
-- template's container named like the service (else the first), digest-pinned when the reference has one;
-- version = the pod template's label app.kubernetes.io/version, else the image tag; environment =
-- label/annotation environment (or env), else the namespace; cluster = label cluster; team = annotation/label
-- owner.team (or team, owner); app = label app.kubernetes.io/part-of. Time = the body's `timestamp`, else the
-- time the receiver got it.
with source as (
    select event_key, event_id, received_at, validation_errors, payload as body
    from raw.events
    where source_tool = 'argo-rollouts' and event_format = 'webhook'
),

parsed as (
    select
        *,
        case when json_type(body, '$.rollout') = 'OBJECT' then body -> 'rollout' end as ro,
        nullif(lower(body ->> 'trigger'), '') as given_trigger,
        parse_timestamp(body ->> 'timestamp') as notified_at
    from source
),

fields as (
    select
        *,
        coalesce(ro -> 'metadata' ->> 'name', case when ro is null then body ->> 'rollout' end, body ->> 'name')
            as rollout_name,
        coalesce(ro -> 'metadata' ->> 'namespace', body ->> 'namespace') as namespace,
        coalesce(ro -> 'metadata' -> 'labels', '{}'::json) as labels,
        coalesce(ro -> 'metadata' -> 'annotations', '{}'::json) as annotations,
        coalesce(ro -> 'spec' -> 'template' -> 'metadata' -> 'labels', '{}'::json) as pod_labels,
        coalesce(nullif(json_extract_string(ro, '$.spec.template.spec.containers[*].image'), []),
                 list_filter([body ->> 'image'], lambda i: i is not null)) as images,
        coalesce(ro -> 'metadata' -> 'annotations' ->> '$."rollout.argoproj.io/revision"', body ->> 'revision') as revision,
        coalesce(ro -> 'status' ->> 'phase', body ->> 'phase') as phase,
        coalesce(try_cast(ro -> 'status' ->> 'abort' as boolean), false) as aborted,
        case when (ro -> 'spec' -> 'strategy' -> 'blueGreen') is not null then 'blueGreen'
             when (ro -> 'spec' -> 'strategy' -> 'canary') is not null then 'canary' end as strategy
    from parsed
),

identified as (
    select
        *,
        coalesce(labels ->> '$."app.kubernetes.io/name"', rollout_name) as service,
        coalesce(
            case when given_trigger like 'on-%' then given_trigger when given_trigger is not null then 'on-' || given_trigger end,
            case when aborted then 'on-rollout-aborted' when phase = 'Healthy' then 'on-rollout-completed' end
        ) as trigger
    from fields
),

chosen as (
    select
        *,
        coalesce(list_filter(images, lambda i: image_name(i) = lower(service))[1], images[1]) as image,
        case trigger
            when 'on-rollout-updated' then 'canary_started'
            when 'on-rollout-completed' then 'canary_promoted'
            when 'on-rollout-aborted' then 'canary_aborted'
            when 'on-analysis-run-failed' then 'verification_finished'
            when 'on-analysis-run-error' then 'verification_finished'
            when 'on-rollout-step-completed' then 'ignored'
            when 'on-rollout-paused' then 'ignored'
            when 'on-analysis-run-running' then 'ignored'
            when 'on-scaling-replica-set' then 'ignored'
            else case when given_trigger is null then 'ignored' end
        end as candidate_stage
    from identified
),

deduplicated as (
    select
        *,
        case
            when candidate_stage not in ('ignored', 'verification_finished') and row_number() over (
                partition by namespace, rollout_name, revision, candidate_stage
                order by coalesce(notified_at, received_at), event_key) > 1 then 'ignored'
            else candidate_stage
        end as stage
    from chosen
)

select
    event_key,
    event_id,
    'argo-rollouts' as source_tool,
    'argo-rollouts:' || coalesce(trigger, '?') as raw_type,
    stage,
    coalesce(notified_at, received_at) as occurred_at,
    received_at,
    case
        when stage = 'canary_promoted' then 'success'
        when stage = 'canary_aborted' then 'failure'
        when stage = 'verification_finished' then case trigger when 'on-analysis-run-error' then 'error' else 'failure' end
    end as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    case when stage <> 'ignored' then normalise_purl(image_artifact_id(image)) end as artifact_id,
    image_digest(image) as digest,
    coalesce(pod_labels ->> '$."app.kubernetes.io/version"', image_tag(image)) as version,
    service,
    coalesce(annotations ->> '$."owner.team"', labels ->> '$."owner.team"', labels ->> '$.team',
             annotations ->> '$.team', labels ->> '$.owner', annotations ->> '$.owner') as team,
    coalesce(labels ->> '$."app.kubernetes.io/part-of"', annotations ->> '$."app.kubernetes.io/part-of"') as app,
    coalesce(labels ->> '$.environment', annotations ->> '$.environment', labels ->> '$.env', annotations ->> '$.env',
             body ->> 'environment', namespace) as environment,
    coalesce(labels ->> '$.cluster', annotations ->> '$.cluster', body ->> 'cluster') as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    concat_ws('/', namespace, rollout_name) as subject_id,
    validation_errors,
    trigger,
    revision,
    phase,
    strategy,
    image,
    namespace
from deduplicated
