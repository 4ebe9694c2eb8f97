"""Argo Rollouts notifications → staging.argo_rollouts_notifications, and canaries in marts.deployments.

Payloads: tests/fixtures/written/argo-rollouts, written from Argo Rollouts' notification documentation (built-in
triggers, the template variable `rollout`) and the Rollout spec (see the README there). Expected values are
derived by hand from those files and the mapping in docs/sources.md.
"""

from __future__ import annotations

import json

from tests.source_helpers import (
    WRITTEN,
    argocd_notification,
    build,
    digest,
    fixture,
    ingest,
    lifecycle,
    rows,
    sha,
    utc,
)

ROLLOUTS = WRITTEN / "argo-rollouts"
D2 = "sha256:5b1f0a3c9d2e4f6a8b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f2a4b6c8d0e1f3a"
D3 = "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"


def posted(name: str, body: dict | None = None) -> dict:
    """A notification as the receiver stores it when posted to /webhooks/argo-rollouts."""
    return lifecycle("argo-rollouts", body or json.loads((ROLLOUTS / name).read_text()),
                     received_at="2026-03-06T13:00:00Z")


def test_every_argo_rollouts_fixture_maps_to_a_stage(paths, tmp_path):
    """Rollout shop (revision 2 = image shop:1.5.0@D2, revision 3 = shop:1.6.0@D3) and the flat body of
    rollout checkout (image checkout:2.3.1, no digest). Trigger → stage (docs/sources.md): updated →
    canary_started, completed → canary_promoted (success), aborted → canary_aborted (failure), analysis run
    failed / error → verification_finished (failure / error), step-completed, paused, analysis-run-running,
    scaling-replica-set → ignored (no artifact). Times are the bodies' `timestamp`s; versions the pod template's
    app.kubernetes.io/version label, or the image tag (checkout)."""
    files = sorted(ROLLOUTS.glob("*.json"))
    result = ingest(paths, tmp_path, "rollouts.ndjson", [posted(f.name) for f in files])
    assert (result.total("accepted"), result.total("quarantined")) == (11, 0)
    build(paths)
    shop2, shop3 = f"pkg:oci/shop@{D2}", f"pkg:oci/shop@{D3}"
    assert rows(paths, "select raw_type, stage, occurred_at, outcome, artifact_id, version from marts.lifecycle_events "
                       "order by occurred_at") == [
        ("argo-rollouts:on-rollout-updated", "canary_started", utc("2026-03-06 10:00"), None, shop2, "1.5.0"),
        ("argo-rollouts:on-rollout-step-completed", "ignored", utc("2026-03-06 10:00:20"), None, None, "1.5.0"),
        ("argo-rollouts:on-rollout-paused", "ignored", utc("2026-03-06 10:00:21"), None, None, "1.5.0"),
        ("argo-rollouts:on-analysis-run-running", "ignored", utc("2026-03-06 10:20:30"), None, None, "1.5.0"),
        ("argo-rollouts:on-rollout-completed", "canary_promoted", utc("2026-03-06 10:25"), "success", shop2, "1.5.0"),
        ("argo-rollouts:on-scaling-replica-set", "ignored", utc("2026-03-06 10:25:05"), None, None, "1.5.0"),
        ("argo-rollouts:on-rollout-updated", "canary_started", utc("2026-03-06 11:00"), None, shop3, "1.6.0"),
        ("argo-rollouts:on-analysis-run-failed", "verification_finished", utc("2026-03-06 11:30:55"), "failure", shop3,
         "1.6.0"),
        ("argo-rollouts:on-analysis-run-error", "verification_finished", utc("2026-03-06 11:30:56"), "error", shop3,
         "1.6.0"),
        ("argo-rollouts:on-rollout-aborted", "canary_aborted", utc("2026-03-06 11:31"), "failure", shop3, "1.6.0"),
        ("argo-rollouts:on-rollout-completed", "canary_promoted", utc("2026-03-06 12:40"), "success",
         "pkg:oci/checkout@2.3.1", "2.3.1"),
    ]


def test_canaries_become_deployments_and_an_aborted_one_a_failed_change(paths, tmp_path):
    """Rollout shop in namespace shop-production, label environment=production (tier production):
    - revision 2: canary started 10:00, promoted 10:25 → a successful production deployment at 10:25
      (is_canary, canary_started_at 10:00);
    - revision 3: canary started 11:00, analysis failed 11:30:55, aborted 11:31 → outcome failure, and a failed
      change: it served production traffic from 11:00 until the abort at 11:31 (recovery 31 min = 1860 s).
    The analysis verdicts name revision 3's artifact, never deployed successfully: they verify no deployment.
    Checkout (environment staging) is not production. DORA (all, overall): deployments = 1 promoted + 1 aborted
    production canary = 2, failed changes 1 → change fail rate 0.5, no failed attempts, recovery p50 1860 s.
    Identity: service shop (app.kubernetes.io/name), team web (owner.team), app storefront (part-of)."""
    ingest(paths, tmp_path, "rollouts.ndjson", [posted(f.name) for f in sorted(ROLLOUTS.glob("*.json"))])
    build(paths)
    assert rows(paths, "select service, team, app, environment, is_production, artifact_id, deployed_at, outcome, "
                       "is_canary, canary_started_at, caused_failure, failure_started_at, recovered_at, recovery_time_s "
                       "from marts.deployments order by deployed_at") == [
        ("shop", "web", "storefront", "production", True, f"pkg:oci/shop@{D2}", utc("2026-03-06 10:25"), "success",
         True, utc("2026-03-06 10:00"), False, None, None, None),
        ("shop", "web", "storefront", "production", True, f"pkg:oci/shop@{D3}", utc("2026-03-06 11:31"), "failure",
         True, utc("2026-03-06 11:00"), True, utc("2026-03-06 11:00"), utc("2026-03-06 11:31"), 1860.0),
        ("checkout", None, None, "staging", False, "pkg:oci/checkout@2.3.1", utc("2026-03-06 12:40"), "success",
         True, None, False, None, None, None),
    ]
    assert rows(paths, "select outcome, deployment_id from intermediate.verifications order by verified_at") == [
        ("failure", None), ("error", None)]
    assert rows(paths, "select deployments, failed_changes, failed_deployment_attempts, change_fail_rate, "
                       "recovery_time_p50_s from marts.dora_metrics where period = 'all' and group_by = 'overall'") == [
        (2, 1, 0, 0.5, 1860.0)]


