-- intermediate.service_removals: a service removed from an environment (cluster) — what ends its last release
-- there in marts.release_history. Apart from the canonical events so that marts.release_history, kept by
-- service, reads a few rows rather than 11M.
select
    service,
    environment,
    coalesce(cluster, environment) as cluster,
    occurred_at as removed_at,
    event_id as removal_id
from intermediate.canonical_events
where stage = 'service_removed' and service is not null
