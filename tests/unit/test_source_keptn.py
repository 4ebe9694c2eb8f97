"""Keptn → staging.keptn_lifecycle_events (the lifecycle operator's CloudEvents) and staging.keptn_v1_events
(Keptn v1 sh.keptn.* CloudEvents), and what their post-deployment evaluations do to marts.deployments.

Payloads: tests/fixtures/written/keptn, written from the lifecycle operator's event sender and Keptn's
CloudEvents spec (see the README there). Expected values are derived by hand from those files and the mapping
in docs/sources.md.
"""

from __future__ import annotations

import copy
import json

from tests.source_helpers import WRITTEN, build, digest, fixture, ingest, request, rows, utc

KEPTN = WRITTEN / "keptn"
CTX = "a3e5f16d-8888-4720-82c7-6995062905c1"


def test_every_keptn_fixture_maps_to_a_stage(paths, tmp_path):
    """27 fixtures: 14 lifecycle-operator captured requests (binary mode) and 13 v1 structured CloudEvents.

    Lifecycle operator, 2026-03-04 (the mapping table of docs/sources.md, phase by phase): app pre-deployment
    tasks Started → test_started, Finished → test_finished success; the reconcile event → ignored; app
    pre-deployment evaluations Finished → test_finished; App Deployment → ignored (twice); workload
    pre-deployment tasks → test_finished; workload deployment Started / Finished → deploy_started / deployed;
    workload post-deployment tasks → test_finished; workload post-deployment evaluations Finished →
    verification_finished success; app post-deployment evaluations Failed (Warning) → verification_finished
    failure; 0.2.8's deployment timeout (Warning Finished, 11:10:00) → deploy_failed, its Failed (11:10:01) is the
    same failure again → ignored.
    v1, 2026-03-05: triggered events, sequence events and approval → ignored; deployment started / finished
    (pass) → deploy_started / deployed; test started / finished (pass) → test_started / test_finished success;
    evaluation finished (result fail) → verification_finished failure; rollback finished (succeeded) →
    rolled_back; the staging deployment finished with status errored → deploy_failed.
    Times: the operator's ce-time has nanoseconds, kept to the microsecond.
    """
    result = ingest(paths, tmp_path, "keptn.ndjson", [json.loads(f.read_text()) for f in sorted(KEPTN.glob("*.json"))])
    assert (result.total("accepted"), result.total("quarantined")) == (27, 0)
    build(paths)
    assert rows(paths, "select raw_type, stage, occurred_at, outcome from marts.lifecycle_events "
                       "order by occurred_at") == [
        ("keptn:App Pre-Deployment Tasks.Started", "test_started", utc("2026-03-04 10:00:00.112345"), None),
        ("keptn:App Pre-Deployment Tasks.Finished", "test_finished", utc("2026-03-04 10:00:40.204511"), "success"),
        ("keptn:Reconcile Evaluation.StatusChanged", "ignored", utc("2026-03-04 10:00:58"), None),
        ("keptn:App Pre-Deployment Evaluations.Finished", "test_finished", utc("2026-03-04 10:01:00.031822"), "success"),
        ("keptn:App Deployment.Started", "ignored", utc("2026-03-04 10:01:05.5"), None),
        ("keptn:Workload Pre-Deployment Tasks.Finished", "test_finished", utc("2026-03-04 10:01:30"), "success"),
        ("keptn:Workload Deployment.Started", "deploy_started", utc("2026-03-04 10:01:35"), None),
        ("keptn:Workload Deployment.Finished", "deployed", utc("2026-03-04 10:02:35"), "success"),
        ("keptn:Workload Post-Deployment Tasks.Finished", "test_finished", utc("2026-03-04 10:03"), "success"),
        ("keptn:Workload Post-Deployment Evaluations.Finished", "verification_finished", utc("2026-03-04 10:03:30"),
         "success"),
        ("keptn:App Deployment.Finished", "ignored", utc("2026-03-04 10:03:40"), None),
        ("keptn:App Post-Deployment Evaluations.Failed", "verification_finished", utc("2026-03-04 10:05"), "failure"),
        ("keptn:Workload Deployment.Finished", "deploy_failed", utc("2026-03-04 11:10"), "failure"),
        ("keptn:Workload Deployment.Failed", "ignored", utc("2026-03-04 11:10:01"), None),
        ("keptn:sh.keptn.event.production.delivery.triggered", "ignored", utc("2026-03-05 10:00"), None),
        ("keptn:sh.keptn.event.deployment.triggered", "ignored", utc("2026-03-05 10:00:01"), None),
        ("keptn:sh.keptn.event.deployment.started", "deploy_started", utc("2026-03-05 10:00:03"), None),
        ("keptn:sh.keptn.event.deployment.finished", "deployed", utc("2026-03-05 10:02:30"), "success"),
        ("keptn:sh.keptn.event.test.started", "test_started", utc("2026-03-05 10:02:35"), None),
        ("keptn:sh.keptn.event.test.finished", "test_finished", utc("2026-03-05 10:07:35"), "success"),
        ("keptn:sh.keptn.event.evaluation.triggered", "ignored", utc("2026-03-05 10:07:36"), None),
        ("keptn:sh.keptn.event.evaluation.finished", "verification_finished", utc("2026-03-05 10:08:10"), "failure"),
        ("keptn:sh.keptn.event.rollback.triggered", "ignored", utc("2026-03-05 10:08:12"), None),
        ("keptn:sh.keptn.event.rollback.finished", "rolled_back", utc("2026-03-05 10:09"), "success"),
        ("keptn:sh.keptn.event.production.delivery.finished", "ignored", utc("2026-03-05 10:09:01"), None),
        ("keptn:sh.keptn.event.approval.triggered", "ignored", utc("2026-03-05 12:00"), None),
        ("keptn:sh.keptn.event.deployment.finished", "deploy_failed", utc("2026-03-05 12:03"), "failure"),
    ]
    assert rows(paths, "select distinct source_tool from marts.lifecycle_events") == [("keptn",)]


