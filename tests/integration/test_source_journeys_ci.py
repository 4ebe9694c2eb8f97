"""End-to-end journeys through the CI and test tools: Tekton builds tested by k6, and Jenkins build and deploy jobs.

Each test edits the written fixtures (tests/fixtures/written/tekton, jenkins, k6) and the real GitHub / Harbor /
Argo CD payloads into one journey, ingests it as the receiver would have stored it, builds, and checks marts.*
against figures derived BY HAND in the docstring. Times are UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipelines import source_config
from tests.integration.test_source_journeys import github_push, harbor_push
from tests.source_helpers import (
    WRITTEN,
    argocd_notification,
    build,
    digest,
    fixture,
    github,
    ingest,
    lifecycle,
    request,
    rows,
    sha,
    utc,
)

FIXTURE_SHA = "3f9c2b7e1d4a5c6b8e9f0a1b2c3d4e5f6a7b8c9d"
FIXTURE_DIGEST = "sha256:5e1f0c3a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"


def retarget(path, commit: str, image_digest: str | None = None) -> dict:
    """A written fixture with its commit (and image digest) replaced by this journey's."""
    text = path.read_text().replace(FIXTURE_SHA, commit)
    if image_digest:
        text = text.replace(FIXTURE_DIGEST, image_digest)
    return json.loads(text)


def test_tekton_build_harbor_push_argocd_staging_k6_then_production(paths, tmp_path):
    """GitHub commit → Tekton build → Harbor push → Argo CD staging → k6 load test in staging → Argo CD production.

    - 09:00 commit C pushed to acme/shop main (GitHub)
    - Tekton PipelineRun shop-build-7xk2p (params git-url acme/shop, git-revision C): started 09:05 (startTime),
      successful 09:17 (completionTime) with results IMAGE_URL harbor.acme.io/web/shop:1.4.0, IMAGE_DIGEST D
    - 09:20 Harbor (CloudEvents format) pushes web/shop:1.4.0 with digest D
    - 09:33 Argo CD `shop-staging` (environment staging) synced C, running harbor.acme.io/web/shop:1.4.0@D
    - k6 in staging, posted with X-Lifecycle-Environment staging and X-Lifecycle-Artifact …shop:1.4.0@D, received
      09:45: 600 iterations at 1.0/s → a 600 s run (09:35 → 09:45), 600 checks passed, p(95)<500 not crossed
    - 10:04 Argo CD `shop-prod` (environment production) synced C with the same image

    One artifact pkg:oci/shop@D, built from C (its Tekton build names both). Lead time of C: 10:04 − 09:00 =
    64 min = 3840 s. Its stage durations (each from the previous milestone to this one, by the later tool):
      build_started      09:00→09:05  tekton    300 = active 0   + waiting 300  (before the run started)
      build_finished     09:05→09:17  tekton    720 = active 720 + waiting 0    (the run: started→successful)
      artifact_published 09:17→09:20  harbor    180 = 0 + 180
      deployed staging   09:20→09:33  argocd    780 = 0 + 780   (Argo CD sends no start of the sync here)
      test_finished stg  09:33→09:45  k6        720 = 600 + 120 (the k6 run 09:35→09:45 is active)
      deployed prod      09:45→10:04  argocd   1140 = 0 + 1140
    and they add up to the lead time: 300 + 720 + 180 + 780 + 720 + 1140 = 3840 s. In marts.bottlenecks (one
    journey) Tekton's build is 720 / 3840 = 0.1875 of the lead time, with no waiting; k6's test 720 / 3840 =
    0.1875, waiting 120 / 720 = 1/6.
    """
    c, d = sha("tekton-c"), digest("tekton-shop-1.4.0")
    image = f"harbor.acme.io/web/shop:1.4.0@{d}"
    artifact = f"pkg:oci/shop@{d}"
    tekton = WRITTEN / "tekton"
    k6_summary = fixture(WRITTEN / "k6" / "summary-export.passed.json")

    def argo(app, env, finished, delivery):
        body = argocd_notification(app, "shop", revision=c, repo_url="https://github.com/acme/shop", images=[image],
                                   phase="Succeeded", started=finished, finished=finished, notified=finished,
                                   history=[(c, finished)], labels={"environment": env})
        return lifecycle("argocd", body, **{"X-Lifecycle-Delivery": delivery})

    lines = [
        github("push", github_push("acme/shop", sha("base"), [(c, "2026-03-02T09:00:00Z")]), "push-c"),
        retarget(tekton / "pipelinerun.started.json", c, d),
        retarget(tekton / "pipelinerun.successful.json", c, d),
        harbor_push("shop", "web", "1.4.0", d, "2026-03-02T09:20:00Z", "harbor-push"),
        argo("shop-staging", "staging", "2026-03-02T09:33:00Z", "argo-stg"),
        request({"X-Lifecycle-Source": "k6", "X-Lifecycle-Service": "shop", "X-Lifecycle-Environment": "staging",
                 "X-Lifecycle-Artifact": image}, k6_summary, "2026-03-02T09:45:00Z"),
        argo("shop-prod", "production", "2026-03-02T10:04:00Z", "argo-prod"),
    ]
    result = ingest(paths, tmp_path, "journey.ndjson", lines)
    assert (result.total("accepted"), result.total("quarantined")) == (7, 0)
    build(paths)

    assert rows(paths, "select commit_sha, committed_at, deployment_id, deployed_at, lead_time_s from marts.changes") == [
        (c, utc("2026-03-02 09:00"), "argo-prod", utc("2026-03-02 10:04"), 3840.0)]
    assert rows(paths, "select artifact_id, commit_sha, commit_link, furthest_stage from marts.artifact_journeys") == [
        (artifact, c, "build", "production")]
    assert rows(paths, "select stage, environment, tool, entered_at, exited_at, duration_s, active_s, waiting_s "
                       "from marts.stage_durations where artifact_id = ? order by seq", [artifact]) == [
        ("build_started", None, "tekton", utc("2026-03-02 09:00"), utc("2026-03-02 09:05"), 300.0, 0.0, 300.0),
        ("build_finished", None, "tekton", utc("2026-03-02 09:05"), utc("2026-03-02 09:17"), 720.0, 720.0, 0.0),
        ("artifact_published", None, "harbor", utc("2026-03-02 09:17"), utc("2026-03-02 09:20"), 180.0, 0.0, 180.0),
        ("deployed", "staging", "argocd", utc("2026-03-02 09:20"), utc("2026-03-02 09:33"), 780.0, 0.0, 780.0),
        ("test_finished", "staging", "k6", utc("2026-03-02 09:33"), utc("2026-03-02 09:45"), 720.0, 600.0, 120.0),
        ("deployed", "production", "argocd", utc("2026-03-02 09:45"), utc("2026-03-02 10:04"), 1140.0, 0.0, 1140.0),
    ]
    assert rows(paths, "select sum(duration_s) from marts.stage_durations where artifact_id = ?", [artifact]) == [
        (3840.0,)]
    # the test result: k6's run in staging passed, and took 600 s
    assert rows(paths, "select source_tool, stage, environment, outcome, duration_s from marts.lifecycle_events "
                       "where stage = 'test_finished'") == [("k6", "test_finished", "staging", "success", 600.0)]
    assert rows(paths, "select tool, stage, share_of_lead_time, waiting_share from marts.bottlenecks "
                       "where period = 'all' and tool in ('tekton', 'k6') order by tool, stage") == [
        ("k6", "test_finished", 0.1875, 120 / 720),
        ("tekton", "build_finished", 0.1875, 0.0),
        ("tekton", "build_started", 300 / 3840, 1.0),
    ]


