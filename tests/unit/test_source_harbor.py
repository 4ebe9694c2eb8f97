"""Harbor webhooks, Default and CloudEvents formats → staging.harbor_events.

Payloads: tests/fixtures/written/harbor, written from Harbor's documented examples (see the README there):
each event type in both formats, `default.<type>.json` and `cloudevents.<type>.json`.
"""

from __future__ import annotations

from pipelines import tasks
from tests.source_helpers import WRITTEN, build, digest, fixture, ingest, lifecycle, rows, utc

HARBOR = WRITTEN / "harbor"
ALPINE = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"


def test_every_harbor_fixture_in_both_formats_maps_to_a_stage(paths):
    # bare files: the Default format is recognised by its shape, the CloudEvents format is a CloudEvent
    result = tasks.ingest(paths, [HARBOR])
    assert (result.total("records"), result.total("accepted"), result.total("quarantined")) == (20, 20, 0)
    build(paths)
    expected = {
        "PUSH_ARTIFACT": "artifact_published", "PULL_ARTIFACT": "artifact_downloaded",
        "DELETE_ARTIFACT": "artifact_deleted", "SCANNING_COMPLETED": "artifact_scanned",
        "SCANNING_FAILED": "scan_failed", "SCANNING_STOPPED": "scan_failed", "QUOTA_EXCEED": "ignored",
        "QUOTA_WARNING": "ignored", "REPLICATION": "ignored", "TAG_RETENTION": "ignored",
    }
    got = rows(paths, "select payload_format, harbor_type, stage from staging.harbor_events order by all")
    assert got == sorted((fmt, t, s) for fmt in ("cloudevents", "default") for t, s in expected.items())
    assert rows(paths, "select count(*) from marts.lifecycle_events where stage is null") == [(0,)]
    # both formats give the same canonical push: same artifact, digest, tag, time (occur_at 1680501893)
    assert rows(paths, "select distinct artifact_id, digest, version, service, occurred_at from marts.lifecycle_events "
                       "where stage = 'artifact_published'") == [
        (f"pkg:oci/alpine@{ALPINE}", ALPINE, "3.17", "alpine", utc("2023-04-03 06:04:53"))]
    # the scan's severity and counts (Trivy: 1 critical, 3 high, 5 medium, 3 low; 9 fixable)
    assert rows(paths, "select distinct severity, outcome, vulnerabilities, fixable, critical, high, medium, low, scanner "
                       "from staging.harbor_events where stage = 'artifact_scanned'") == [
        ("critical", "success", 12, 9, 1, 3, 5, 3, "Trivy")]
    # a pull by digest has no tag: no version
    assert rows(paths, "select distinct version from marts.lifecycle_events where stage = 'artifact_downloaded'") == [
        (None,)]


def test_a_push_of_several_tags_is_one_row_per_resource_and_the_receiver_path_names_the_tool(paths, tmp_path):
    push = fixture(HARBOR / "default.push_artifact.json")
    d = digest("shop-1.2.0")
    push["event_data"]["repository"].update(name="shop", namespace="web", repo_full_name="web/shop")
    push["event_data"]["resources"] = [
        {"digest": d, "tag": "1.2.0", "resource_url": "harbor.acme.io/web/shop:1.2.0"},
        {"digest": d, "tag": "latest", "resource_url": "harbor.acme.io/web/shop:latest"},
    ]
    result = ingest(paths, tmp_path, "harbor.ndjson", [lifecycle("harbor", push), lifecycle("harbor", push)])
    assert (result.total("accepted"), result.total("duplicates")) == (1, 1)
    build(paths)
    rows_ = rows(paths, "select stage, artifact_id, version, subject_id from marts.lifecycle_events order by version")
    assert rows_ == [("artifact_published", f"pkg:oci/shop@{d}", "1.2.0", "harbor.acme.io/web/shop:1.2.0"),
                     ("artifact_published", f"pkg:oci/shop@{d}", "latest", "harbor.acme.io/web/shop:latest")]
    assert rows(paths, "select count(distinct event_key) from marts.lifecycle_events") == [(2,)]
    assert rows(paths, "select artifact_id, published_at, service from intermediate.artifacts") == [
        (f"pkg:oci/shop@{d}", utc("2023-04-03 06:04:53"), "shop")]
