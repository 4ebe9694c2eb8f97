"""End-to-end journeys told only in vendor webhooks, one per source family, plus a mixed-source journey.

Each test edits real payloads (tests/fixtures) into a short journey, ingests it as the receiver would have
stored it (captured requests with the vendor's headers), builds, and checks marts.* against figures derived
BY HAND in the docstring. Times are UTC unless the payload says otherwise.
"""

from __future__ import annotations

from tests.source_helpers import (
    CAPTURED,
    GITLAB,
    OCTOKIT,
    WRITTEN,
    argocd_notification,
    build,
    digest,
    fixture,
    github,
    gitlab,
    ingest,
    lifecycle,
    request,
    rows,
    sha,
    utc,
)

C1, C2 = sha("shop-c1"), sha("shop-c2")


def github_push(repo: str, before: str, commits: list[tuple[str, str]]) -> dict:
    """A push to main listing (sha, timestamp) commits, built on octokit's push example."""
    body = fixture(OCTOKIT / "push" / "with-new-branch.payload.json")
    owner, name = repo.split("/")
    body["repository"].update(full_name=repo, name=name)
    template = body["commits"][0]
    body.update(ref="refs/heads/main", before=before, after=commits[-1][0], created=False, deleted=False, forced=False,
                commits=[dict(template, id=c, timestamp=t, message=f"change {i}", distinct=True)
                         for i, (c, t) in enumerate(commits, start=1)],
                head_commit=dict(template, id=commits[-1][0], timestamp=commits[-1][1]))
    return body


def with_repo(body: dict, repo: str) -> dict:
    body["repository"].update(full_name=repo, name=repo.split("/")[1])
    return body


