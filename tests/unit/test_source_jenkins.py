"""Jenkins → staging.jenkins_notifications (the Notification plugin's JSON, jobs classified by lifecycle.toml
`[jenkins] jobs`) and staging.cdevents (the Jenkins CDEvents plugin: draft-binding CloudEvents and v0.1/v0.2
CDEvents, whose 0.1.x types have no bundled schema).

Payloads: tests/fixtures/written/jenkins, written from the plugins' documented formats (see the README there).
"""

from __future__ import annotations

import json

import pytest

from pipelines import source_config
from pipelines.source_config import ConfigError, parse_config
from tests.source_helpers import WRITTEN, build, fixture, ingest, lifecycle, rows, utc

JENKINS = WRITTEN / "jenkins"
SHA = "3f9c2b7e1d4a5c6b8e9f0a1b2c3d4e5f6a7b8c9d"
SHA2 = "8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b"
DIGEST = "sha256:5e1f0c3a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
JOBS = """
[jenkins]
jobs = [
  {match = "deploy-{service}-{environment}", stage = "deploy"},
  {match = "*-e2e", stage = "test"},
  {match = "*-build", stage = "build"},
]
"""


def use_config(tmp_path, monkeypatch, text: str) -> None:
    config = tmp_path / "lifecycle.toml"
    config.write_text(text)
    monkeypatch.setenv(source_config.CONFIG_ENV, str(config))


def notifications() -> list[dict]:
    return [json.loads(f.read_text()) for f in sorted(JENKINS.glob("*.json")) if not f.name.startswith("cdevents-")]


def test_notifications_become_stages_by_the_configured_job_rules(paths, tmp_path, monkeypatch):
    """With the rules deploy-{service}-{environment} → deploy, *-e2e → test, *-build → build (bare bodies,
    recognised by their shape: `name` + `build.phase`):

    - shop-build #41: QUEUED 09:02 → build_queued, STARTED 09:04 → build_started, COMPLETED 09:12 SUCCESS →
      build_finished (duration 480000 ms = 480 s), FINALIZED 09:12:03 → ignored (its COMPLETED was received);
      #42 COMPLETED ABORTED 11:00 → build_finished, cancelled, 60 s
    - deploy-shop-production #17 (parameter IMAGE = shop:1.4.0@D): STARTED 10:01 → deploy_started, COMPLETED
      FAILURE 10:04 → deploy_failed (180 s); service shop and environment production from the job's name
    - shop-e2e #8: only FINALIZED, UNSTABLE, 10:30 → test_finished, failure, 600 s, environment staging from
      its ENVIRONMENT parameter; no IMAGE, so it tested the source at its commit: pkg:github/acme/shop@<sha>
    """
    use_config(tmp_path, monkeypatch, JOBS)
    result = ingest(paths, tmp_path, "jenkins.ndjson", notifications())
    assert (result.total("accepted"), result.total("quarantined")) == (8, 0)
    build(paths)
    image = f"pkg:oci/shop@{DIGEST}"
    assert rows(paths, "select source_tool, raw_type, stage, occurred_at, outcome, commit_sha, service, environment, "
                       "artifact_id, duration_s from marts.lifecycle_events order by occurred_at") == [
        ("jenkins", "jenkins:QUEUED", "build_queued", utc("2026-03-02 09:02"), None, SHA, "shop", None, None, None),
        ("jenkins", "jenkins:STARTED", "build_started", utc("2026-03-02 09:04"), None, SHA, "shop", None, None, None),
        ("jenkins", "jenkins:COMPLETED", "build_finished", utc("2026-03-02 09:12"), "success", SHA, "shop", None, None,
         480.0),
        ("jenkins", "jenkins:FINALIZED", "ignored", utc("2026-03-02 09:12:03"), "success", SHA, "shop", None, None,
         480.0),
        ("jenkins", "jenkins:STARTED", "deploy_started", utc("2026-03-02 10:01"), None, SHA, "shop", "production", image,
         None),
        ("jenkins", "jenkins:COMPLETED", "deploy_failed", utc("2026-03-02 10:04"), "failure", SHA, "shop", "production",
         image, 180.0),
        ("jenkins", "jenkins:FINALIZED", "test_finished", utc("2026-03-02 10:30"), "failure", SHA, "shop", "staging",
         f"pkg:github/acme/shop@{SHA}", 600.0),
        ("jenkins", "jenkins:COMPLETED", "build_finished", utc("2026-03-02 11:00"), "cancelled", SHA2, "shop", None,
         None, 60.0),
    ]
    assert rows(paths, "select distinct pipeline_run_id from marts.lifecycle_events where stage like 'build%' "
                       "order by 1") == [("https://jenkins.acme.io/job/shop-build/41/",),
                                         ("https://jenkins.acme.io/job/shop-build/42/",)]
    assert rows(paths, "select service, environment, is_production, outcome, deployed_at from marts.deployments") == [
        ("shop", "production", True, "failure", utc("2026-03-02 10:04"))]
    assert rows(paths, "select position, pattern, stage from config.jenkins_jobs order by position") == [
        (1, "deploy-{service}-{environment}", "deploy"), (2, "*-e2e", "test"), (3, "*-build", "build")]