def test_lifecycle_identity_app_workload_version_namespace(paths, tmp_path):
    """The workload events' object is podtato-head-podtato-head-entry-0.2.7 (KeptnWorkloadVersion) with
    version 0.2.7; the app events name podtato-head-0.1.1-6b86b273 (KeptnAppVersion, version 0.1.1) → app
    podtato-head, which prefixes the workload: service podtato-head-entry, artifact
    pkg:oci/podtato-head-entry@0.2.7; environment = the namespace podtato-kubectl. App events: no service, no
    artifact."""
    lines = [json.loads((KEPTN / f"lifecycle.{name}.json").read_text())
             for name in ("app-deployment.started", "workload-deployment.finished")]
    ingest(paths, tmp_path, "klt.ndjson", lines)
    build(paths)
    assert rows(paths, "select stage, service, app, version, artifact_id, environment, subject_id "
                       "from marts.lifecycle_events order by occurred_at") == [
        ("ignored", None, "podtato-head", "0.1.1", None, "podtato-kubectl", "podtato-head-0.1.1-6b86b273"),
        ("deployed", "podtato-head-entry", "podtato-head", "0.2.7", "pkg:oci/podtato-head-entry@0.2.7",
         "podtato-kubectl", "podtato-head-podtato-head-entry-0.2.7"),
    ]


def test_short_phase_names_and_succeeded_errored_states(paths, tmp_path):
    """Keptn's deployment-flow page names the phases by their short names with Succeeded / Errored:
    WorkloadDeploy.Succeeded → deployed (success), AppPreDeployTasks.Succeeded → test_finished (success),
    WorkloadPostDeployEvaluations.Errored → verification_finished (failure)."""
    template = json.loads((KEPTN / "lifecycle.workload-deployment.finished.json").read_text())
    lines = []
    for i, (ce_type, minute) in enumerate((("WorkloadDeploy.Succeeded", "10"), ("AppPreDeployTasks.Succeeded", "11"),
                                           ("WorkloadPostDeployEvaluations.Errored", "12"))):
        line = copy.deepcopy(template)
        line["headers"].update({"ce-id": f"short-{i}", "ce-type": ce_type, "ce-time": f"2026-03-04T12:{minute}:00Z"})
        lines.append(line)
    ingest(paths, tmp_path, "short.ndjson", lines)
    build(paths)
    assert rows(paths, "select raw_type, stage, outcome from marts.lifecycle_events order by occurred_at") == [
        ("keptn:WorkloadDeploy.Succeeded", "deployed", "success"),
        ("keptn:AppPreDeployTasks.Succeeded", "test_finished", "success"),
        ("keptn:WorkloadPostDeployEvaluations.Errored", "verification_finished", "failure"),
    ]


