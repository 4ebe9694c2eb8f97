-- marts.lifecycle_events: one row per canonical event, deduplicated (raw.events holds each event key
-- once; a GitHub push becomes one `commit` event per commit it lists), with the environment tier.
-- duration_s: how long the run a finished event reports took, where its source says (Tekton, Jenkins, k6,
-- a CDEvents run's finished − started); else null.
-- materialized: view (a projection of intermediate.canonical_events: copying a row per event costs a build)
with events as (
    select * from intermediate.canonical_events
)

select
    event_key,
    event_id,
    source_tool,
    raw_type,
    stage,
    occurred_at,
    received_at,
    outcome,
    repository,
    commit_sha,
    change_id,
    pipeline_run_id,
    artifact_id,
    digest,
    version,
    service,
    team,
    app,
    environment,
    environment_tier,
    cluster,
    incident_id,
    severity,
    chain_id,
    links,
    subject_id,
    validation_errors,
    duration_s
from events
