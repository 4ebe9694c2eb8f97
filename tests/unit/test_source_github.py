"""GitHub webhooks → staging.github_events (+ staging.github_push_commits) → canonical stages.

Real payloads: octokit's documented examples (tests/fixtures/github-octokit, bodies without headers: fed as
captured requests with `X-GitHub-Event: <folder>`) and captured deliveries (tests/fixtures/captured/
github_events: with their recorded headers where kept, else bare bodies loaded with `--source github`,
whose event name comes from the body's shape).
"""

from __future__ import annotations

import json

from tests.source_helpers import (
    CAPTURED,
    OCTOKIT,
    build,
    digest,
    fixture,
    github,
    ingest,
    request,
    rows,
    sha,
    utc,
)


def octokit_requests() -> list[dict]:
    return [request({"X-GitHub-Event": f.parent.name}, json.loads(f.read_text()))
            for f in sorted(OCTOKIT.glob("*/*.json"))]


def captured_github(with_headers: bool) -> list[dict]:
    out = []
    for f in sorted((CAPTURED / "github_events").glob("*/*.json")):
        if f.name.endswith(".headers.json"):
            continue
        headers = f.with_name(f.name.replace(".json", ".headers.json"))
        if headers.exists() == with_headers:
            body = json.loads(f.read_text())
            out.append(request(json.loads(headers.read_text()), body) if with_headers else body)
    return out


def test_every_github_fixture_ingests_and_maps_to_a_stage_or_a_known_irrelevant_kind(paths, tmp_path):
    octokit = ingest(paths, tmp_path, "octokit.ndjson", octokit_requests())
    with_headers = ingest(paths, tmp_path, "captured-headers.ndjson", captured_github(with_headers=True))
    bare = ingest(paths, tmp_path, "captured-bare.ndjson", captured_github(with_headers=False), source="github")
    build(paths)

    for result, records in ((octokit, 106), (with_headers, 13), (bare, 33)):
        assert result.total("quarantined") == 0
        assert result.total("records") == records
    # one captured body is delivered twice (same content): stored once
    assert bare.total("duplicates") == 1
    # nothing is left unmapped: every event has a stage (`ignored` for known irrelevant kinds)
    assert rows(paths, "select raw_type from marts.lifecycle_events where stage is null") == []
    assert rows(paths, "select count(*) from staging.webhooks") == [(0,)]
    stages = dict(rows(paths, "select stage, count(*) from marts.lifecycle_events group by stage"))
    assert {"commit", "change_opened", "change_merged", "change_abandoned", "build_queued", "build_started",
            "build_finished", "test_finished", "deploy_started", "deployed", "artifact_published",
            "release_published", "branch_created", "branch_deleted", "ignored"} <= set(stages)


def test_bare_github_bodies_are_named_by_their_shape(paths, tmp_path):
    branch = CAPTURED / "github_events" / "branch"
    bodies = [fixture(branch / n) for n in ("event.01.json", "event.02.json", "event.06.json", "event.07.json")]
    bodies += [fixture(CAPTURED / "github_events" / "issue" / "opened.01.json"),
               fixture(CAPTURED / "github_events" / "ping" / "ping.json"),
               fixture(OCTOKIT / "deployment_status" / "payload.json"),
               fixture(OCTOKIT / "workflow_job" / "queued.with-deployment.payload.json"),
               fixture(OCTOKIT / "deployment" / "payload.json")]
    ingest(paths, tmp_path, "bare.ndjson", bodies, source="github")
    assert [r[0] for r in rows(paths, "select event_type from raw.events order by line")] == [
        "create", "push", "delete", "push", "issues", "ping", "deployment_status", "workflow_job", "deployment"]


def test_pull_request_merge_names_the_merge_commit(paths, tmp_path):
    merged = fixture(CAPTURED / "github_events" / "pull_request" / "closed.01.json")
    opened = fixture(OCTOKIT / "pull_request" / "opened.payload.json")
    closed = fixture(OCTOKIT / "pull_request" / "closed.payload.json")  # closed without merging
    ingest(paths, tmp_path, "prs.ndjson", [github("pull_request", merged, "d-1"), github("pull_request", opened, "d-2"),
                                           github("pull_request", closed, "d-3")])
    build(paths)
    assert rows(paths, "select stage, occurred_at, commit_sha, change_id, repository, outcome from marts.lifecycle_events "
                       "order by occurred_at") == [
        ("change_opened", utc("2019-05-15 15:20:33"), "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
         "codertocat/hello-world#2", "codertocat/hello-world", None),
        ("change_abandoned", utc("2019-05-15 15:21:18"), "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
         "codertocat/hello-world#2", "codertocat/hello-world", None),
        ("change_merged", utc("2025-05-21 17:35:21"), "44d21f9752bb9eb3952238ff7e25965b8f779d51",
         "aaaaa-aaa/aaaaa-aaaaaaaaa#97", "aaaaa-aaa/aaaaa-aaaaaaaaa", "success"),
    ]