def lifecycle_event(phase_state: str, at: str, name: str, version: str, namespace: str, event_id: str,
                    warning: bool = False) -> dict:
    """A lifecycle-operator CloudEvent (binary mode) on the fixture's shape, for another object/namespace."""
    line = fixture(KEPTN / "lifecycle.workload-deployment.finished.json")
    line["headers"].update({"ce-id": event_id, "ce-type": phase_state, "ce-time": at})
    line["body"].update(version=version, type="Warning" if warning else "Normal")
    line["body"]["resource"].update(name=name, namespace=namespace)
    return line


def test_failed_workload_post_deployment_evaluation_makes_a_failed_change(paths, tmp_path):
    """Namespace `production` (tier production by name). Workload shop-api of app shop:
    - 1.0.0 deployed at 09:00 (Workload Deployment.Finished), its post-deployment evaluation passes at 09:05;
    - 1.1.0 deployed at 10:00, its post-deployment evaluation Failed at 10:05 (Warning);
    - 1.2.0 deployed at 11:00.
    The 10:05 verdict names the artifact pkg:oci/shop-api@1.1.0 in `production`: it verifies the 10:00
    deployment (link artifact), which becomes a failed change, recovered by the next deployment at 11:00
    (3600 s). 09:00 and 11:00 are not failed changes. Change fail rate = 1 failed / 3 deployments."""
    app = "shop-1.4.0-6b86b273"
    lines = [lifecycle_event("App Deployment.Started", "2026-03-04T08:59:00Z", app, "1.4.0", "production", "a0")]
    for i, (version, hour) in enumerate((("1.0.0", "09"), ("1.1.0", "10"), ("1.2.0", "11"))):
        name = f"shop-shop-api-{version}"
        lines.append(lifecycle_event("Workload Deployment.Finished", f"2026-03-04T{hour}:00:00Z", name, version,
                                     "production", f"d{i}"))
        if version != "1.2.0":
            lines.append(lifecycle_event("Workload Post-Deployment Evaluations." + ("Failed" if version == "1.1.0"
                                                                                      else "Finished"),
                                         f"2026-03-04T{hour}:05:00Z", name, version, "production", f"e{i}",
                                         warning=version == "1.1.0"))
    assert ingest(paths, tmp_path, "verdicts.ndjson", lines).total("quarantined") == 0
    build(paths)
    assert rows(paths, "select service, version, deployed_at, outcome, failed_verifications, caused_failure, "
                       "recovered_at, recovery_time_s from marts.deployments order by deployed_at") == [
        ("shop-api", "1.0.0", utc("2026-03-04 09:00"), "success", 0, False, None, None),
        ("shop-api", "1.1.0", utc("2026-03-04 10:00"), "success", 1, True, utc("2026-03-04 11:00"), 3600.0),
        ("shop-api", "1.2.0", utc("2026-03-04 11:00"), "success", 0, False, None, None),
    ]
    assert rows(paths, "select outcome, deployment_id, link from intermediate.verifications order by verified_at") == [
        ("success", "d0", "artifact"), ("failure", "d1", "artifact")]
    assert rows(paths, "select deployments, failed_changes, change_fail_rate from marts.dora_metrics "
                       "where period = 'all' and group_by = 'overall'") == [(3, 1, 1 / 3)]


