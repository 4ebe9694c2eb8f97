"""GitLab webhooks → staging.gitlab_events (+ gitlab_push_commits, gitlab_tags) → canonical stages.

Real payloads: gitlab4j-api's test resources (tests/fixtures/gitlab-gitlab4j), bare bodies recognised by
their `object_kind`, or captured requests with `X-Gitlab-Event`.
"""

from __future__ import annotations

from pipelines import tasks
from tests.source_helpers import GITLAB, build, fixture, gitlab, ingest, rows, sha, utc


def test_every_gitlab4j_fixture_ingests_without_source_and_maps_to_a_stage(paths):
    result = tasks.ingest(paths, [GITLAB])
    assert (result.total("records"), result.total("accepted"), result.total("quarantined")) == (8, 8, 0)
    build(paths)
    assert rows(paths, "select raw_type, stage from marts.lifecycle_events where raw_type not like '%Push Hook' "
                       "and raw_type not like 'gitlab:push%' and raw_type not like 'gitlab:tag_push%' order by 1") == [
        ("gitlab:build.running", "task_started"),
        ("gitlab:deployment.success", "deployed"),
        ("gitlab:issue.open", "ignored"),          # an issue, not an incident
        ("gitlab:job.created", "test_queued"),     # job `test` in stage `test`
        ("gitlab:merge_request.open", "change_opened"),
        ("gitlab:pipeline.success", "build_finished"),
    ]
    assert rows(paths, "select count(*) from marts.lifecycle_events where stage is null") == [(0,)]
    # the deployment: sha from commit_url, `2021-04-28 21:50:00 +0200` → 19:50 UTC, the project's source
    assert rows(paths, "select occurred_at, environment, commit_sha, artifact_id, service, outcome from "
                       "marts.lifecycle_events where stage = 'deployed'") == [
        (utc("2021-04-28 19:50"), "staging", "279484c09fbe69ededfced8c1bb6e6d24616b468",
         "pkg:gitlab/root/test-deployment-webhooks@279484c09fbe69ededfced8c1bb6e6d24616b468", "test-deployment-webhooks",
         "success")]
    # the pipeline: commit, run id, finished_at; the job's declared stage makes it a test
    assert rows(paths, "select commit_sha, pipeline_run_id, occurred_at, outcome from marts.lifecycle_events "
                       "where stage = 'build_finished'") == [
        ("bcbb5ec396a2c0f828686f14fac9b80b780504f2", "31", utc("2016-08-12 15:26:29"), "success")]
    assert rows(paths, "select change_id, commit_sha, occurred_at from marts.lifecycle_events "
                       "where stage = 'change_opened'") == [
        ("gitlabhq/gitlab-test!1", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", utc("2013-12-03 17:23:34"))]


def test_merge_pipeline_running_job_times_and_declared_tier(paths, tmp_path):
    mr = fixture(GITLAB / "merge-request-event.json")
    mr["object_attributes"].update(action="merge", state="merged", updated_at="2026-03-02 10:05:00 UTC")
    pipeline = fixture(GITLAB / "pipeline-event.json")
    pipeline["object_attributes"].update(status="running", created_at="2026-03-02 10:06:00 +0100", queued_duration=42)
    job = fixture(GITLAB / "build-event.json")  # build1 in stage build: running; declared tier `testing`
    deployment = fixture(GITLAB / "deployment-event.json")
    deployment.update(status="failed", environment="eu-live-1", environment_tier="production",
                      status_changed_at="2026-03-02T11:00:00Z")
    ingest(paths, tmp_path, "gl.ndjson", [gitlab("Merge Request Hook", mr, "g-1"), gitlab("Pipeline Hook", pipeline, "g-2"),
                                          gitlab("Job Hook", job, "g-3"), gitlab("Deployment Hook", deployment, "g-4")])
    build(paths)
    assert rows(paths, "select event_id, stage, occurred_at, commit_sha, outcome, environment, environment_tier "
                       "from marts.lifecycle_events order by event_id") == [
        ("g-1", "change_merged", utc("2026-03-02 10:05"), "e3b7e97417fd6318a5c31b21b29d2acc5c86c3ae", "success", None, None),
        # running: created 10:06+01:00 = 09:06Z, plus 42 s in the queue
        ("g-2", "build_started", utc("2026-03-02 09:06:42"), "bcbb5ec396a2c0f828686f14fac9b80b780504f2", None, None, None),
        ("g-3", "task_started", utc("2019-05-17 18:09:21"), "a890bee24574603c522c756b9346649fbec4c812", None, None, None),
        # GitLab's declared tier wins over the name (`eu-live-1` is not a production name by default)
        ("g-4", "deploy_failed", utc("2026-03-02 11:00"), "279484c09fbe69ededfced8c1bb6e6d24616b468", "failure",
         "eu-live-1", "production"),
    ]
    assert rows(paths, "select queued_at, started_at, finished_at, job_name from staging.gitlab_events "
                       "where gitlab_event = 'build'") == [
        (utc("2019-05-17 17:09:21"), utc("2019-05-17 18:09:21"), utc("2019-05-17 19:09:21"), "build1")]


def test_incident_issues_and_branch_events(paths, tmp_path):
    incident = fixture(GITLAB / "issue-event.json")
    incident["object_attributes"].update(type="Incident", created_at="2026-03-02 12:00:00 UTC", severity="critical")
    closed = fixture(GITLAB / "issue-event.json")
    closed["object_attributes"].update(type="Incident", action="close", closed_at="2026-03-02T13:30:00+01:00")
    labelled = fixture(GITLAB / "issue-event.json")
    labelled["object_attributes"].update(iid=24, created_at="2026-03-03T08:00:00Z")
    labelled["labels"] = [{"title": "Incident"}, {"title": "service::checkout"}]
    new_branch = fixture(GITLAB / "push-event.json")
    new_branch.update(before="0" * 40, after=sha("x"), commits=[], total_commits_count=0, ref="refs/heads/feature")
    ingest(paths, tmp_path, "gl.ndjson", [gitlab("Issue Hook", incident, "i-1"), gitlab("Issue Hook", closed, "i-2"),
                                          gitlab("Issue Hook", labelled, "i-3"), gitlab("Push Hook", new_branch, "p-1")])
    build(paths)
    # 12:00 UTC → 13:30+01:00 = 12:30 UTC: 30 min
    assert rows(paths, "select incident_id, service, severity, opened_at, resolved_at, time_to_restore_s "
                       "from marts.incidents order by incident_id") == [
        ("gitlabhq/gitlab-test#23", "Gitlab Test", "critical", utc("2026-03-02 12:00"), utc("2026-03-02 12:30"), 1800.0),
        ("gitlabhq/gitlab-test#24", "checkout", "high", utc("2026-03-03 08:00"), None, None),
    ]
    assert rows(paths, "select stage from marts.lifecycle_events where event_id = 'p-1'") == [("branch_created",)]
