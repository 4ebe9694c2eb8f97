"""k6 end-of-test summaries (--summary-export, handleSummary data) → staging.k6_summaries: test_finished in the
environment the request's headers name, outcome from checks and thresholds, duration from the summary.

Payloads: tests/fixtures/written/k6, written from k6's documented summary formats (see the README there).
"""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from pipelines import tasks
from pipelines.receiver.app import create_app
from tests.receiver.conftest import settings_for
from tests.source_helpers import WRITTEN, build, fixture, ingest, request, rows, utc

K6 = WRITTEN / "k6"
DIGEST = "sha256:5e1f0c3a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
IMAGE_REF = f"harbor.acme.io/web/shop:1.4.0@{DIGEST}"


def k6(body: dict, received_at: str, environment: str = "staging", **extra: str) -> dict:
    return request({"X-Lifecycle-Source": "k6", "X-Lifecycle-Service": "shop", "X-Lifecycle-Environment": environment,
                    "X-Lifecycle-Artifact": IMAGE_REF, **extra}, body, received_at)


def test_every_k6_summary_maps_to_a_test_run_in_its_environment(paths, tmp_path):
    """Four summaries of image shop:1.4.0@D in staging, each received when its run ended:

    - summary-export.passed, received 09:45: 600 iterations at 1.0/s → 600 s, started 09:35; 600 checks passed, the
      threshold p(95)<500 not crossed (false) → success
    - summary-export.threshold-crossed, received 10:45: 1200 iterations at 4.0/s → 300 s (10:40); p(95)<500 crossed
      (true) → failure, although no check failed
    - summary-export.checks-failed, received 11:45: 300 iterations at 2.5/s → 120 s (11:43); 10 of 300 checks
      failed → failure
    - handle-summary (handleSummary's data), received 12:45: state.testRunDurationMs 452310.5 → 452.3105 s
      (12:37:27.6895); thresholds {"ok": true} → success
    """
    lines = [k6(fixture(K6 / "summary-export.passed.json"), "2026-03-02T09:45:00Z"),
             k6(fixture(K6 / "summary-export.threshold-crossed.json"), "2026-03-02T10:45:00Z"),
             k6(fixture(K6 / "summary-export.checks-failed.json"), "2026-03-02T11:45:00Z"),
             k6(fixture(K6 / "handle-summary.json"), "2026-03-02T12:45:00Z")]
    result = ingest(paths, tmp_path, "k6.ndjson", lines)
    assert (result.total("accepted"), result.total("quarantined")) == (4, 0)
    build(paths)
    assert rows(paths, "select stage, occurred_at, outcome, duration_s from marts.lifecycle_events "
                       "order by occurred_at, stage") == [
        ("test_started", utc("2026-03-02 09:35"), None, None),
        ("test_finished", utc("2026-03-02 09:45"), "success", 600.0),
        ("test_started", utc("2026-03-02 10:40"), None, None),
        ("test_finished", utc("2026-03-02 10:45"), "failure", 300.0),
        ("test_started", utc("2026-03-02 11:43"), None, None),
        ("test_finished", utc("2026-03-02 11:45"), "failure", 120.0),
        ("test_started", utc("2026-03-02 12:37:27.6895"), None, None),
        ("test_finished", utc("2026-03-02 12:45"), "success", 452.3105),
    ]
    assert rows(paths, "select distinct source_tool, raw_type, service, environment, environment_tier, artifact_id, "
                       "digest, version from marts.lifecycle_events") == [
        ("k6", "k6:summary", "shop", "staging", "staging", f"pkg:oci/shop@{DIGEST}", DIGEST, "1.4.0")]
    assert rows(paths, "select checks_passed, checks_failed, thresholds, thresholds_crossed, iterations, http_req_p95_ms "
                       "from staging.k6_summaries where stage = 'test_finished' order by occurred_at") == [
        (600, 0, 2, 0, 600, 212.7), (1200, 0, 2, 1, 1200, 731.4), (290, 10, 2, 0, 300, 180.2),
        (450, 0, 2, 0, 450, 181.9)]
    # the derived start has its own event id and key, so each canonical row stays unique
    assert rows(paths, "select count(distinct event_key), count(*) from marts.lifecycle_events") == [(8, 8)]


def test_a_bare_summary_is_recognised_by_its_shape_or_with_source_k6(paths, tmp_path):
    """Without headers a summary names no service, environment or artifact: still one test run, its outcome
    (checks-failed → failure) kept; a bare file is recognised by `metrics` + `root_group`, or with --source k6."""
    passed, failed = fixture(K6 / "summary-export.passed.json"), fixture(K6 / "summary-export.checks-failed.json")
    assert ingest(paths, tmp_path, "bare.ndjson", [passed]).total("accepted") == 1
    assert ingest(paths, tmp_path, "forced.ndjson", [failed], source="k6").total("accepted") == 1
    build(paths)
    assert rows(paths, "select outcome, service, environment, artifact_id from marts.lifecycle_events "
                       "where stage = 'test_finished' order by outcome") == [
        ("failure", None, None, None), ("success", None, None, None)]


def test_posted_to_the_receiver_the_headers_name_service_environment_and_artifact(paths):
    """`curl -X POST /webhooks/k6 -H 'X-Lifecycle-Environment: prod-eu' …` stores the headers with the body; the
    loader reads them back: environment prod-eu (tier production), service shop, artifact shop@D."""
    with TestClient(create_app(settings_for(paths.landing))) as client:
        response = client.post("/webhooks/k6", content=json.dumps(fixture(K6 / "summary-export.passed.json")),
                               headers={"Content-Type": "application/json", "X-Lifecycle-Service": "shop",
                                        "X-Lifecycle-Environment": "prod-eu", "X-Lifecycle-Artifact": IMAGE_REF})
        assert response.status_code == 202
    assert tasks.ingest_landing_zone(paths).total("accepted") == 1
    build(paths)
    assert rows(paths, "select stage, outcome, service, environment, environment_tier, artifact_id "
                       "from marts.lifecycle_events where stage = 'test_finished'") == [
        ("test_finished", "success", "shop", "prod-eu", "production", f"pkg:oci/shop@{DIGEST}")]
