-- artifact_stuck: an artifact in flight has waited in its current stage longer than that stage's historical
-- p90 (marts.artifact_journeys.is_stuck: the time since its last milestone, as of the newest event, exceeds
-- the p90 of the time artifacts spent after the same stage and environment — docs/metrics.md "Stuck").
-- One condition per artifact × stage × environment: moving on and getting stuck further is a new one. It
-- clears when the artifact moves on, is superseded or rejected, or the p90 grows past its wait.
with stuck as (
    select * from marts.artifact_journeys where is_stuck
)

select
    'artifact_stuck' as kind,
    concat_ws('/', 'artifact_stuck', coalesce(service, '-'), artifact_id, current_stage,
              coalesce(current_environment, '-')) as condition_key,
    'warning' as severity,
    coalesce(service, '?') || ' ' || coalesce(version, artifact_id) || ' has waited '
    || printf('%.1f', time_in_stage_s / 3600) || ' h after ' || current_stage
    || coalesce(' in ' || current_environment, '') || ' (p90 ' || printf('%.1f', stage_p90_s / 3600) || ' h)'
        as summary,
    service,
    team,
    app,
    current_environment as environment,
    null::varchar as cluster,
    artifact_id,
    version,
    null::varchar as deployment_id,
    to_json({
        'current_stage': current_stage,
        'in_stage_since': in_stage_since,
        'time_in_stage_s': time_in_stage_s,
        'stage_p90_s': stage_p90_s,
        'stage_p90_basis': stage_p90_basis,
        'as_of': as_of
    }) as details
from stuck
