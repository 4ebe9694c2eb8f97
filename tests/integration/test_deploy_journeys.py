"""End-to-end journeys through the deploy-side sources: Argo Rollouts and Flagger canaries, Keptn quality gates.

Each test writes a short journey from the written fixtures (tests/fixtures/written/argo-rollouts, flagger,
keptn) and real GitHub / Harbor payloads, ingests it as the receiver stores it, builds, and checks marts.* against
figures derived BY HAND in the docstring. Times are UTC.
"""

from __future__ import annotations

from tests.integration.test_source_journeys import github_push, harbor_push
from tests.source_helpers import WRITTEN, build, digest, fixture, github, ingest, lifecycle, rows, sha, utc


def cdevent(event_id: str, kind: str, at: str, subject_id: str, content: dict, commit: str) -> dict:
    """A CDEvents v0.5.1 build event (a Jenkins-like CI) as a structured CloudEvent, naming its commit."""
    source = "https://jenkins.acme.io/job/build"
    ce_type = f"dev.cdevents.{kind}.0.3.0"
    return {"specversion": "1.0", "id": event_id, "source": source, "type": ce_type, "time": at,
            "datacontenttype": "application/json",
            "data": {"context": {"specversion": "0.5.1", "id": event_id, "source": source, "type": ce_type,
                                 "timestamp": at},
                     "subject": {"id": subject_id, "source": source, "content": content},
                     "customData": {"commitSha": commit}}}


def test_github_build_harbor_then_argo_rollouts_canary_promoted(paths, tmp_path):
    """acme/shop, 2026-03-09:
    - GitHub push to main: C1 at 08:00, C2 at 09:00 (C1 its parent);
    - Jenkins (CDEvents) build of C2: started 09:02, finished 09:10, artifact pkg:oci/shop@D;
    - Harbor pushes web/shop:1.5.0 (digest D) at 09:20;
    - Argo Rollouts, Rollout shop (label environment=production): on-rollout-updated 10:00 (revision 2, image
      harbor.acme.io/web/shop:1.5.0@D), on-rollout-step-completed 10:05, on-rollout-completed 10:30.

    Deployment: one production deployment of pkg:oci/shop@D at 10:30 (the promotion), success, a canary that
    started at 10:00, commit C2 (linked by the build). Lead times: C1 10:30 − 08:00 = 2 h 30 = 9000 s,
    C2 10:30 − 09:00 = 1 h 30 = 5400 s; p50 of (5400, 9000) = 7200 s.
    Stage durations (journey from C2's commit at 09:00):
      build_started    09:00→09:02  120 s, jenkins, active 0 (its build span starts at 09:02), waiting 120
      build_finished   09:02→09:10  480 s, jenkins, active 480 (the build span), waiting 0
      artifact_published 09:10→09:20 600 s, harbor, active 0, waiting 600
      canary_started   09:20→10:00 2400 s, argo-rollouts, active 0, waiting 2400
      deployed         10:00→10:30 1800 s, argo-rollouts, active 1800 (canary started→promoted: the bake), waiting 0
    (sum 5400 s = commit to production). artifact_journeys: canary_started_at 10:00, canary_bake_s 1800.
    """
    repo = "acme/shop"
    c1, c2 = sha("shop-c1"), sha("shop-c2")
    d = digest("shop-1.5.0")
    artifact = f"pkg:oci/shop@{d}"
    push = github_push(repo, sha("base"), [(c1, "2026-03-09T08:00:00Z"), (c2, "2026-03-09T09:00:00Z")])

    def rollout(name: str, trigger_at: str) -> dict:
        body = fixture(WRITTEN / "argo-rollouts" / name)
        body["timestamp"] = trigger_at
        body["rollout"]["spec"]["template"]["spec"]["containers"][0]["image"] = f"harbor.acme.io/web/shop:1.5.0@{d}"
        return lifecycle("argo-rollouts", body)

    lines = [
        github("push", push, "gh-push"),
        cdevent("build-1-started", "build.started", "2026-03-09T09:02:00Z", "shop-build-1", {}, c2),
        cdevent("build-1-finished", "build.finished", "2026-03-09T09:10:00Z", "shop-build-1",
                {"artifactId": f"pkg:oci/shop@{d.replace(':', '%3A')}"}, c2),
        harbor_push("shop", "web", "1.5.0", d, "2026-03-09T09:20:00Z", "harbor-push-1"),
        rollout("on-rollout-updated.json", "2026-03-09T10:00:00Z"),
        rollout("on-rollout-step-completed.json", "2026-03-09T10:05:00Z"),
        rollout("on-rollout-completed.json", "2026-03-09T10:30:00Z"),
    ]
    result = ingest(paths, tmp_path, "journey.ndjson", lines)
    assert (result.total("accepted"), result.total("quarantined")) == (7, 0)
    build(paths)

    assert rows(paths, "select service, environment, is_production, artifact_id, commit_sha, deployed_at, outcome, "
                       "is_canary, canary_started_at, caused_failure, source_tool from marts.deployments") == [
        ("shop", "production", True, artifact, c2, utc("2026-03-09 10:30"), "success", True, utc("2026-03-09 10:00"),
         False, "argo-rollouts")]
    assert rows(paths, "select commit_sha, lead_time_s from marts.changes order by committed_at") == [
        (c1, 9000.0), (c2, 5400.0)]
    assert rows(paths, "select stage, environment, tool, entered_at, exited_at, duration_s, active_s, waiting_s "
                       "from marts.stage_durations where artifact_id = ? order by seq", [artifact]) == [
        ("build_started", None, "jenkins", utc("2026-03-09 09:00"), utc("2026-03-09 09:02"), 120.0, 0.0, 120.0),
        ("build_finished", None, "jenkins", utc("2026-03-09 09:02"), utc("2026-03-09 09:10"), 480.0, 480.0, 0.0),
        ("artifact_published", None, "harbor", utc("2026-03-09 09:10"), utc("2026-03-09 09:20"), 600.0, 0.0, 600.0),
        ("canary_started", "production", "argo-rollouts", utc("2026-03-09 09:20"), utc("2026-03-09 10:00"), 2400.0,
         0.0, 2400.0),
        ("deployed", "production", "argo-rollouts", utc("2026-03-09 10:00"), utc("2026-03-09 10:30"), 1800.0, 1800.0,
         0.0),
    ]
    assert rows(paths, "select commit_sha, first_production_at, canary_started_at, canary_bake_s, furthest_stage "
                       "from marts.artifact_journeys where artifact_id = ?", [artifact]) == [
        (c2, utc("2026-03-09 10:30"), utc("2026-03-09 10:00"), 1800.0, "production")]
    assert rows(paths, "select deployments, failed_changes, change_fail_rate, lead_time_p50_s from marts.dora_metrics "
                       "where period = 'all' and group_by = 'overall'") == [(1, 0, 0.0, 7200.0)]


