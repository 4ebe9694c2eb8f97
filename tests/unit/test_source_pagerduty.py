"""PagerDuty v3 webhooks → staging.pagerduty_incidents → marts.incidents.

Payloads: tests/fixtures/written/pagerduty, written from PagerDuty's documented v3 webhook shape (see the
README there): one incident (#42 on service `shop`) triggered, acknowledged, annotated, re-prioritised,
resolved, and a ping.
"""

from __future__ import annotations

import json

from tests.source_helpers import WRITTEN, build, fixture, ingest, request, rows, utc

PAGERDUTY = WRITTEN / "pagerduty"


def delivery(name: str) -> dict:
    body = fixture(PAGERDUTY / name)
    return request({"X-PagerDuty-Signature": "v1=0123abcd", "X-Webhook-Id": body["event"]["id"],
                    "Content-Type": "application/json"}, body)


def test_every_pagerduty_fixture_maps_to_a_stage_and_the_incident_is_rebuilt(paths, tmp_path):
    names = sorted(p.name for p in PAGERDUTY.glob("*.json"))
    result = ingest(paths, tmp_path, "pd.ndjson", [delivery(n) for n in names])
    assert (result.total("accepted"), result.total("quarantined")) == (6, 0)
    build(paths)
    assert rows(paths, "select raw_type, stage, occurred_at, incident_id, service, severity, team "
                       "from marts.lifecycle_events order by occurred_at") == [
        ("pagerduty:pagey.ping", "ignored", utc("2026-03-02 12:00"), None, None, None, None),
        # triggered: the incident's own start (created_at), not the webhook's time
        ("pagerduty:incident.triggered", "incident_opened", utc("2026-03-02 13:00"), "Q2K8YP3NFIF7AB", "shop", "P1", "web"),
        ("pagerduty:incident.acknowledged", "incident_acknowledged", utc("2026-03-02 13:04"), "Q2K8YP3NFIF7AB", "shop",
         "P1", "web"),
        ("pagerduty:incident.annotated", "ignored", utc("2026-03-02 13:10"), "Q2K8YP3NFIF7AB", None, None, None),
        ("pagerduty:incident.priority_updated", "ignored", utc("2026-03-02 13:12"), "Q2K8YP3NFIF7AB", "shop", "P2", "web"),
        ("pagerduty:incident.resolved", "incident_resolved", utc("2026-03-02 13:45:30"), "Q2K8YP3NFIF7AB", "shop", "P2",
         "web"),
    ]
    # the delivery id is PagerDuty's event id: a redelivery is a duplicate
    again = ingest(paths, tmp_path, "pd-again.ndjson", [delivery("incident.resolved.json")])
    assert (again.total("accepted"), again.total("duplicates")) == (0, 1)
    assert rows(paths, "select event_id from raw.events where event_type = 'incident.resolved'") == [
        ("01DEN4QKJ1W2X3Y4Z5A6B7C8D9",)]


def test_bare_pagerduty_bodies_are_recognised_by_shape(paths, tmp_path):
    bodies = [json.loads((PAGERDUTY / n).read_text()) for n in ("incident.triggered.json", "incident.resolved.json")]
    result = ingest(paths, tmp_path, "bare.ndjson", bodies)
    assert (result.total("accepted"), result.total("quarantined")) == (2, 0)
    build(paths)
    # incident time to restore: 13:00:00 → 13:45:30 = 2730 s; no deployment of `shop` to attribute it to
    assert rows(paths, "select incident_id, service, opened_at, resolved_at, time_to_restore_s, attribution "
                       "from marts.incidents") == [
        ("Q2K8YP3NFIF7AB", "shop", utc("2026-03-02 13:00"), utc("2026-03-02 13:45:30"), 2730.0, "none")]
