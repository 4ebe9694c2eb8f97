-- intermediate.service_ownership: who owned each service, and which app (Backstage System) it was part of, over
-- time — from the Backstage catalogue states `lifecycle ingest-catalog` recorded (raw.catalog_entities), one row
-- per service × period. valid_from = when an import (its time, or --as-of) recorded that state; valid_to = the
-- next recorded state's valid_from (null: still valid). service = the Component's name, or the configured service
-- it is an alias of (lifecycle.toml); team = spec.owner's name (group:default/team-a → team-a); app = spec.system;
-- domain = that System's spec.domain (its latest state); repository = the repository its annotations link
-- (github.com/project-slug, backstage.io/source-location). Before a service's first recorded state the catalogue
-- says nothing: events keep lifecycle.toml's team, else their own (import with --as-of to date a catalogue back).
-- intermediate.canonical_events joins it at each event's time, so a move to another team moves the service's
-- later events, not its earlier ones.
with components as (
    select c.*, coalesce(alias.service, c.name) as service
    from raw.catalog_entities c
    left join config.service_names alias on alias.kind = 'alias' and alias.name = lower(c.name)
    where c.kind = 'component'
),

systems as (
    select name, arg_max(domain, valid_from) as domain
    from raw.catalog_entities
    where kind = 'system'
    group by name
),

states as (
    -- one state per service and instant: the latest import wins (a re-import with the same --as-of, or two
    -- components that name one service)
    select *
    from components
    qualify row_number() over (partition by service, valid_from order by imported_at desc, entity_ref) = 1
)

select
    s.service,
    s.valid_from,
    lead(s.valid_from) over (partition by s.service order by s.valid_from) as valid_to,
    s.owner as team,
    s.system as app,
    y.domain,
    s.lifecycle,
    s.repository,
    s.entity_ref
from states s
left join systems y on y.name = s.system
