"""Flux alerts (notification-controller, `generic` provider) → staging.flux_alerts.

Payloads: tests/fixtures/written/flux, written from Flux's documented event structure (see the README there).
"""

from __future__ import annotations

import json

from tests.source_helpers import WRITTEN, build, ingest, request, rows, utc

FLUX = WRITTEN / "flux"
SHA1 = "9c6a7d0e9f2b4a1c3e5d7f9a1b3c5d7e9f1a3b5c"
SHA2 = "4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e"


def test_every_flux_fixture_maps_to_a_stage(paths, tmp_path):
    bodies = [json.loads(f.read_text()) for f in sorted(FLUX.glob("*.json"))]
    result = ingest(paths, tmp_path, "flux.ndjson",
                    [request({"Gotk-Component": b["reportingController"]}, b) for b in bodies])
    assert (result.total("accepted"), result.total("quarantined")) == (12, 0)
    build(paths)
    assert rows(paths, "select raw_type, stage, occurred_at, commit_sha, artifact_id, version, outcome "
                       "from marts.lifecycle_events order by occurred_at") == [
        ("flux:InstallSucceeded", "deployed", utc("2026-03-01 08:00"), None, "pkg:helm/podinfo@6.9.0", "6.9.0", "success"),
        ("flux:NewArtifact", "ignored", utc("2026-03-02 09:58"), SHA1, None, SHA1, None),  # a source, not a deployment
        ("flux:DependencyNotReady", "ignored", utc("2026-03-02 09:59"), SHA1, None, SHA1, None),
        ("flux:Progressing", "deploy_started", utc("2026-03-02 10:00"), SHA1, f"pkg:generic/flux-system/apps@{SHA1}",
         SHA1, None),
        ("flux:ReconciliationSucceeded", "deployed", utc("2026-03-02 10:00:30"), SHA1,
         f"pkg:generic/flux-system/apps@{SHA1}", SHA1, "success"),
        ("flux:HealthCheckFailed", "deploy_failed", utc("2026-03-02 11:05"), SHA2, f"pkg:generic/flux-system/apps@{SHA2}",
         SHA2, "failure"),
        ("flux:ReconciliationFailed", "deploy_failed", utc("2026-03-02 11:06"), SHA2,
         f"pkg:generic/flux-system/apps@{SHA2}", SHA2, "failure"),
        ("flux:UpgradeSucceeded", "deployed", utc("2026-03-02 12:00"), None, "pkg:helm/podinfo@6.9.2", "6.9.2", "success"),
        ("flux:TestSucceeded", "test_finished", utc("2026-03-02 12:01"), None, "pkg:helm/podinfo@6.9.2", "6.9.2", "success"),
        ("flux:UpgradeFailed", "deploy_failed", utc("2026-03-02 13:00"), None, "pkg:helm/podinfo@6.9.3", "6.9.3", "failure"),
        ("flux:RollbackSucceeded", "rolled_back", utc("2026-03-02 13:01"), None, "pkg:helm/podinfo@6.9.2", "6.9.2",
         "success"),
        ("flux:UninstallSucceeded", "service_removed", utc("2026-03-03 09:00"), None, "pkg:helm/podinfo@6.9.2", "6.9.2",
         "success"),
    ]


def test_bare_flux_events_are_recognised_and_metadata_names_environment_and_cluster(paths, tmp_path):
    body = json.loads((FLUX / "kustomization.reconciliation-succeeded.json").read_text())
    # an older controller: the revision under `<group>/revision`, in the `branch/sha` form
    body["metadata"] = {"kustomize.toolkit.fluxcd.io/revision": f"main/{SHA2}", "cluster": "prod-eu",
                        "team": "web", "part-of": "storefront"}
    result = ingest(paths, tmp_path, "bare.ndjson", [body])
    assert (result.total("accepted"), result.total("quarantined")) == (1, 0)
    build(paths)
    assert rows(paths, "select source_tool, stage, commit_sha, environment, environment_tier, cluster, service, team, app "
                       "from marts.lifecycle_events") == [
        ("flux", "deployed", SHA2, "prod-eu", "production", "prod-eu", "apps", "web", "storefront")]