def test_github_journey_push_build_package_deployment(paths, tmp_path):
    """GitHub only: push → workflow_run → registry_package → deployment → deployment_status success.

    - push to acme/shop main (before = base): C1 at 09:00+01:00 (= 08:00Z), C2 at 10:30Z
    - workflow_run `build` on C2: requested 10:31, in progress 10:32, completed success 10:40
    - registry_package: image shop@sha256:D published 10:41, its revision label = C2
    - deployment to `production` of C2 created 11:00; its status `success` at 11:05

    Deployment: one production deployment of C2 (the source at C2: pkg:github/acme/shop@C2) at 11:05,
    linked to C2 by the deployment itself. Lead times (deployment − commit time):
    C1: 11:05 − 08:00 = 3 h 05 min = 11100 s; C2: 11:05 − 10:30 = 35 min = 2100 s.
    The image is a separate artifact, built from C2 (its label), published, not deployed.
    """
    repo = "acme/shop"
    push = github_push(repo, sha("base"), [(C1, "2026-03-02T09:00:00+01:00"), (C2, "2026-03-02T10:30:00Z")])
    runs = []
    for action, status, updated in (("requested", "queued", "10:31"), ("in_progress", "in_progress", "10:32"),
                                    ("completed", "completed", "10:40")):
        run = with_repo(fixture(CAPTURED / "github_events" / "workflow_run" / "completed.json"), repo)
        run["action"] = action
        run["workflow_run"].update(id=500, name="build", head_sha=C2, head_branch="main", event="push", status=status,
                                   conclusion="success" if action == "completed" else None,
                                   created_at="2026-03-02T10:31:00Z", run_started_at="2026-03-02T10:32:00Z",
                                   updated_at=f"2026-03-02T{updated}:00Z")
        runs.append(run)
    package = with_repo(fixture(OCTOKIT / "registry_package" / "published.docker.payload.json"), repo)
    image = digest("shop-image")
    package["registry_package"].update(name="shop", updated_at="2026-03-02T10:41:00Z")
    version = package["registry_package"]["package_version"]
    version.update(version=image, name=image)
    version["container_metadata"]["tag"]["name"] = "1.0.0"
    version["container_metadata"]["labels"]["all_labels"].update({
        "org.opencontainers.image.revision": C2, "org.opencontainers.image.source": f"https://github.com/{repo}",
        "org.opencontainers.image.version": "1.0.0"})
    deployment = with_repo(fixture(OCTOKIT / "deployment" / "payload.json"), repo)
    deployment["deployment"].update(sha=C2, ref="main", environment="production", created_at="2026-03-02T11:00:00Z")
    status = with_repo(fixture(OCTOKIT / "deployment_status" / "payload.json"), repo)
    status["deployment"].update(sha=C2, ref="main", environment="production", created_at="2026-03-02T11:00:00Z")
    status["deployment_status"].update(state="success", environment="production", created_at="2026-03-02T11:05:00Z")

    result = ingest(paths, tmp_path, "github.ndjson", [
        github("push", push, "gh-push"), *[github("workflow_run", r, f"gh-run-{i}") for i, r in enumerate(runs)],
        github("registry_package", package, "gh-pkg"), github("deployment", deployment, "gh-dep"),
        github("deployment_status", status, "gh-status")])
    assert result.total("quarantined") == 0
    build(paths)

    source = f"pkg:github/acme/shop@{C2}"
    assert rows(paths, "select deployment_id, service, environment, is_production, artifact_id, commit_sha, deployed_at, "
                       "outcome, is_rollback from marts.deployments") == [
        ("gh-status", "shop", "production", True, source, C2, utc("2026-03-02 11:05"), "success", False)]
    assert rows(paths, "select commit_sha, committed_at, deployment_id, lead_time_s from marts.changes "
                       "order by committed_at") == [
        (C1, utc("2026-03-02 08:00"), "gh-status", 11100.0),
        (C2, utc("2026-03-02 10:30"), "gh-status", 2100.0),
    ]
    assert rows(paths, "select artifact_id, commit_sha, commit_link, published_at, furthest_stage, reached_production "
                       "from marts.artifact_journeys order by artifact_id") == [
        (source, C2, "deployment", None, "production", True),
        (f"pkg:oci/shop@{image}", C2, "artifact_published", utc("2026-03-02 10:41"), "published", False),
    ]
    # the CI run is on the journey's commit
    assert rows(paths, "select stage, occurred_at from marts.lifecycle_events where commit_sha = ? and stage like 'build%' "
                       "order by occurred_at", [C2]) == [
        ("build_queued", utc("2026-03-02 10:31")), ("build_started", utc("2026-03-02 10:32")),
        ("build_finished", utc("2026-03-02 10:40"))]