def test_workflow_runs_and_jobs_become_build_task_and_test_stages_with_their_times(paths, tmp_path):
    base = CAPTURED / "github_events"
    lines = [request(json.loads((base / "workflow_run" / f"{a}.headers.json").read_text()),
                     fixture(base / "workflow_run" / f"{a}.json")) for a in ("requested", "in_progress", "completed")]
    failed = fixture(OCTOKIT / "workflow_job" / "completed.failure.with-organization.payload.json")
    lines.append(github("workflow_job", failed, "job-1"))
    ingest(paths, tmp_path, "ci.ndjson", lines)
    build(paths)
    head = "1a11a11a11111111aa11a1111aaaa11111aaaa11"
    assert rows(paths, "select stage, occurred_at, outcome, commit_sha, pipeline_run_id from marts.lifecycle_events "
                       "order by occurred_at, stage") == [
        # octokit's failed job `linters` of workflow CodeQL is a test job, finished at completed_at
        ("test_finished", utc("2021-08-05 10:38:16"), "failure", "3484a3fb816e0859fd6e1cea078d76385ff50625",
         "2202229078"),
        # the captured run (workflow "aa" on a pull request): queued at created_at, started, finished
        ("build_queued", utc("2025-01-22 19:01:00"), None, head, "11111111111"),
        ("build_started", utc("2025-01-22 19:01:00"), None, head, "11111111111"),
        ("build_finished", utc("2025-01-22 19:03:50"), "success", head, "11111111111"),
    ]
    # the job's queued and active times stay in staging (created 10:33:58, started 10:34:58, done 10:38:16)
    assert rows(paths, "select queued_at, started_at, finished_at, job_name from staging.github_events "
                       "where github_event = 'workflow_job'") == [
        (utc("2021-08-05 10:33:58"), utc("2021-08-05 10:34:58"), utc("2021-08-05 10:38:16"), "linters")]


def test_deployments_name_environment_sha_and_outcome(paths, tmp_path):
    created = fixture(OCTOKIT / "deployment" / "payload.json")
    success = fixture(OCTOKIT / "deployment_status" / "payload.json")
    failure = fixture(OCTOKIT / "deployment_status" / "payload.json")
    failure["deployment_status"].update(state="failure", created_at="2019-05-15T15:21:30Z")
    pending = fixture(OCTOKIT / "deployment_status" / "gh-pages.payload.json")  # in_progress: the start is enough
    # a workflow that names its image in the deployment payload deploys that artifact
    image = fixture(OCTOKIT / "deployment_status" / "payload.json")
    image["deployment"]["payload"] = {"image": "ghcr.io/codertocat/hello-world:1.4.0@" + digest("hello-1.4.0")}
    image["deployment_status"]["created_at"] = "2019-05-16T09:00:00Z"
    ingest(paths, tmp_path, "deploy.ndjson", [
        github("deployment", created, "dep-1"), github("deployment_status", success, "st-1"),
        github("deployment_status", failure, "st-2"), github("deployment_status", pending, "st-3"),
        github("deployment_status", image, "st-4")])
    build(paths)
    sha_ = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    source = f"pkg:github/codertocat/hello-world@{sha_}"
    # a deployment of the source at a sha: its version is the sha
    assert rows(paths, "select stage, occurred_at, environment, environment_tier, commit_sha, artifact_id, version, "
                       "service, outcome from marts.lifecycle_events order by occurred_at, stage") == [
        ("deploy_started", utc("2019-05-15 15:20:53"), "production", "production", sha_, source, sha_, "Hello-World", None),
        ("deployed", utc("2019-05-15 15:20:55"), "production", "production", sha_, source, sha_, "Hello-World", "success"),
        ("deploy_failed", utc("2019-05-15 15:21:30"), "production", "production", sha_, source, sha_, "Hello-World",
         "failure"),
        ("deployed", utc("2019-05-16 09:00:00"), "production", "production", sha_,
         "pkg:oci/hello-world@" + digest("hello-1.4.0"), "1.4.0", "Hello-World", "success"),
        ("ignored", utc("2022-01-03 01:28:40"), "github-pages", "unknown", sha_, source, sha_, "Hello-World", None),
    ]
    # the failed attempt is kept as a failed deployment; both successes are deployments of the sha
    assert rows(paths, "select deployment_id, outcome, commit_sha, is_production from marts.deployments "
                       "order by deployed_at") == [
        ("st-1", "success", sha_, True), ("st-2", "failure", sha_, True), ("st-4", "success", sha_, True)]