def keptn_v1(name: str, context: str, event_id: str, at: str, image: str | None = None, result: str | None = None) -> dict:
    """A Keptn v1 event from the fixtures, moved to another context, id and time (and image / result)."""
    body = fixture(WRITTEN / "keptn" / f"v1.{name}.json")
    body.update(shkeptncontext=context, id=event_id, time=at)
    body["data"].update(service="carts")
    if image:
        body["data"]["configurationChange"]["values"]["image"] = image
    if result:
        body["data"]["result"] = result
        if "evaluation" in body["data"]:
            body["data"]["evaluation"]["result"] = result
    return body


def test_cdevents_build_then_keptn_deployment_whose_quality_gate_fails(paths, tmp_path):
    """acme/carts, 2026-03-10, Keptn v1 project sockshop, stage production:
    - GitHub pushes: C3 at 08:00; later C4 at 10:00 (parent C3);
    - CDEvents build of C3 finished 08:20 → artifact E3; of C4 finished 10:15 → artifact E4;
    - Keptn context A: deployment.triggered 08:30 with image carts:0.13.0@E3, deployment.finished 08:40 (pass),
      evaluation.finished 08:50 (pass);
    - Keptn context B: deployment.triggered 10:30 with image carts:0.14.0@E4, deployment.finished 10:35 (pass),
      test.finished 10:45 (pass), evaluation.finished 10:50 (fail) — the post-deployment quality gate fails.

    Deployments: E3 at 08:40, not a failed change (its gate passed, the next deployment is no rollback or hotfix);
    E4 at 10:35, a failed change (failed_verifications 1), not recovered (nothing deployed after it).
    Lead times: C3 08:40 − 08:00 = 40 min = 2400 s (E3 built from C3); C4 10:35 − 10:00 = 35 min = 2100 s.
    DORA (all, overall): 2 deployments, 1 failed change → change fail rate 0.5; 1 unrecovered; lead time p50 =
    (2100 + 2400) / 2 = 2250 s. Both verdicts link to their deployment by the artifact.
    """
    repo = "acme/carts"
    c3, c4 = sha("carts-c3"), sha("carts-c4")
    e3, e4 = digest("carts-0.13.0"), digest("carts-0.14.0")
    ctx_a, ctx_b = "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    lines = [
        github("push", github_push(repo, sha("base"), [(c3, "2026-03-10T08:00:00Z")]), "push-1"),
        github("push", github_push(repo, c3, [(c4, "2026-03-10T10:00:00Z")]), "push-2"),
        cdevent("carts-build-3", "build.finished", "2026-03-10T08:20:00Z", "carts-3",
                {"artifactId": f"pkg:oci/carts@{e3.replace(':', '%3A')}"}, c3),
        cdevent("carts-build-4", "build.finished", "2026-03-10T10:15:00Z", "carts-4",
                {"artifactId": f"pkg:oci/carts@{e4.replace(':', '%3A')}"}, c4),
        keptn_v1("deployment.triggered", ctx_a, "a-1", "2026-03-10T08:30:00Z",
                 image=f"harbor.acme.io/sockshop/carts:0.13.0@{e3}"),
        keptn_v1("deployment.finished", ctx_a, "a-2", "2026-03-10T08:40:00Z"),
        keptn_v1("evaluation.finished", ctx_a, "a-3", "2026-03-10T08:50:00Z", result="pass"),
        keptn_v1("deployment.triggered", ctx_b, "b-1", "2026-03-10T10:30:00Z",
                 image=f"harbor.acme.io/sockshop/carts:0.14.0@{e4}"),
        keptn_v1("deployment.finished", ctx_b, "b-2", "2026-03-10T10:35:00Z"),
        keptn_v1("test.finished", ctx_b, "b-3", "2026-03-10T10:45:00Z"),
        keptn_v1("evaluation.finished", ctx_b, "b-4", "2026-03-10T10:50:00Z", result="fail"),
    ]
    result = ingest(paths, tmp_path, "journey.ndjson", lines)
    assert (result.total("accepted"), result.total("quarantined")) == (11, 0)
    build(paths)

    assert rows(paths, "select deployment_id, artifact_id, commit_sha, deployed_at, outcome, failed_verifications, "
                       "caused_failure, recovered_at from marts.deployments order by deployed_at") == [
        ("a-2", f"pkg:oci/carts@{e3}", c3, utc("2026-03-10 08:40"), "success", 0, False, None),
        ("b-2", f"pkg:oci/carts@{e4}", c4, utc("2026-03-10 10:35"), "success", 1, True, None),
    ]
    assert rows(paths, "select event_id, outcome, deployment_id, link from intermediate.verifications "
                       "order by verified_at") == [("a-3", "success", "a-2", "artifact"), ("b-4", "failure", "b-2", "artifact")]
    assert rows(paths, "select commit_sha, deployment_id, lead_time_s from marts.changes order by committed_at") == [
        (c3, "a-2", 2400.0), (c4, "b-2", 2100.0)]
    assert rows(paths, "select deployments, failed_changes, change_fail_rate, unrecovered, lead_time_p50_s "
                       "from marts.dora_metrics where period = 'all' and group_by = 'overall'") == [
        (2, 1, 0.5, 1, 2250.0)]