def test_argocd_journey_staging_production_failure_rollback(paths, tmp_path):
    """Argo CD (with the pushes that made the commits, for their times): repository acme/shop, synced by two
    applications `shop-staging` (environment staging) and `shop-prod` (production); images in Harbor.

    - push 1: C1 at 2026-03-01 09:00; push 2: C2 at 2026-03-02 09:30 (C1 its parent)
    - 03-01 13:58–14:00 shop-prod syncs C1 (image D1): deployed to production at 14:00
    - 03-02 10:00–10:02 shop-staging syncs C2 (image D2): deployed to staging at 10:02
    - 03-02 11:00–11:03 shop-prod sync of C2 fails: a failed deployment at 11:03
    - 03-02 11:10–11:12 shop-prod syncs C2 (image D2): deployed to production at 11:12; a second
      notification of the same sync (on-deployed after on-sync-succeeded) at 11:13 changes nothing
    - 03-02 12:00 shop-prod health Degraded
    - 03-02 12:20–12:21 shop-prod syncs C1 again, an older revision of its history: a rollback at 12:21

    Lead times: C1 delivered by the 03-01 14:00 deployment: 14:00 − 09:00 = 5 h = 18000 s; C2 first reaches
    production at 03-02 11:12 (the failed attempt does not count): 11:12 − 09:30 = 1 h 42 min = 6120 s.
    The 11:12 deployment is a failed change (the next production deployment is a rollback), recovered at
    12:21 (the rollback). D1 and D2 are linked to C1 and C2 by the revision their first deployment synced.
    """
    repo, url = "acme/shop", "https://github.com/acme/shop.git"
    d1, d2 = digest("shop-d1"), digest("shop-d2")
    img1, img2 = f"harbor.acme.io/web/shop:1.0.0@{d1}", f"harbor.acme.io/web/shop:1.1.0@{d2}"
    prod, staging = {"environment": "production"}, {"environment": "staging"}
    h1 = (C1, "2026-03-01T14:00:00Z")
    h2 = (C2, "2026-03-02T11:12:00Z")

    def note(app, labels, revision, images, phase, started, finished, notified, history, **kw):
        return lifecycle("argocd", argocd_notification(app, "shop", revision=revision, repo_url=url, images=images,
                                                       phase=phase, started=started, finished=finished,
                                                       notified=notified, history=history, labels=labels, **kw))

    lines = [
        github("push", github_push(repo, sha("base"), [(C1, "2026-03-01T09:00:00Z")]), "push-1"),
        github("push", github_push(repo, C1, [(C2, "2026-03-02T09:30:00Z")]), "push-2"),
        note("shop-prod", prod, C1, [img1], "Succeeded", "2026-03-01T13:58:00Z", "2026-03-01T14:00:00Z",
             "2026-03-01T14:00:05Z", [h1]),
        note("shop-staging", staging, C2, [img2], "Succeeded", "2026-03-02T10:00:00Z", "2026-03-02T10:02:00Z",
             "2026-03-02T10:02:05Z", [(C2, "2026-03-02T10:02:00Z")]),
        note("shop-prod", prod, C2, [img1], "Failed", "2026-03-02T11:00:00Z", "2026-03-02T11:03:00Z",
             "2026-03-02T11:03:05Z", [h1]),
        note("shop-prod", prod, C2, [img2], "Succeeded", "2026-03-02T11:10:00Z", "2026-03-02T11:12:00Z",
             "2026-03-02T11:12:05Z", [h1, h2], health="Progressing"),
        note("shop-prod", prod, C2, [img2], "Succeeded", "2026-03-02T11:10:00Z", "2026-03-02T11:12:00Z",
             "2026-03-02T11:13:00Z", [h1, h2]),
        note("shop-prod", prod, C2, [img2], "Succeeded", "2026-03-02T11:10:00Z", "2026-03-02T11:12:00Z",
             "2026-03-02T12:00:05Z", [h1, h2], health="Degraded", health_since="2026-03-02T12:00:00Z"),
        note("shop-prod", prod, C1, [img1], "Succeeded", "2026-03-02T12:20:00Z", "2026-03-02T12:21:00Z",
             "2026-03-02T12:21:05Z", [h1, h2, (C1, "2026-03-02T12:21:00Z")]),
    ]
    assert ingest(paths, tmp_path, "argocd.ndjson", lines).total("quarantined") == 0
    build(paths)

    a1, a2 = f"pkg:oci/shop@{d1}", f"pkg:oci/shop@{d2}"
    assert rows(paths, "select environment, artifact_id, commit_sha, deployed_at, outcome, is_rollback, caused_failure, "
                       "recovered_at from marts.deployments order by deployed_at") == [
        ("production", a1, C1, utc("2026-03-01 14:00"), "success", False, False, None),
        ("staging", a2, C2, utc("2026-03-02 10:02"), "success", False, False, None),
        ("production", None, C2, utc("2026-03-02 11:03"), "failure", False, False,
         utc("2026-03-02 11:12")),
        ("production", a2, C2, utc("2026-03-02 11:12"), "success", False, True, utc("2026-03-02 12:21")),
        ("production", a1, C1, utc("2026-03-02 12:21"), "success", True, False, None),
    ]
    assert rows(paths, "select commit_sha, lead_time_s from marts.changes order by committed_at") == [
        (C1, 18000.0), (C2, 6120.0)]
    assert rows(paths, "select artifact_id, commit_sha, commit_link, first_staging_at, first_production_at, "
                       "rolled_back_at from marts.artifact_journeys where artifact_id like 'pkg:oci/%' "
                       "order by artifact_id") == sorted([
        (a1, C1, "deployment", None, utc("2026-03-01 14:00"), None),
        (a2, C2, "deployment", utc("2026-03-02 10:02"), utc("2026-03-02 11:12"), utc("2026-03-02 12:21")),
    ])
    assert rows(paths, "select stage, occurred_at from marts.lifecycle_events where stage = 'service_degraded'") == [
        ("service_degraded", utc("2026-03-02 12:00"))]


