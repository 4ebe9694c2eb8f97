"""Acceptance: every real payload (tests/fixtures/captured, github-octokit, gitlab-gitlab4j — copied from
../shared/fixtures) and every written one ingests with nothing quarantined, and every event maps to a
canonical stage or to `ignored` (a known kind with no lifecycle meaning, listed in docs/sources.md): the
unknown_event_types check finds none."""

from __future__ import annotations

import json

from pipelines import quality, tasks, warehouse
from tests.source_helpers import CAPTURED, GITLAB, OCTOKIT, WRITTEN, request, rows
from tests.conftest import write_lines


def test_all_fixtures_ingest_and_map(paths, tmp_path):
    # octokit's bodies come without headers: as the receiver would have stored them, with X-GitHub-Event
    octokit = write_lines(tmp_path / "octokit.ndjson",
                          [request({"X-GitHub-Event": f.parent.name}, json.loads(f.read_text()))
                           for f in sorted(OCTOKIT.glob("*/*.json"))])
    captured_github = sorted(f for f in (CAPTURED / "github_events").glob("*/*.json")
                             if not f.name.endswith(".headers.json"))
    with_headers, bare = [], []
    for f in captured_github:
        headers = f.with_name(f.name.replace(".json", ".headers.json"))
        if headers.exists():
            with_headers.append(request(json.loads(headers.read_text()), json.loads(f.read_text())))
        else:
            bare.append(json.loads(f.read_text()))
    loads = [
        tasks.ingest(paths, [octokit, write_lines(tmp_path / "captured-headers.ndjson", with_headers)]),
        # bare GitHub bodies: --source github, the event name from the body's shape
        tasks.ingest(paths, [write_lines(tmp_path / "captured-bare.ndjson", bare)], source="github"),
        # the rest is recognised without --source: Argo CD, kubewatch and CDEvents by shape, GitLab by object_kind
        tasks.ingest(paths, [CAPTURED / "argocd_notifications", CAPTURED / "kubewatch_cloudevents",
                             CAPTURED / "passthrough", GITLAB, WRITTEN / "harbor", WRITTEN / "pagerduty"]),
    ]
    flux = [json.loads(f.read_text()) for f in sorted((WRITTEN / "flux").glob("*.json"))]
    loads.append(tasks.ingest(paths, [write_lines(tmp_path / "flux.ndjson", flux)]))
    # deploy-side sources: Keptn (both generations) and Flagger are recognised as they come; Argo Rollouts as
    # posted to /webhooks/argo-rollouts (its flat template body has no shape of its own)
    rollouts = [request({"X-Lifecycle-Source": "argo-rollouts"}, json.loads(f.read_text()))
                for f in sorted((WRITTEN / "argo-rollouts").glob("*.json"))]
    deploy_side = tasks.ingest(paths, [WRITTEN / "keptn", WRITTEN / "flagger",
                                       write_lines(tmp_path / "argo-rollouts.ndjson", rollouts)])
    assert (deploy_side.total("records"), deploy_side.total("quarantined")) == (27 + 11 + 11, 0)

    records = sum(r.total("records") for r in loads)
    assert sum(r.total("quarantined") for r in loads) == 0
    assert records == 106 + 13 + 33 + 23 + 6 + 2 + 8 + 20 + 6 + 12
    tasks.build(paths)
    assert rows(paths, "select source_tool, raw_type from marts.lifecycle_events where stage is null") == []
    with warehouse.writer(paths) as conn:
        check = quality.unknown_event_types(conn)
    assert check.passed and check.metadata["unknown"] == 0
    tools = {t for (t,) in rows(paths, "select distinct source_tool from marts.lifecycle_events")}
    assert {"github", "gitlab", "argocd", "harbor", "pagerduty", "flux", "kubewatch"} <= tools
    assert {"keptn", "argo-rollouts", "flagger"} <= tools
