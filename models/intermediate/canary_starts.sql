-- intermediate.canary_starts: when a progressive rollout (Argo Rollouts, Flagger) of an artifact started in an
-- environment — the start intermediate.deployments dates an aborted canary's failure from. Apart from the
-- canonical events so that intermediate.deployments, kept by service, reads a few rows rather than 11M.
select artifact_id, environment, service, occurred_at as started_at
from intermediate.canonical_events
where stage = 'canary_started' and artifact_id is not null
