-- intermediate.service_catalogue: one row per service with the team, app and repository its events
-- most often name (event metadata; a configured catalogue can override it later).
with events as (
    select service, team, app, repository
    from intermediate.canonical_events
    where service is not null
)

select
    service,
    mode(team) as team,
    mode(app) as app,
    mode(repository) as repository
from events
group by service