def test_a_posted_rollout_is_recognised_without_headers_but_a_flat_body_is_not(paths, tmp_path):
    """A bare body whose `rollout` is an argoproj.io Rollout names its tool; the flat template's body (its
    `rollout` is a name) does not, and is quarantined with the advice to pass --source."""
    whole = json.loads((ROLLOUTS / "on-rollout-completed.json").read_text())
    flat = json.loads((ROLLOUTS / "flat.on-rollout-completed.json").read_text())
    result = ingest(paths, tmp_path, "bare.ndjson", [whole, flat])
    assert (result.total("accepted"), result.total("quarantined")) == (1, 1)
    assert "--source" in rows(paths, "select reason from raw.quarantine")[0][0]
    build(paths)
    assert rows(paths, "select source_tool, stage from marts.lifecycle_events") == [("argo-rollouts", "canary_promoted")]


def test_without_a_trigger_the_rollout_status_says_and_repeats_count_once(paths, tmp_path):
    """Bodies without `trigger` (a template that only posts the Rollout), revision 4 of shop (image D4):
    - 12:00 status Progressing → ignored; 12:20 status Healthy → canary_promoted;
    - 12:21 Healthy again (a second notification of the same revision) → ignored;
    - revision 5 at 13:00 with status.abort → canary_aborted."""
    def body(revision: int, image_digest: str, phase: str, at: str, abort: bool = False) -> dict:
        b = fixture(ROLLOUTS / "on-rollout-completed.json")
        del b["trigger"]
        b["timestamp"] = at
        ro = b["rollout"]
        ro["metadata"]["annotations"]["rollout.argoproj.io/revision"] = str(revision)
        ro["spec"]["template"]["spec"]["containers"][0]["image"] = f"harbor.acme.io/web/shop@{image_digest}"
        ro["status"]["phase"] = phase
        if abort:
            ro["status"]["abort"] = True
        return posted("", b)

    d4, d5 = digest("shop-4"), digest("shop-5")
    ingest(paths, tmp_path, "no-trigger.ndjson", [
        body(4, d4, "Progressing", "2026-03-06T12:00:00Z"), body(4, d4, "Healthy", "2026-03-06T12:20:00Z"),
        body(4, d4, "Healthy", "2026-03-06T12:21:00Z"), body(5, d5, "Degraded", "2026-03-06T13:00:00Z", abort=True)])
    build(paths)
    assert rows(paths, "select raw_type, stage, artifact_id from marts.lifecycle_events order by occurred_at") == [
        ("argo-rollouts:?", "ignored", None),
        ("argo-rollouts:on-rollout-completed", "canary_promoted", f"pkg:oci/shop@{d4}"),
        ("argo-rollouts:on-rollout-completed", "ignored", None),
        ("argo-rollouts:on-rollout-aborted", "canary_aborted", f"pkg:oci/shop@{d5}"),
    ]


def test_argo_cd_sync_of_a_rollout_is_not_a_second_deployment(paths, tmp_path):
    """Argo CD syncs the Rollout's manifests, Argo Rollouts rolls them out: one deployment, not two.
    - Argo CD app shop-prod (environment production) syncs C2 with image harbor.acme.io/web/shop:1.5.0@D2:
      running 09:59:00, succeeded 09:59:30 (its `deployed` event, while the Rollout is still progressing);
    - Argo Rollouts: revision 2 (same image) updated 10:00, completed 10:25.
    marts.deployments: the canary's promotion at 10:25 only (the sync's `deployed` stays in
    marts.lifecycle_events); its commit is C2, the revision Argo CD synced (commit_link deployment)."""
    c2 = sha("rollouts-c2")
    image = f"harbor.acme.io/web/shop:1.5.0@{D2}"
    url = "https://github.com/acme/shop.git"

    def argo(phase: str, finished: str | None, notified: str, health: str, history: list) -> dict:
        return lifecycle("argocd", argocd_notification(
            "shop-prod", "shop", revision=c2, repo_url=url, images=[image], phase=phase,
            started="2026-03-06T09:59:00Z", finished=finished, notified=notified, health=health, history=history,
            labels={"environment": "production"}))

    lines = [argo("Running", None, "2026-03-06T09:59:01Z", "Healthy", []),
             argo("Succeeded", "2026-03-06T09:59:30Z", "2026-03-06T09:59:31Z", "Progressing",
                  [(c2, "2026-03-06T09:59:30Z")]),
             posted("on-rollout-updated.json"), posted("on-rollout-completed.json")]
    assert ingest(paths, tmp_path, "argo.ndjson", lines).total("quarantined") == 0
    build(paths)
    assert rows(paths, "select source_tool, deployed_at, artifact_id, commit_sha, commit_link, is_canary "
                       "from marts.deployments") == [
        ("argo-rollouts", utc("2026-03-06 10:25"), f"pkg:oci/shop@{D2}", c2, "deployment", True)]
    assert rows(paths, "select source_tool, occurred_at from marts.lifecycle_events where stage = 'deployed'") == [
        ("argocd", utc("2026-03-06 09:59:30"))]