def test_flagger_canary_rolled_back_is_a_failed_deployment(paths, tmp_path):
    """Flagger canary podinfo.test (event webhook metadata: environment production, cluster prod-eu-1),
    2026-03-07, as posted to /webhooks/flagger:
    - revision 5d8f…: new revision 10:00, promotion completed 10:13 → a successful production deployment;
    - revision 84c6…: new revision 14:00, halt advancement 14:02, "Rolling back podinfo.test failed checks
      threshold reached 5" 14:06, "Canary failed!" 14:06:30 → one failed deployment at 14:06.

    marts.deployments: 10:13 success (canary since 10:00, not a failed change: nothing after it succeeds);
    14:06 outcome failure, a failed change (an aborted production canary), from its canary start 14:00 to the
    abort 14:06: recovery 6 min = 360 s. DORA (all, overall): deployments 2 (the promotion and the aborted
    canary), failed changes 1 → change fail rate 0.5, recovery p50 360 s. artifact_journeys: revision 1 reached
    production with a 13 min = 780 s bake; revision 2 is rejected (its last verdict is the abort).
    """
    names = ["event.new-revision-detected.json", "event.promotion-completed.json",
             "event.new-revision-detected.revision-2.json", "event.halt-advancement.json", "event.rolling-back.json",
             "event.canary-failed.json"]
    lines = [lifecycle("flagger", fixture(WRITTEN / "flagger" / n)) for n in names]
    assert ingest(paths, tmp_path, "flagger.ndjson", lines).total("quarantined") == 0
    build(paths)
    rev1, rev2 = "pkg:generic/test/podinfo@5d8f6c7b9a", "pkg:generic/test/podinfo@84c6f7d9b5"
    assert rows(paths, "select artifact_id, environment, cluster, deployed_at, outcome, caused_failure, "
                       "failure_started_at, recovered_at, recovery_time_s from marts.deployments order by deployed_at") == [
        (rev1, "production", "prod-eu-1", utc("2026-03-07 10:13"), "success", False, None, None, None),
        (rev2, "production", "prod-eu-1", utc("2026-03-07 14:06"), "failure", True, utc("2026-03-07 14:00"),
         utc("2026-03-07 14:06"), 360.0),
    ]
    assert rows(paths, "select deployments, failed_changes, change_fail_rate, recovery_time_p50_s "
                       "from marts.dora_metrics where period = 'all' and group_by = 'overall'") == [(2, 1, 0.5, 360.0)]
    assert rows(paths, "select artifact_id, reached_production, canary_bake_s, outcome from marts.artifact_journeys "
                       "order by artifact_id") == [(rev1, True, 780.0, "production"), (rev2, False, None, "rejected")]