def harbor_push(image: str, namespace: str, tag: str, image_digest: str, at: str, event_id: str) -> dict:
    """Harbor's CloudEvents-format push (a structured CloudEvent), from the documented example."""
    body = fixture(WRITTEN / "harbor" / "cloudevents.push_artifact.json")
    body.update(id=event_id, time=at)
    body["data"]["repository"].update(name=image, namespace=namespace, repo_full_name=f"{namespace}/{image}")
    body["data"]["resources"] = [{"digest": image_digest, "tag": tag,
                                  "resource_url": f"harbor.acme.io/{namespace}/{image}:{tag}"}]
    return body


def harbor_scan(image: str, namespace: str, tag: str, image_digest: str, occur_at: int, high: int) -> dict:
    """Harbor's Default-format scan completed, from the documented example, with `high` High findings."""
    body = fixture(WRITTEN / "harbor" / "default.scanning_completed.json")
    body["occur_at"] = occur_at
    body["event_data"]["repository"].update(name=image, namespace=namespace, repo_full_name=f"{namespace}/{image}")
    resource = body["event_data"]["resources"][0]
    resource.update(digest=image_digest, tag=tag, resource_url=f"harbor.acme.io/{namespace}/{image}:{tag}")
    report = next(iter(resource["scan_overview"].values()))
    report.update(severity="High", summary={"total": high, "fixable": high, "summary": {"High": high}})
    return body


def pagerduty(name: str, service: str, incident: str, created: str, occurred: str) -> dict:
    body = fixture(WRITTEN / "pagerduty" / name)
    event = body["event"]
    event.update(id=f"{incident}-{name}", occurred_at=occurred)
    event["data"].update(id=incident, created_at=created)
    event["data"]["service"]["summary"] = service
    return request({"X-PagerDuty-Signature": "v1=00", "Content-Type": "application/json"}, body)


def test_harbor_journey_push_then_scan(paths, tmp_path):
    """Harbor only: web/shop:2.0.0 (digest D) pushed at 09:20 (CloudEvents format), scanned at 09:25 with
    2 High findings (Default format). The artifact's journey stops at `published`; it has no commit yet (no
    build or deployment names one) and the scan's counts are in staging.harbor_events."""
    d = digest("shop-2.0.0")
    result = ingest(paths, tmp_path, "harbor.ndjson", [
        harbor_push("shop", "web", "2.0.0", d, "2026-03-02T09:20:00Z", "h-push"),
        lifecycle("harbor", harbor_scan("shop", "web", "2.0.0", d, 1772443500, 2))])  # 2026-03-02 09:25:00Z
    assert result.total("quarantined") == 0
    build(paths)
    assert rows(paths, "select artifact_id, service, version, digest, commit_sha, published_at, furthest_stage "
                       "from marts.artifact_journeys") == [
        (f"pkg:oci/shop@{d}", "shop", "2.0.0", d, None, utc("2026-03-02 09:20"), "published")]
    assert rows(paths, "select stage, occurred_at, severity, high from staging.harbor_events order by occurred_at") == [
        ("artifact_published", utc("2026-03-02 09:20"), None, None),
        ("artifact_scanned", utc("2026-03-02 09:25"), "high", 2)]


