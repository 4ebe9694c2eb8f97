-- deployment_failed: a production deployment failed or was rolled back, and nothing has fixed it yet — the
-- latest deployment outcome of a service in a production environment × cluster (marts.deployments, failed
-- attempts included) is a failed attempt or a rollback. One condition per service × environment × cluster:
-- a second failure before the fix is the same condition (it does not fire again). It clears when a
-- successful deployment that is not a rollback follows (the fix, or the retried artifact).
with production as (
    select * from marts.deployments where is_production
),

latest as (
    select *
    from production
    qualify row_number() over (partition by service, environment, cluster
                               order by deployed_at desc, deployment_id desc) = 1
)

select
    'deployment_failed' as kind,
    concat_ws('/', 'deployment_failed', coalesce(service, '-'), coalesce(environment, '-'), coalesce(cluster, '-'))
        as condition_key,
    'high' as severity,
    case
        when outcome = 'failure' then
            coalesce(service, '?') || ' ' || coalesce(version, artifact_id, '?') || ' failed to deploy to '
            || environment || coalesce(' (' || nullif(cluster, environment) || ')', '') || ' at '
            || strftime(deployed_at, '%Y-%m-%d %H:%M UTC')
        else
            coalesce(service, '?') || ' was rolled back to ' || coalesce(version, artifact_id, '?') || ' in '
            || environment || coalesce(' (' || nullif(cluster, environment) || ')', '') || ' at '
            || strftime(deployed_at, '%Y-%m-%d %H:%M UTC')
    end as summary,
    service,
    team,
    app,
    environment,
    cluster,
    artifact_id,
    version,
    deployment_id,
    to_json({
        'reason': case when outcome = 'failure' then 'failed' else 'rolled_back' end,
        'deployed_at': deployed_at,
        'previous_artifact_id': previous_artifact_id
    }) as details
from latest
where outcome = 'failure' or is_rollback
