-- intermediate.as_of: the one instant the "as of" figures are computed at (in flight, stuck, running now, the
-- rolling DORA windows): the newest event in the warehouse that is not a commit (authors' clocks: one can be days
-- ahead) nor an alert (derived from these figures, so it must not move them) — not the wall clock, so a historical
-- sample gives the same answer on any day. One row; null on an empty warehouse.
select max(occurred_at) as as_of
from intermediate.canonical_events
where stage not in ('commit', 'alert_fired', 'alert_cleared')