def test_pagerduty_journey_incident_reopened_then_resolved(paths, tmp_path):
    """PagerDuty only: incident P-7 on `shop` triggered 13:00 (created_at), resolved 13:20, reopened 13:30,
    resolved again 13:45:30. The incident opened at 13:00 and was restored at its last resolution,
    13:45:30: time to restore 45 min 30 s = 2730 s. No deployment of `shop` is known: unattributed."""
    lines = [pagerduty("incident.triggered.json", "shop", "P-7", "2026-03-02T13:00:00Z", "2026-03-02T13:00:02Z"),
             pagerduty("incident.resolved.json", "shop", "P-7", "2026-03-02T13:00:00Z", "2026-03-02T13:20:00Z")]
    reopened = pagerduty("incident.triggered.json", "shop", "P-7", "2026-03-02T13:00:00Z", "2026-03-02T13:30:00Z")
    reopened["body"]["event"].update(event_type="incident.reopened", id="P-7-reopened")
    again = pagerduty("incident.resolved.json", "shop", "P-7", "2026-03-02T13:00:00Z", "2026-03-02T13:45:30Z")
    again["body"]["event"]["id"] = "P-7-resolved-again"
    assert ingest(paths, tmp_path, "pd.ndjson", [*lines, reopened, again]).total("accepted") == 4
    build(paths)
    assert rows(paths, "select incident_id, opened_at, resolved_at, time_to_restore_s, attribution from marts.incidents") == [
        ("P-7", utc("2026-03-02 13:00"), utc("2026-03-02 13:45:30"), 2730.0, "none")]