def test_jenkins_build_and_deploy_jobs_with_a_failed_production_deploy(paths, tmp_path, monkeypatch):
    """Jenkins only (with the push that made the commit): lifecycle.toml says `deploy-{service}-{environment}` jobs
    deploy and `*-build` jobs build. No IMAGE parameter: the deploy jobs deploy the source at the commit
    (pkg:github/acme/shop@J).

    - 08:00 commit J pushed to acme/shop main
    - shop-build #41 on J: queued 08:05, started 08:07, completed SUCCESS 08:15 (duration 480 s)
    - deploy-shop-staging #30: queued 08:20, started 08:21, completed SUCCESS 08:25
    - deploy-shop-production #31: queued 09:00, started 09:01, completed FAILURE 09:04
    - deploy-shop-production #32: queued 09:30, started 09:31, completed SUCCESS 09:35

    Deployments: staging 08:25; production 09:04 failed (recovered by the next successful production deployment,
    09:35: 31 min = 1860 s); production 09:35. Lead time of J: 09:35 − 08:00 = 95 min = 5700 s.
    DORA (all time, overall): 1 production deployment, 1 failed attempt; change_fail_rate = failed changes /
    deployments = 0 / 1 = 0 (the 09:35 deployment needed no intervention); with failed attempts:
    (0 + 1) / (1 + 1) = 0.5.
    Stage durations of pkg:github/acme/shop@J: build_queued 08:00→08:05 (300 s, waiting), build_started
    08:05→08:07 (120 s waiting: QUEUED→STARTED), build_finished 08:07→08:15 (480 s active: STARTED→COMPLETED),
    deployed staging 08:15→08:25 (600 s; active 08:21→08:25 = 240 s, the deploy job's run), deployed production
    08:25→09:35 (4200 s; active = the failed run 09:01→09:04 = 180 s + the successful one 09:31→09:35 = 240 s
    = 420 s; waiting 3780 s).
    """
    config = tmp_path / "lifecycle.toml"
    config.write_text('[jenkins]\njobs = [{match = "deploy-{service}-{environment}", stage = "deploy"},\n'
                      '        {match = "*-build", stage = "build"}]\n')
    monkeypatch.setenv(source_config.CONFIG_ENV, str(config))
    j = sha("jenkins-j")

    def ms(hhmm: str) -> int:
        return int(datetime.fromisoformat(f"2026-03-02T{hhmm}:00+00:00").astimezone(UTC).timestamp() * 1000)

    def job(name: str, number: int, phase: str, at: str, status: str | None = None, duration_s: int = 0) -> dict:
        body = retarget(WRITTEN / "jenkins" / "shop-build.started.json", j)
        body.update(name=name, display_name=name, url=f"job/{name}/")
        body["build"].update(number=number, phase=phase, timestamp=ms(at), duration=duration_s * 1000,
                             url=f"job/{name}/{number}/", full_url=f"https://jenkins.acme.io/job/{name}/{number}/")
        if status:
            body["build"]["status"] = status
        return lifecycle("jenkins", body)

    lines = [
        github("push", github_push("acme/shop", sha("base"), [(j, "2026-03-02T08:00:00Z")]), "push-j"),
        job("shop-build", 41, "QUEUED", "08:05"), job("shop-build", 41, "STARTED", "08:07"),
        job("shop-build", 41, "COMPLETED", "08:15", "SUCCESS", 480),
        job("deploy-shop-staging", 30, "QUEUED", "08:20"), job("deploy-shop-staging", 30, "STARTED", "08:21"),
        job("deploy-shop-staging", 30, "COMPLETED", "08:25", "SUCCESS", 240),
        job("deploy-shop-production", 31, "QUEUED", "09:00"), job("deploy-shop-production", 31, "STARTED", "09:01"),
        job("deploy-shop-production", 31, "COMPLETED", "09:04", "FAILURE", 180),
        job("deploy-shop-production", 32, "QUEUED", "09:30"), job("deploy-shop-production", 32, "STARTED", "09:31"),
        job("deploy-shop-production", 32, "COMPLETED", "09:35", "SUCCESS", 240),
    ]
    assert ingest(paths, tmp_path, "jenkins.ndjson", lines).total("accepted") == 13
    build(paths)

    source = f"pkg:github/acme/shop@{j}"
    assert rows(paths, "select service, environment, is_production, artifact_id, commit_sha, deployed_at, outcome, "
                       "caused_failure, recovered_at, recovery_time_s from marts.deployments order by deployed_at") == [
        ("shop", "staging", False, source, j, utc("2026-03-02 08:25"), "success", False, None, None),
        ("shop", "production", True, source, j, utc("2026-03-02 09:04"), "failure", False, utc("2026-03-02 09:35"),
         1860.0),
        ("shop", "production", True, source, j, utc("2026-03-02 09:35"), "success", False, None, None),
    ]
    assert rows(paths, "select c.commit_sha, c.lead_time_s, d.deployed_at from marts.changes c "
                       "join marts.deployments d using (deployment_id)") == [(j, 5700.0, utc("2026-03-02 09:35"))]
    assert rows(paths, "select deployments, failed_deployment_attempts, change_fail_rate, "
                       "change_fail_rate_incl_failed_attempts, lead_time_p50_s from marts.dora_metrics "
                       "where period = 'all' and group_by = 'overall'") == [(1, 1, 0.0, 0.5, 5700.0)]
    assert rows(paths, "select stage, environment, tool, duration_s, active_s, waiting_s from marts.stage_durations "
                       "where artifact_id = ? order by seq", [source]) == [
        ("build_queued", None, "jenkins", 300.0, 0.0, 300.0),
        ("build_started", None, "jenkins", 120.0, 0.0, 120.0),
        ("build_finished", None, "jenkins", 480.0, 480.0, 0.0),
        ("deployed", "staging", "jenkins", 600.0, 240.0, 360.0),
        ("deployed", "production", "jenkins", 4200.0, 420.0, 3780.0),
    ]