def test_packages_are_published_artifacts_with_digest_and_commit(paths, tmp_path):
    registry = fixture(OCTOKIT / "registry_package" / "published.docker.payload.json")
    image = digest("hello-world-nightly")
    registry["registry_package"]["package_version"].update(version=image, name=image)
    registry["registry_package"]["package_version"]["container_metadata"]["tag"]["name"] = "nightly"
    npm = fixture(OCTOKIT / "package" / "published.npm.payload.json")
    ingest(paths, tmp_path, "pkgs.ndjson", [github("registry_package", registry, "p-1"), github("package", npm, "p-2")])
    build(paths)
    assert rows(paths, "select raw_type, stage, artifact_id, digest, version, commit_sha, repository "
                       "from marts.lifecycle_events order by raw_type") == [
        # an npm package: its commit is the release's target_oid
        ("github:package.published", "artifact_published", "pkg:npm/hello-world-npm@1.0.0", None, "1.0.0",
         "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b", "codertocat/hello-world-npm"),
        # commit from the image's org.opencontainers.image.revision label, repository from its source label
        ("github:registry_package.published", "artifact_published", f"pkg:oci/hello-world-npm@{image}", image,
         "nightly", "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b", "codertocat/hello-world"),
    ]
    assert rows(paths, "select artifact_id, commit_sha, commit_link from intermediate.artifacts "
                       "where artifact_id like 'pkg:oci/%'") == [
        (f"pkg:oci/hello-world-npm@{image}", "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b", "artifact_published")]


def test_issues_labelled_incident_open_and_resolve_incidents(paths, tmp_path):
    opened = fixture(OCTOKIT / "issues" / "opened.payload.json")
    opened["issue"]["labels"].append({"name": "Incident"})
    opened["issue"]["labels"].append({"name": "severity:high"})
    closed = fixture(OCTOKIT / "issues" / "opened.payload.json")
    closed["action"] = "closed"
    closed["issue"].update(state="closed", closed_at="2019-05-15T17:00:00Z",
                           labels=opened["issue"]["labels"])
    labelled_later = fixture(OCTOKIT / "issues" / "labeled.payload.json")
    labelled_later["issue"]["number"] = 7
    labelled_later["label"] = {"name": "incident"}
    plain = fixture(CAPTURED / "github_events" / "issue" / "opened.01.json")  # a question, not an incident
    ingest(paths, tmp_path, "issues.ndjson", [github("issues", opened, "i-1"), github("issues", closed, "i-2"),
                                              github("issues", labelled_later, "i-3"), github("issues", plain, "i-4")])
    build(paths)
    assert rows(paths, "select incident_id, service, severity, opened_at, resolved_at, time_to_restore_s "
                       "from marts.incidents order by incident_id") == [
        # 15:20:18 → 17:00:00 is 1 h 39 min 42 s = 5982 s
        ("codertocat/hello-world#1", "Hello-World", "high", utc("2019-05-15 15:20:18"), utc("2019-05-15 17:00:00"), 5982.0),
        ("codertocat/hello-world#7", "Hello-World", None, utc("2019-05-15 15:20:18"), None, None),
    ]
    assert rows(paths, "select stage from marts.lifecycle_events where event_id = 'i-4'") == [("ignored",)]


def test_create_delete_and_tag_pushes(paths, tmp_path):
    branch = CAPTURED / "github_events" / "branch"
    tag_push = fixture(OCTOKIT / "push" / "payload.json")  # a tag deletion in octokit's example
    tag_push.update(deleted=False, created=True, after=sha("v1"), head_commit={"id": sha("v1"),
                                                                                "timestamp": "2026-03-01T10:00:00+01:00"})
    ingest(paths, tmp_path, "refs.ndjson", [github("create", fixture(branch / "event.01.json"), "r-1"),
                                            github("delete", fixture(branch / "event.06.json"), "r-2"),
                                            github("push", tag_push, "r-3"),
                                            github("create", fixture(OCTOKIT / "create" / "payload.json"), "r-4")])
    build(paths)
    assert rows(paths, "select event_id, stage, commit_sha, version from marts.lifecycle_events order by event_id") == [
        ("r-1", "branch_created", None, None),
        ("r-2", "branch_deleted", None, None),
        ("r-3", "tag_created", sha("v1"), "simple-tag"),
        ("r-4", "ignored", None, "simple-tag"),  # a tag's create event: its push carries the commit
    ]