def test_mixed_journey_github_harbor_argocd_pagerduty(paths, tmp_path):
    """GitHub commit → Harbor push + scan → Argo CD sync to staging then production → PagerDuty incident.

    - GitHub push to acme/shop main: C1 at 08:00, C2 at 09:00; workflow_run `build` on C2 finishes 09:10
    - Harbor (CloudEvents format) pushes web/shop:1.0.0, digest D, at 09:20; the scan (Default format)
      completes at 09:25 with 2 High findings
    - Argo CD `shop-staging` (environment staging) syncs C2 with image harbor.acme.io/web/shop:1.0.0@D:
      running 10:00, succeeded 10:02; `shop-prod` (environment production): running 11:00, succeeded 11:02
    - PagerDuty incident P-9 on service `shop` triggered 11:30, resolved 12:15

    One artifact pkg:oci/shop@D: published 09:20, first in staging 10:02, in production 11:02, commit C2 (the
    revision its first deployment synced), delivering C1 and C2 (first commit 08:00). Lead times: C1 11:02 −
    08:00 = 3 h 02 min = 10920 s; C2 11:02 − 09:00 = 2 h 02 min = 7320 s. The incident starts after the
    production deployment of `shop`: attributed to it (latest_production_deployment); time to restore 45 min =
    2700 s; the deployment is a failed change, recovered when the incident resolved (12:15).
    """
    repo, url = "acme/shop", "https://github.com/acme/shop"
    d = digest("shop-1.0.0")
    image = f"harbor.acme.io/web/shop:1.0.0@{d}"
    push = github_push(repo, sha("base"), [(C1, "2026-03-02T08:00:00Z"), (C2, "2026-03-02T09:00:00Z")])
    run = with_repo(fixture(CAPTURED / "github_events" / "workflow_run" / "completed.json"), repo)
    run["workflow_run"].update(id=900, name="build", head_sha=C2, head_branch="main", conclusion="success",
                               created_at="2026-03-02T09:01:00Z", run_started_at="2026-03-02T09:02:00Z",
                               updated_at="2026-03-02T09:10:00Z")
    labels = {"app.kubernetes.io/part-of": "storefront"}
    team = {"owner.team": "web"}

    def argo(app, env, phase, started, finished, notified, history, delivery):
        body = argocd_notification(app, "shop", revision=C2, repo_url=url, images=[image], phase=phase,
                                   started=started, finished=finished, notified=notified, history=history,
                                   labels={**labels, "environment": env}, annotations=team)
        return lifecycle("argocd", body, **{"X-Lifecycle-Delivery": delivery})

    lines = [
        github("push", push, "gh-push"),
        github("workflow_run", run, "gh-run"),
        harbor_push("shop", "web", "1.0.0", d, "2026-03-02T09:20:00Z", "harbor-push-1"),
        lifecycle("harbor", harbor_scan("shop", "web", "1.0.0", d, 1772443500, 2)),  # 09:25:00Z
        argo("shop-staging", "staging", "Running", "2026-03-02T10:00:00Z", None, "2026-03-02T10:00:01Z", [],
             "argo-stg-run"),
        argo("shop-staging", "staging", "Succeeded", "2026-03-02T10:00:00Z", "2026-03-02T10:02:00Z",
             "2026-03-02T10:02:01Z", [(C2, "2026-03-02T10:02:00Z")], "argo-stg-ok"),
        argo("shop-prod", "production", "Running", "2026-03-02T11:00:00Z", None, "2026-03-02T11:00:01Z", [],
             "argo-prod-run"),
        argo("shop-prod", "production", "Succeeded", "2026-03-02T11:00:00Z", "2026-03-02T11:02:00Z",
             "2026-03-02T11:02:01Z", [(C2, "2026-03-02T11:02:00Z")], "argo-prod-ok"),
        pagerduty("incident.triggered.json", "shop", "P-9", "2026-03-02T11:30:00Z", "2026-03-02T11:30:01Z"),
        pagerduty("incident.resolved.json", "shop", "P-9", "2026-03-02T11:30:00Z", "2026-03-02T12:15:00Z"),
    ]
    result = ingest(paths, tmp_path, "mixed.ndjson", lines)
    assert (result.total("accepted"), result.total("quarantined")) == (10, 0)
    build(paths)

    artifact = f"pkg:oci/shop@{d}"
    assert rows(paths, "select artifact_id, service, team, app, version, commit_sha, first_commit_at, changes_delivered, "
                       "published_at, first_staging_at, first_production_at, furthest_stage, reached_production, "
                       "incidents, first_incident_at from marts.artifact_journeys") == [
        (artifact, "shop", "web", "storefront", "1.0.0", C2, utc("2026-03-02 08:00"), 2, utc("2026-03-02 09:20"),
         utc("2026-03-02 10:02"), utc("2026-03-02 11:02"), "production", True, 1, utc("2026-03-02 11:30"))]
    # the Harbor scan is on the same artifact's journey
    assert rows(paths, "select scanned_at from marts.artifact_journeys") == [(utc("2026-03-02 09:25"),)]
    assert rows(paths, "select deployment_id, environment, artifact_id, commit_sha, deployed_at, caused_failure, "
                       "recovered_at from marts.deployments order by deployed_at") == [
        ("argo-stg-ok", "staging", artifact, C2, utc("2026-03-02 10:02"), False, None),
        ("argo-prod-ok", "production", artifact, C2, utc("2026-03-02 11:02"), True, utc("2026-03-02 12:15")),
    ]
    assert rows(paths, "select commit_sha, deployment_id, lead_time_s from marts.changes order by committed_at") == [
        (C1, "argo-prod-ok", 10920.0), (C2, "argo-prod-ok", 7320.0)]
    assert rows(paths, "select incident_id, service, opened_at, resolved_at, deployment_id, attribution, "
                       "time_to_restore_s from marts.incidents") == [
        ("P-9", "shop", utc("2026-03-02 11:30"), utc("2026-03-02 12:15"), "argo-prod-ok",
         "latest_production_deployment", 2700.0)]
    # every tool's part of the journey, by stage, on the one artifact or its commit
    assert rows(paths, "select source_tool, stage from marts.lifecycle_events where artifact_id = ? or commit_sha = ? "
                       "order by occurred_at, stage", [artifact, C2]) == [
        ("github", "commit"), ("github", "build_finished"), ("harbor", "artifact_published"),
        ("harbor", "artifact_scanned"), ("argocd", "deploy_started"), ("argocd", "deployed"),
        ("argocd", "deploy_started"), ("argocd", "deployed")]


