"""Flagger event webhook → staging.flagger_events, and canaries in marts.deployments.

Payloads: tests/fixtures/written/flagger, written from Flagger's webhook documentation (event payload: name,
namespace, phase, checksum, metadata with eventMessage / eventType / timestamp in ms) and the event messages its
scheduler records (see the README there). Expected values are derived by hand.
"""

from __future__ import annotations

import json

from tests.source_helpers import WRITTEN, build, digest, fixture, ingest, lifecycle, rows, utc

FLAGGER = WRITTEN / "flagger"
REV1, REV2 = "pkg:generic/test/podinfo@5d8f6c7b9a", "pkg:generic/test/podinfo@84c6f7d9b5"


def test_every_flagger_fixture_maps_to_a_stage(paths, tmp_path):
    """Canary podinfo.test, 2026-03-07 (metadata: environment production, cluster prod-eu-1):
    09:00 initialization → ignored; revision 5d8f…: 10:00 "New revision detected" → canary_started, 10:01
    "Starting canary analysis" (the same revision's start again) → ignored, 10:02 advance weight, 10:11 copying
    the template, 10:12 routing all traffic → ignored, 10:13 "Promotion completed" → canary_promoted (success);
    revision 84c6…: 14:00 new revision → canary_started, 14:02 halt advancement → ignored, 14:06 "Rolling back …
    failed checks threshold reached 5" → canary_aborted (failure), 14:06:30 "Canary failed!" (the same abort
    again) → ignored. Bodies are recognised by their shape (no header). Artifact: Flagger names no image, so the
    revision pkg:generic/test/podinfo@<checksum>."""
    bodies = [json.loads(f.read_text()) for f in sorted(FLAGGER.glob("*.json"))]
    result = ingest(paths, tmp_path, "flagger.ndjson", bodies)
    assert (result.total("accepted"), result.total("quarantined")) == (11, 0)
    build(paths)
    assert rows(paths, "select raw_type, stage, occurred_at, outcome, artifact_id from marts.lifecycle_events "
                       "order by occurred_at") == [
        ("flagger:Initialized", "ignored", utc("2026-03-07 09:00"), None, None),
        ("flagger:Progressing", "canary_started", utc("2026-03-07 10:00"), None, REV1),
        ("flagger:Progressing", "ignored", utc("2026-03-07 10:01"), None, None),
        ("flagger:Progressing", "ignored", utc("2026-03-07 10:02"), None, None),
        ("flagger:Promoting", "ignored", utc("2026-03-07 10:11"), None, None),
        ("flagger:Finalising", "ignored", utc("2026-03-07 10:12"), None, None),
        ("flagger:Succeeded", "canary_promoted", utc("2026-03-07 10:13"), "success", REV1),
        ("flagger:Progressing", "canary_started", utc("2026-03-07 14:00"), None, REV2),
        ("flagger:Progressing", "ignored", utc("2026-03-07 14:02"), None, None),
        ("flagger:Progressing", "canary_aborted", utc("2026-03-07 14:06"), "failure", REV2),
        ("flagger:Failed", "ignored", utc("2026-03-07 14:06:30"), None, None),
    ]
    assert rows(paths, "select distinct source_tool, service, environment, cluster from marts.lifecycle_events") == [
        ("flagger", "podinfo", "production", "prod-eu-1")]


def test_metadata_names_the_image_and_no_checksum_counts_revisions(paths, tmp_path):
    """Posted to /webhooks/flagger without `checksum` (an older Flagger), the webhook metadata naming the image
    harbor.acme.io/web/podinfo:6.9.0@D and service `podinfo-api`, no environment (→ the namespace `test`):
    10:00 new revision (revision-1), 10:13 promotion completed → canary_promoted of revision-1;
    14:00 new revision (revision-2), 14:06 rolling back → canary_aborted.
    The artifact is the image's, pkg:oci/podinfo@D; version 6.9.0 (its tag)."""
    d = digest("podinfo-6.9.0")

    def event(name: str) -> dict:
        body = fixture(FLAGGER / name)
        del body["checksum"]
        body["metadata"] = {k: v for k, v in body["metadata"].items() if k not in ("environment", "cluster")}
        body["metadata"].update(image=f"harbor.acme.io/web/podinfo:6.9.0@{d}", service="podinfo-api")
        return lifecycle("flagger", body)

    ingest(paths, tmp_path, "flagger.ndjson", [event(n) for n in (
        "event.new-revision-detected.json", "event.promotion-completed.json", "event.new-revision-detected.revision-2.json",
        "event.rolling-back.json")])
    build(paths)
    assert rows(paths, "select r.revision, e.stage, e.artifact_id, e.version, e.service, e.environment "
                       "from marts.lifecycle_events e join staging.flagger_events r using (event_key) "
                       "order by e.occurred_at") == [
        ("revision-1", "canary_started", f"pkg:oci/podinfo@{d}", "6.9.0", "podinfo-api", "test"),
        ("revision-1", "canary_promoted", f"pkg:oci/podinfo@{d}", "6.9.0", "podinfo-api", "test"),
        ("revision-2", "canary_started", f"pkg:oci/podinfo@{d}", "6.9.0", "podinfo-api", "test"),
        ("revision-2", "canary_aborted", f"pkg:oci/podinfo@{d}", "6.9.0", "podinfo-api", "test"),
    ]
