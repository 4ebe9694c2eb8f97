"""Tekton Pipelines' CloudEvents (dev.tekton.event.*) → staging.tekton_events; a Tekton CDEvent → staging.cdevents.

Payloads: tests/fixtures/written/tekton, binary-mode CloudEvents as the receiver stores them, written from Tekton's
documented event format (see the README there).
"""

from __future__ import annotations

import json

from tests.source_helpers import WRITTEN, build, fixture, ingest, rows, utc

TEKTON = WRITTEN / "tekton"
SHA = "3f9c2b7e1d4a5c6b8e9f0a1b2c3d4e5f6a7b8c9d"
SHA2 = "8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b"
DIGEST = "sha256:5e1f0c3a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
IMAGE = f"pkg:oci/shop@{DIGEST}"


def test_every_tekton_fixture_maps_to_a_stage(paths, tmp_path):
    """Run shop-build-7xk2p starts 09:05 and succeeds 09:17 (results IMAGE_URL shop:1.4.0, IMAGE_DIGEST D, commit);
    its `running` event and its two task runs are `ignored`; run 9mq4t fails (11:00 → 11:04:30), run c4nc3 is
    cancelled (12:00 → 12:01); the stand-alone task run lint-shop-q8w2e (no pipeline run) is a build, 13:00 → 13:03.

    - build_finished of 7xk2p: duration 09:17 − 09:05 = 12 min = 720 s; its start names no results yet but shares
      the run's artifact (pkg:oci/shop@D, version 1.4.0);
    - 9mq4t: 4 min 30 s = 270 s, outcome failure; c4nc3: 60 s, outcome cancelled (reason Cancelled); no image;
    - lint-shop-q8w2e: 3 min = 180 s, success, commit from its `revision` param.
    """
    lines = [json.loads(f.read_text()) for f in sorted(TEKTON.glob("*.json"))]
    result = ingest(paths, tmp_path, "tekton.ndjson", lines)
    assert (result.total("accepted"), result.total("quarantined")) == (8, 0)
    build(paths)
    assert rows(paths, "select raw_type, stage, occurred_at, outcome, commit_sha, pipeline_run_id, artifact_id, version, "
                       "duration_s from marts.lifecycle_events order by occurred_at, raw_type") == [
        ("tekton:pipelinerun.running", "ignored", utc("2026-03-02 09:05"), None, SHA, "ci/shop-build-7xk2p", None, None,
         None),
        ("tekton:pipelinerun.started", "build_started", utc("2026-03-02 09:05"), None, SHA, "ci/shop-build-7xk2p", IMAGE,
         "1.4.0", None),
        ("tekton:taskrun.started", "ignored", utc("2026-03-02 09:05:02"), None, SHA, "ci/shop-build-7xk2p", None, None,
         None),
        ("tekton:taskrun.successful", "ignored", utc("2026-03-02 09:16:40"), None, SHA, "ci/shop-build-7xk2p", None,
         None, None),
        ("tekton:pipelinerun.successful", "build_finished", utc("2026-03-02 09:17"), "success", SHA,
         "ci/shop-build-7xk2p", IMAGE, "1.4.0", 720.0),
        ("tekton:pipelinerun.failed", "build_finished", utc("2026-03-02 11:04:30"), "failure", SHA2,
         "ci/shop-build-9mq4t", None, None, 270.0),
        ("tekton:pipelinerun.failed", "build_finished", utc("2026-03-02 12:01"), "cancelled", SHA2,
         "ci/shop-build-c4nc3", None, None, 60.0),
        ("tekton:taskrun.successful", "build_finished", utc("2026-03-02 13:03"), "success", SHA2, "ci/lint-shop-q8w2e",
         None, None, 180.0),
    ]
    assert rows(paths, "select distinct source_tool, repository, service, team, app from marts.lifecycle_events "
                       "where stage = 'build_finished' and artifact_id is not null") == [
        ("tekton", "acme/shop", "shop", "web", "storefront")]
    # the build's commit comes from the run that built the image
    assert rows(paths, "select artifact_id, commit_sha, commit_link from intermediate.artifacts") == [
        (IMAGE, SHA, "build")]


def test_structured_mode_and_v1beta1_results(paths, tmp_path):
    """A structured CloudEvent (Tekton's data in `data`) of a v1beta1 PipelineRun: results under `pipelineResults`,
    params `gitrevision` / `gitrepositoryurl`, an IMAGE_URL that carries the digest itself; finished 10:30 after
    starting 10:20 → 600 s."""
    body = fixture(TEKTON / "pipelinerun.successful.json")["body"]
    run = body["pipelineRun"]
    run["spec"]["params"] = [{"name": "gitrevision", "value": SHA2},
                             {"name": "gitrepositoryurl", "value": "https://github.com/Acme/Billing"}]
    run["status"].update(startTime="2026-03-02T10:20:00Z", completionTime="2026-03-02T10:30:00Z")
    del run["status"]["results"]
    run["status"]["pipelineResults"] = [{"name": "IMAGE_URL", "value": f"harbor.acme.io/fin/billing:2.0@{DIGEST}"}]
    event = {"specversion": "1.0", "id": "tk-1", "source": "/apis/tekton.dev/v1beta1/namespaces/ci/pipelineruns/b",
             "type": "dev.tekton.event.pipelinerun.successful.v1", "time": "2026-03-02T10:30:01Z",
             "datacontenttype": "application/json", "data": body}
    assert ingest(paths, tmp_path, "tk.ndjson", [event]).total("accepted") == 1
    build(paths)
    assert rows(paths, "select stage, occurred_at, commit_sha, repository, artifact_id, version, service, duration_s "
                       "from marts.lifecycle_events") == [
        ("build_finished", utc("2026-03-02 10:30"), SHA2, "acme/billing", f"pkg:oci/billing@{DIGEST}", "2.0", "billing",
         600.0)]


def test_a_tekton_cdevent_pipelinerun_maps_through_staging_cdevents(paths, tmp_path):
    """Tekton's CDEvents format (the run as a CDEvents pipelinerun, source = the run's API path) goes through
    staging.cdevents: started 08:00 → pipeline_started, finished 08:07 outcome success → pipeline_finished
    (the CDEvents vocabulary: a pipeline run is not a build), tool tekton from the source, pipeline run id = the
    subject id, duration 7 min = 420 s."""
    source = "/apis/tekton.dev/v1/namespaces/ci/pipelineruns/shop-build-7xk2p"

    def cdevent(predicate, ts, content):
        return {"context": {"specversion": "0.4.1", "id": f"cd-{predicate}", "source": source,
                            "type": f"dev.cdevents.pipelinerun.{predicate}.0.2.0", "timestamp": ts},
                "subject": {"id": "shop-build-7xk2p", "source": source, "type": "pipelineRun",
                            "content": {"pipelineName": "shop-build", "url": source, **content}}}

    ingest(paths, tmp_path, "cd.ndjson", [cdevent("started", "2026-03-02T08:00:00Z", {}),
                                          cdevent("finished", "2026-03-02T08:07:00Z", {"outcome": "success"})])
    build(paths)
    assert rows(paths, "select source_tool, stage, outcome, pipeline_run_id, duration_s from marts.lifecycle_events "
                       "order by occurred_at") == [
        ("tekton", "pipeline_started", None, "shop-build-7xk2p", None),
        ("tekton", "pipeline_finished", "success", "shop-build-7xk2p", 420.0)]
    assert rows(paths, "select distinct schema_version from raw.events") == [("0.4.1",)]
