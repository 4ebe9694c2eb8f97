-- intermediate.artifact_scans: one row per scanned artifact with its scans' results. A scan is an
-- `artifact_scanned` event naming the artifact; its findings: the canonical event's `findings` — a JSON
-- object severity → count (`{"critical": 1, "high": 4, …}`, keys in any case) that a scanner's staging model
-- provides (Harbor's `SCANNING_COMPLETED`, staging.harbor_events: the scan overview's counts per severity, the
-- rest of its total as `other`). A scan without has unknown findings (counts null). The figures are the latest
-- scan's (the most complete knowledge of the artifact); `first_scanned_at` is when it was first scanned,
-- `scans` how many times.
-- Severities: critical, high, medium, low; anything else (negligible, unknown, none) counts as `other`.
-- An artifact's row reads only its own events: a build recomputes the artifacts with changed events
-- (pipelines/partitions.py).
-- incremental: partition (artifact_id)
with scans as (
    select
        e.artifact_id,
        e.event_key,
        e.occurred_at,
        e.source_tool,
        e.outcome,
        e.scanner as scanner_name,
        e.findings
    from intermediate.canonical_events e
    where e.stage = 'artifact_scanned' and e.artifact_id is not null
),

by_severity as (
    select event_key, lower(severity) as severity, try_cast(findings ->> severity as bigint) as n
    from (
        select event_key, findings, unnest(json_keys(findings)) as severity
        from scans
        where json_type(findings) = 'OBJECT'
    )
),

per_scan as (
    select
        s.*,
        json_type(s.findings) = 'OBJECT' as has_findings,
        coalesce(sum(b.n) filter (where b.severity = 'critical'), 0) as critical,
        coalesce(sum(b.n) filter (where b.severity = 'high'), 0) as high,
        coalesce(sum(b.n) filter (where b.severity = 'medium'), 0) as medium,
        coalesce(sum(b.n) filter (where b.severity = 'low'), 0) as low,
        coalesce(sum(b.n) filter (where b.severity not in ('critical', 'high', 'medium', 'low')), 0) as other
    from scans s
    left join by_severity b using (event_key)
    group by all
)

select
    artifact_id,
    count(*) as scans,
    min(occurred_at) as first_scanned_at,
    max(occurred_at) as last_scanned_at,
    arg_max(source_tool, occurred_at) as scanner,
    arg_max(scanner_name, occurred_at) as scanner_name,
    arg_max(outcome, occurred_at) as scan_outcome,
    arg_max(has_findings, occurred_at) as has_findings,
    arg_max(case when has_findings then critical end, occurred_at) as vulnerabilities_critical,
    arg_max(case when has_findings then high end, occurred_at) as vulnerabilities_high,
    arg_max(case when has_findings then medium end, occurred_at) as vulnerabilities_medium,
    arg_max(case when has_findings then low end, occurred_at) as vulnerabilities_low,
    arg_max(case when has_findings then other end, occurred_at) as vulnerabilities_other
from per_scan
group by artifact_id