def test_gitlab_journey_push_pipeline_deployment(paths, tmp_path):
    """GitLab only, in GitLab's mixed timestamp formats: project acme/shop.

    - Push Hook to main (before = base): C1 at 2026-03-02T08:00:00+01:00 (= 07:00Z),
      C2 at `2026-03-02 09:30:00 UTC`
    - Pipeline Hook on C2: success, finished `2026-03-02 09:50:00 +0000`
    - Deployment Hook to `production`: failed at `2026-03-02 11:45:00 +0200` (= 09:45Z), then success at
      `2026-03-02 12:30:00 +0200` (= 10:30Z); the sha is only in `commit_url`

    Deployment: the source at C2 (pkg:gitlab/acme/shop@C2) in production at 10:30Z, after a failed attempt at
    09:45Z. Lead times: C1 10:30 − 07:00 = 3 h 30 min = 12600 s; C2 10:30 − 09:30 = 1 h = 3600 s.
    """
    push = fixture(GITLAB / "push-event.json")
    push["project"].update(path_with_namespace="acme/shop", name="shop", web_url="https://gitlab.acme.io/acme/shop")
    template = push["commits"][0]
    push.update(ref="refs/heads/main", before=sha("base"), after=C2, total_commits_count=2,
                commits=[dict(template, id=C1, timestamp="2026-03-02T08:00:00+01:00"),
                         dict(template, id=C2, timestamp="2026-03-02 09:30:00 UTC")])
    pipeline = fixture(GITLAB / "pipeline-event.json")
    pipeline["project"].update(path_with_namespace="acme/shop", name="shop")
    pipeline["object_attributes"].update(id=77, sha=C2, ref="main", status="success",
                                         created_at="2026-03-02 09:31:00 UTC", finished_at="2026-03-02 09:50:00 +0000")

    def deployment(status: str, at: str) -> dict:
        body = fixture(GITLAB / "deployment-event.json")
        body["project"].update(path_with_namespace="acme/shop", name="shop")
        body.update(status=status, status_changed_at=at, environment="production",
                    commit_url=f"https://gitlab.acme.io/acme/shop/-/commit/{C2}", short_sha=C2[:8])
        return body

    result = ingest(paths, tmp_path, "gitlab.ndjson", [
        gitlab("Push Hook", push, "gl-push"), gitlab("Pipeline Hook", pipeline, "gl-pipe"),
        gitlab("Deployment Hook", deployment("failed", "2026-03-02 11:45:00 +0200"), "gl-dep-1"),
        gitlab("Deployment Hook", deployment("success", "2026-03-02 12:30:00 +0200"), "gl-dep-2")])
    assert result.total("quarantined") == 0
    build(paths)
    source = f"pkg:gitlab/acme/shop@{C2}"
    assert rows(paths, "select deployment_id, service, environment, is_production, artifact_id, commit_sha, deployed_at, "
                       "outcome from marts.deployments order by deployed_at") == [
        ("gl-dep-1", "shop", "production", True, source, C2, utc("2026-03-02 09:45"), "failure"),
        ("gl-dep-2", "shop", "production", True, source, C2, utc("2026-03-02 10:30"), "success"),
    ]
    assert rows(paths, "select commit_sha, committed_at, deployment_id, lead_time_s from marts.changes "
                       "order by committed_at") == [
        (C1, utc("2026-03-02 07:00"), "gl-dep-2", 12600.0),
        (C2, utc("2026-03-02 09:30"), "gl-dep-2", 3600.0),
    ]
    assert rows(paths, "select stage, occurred_at, pipeline_run_id from marts.lifecycle_events "
                       "where stage = 'build_finished'") == [("build_finished", utc("2026-03-02 09:50"), "77")]