def test_without_rules_every_job_is_a_build(paths, tmp_path):
    """No `[jenkins]` section: deploy-shop-production is a build job like any other (STARTED → build_started);
    the body is recognised with --source jenkins, and as a request with X-Lifecycle-Source: jenkins (the
    receiver's /webhooks/jenkins)."""
    started = fixture(JENKINS / "deploy-shop-production.started.json")
    failed = fixture(JENKINS / "deploy-shop-production.completed.failure.json")
    ingest(paths, tmp_path, "forced.ndjson", [started], source="jenkins")
    ingest(paths, tmp_path, "request.ndjson", [lifecycle("jenkins", failed)])
    build(paths)
    assert rows(paths, "select stage, outcome, environment from marts.lifecycle_events order by occurred_at") == [
        ("build_started", None, None), ("build_finished", "failure", None)]


def test_job_rules_are_checked():
    rules = parse_config(JOBS).jenkins_jobs
    assert [(r.match, r.stage) for r in rules][0] == ("deploy-{service}-{environment}", "deploy")
    # the first placeholder takes as much as it can: deploy-fund-transfer-prod → fund-transfer, prod
    import re
    assert re.fullmatch(rules[0].regex("service").removeprefix("(?i)"), "deploy-fund-transfer-prod")[1] == "fund-transfer"
    assert re.fullmatch(rules[0].regex("environment").removeprefix("(?i)"), "deploy-fund-transfer-prod")[1] == "prod"
    assert rules[2].regex("service") is None
    for text, message in [
        ('[jenkins]\njobs = [{match = "x", stage = "release"}]', "jenkins.jobs[0].stage: 'release' is not one of"),
        ('[jenkins]\njobs = [{match = "deploy-{app}", stage = "deploy"}]', "unknown placeholder(s) {app}"),
        ('[jenkins]\njobs = [{stage = "build"}]', "jenkins.jobs[0].match: missing"),
        ('[jenkins]\njobs = [{match = "x", stage = "build", team = "a"}]', "jenkins.jobs[0]: unknown key(s) team"),
        ('[jenkins]\nrules = []', "jenkins: unknown key(s) rules"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config(text)


def test_jenkins_cdevents_plugin_events_load_unvalidated_with_stages(paths, tmp_path):
    """The CDEvents plugin's events: the draft binding (a CloudEvent 0.3 whose subject is in extension attributes,
    data = the job model: run 167) and v0.1/v0.2 CDEvents (context.version, run 168). Their 0.1.0 types have no
    bundled schema: none is quarantined, they load unvalidated (schema_version null, the file's note says so),
    the source `job/shop-pipeline/` names Jenkins, the commit comes from customData.build.scmState.

    Run 167 (times −05:00 → UTC): queued 14:00:00.6, started 14:00:55.6 (commit), its task started 14:01:01.8
    and finished 14:05:03.2 (241.399 s), the run finished 14:06:06.9 with outcome success (extension `outcome`),
    311.299 s after it started.
    Run 168: queued 10:00, started 10:01, task started 10:01:05, build finished 10:05:30 (artifact shop@D),
    pipeline finished 10:06 failure — 5 min after its start = 300 s.
    """
    lines = [json.loads(f.read_text()) for f in sorted(JENKINS.glob("cdevents-*.json"))]
    result = ingest(paths, tmp_path, "cdevents.ndjson", lines)
    assert (result.total("accepted"), result.total("quarantined")) == (10, 0)
    assert result.files[0].note == ("5 CDEvent(s) not validated, no bundled schema for their type "
                                    "(dev.cdevents.build.finished.0.1.0, dev.cdevents.pipelinerun.finished.0.1.0, "
                                    "dev.cdevents.pipelinerun.queued.0.1.0 and 2 more type(s)); loaded and mapped")
    build(paths)
    assert rows(paths, "select distinct source_tool from marts.lifecycle_events") == [("jenkins",)]
    assert rows(paths, "select event_format, count(*), count(schema_version) from raw.events group by 1 order by 1") == [
        ("cdevent", 5, 0), ("cloudevent", 5, 0)]
    assert rows(paths, "select stage, outcome, commit_sha, pipeline_run_id, artifact_id, round(duration_s, 3) "
                       "from marts.lifecycle_events order by occurred_at") == [
        ("pipeline_queued", None, None, "168", None, None),
        ("pipeline_started", None, SHA, "168", None, None),
        ("task_started", None, None, "168", None, None),
        ("build_finished", "success", SHA, None, f"pkg:oci/shop@{DIGEST}", None),
        ("pipeline_finished", "failure", SHA, "168", None, 300.0),
        ("pipeline_queued", None, None, "job/shop-pipeline/", None, None),
        ("pipeline_started", None, SHA, "job/shop-pipeline/167/", None, None),
        ("task_started", None, None, None, None, None),
        ("task_finished", "success", None, None, None, 241.399),  # 14:05:03.195857 − 14:01:01.796709
        ("pipeline_finished", "success", SHA, "job/shop-pipeline/167/", None, 311.299),  # 14:06:06.898710 − 14:00:55.599719
    ]
    assert rows(paths, "select occurred_at from marts.lifecycle_events where pipeline_run_id = 'job/shop-pipeline/167/' "
                       "and stage = 'pipeline_finished'") == [(utc("2026-03-02 14:06:06.898710"),)]
