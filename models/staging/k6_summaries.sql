-- staging.k6_summaries: k6's end-of-test summary — the file `k6 run --summary-export=summary.json` writes
-- (`{"metrics": {"checks": {"passes", "fails"}, "iterations": {"count", "rate"}, "http_req_duration":
-- {"avg", "p(95)", …, "thresholds": {"p(95)<500": false}}, …}, "root_group": …}`) or handleSummary's data
-- (metrics' figures under `values`, thresholds as {"ok": …}, state.testRunDurationMs), posted with header
-- X-Lifecycle-Source: k6 (the receiver's /webhooks/k6), loaded with --source k6, or recognised by its shape.
-- A summary names neither what it tested nor when: the request's headers say it — X-Lifecycle-Service,
-- X-Lifecycle-Environment, X-Lifecycle-Artifact (an image reference, `registry/name:tag@sha256:…`, or a purl)
-- — and the time is when the receiver got it (the captured request's received_at), posted as the run ends.
-- One summary → stage test_finished in that environment, outcome failure when a check failed or a threshold
-- was crossed (the export marks a crossed threshold `true`; handleSummary `{"ok": false}`), else success;
-- duration_s = state.testRunDurationMs, else iterations.count / iterations.rate (k6's rate is per second of
-- the run), else http_reqs'. With a duration it also gives a test_started row at received_at − duration
-- (event id `<id>:started`): the run's start→finish span, its active time in marts.stage_durations.
with source as (
    select event_key, event_id, received_at, validation_errors, headers, payload as body
    from raw.events
    where source_tool = 'k6' and event_format = 'webhook'
),

parsed as (
    select
        *,
        nullif(trim(headers ->> 'x-lifecycle-service'), '') as header_service,
        nullif(trim(headers ->> 'x-lifecycle-environment'), '') as environment,
        nullif(trim(headers ->> 'x-lifecycle-artifact'), '') as artifact_ref,
        coalesce(try_cast(body ->> '$.metrics.checks.passes' as bigint),
                 try_cast(body ->> '$.metrics.checks.values.passes' as bigint)) as checks_passed,
        coalesce(try_cast(body ->> '$.metrics.checks.fails' as bigint),
                 try_cast(body ->> '$.metrics.checks.values.fails' as bigint)) as checks_failed,
        coalesce(json_extract(body, '$.metrics.*.thresholds.*'), []::json[]) as thresholds,
        coalesce(try_cast(body ->> '$.metrics.iterations.count' as bigint),
                 try_cast(body ->> '$.metrics.iterations.values.count' as bigint)) as iterations,
        coalesce(try_cast(body ->> '$.metrics.http_req_duration."p(95)"' as double),
                 try_cast(body ->> '$.metrics.http_req_duration.values."p(95)"' as double)) as http_req_p95_ms,
        coalesce(
            try_cast(body ->> '$.state.testRunDurationMs' as double) / 1000,
            try_cast(body ->> '$.metrics.iterations.count' as double)
                / nullif(try_cast(body ->> '$.metrics.iterations.rate' as double), 0),
            try_cast(body ->> '$.metrics.iterations.values.count' as double)
                / nullif(try_cast(body ->> '$.metrics.iterations.values.rate' as double), 0),
            try_cast(body ->> '$.metrics.http_reqs.count' as double)
                / nullif(try_cast(body ->> '$.metrics.http_reqs.rate' as double), 0),
            try_cast(body ->> '$.metrics.http_reqs.values.count' as double)
                / nullif(try_cast(body ->> '$.metrics.http_reqs.values.rate' as double), 0)) as duration_s
    from source
),

summaries as (
    select
        *,
        len(list_filter(thresholds, lambda x: x::varchar = 'true' or (x ->> '$.ok') = 'false')) as thresholds_crossed,
        case when artifact_ref like 'pkg:%' then normalise_purl(artifact_ref) else image_artifact_id(artifact_ref) end
            as artifact_id,
        case when artifact_ref like 'pkg:%' then purl_version(artifact_ref) else image_tag(artifact_ref) end as version,
        coalesce(purl_digest(artifact_ref), image_digest(artifact_ref)) as digest
    from parsed
),

rows_ as (
    select *, 'test_finished' as stage, event_key as row_key, event_id as row_id, received_at as row_at
    from summaries
    union all
    select *, 'test_started', md5(event_key || ':started'), event_id || ':started',
           received_at - to_seconds(duration_s)
    from summaries
    where duration_s > 0
)

select
    row_key as event_key,
    row_id as event_id,
    'k6' as source_tool,
    'k6:summary' as raw_type,
    stage,
    row_at as occurred_at,
    received_at,
    case when stage = 'test_finished' then
        case when coalesce(checks_failed, 0) > 0 or thresholds_crossed > 0 then 'failure' else 'success' end
    end as outcome,
    null::varchar as repository,
    null::varchar as commit_sha,
    null::varchar as change_id,
    null::varchar as pipeline_run_id,
    artifact_id,
    digest,
    version,
    coalesce(header_service, regexp_extract(purl_parts(artifact_id).name, '([^/]+)$', 1)) as service,
    null::varchar as team,
    null::varchar as app,
    environment,
    null::varchar as cluster,
    null::varchar as incident_id,
    null::varchar as severity,
    null::varchar as chain_id,
    null::json as links,
    null::varchar as subject_id,
    validation_errors,
    case when stage = 'test_finished' then duration_s end as duration_s,
    checks_passed,
    checks_failed,
    len(thresholds) as thresholds,
    thresholds_crossed,
    iterations,
    http_req_p95_ms
from rows_
