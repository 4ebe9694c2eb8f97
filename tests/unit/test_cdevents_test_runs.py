"""CDEvents test runs (testsuiterun / testcaserun) in staging.cdevents: test_finished with outcome, environment and
the run's duration; a run's started and finished events share the artifact either names, so the run is active time
of the test stage in marts.stage_durations."""

from __future__ import annotations

from tests.source_helpers import build, digest, ingest, rows, sha, utc

D = digest("shop-1.4.0")
PURL = f"pkg:oci/shop@{D.replace(':', '%3A')}"
ARTIFACT = f"pkg:oci/shop@{D}"


def cdevent(event_id: str, type_: str, ts: str, subject_id: str, content: dict, custom: dict | None = None,
            source: str = "/testkube/staging") -> dict:
    event = {"context": {"specversion": "0.5.1", "id": event_id, "source": source,
                         "type": f"dev.cdevents.{type_}", "timestamp": ts},
             "subject": {"id": subject_id, "source": source, "content": content}}
    if custom is not None:
        event["customData"] = custom
    return event


def test_a_test_suite_run_is_a_span_on_the_artifact_it_tested(paths, tmp_path):
    """shop@D packaged at 08:00 from commit C (tekton), deployed to staging at 08:30 (argocd); test suite run
    `suite-1` (testkube) starts in staging at 08:40 — its started event names no artifact — and finishes at 08:55,
    outcome failure, naming the artifact in customData. A test case run `case-9` finishes at 09:00 with no start.

    - test_finished of suite-1: duration 08:55 − 08:40 = 15 min = 900 s; environment staging; outcome failure
    - the journey's test_finished (staging) step: from the staging deployment 08:30 to 08:55 = 1500 s, tool
      testkube; active = its started→finished span 08:40→08:55 = 900 s (the start shares the finish's artifact),
      waiting 1500 − 900 = 600 s
    - case-9 has no started event: duration null
    """
    c = sha("suite-commit")
    lines = [
        cdevent("pkg", "artifact.packaged.0.2.0", "2026-03-02T08:00:00Z", PURL,
                {"change": {"id": c, "source": "acme/shop"}}, source="/tekton/ci"),
        cdevent("dep", "service.deployed.0.2.0", "2026-03-02T08:30:00Z", "shop",
                {"environment": {"id": "staging"}, "artifactId": PURL}, source="/argocd/staging"),
        cdevent("suite-start", "testsuiterun.started.0.2.0", "2026-03-02T08:40:00Z", "suite-1",
                {"environment": {"id": "staging"}, "testSuite": {"id": "smoke", "name": "Smoke"}}),
        cdevent("suite-end", "testsuiterun.finished.0.2.0", "2026-03-02T08:55:00Z", "suite-1",
                {"outcome": "failure", "environment": {"id": "staging"}, "testSuite": {"id": "smoke"}},
                {"artifactId": PURL}),
        cdevent("case-end", "testcaserun.finished.0.3.0", "2026-03-02T09:00:00Z", "case-9",
                {"outcome": "pass", "environment": {"id": "staging"}, "testCase": {"id": "login"}}),
    ]
    assert ingest(paths, tmp_path, "tests.ndjson", lines).total("quarantined") == 0
    build(paths)
    assert rows(paths, "select event_id, stage, outcome, environment, artifact_id, duration_s from marts.lifecycle_events "
                       "where stage like 'test%' order by occurred_at") == [
        ("suite-start", "test_started", None, "staging", ARTIFACT, None),
        ("suite-end", "test_finished", "failure", "staging", ARTIFACT, 900.0),
        ("case-end", "test_finished", "success", "staging", None, None),
    ]
    assert rows(paths, "select stage, environment, tool, entered_at, exited_at, duration_s, active_s, waiting_s "
                       "from marts.stage_durations where artifact_id = ? order by seq", [ARTIFACT]) == [
        ("deployed", "staging", "argocd", utc("2026-03-02 08:00"), utc("2026-03-02 08:30"), 1800.0, 0.0, 1800.0),
        ("test_finished", "staging", "testkube", utc("2026-03-02 08:30"), utc("2026-03-02 08:55"), 1500.0, 900.0, 600.0),
    ]


def test_an_incremental_build_rereads_a_run_but_not_a_service(paths, tmp_path, monkeypatch):
    """By load (pipelines/incremental.py, `siblings (cdevents_run, …)`): load 1 holds three deployments of `shop`
    (subject `service`, id `shop`, one source) and pipeline run `run-1` started at 10:00; load 2 one more
    deployment of `shop` and `run-1` finished at 10:12.

    Load 2's canonical rows computed: its own 2 events + `run-1`'s started event (the finish reads it) = 3 —
    not the 3 earlier deployments (a service is no run: those rows read no other event). `run-1`'s finish
    gets duration 10:12 − 10:00 = 720 s."""
    from pipelines import incremental, tasks

    monkeypatch.setattr(incremental, "MIN_EVENTS_FOR_DELTA", 0)  # the delta path on a tiny warehouse
    deployed = [cdevent(f"dep-{i}", "service.deployed.0.2.0", f"2026-03-02T0{i}:00:00Z", "shop",
                        {"environment": {"id": "staging"}, "artifactId": PURL}, source="/argocd/staging")
                for i in range(1, 5)]
    run = [cdevent("run-start", "pipelinerun.started.0.2.0", "2026-03-02T10:00:00Z", "run-1",
                   {"pipelineName": "build"}, source="/tekton/ci"),
           cdevent("run-end", "pipelinerun.finished.0.2.0", "2026-03-02T10:12:00Z", "run-1",
                   {"pipelineName": "build", "outcome": "success"}, source="/tekton/ci")]
    ingest(paths, tmp_path, "first.ndjson", [*deployed[:3], run[0]])
    assert {r.model: r.mode for r in tasks.build(paths).runs}["intermediate.canonical_events"] == "full"
    ingest(paths, tmp_path, "second.ndjson", [deployed[3], run[1]])
    canonical = next(r for r in tasks.build(paths).runs if r.model == "intermediate.canonical_events")
    assert (canonical.mode, canonical.rows, canonical.computed_rows) == ("incremental", 6, 3)
    assert rows(paths, "select event_id, duration_s from marts.lifecycle_events where event_id like 'run-%' "
                       "order by occurred_at") == [("run-start", None), ("run-end", 720.0)]