def test_failed_app_evaluation_fails_the_app_deployments_since_its_previous_verdict(paths, tmp_path):
    """App shop in namespace `production`, two workloads:
    - 09:00 api 1.0.0 deployed; 09:10 the app's post-deployment evaluation passes (app version 1.0.0);
    - 10:00 web 2.0.0 deployed, 10:01 api 1.1.0 deployed, 10:02 api 1.1.1 deployed;
    - 10:10 the app's post-deployment evaluation fails (app version 1.1.0).
    The 10:10 verdict names no service and no artifact: it verifies the app's latest deployment of each service
    since the previous app verdict (09:10) — web 2.0.0 and api 1.1.1 (api 1.1.0 is superseded by 1.1.1, api
    1.0.0 was verified at 09:10). Failed changes: web 2.0.0 and api 1.1.1 (not followed by another deployment:
    unrecovered). api 1.1.0 is not one (its next deployment is no rollback or hotfix)."""
    lines = []
    for i, (name, version, at) in enumerate((("shop-api-1.0.0", "1.0.0", "09:00"), ("shop-web-2.0.0", "2.0.0", "10:00"),
                                             ("shop-api-1.1.0", "1.1.0", "10:01"), ("shop-api-1.1.1", "1.1.1", "10:02"))):
        lines.append(lifecycle_event("Workload Deployment.Finished", f"2026-03-04T{at}:00Z", name, version,
                                     "production", f"d{i}"))
    lines.append(lifecycle_event("App Post-Deployment Evaluations.Finished", "2026-03-04T09:10:00Z",
                                 "shop-1.0.0-6b86b273", "1.0.0", "production", "v1"))
    lines.append(lifecycle_event("App Post-Deployment Evaluations.Failed", "2026-03-04T10:10:00Z",
                                 "shop-1.1.0-d4735e3a", "1.1.0", "production", "v2", warning=True))
    assert ingest(paths, tmp_path, "app.ndjson", lines).total("quarantined") == 0
    build(paths)
    assert rows(paths, "select service, app, version, failed_verifications, caused_failure from marts.deployments "
                       "order by deployed_at") == [
        ("api", "shop", "1.0.0", 0, False),
        ("web", "shop", "2.0.0", 1, True),
        ("api", "shop", "1.1.0", 0, False),
        ("api", "shop", "1.1.1", 1, True),
    ]
    assert rows(paths, "select event_id, deployment_id, link from intermediate.verifications "
                       "order by verified_at, deployment_id") == [
        ("v1", "d0", "app"), ("v2", "d1", "app"), ("v2", "d3", "app")]


def v1_event(name: str, **changes) -> dict:
    body = fixture(KEPTN / f"v1.{name}.json")
    body.update(changes)
    return body


def test_v1_failed_quality_gate_then_rollback(paths, tmp_path):
    """The v1 delivery in `production` (context a3e5…): triggered with image
    harbor.acme.io/sockshop/carts:0.14.0@sha256:E, deployed 10:02:30, evaluation fail 10:08:10, rollback
    finished 10:09:00.
    - the deployment: artifact pkg:oci/carts@sha256:E, version 0.14.0, chain a3e5…, a failed change (its
      evaluation failed, and the next deployment is a rollback) recovered at 10:09 (390 s);
    - the rollback: a successful deployment of no artifact, is_rollback.
    The evaluation verdict links by the artifact (pkg:oci/carts@sha256:E in production)."""
    image = f"harbor.acme.io/sockshop/carts:0.14.0@{digest('carts-0.14.0')}"
    triggered = v1_event("deployment.triggered")
    triggered["data"]["configurationChange"]["values"]["image"] = image
    lines = [triggered, v1_event("deployment.finished"), v1_event("evaluation.finished"),
             v1_event("rollback.finished")]
    assert ingest(paths, tmp_path, "v1.ndjson", lines).total("quarantined") == 0
    build(paths)
    artifact = f"pkg:oci/carts@{digest('carts-0.14.0')}"
    assert rows(paths, "select service, app, environment, artifact_id, version, chain_id, deployed_at, is_rollback, "
                       "caused_failure, failed_verifications, recovery_time_s from marts.deployments "
                       "order by deployed_at") == [
        ("carts", "sockshop", "production", artifact, "0.14.0", CTX, utc("2026-03-05 10:02:30"), False, True, 1, 390.0),
        ("carts", "sockshop", "production", None, None, CTX, utc("2026-03-05 10:09"), True, False, 0, None),
    ]
    assert rows(paths, "select link from intermediate.verifications") == [("artifact",)]


def test_v1_binary_mode_takes_the_context_from_its_header(paths, tmp_path):
    """The same deployment.finished sent in binary mode: the context is the ce-shkeptncontext header
    (7d1c…), the data is the body; status errored → deploy_failed in `staging`."""
    event = v1_event("deployment.finished.errored")
    line = request({"ce-specversion": "1.0", "ce-id": event["id"], "ce-source": event["source"],
                    "ce-type": event["type"], "ce-time": event["time"],
                    "ce-shkeptncontext": event["shkeptncontext"], "Content-Type": "application/json"},
                   event["data"])
    ingest(paths, tmp_path, "binary.ndjson", [line])
    build(paths)
    assert rows(paths, "select stage, outcome, environment, chain_id from marts.lifecycle_events") == [
        ("deploy_failed", "failure", "staging", "7d1c2b3a-4e5f-4a6b-9c8d-0e1f2a3b4c5d")]