def test_flux_journey_kustomization_and_helm_release(paths, tmp_path):
    """Flux (generic provider) with the push that made the commits: Kustomization `apps` applies repository
    acme/shop to production (the Alert's eventMetadata: environment production, repository acme/shop, service
    shop); HelmRelease podinfo in the same cluster.

    - push to acme/shop main: C1 at 08:00, C2 at 09:00
    - 09:30 apps reconciled at main@sha1:C1 (ReconciliationSucceeded): a deployment of C1
    - 09:40 the same revision reported again: not a new deployment
    - 10:00 apps at C2 fails its health check (HealthCheckFailed): a failed deployment
    - 10:20 apps reconciled at C2: a deployment of C2
    - HelmRelease podinfo: UpgradeSucceeded chart podinfo@6.9.2 at 12:00, UpgradeFailed 6.9.3 at 13:00,
      RollbackSucceeded to 6.9.2 at 13:01 (a rollback)

    Lead times: C1 09:30 − 08:00 = 1 h 30 min = 5400 s; C2 10:20 − 09:00 = 1 h 20 min = 4800 s.
    """
    meta = {"environment": "production", "repository": "acme/shop", "service": "shop"}
    flux_dir = WRITTEN / "flux"

    def kustomization(reason: str, at: str, revision: str) -> dict:
        body = fixture(flux_dir / "kustomization.reconciliation-succeeded.json")
        body.update(reason=reason, timestamp=at, severity="error" if "Failed" in reason else "info")
        body["metadata"] = {"revision": f"main@sha1:{revision}", **meta}
        return request({"Gotk-Component": "kustomize-controller"}, body)

    def helm(name: str) -> dict:
        body = fixture(flux_dir / name)
        body["metadata"]["environment"] = "production"
        return request({"Gotk-Component": "helm-controller"}, body)

    lines = [
        github("push", github_push("acme/shop", sha("base"), [(C1, "2026-03-02T08:00:00Z"),
                                                               (C2, "2026-03-02T09:00:00Z")]), "push"),
        kustomization("ReconciliationSucceeded", "2026-03-02T09:30:00Z", C1),
        kustomization("ReconciliationSucceeded", "2026-03-02T09:40:00Z", C1),
        kustomization("HealthCheckFailed", "2026-03-02T10:00:00Z", C2),
        kustomization("ReconciliationSucceeded", "2026-03-02T10:20:00Z", C2),
        helm("helmrelease.upgrade-succeeded.json"), helm("helmrelease.upgrade-failed.json"),
        helm("helmrelease.rollback-succeeded.json"),
    ]
    assert ingest(paths, tmp_path, "flux.ndjson", lines).total("quarantined") == 0
    build(paths)
    assert rows(paths, "select service, artifact_id, commit_sha, deployed_at, outcome, is_rollback from marts.deployments "
                       "order by deployed_at") == [
        ("shop", f"pkg:github/acme/shop@{C1}", C1, utc("2026-03-02 09:30"), "success", False),
        ("shop", f"pkg:github/acme/shop@{C2}", C2, utc("2026-03-02 10:00"), "failure", False),
        ("shop", f"pkg:github/acme/shop@{C2}", C2, utc("2026-03-02 10:20"), "success", False),
        ("podinfo", "pkg:helm/podinfo@6.9.2", None, utc("2026-03-02 12:00"), "success", False),
        ("podinfo", "pkg:helm/podinfo@6.9.3", None, utc("2026-03-02 13:00"), "failure", False),
        ("podinfo", "pkg:helm/podinfo@6.9.2", None, utc("2026-03-02 13:01"), "success", True),
    ]
    assert rows(paths, "select commit_sha, lead_time_s from marts.changes order by committed_at") == [
        (C1, 5400.0), (C2, 4800.0)]
