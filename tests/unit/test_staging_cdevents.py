"""staging.cdevents → marts.lifecycle_events: identity columns and stages for hand-written events."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines import tasks
from tests.conftest import cloudevent, query, write_lines

DIGEST = "sha256:" + "c" * 64
PURL = "pkg:oci/fund-transfer@sha256%3A" + "c" * 64 + "?repository_url=registry.bank.example/payments/fund-transfer&tag=1.4.2"
SHA = "9f" * 20


def cdevent(event_id: str, type_: str, subject: dict, custom: dict | None = None, ts="2026-07-01T12:00:00-05:00"):
    event = {"context": {"specversion": "0.5.1", "id": event_id, "source": "https://tekton.bank.example/ci",
                         "type": type_, "timestamp": ts}, "subject": subject}
    if custom is not None:
        event["customData"] = custom
    return event


def events_by_id(paths) -> dict[str, dict]:
    rows = query(paths, "select * from marts.lifecycle_events")
    columns = [c for (c,) in query(paths, "select column_name from information_schema.columns "
                                         "where table_schema = 'marts' and table_name = 'lifecycle_events' "
                                         "order by ordinal_position")]
    return {row[columns.index("event_id")]: dict(zip(columns, row, strict=True)) for row in rows}


def test_identity_columns_and_deployment_pipelines(paths, tmp_path):
    custom = {"team": "payments", "app": "payments-core", "service": "fund-transfer", "environment": "prod-eu"}
    lines = [
        cdevent("pkg-1", "dev.cdevents.artifact.packaged.0.3.0",
                {"id": PURL, "content": {"change": {"id": SHA, "source": "bank-org/fund-transfer"}}}),
        cdevent("dep-start", "dev.cdevents.pipelinerun.started.0.3.0",
                {"id": "run-7", "content": {"pipelineName": "deploy-fund-transfer-prod-eu", "uri": "https://ci/7"}}, custom),
        cdevent("dep-fail", "dev.cdevents.pipelinerun.finished.0.3.0",
                {"id": "run-7", "content": {"pipelineName": "deploy-fund-transfer-prod-eu", "uri": "https://ci/7",
                                            "outcome": "failure"}}, custom),
        cdevent("build-ok", "dev.cdevents.pipelinerun.finished.0.3.0",
                {"id": "run-8", "content": {"pipelineName": "build-fund-transfer", "uri": "https://ci/8",
                                            "outcome": "success"}}, {"team": "payments"}),
        cdevent("deployed", "dev.cdevents.service.deployed.0.3.0",
                {"id": "fund-transfer", "content": {"environment": {"id": "prod-us"}, "artifactId": PURL}},
                {"team": "payments", "app": "payments-core", "cluster": "eks-us-1"}),
        cdevent("inc", "dev.cdevents.incident.detected.0.3.0",
                {"id": "PD-42", "content": {"description": "5xx", "environment": {"id": "prod-eu"},
                                            "service": {"id": "fund-transfer"}}}),
    ]
    tasks.ingest(paths, [write_lines(tmp_path / "e.ndjson", lines)])
    tasks.build(paths)
    ev = events_by_id(paths)

    pkg = ev["pkg-1"]
    assert (pkg["stage"], pkg["artifact_id"], pkg["digest"], pkg["version"], pkg["commit_sha"], pkg["repository"]) == (
        "artifact_packaged", "pkg:oci/fund-transfer@" + DIGEST, DIGEST, "1.4.2", SHA, "bank-org/fund-transfer")
    assert pkg["source_tool"] == "tekton"
    assert pkg["occurred_at"] == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)  # -05:00 converted to UTC

    assert (ev["dep-start"]["stage"], ev["dep-start"]["environment"], ev["dep-start"]["environment_tier"]) == (
        "deploy_started", "prod-eu", "production")
    assert (ev["dep-fail"]["stage"], ev["dep-fail"]["outcome"], ev["dep-fail"]["service"]) == (
        "deploy_failed", "failure", "fund-transfer")
    assert (ev["build-ok"]["stage"], ev["build-ok"]["outcome"]) == ("pipeline_finished", "success")

    dep = ev["deployed"]
    assert (dep["stage"], dep["outcome"], dep["service"], dep["environment"], dep["cluster"], dep["team"], dep["app"],
            dep["version"]) == ("deployed", "success", "fund-transfer", "prod-us", "eks-us-1", "payments",
                                "payments-core", "1.4.2")

    inc = ev["inc"]
    assert (inc["stage"], inc["incident_id"], inc["service"], inc["environment"]) == (
        "incident_opened", "PD-42", "fund-transfer", "prod-eu")


def test_v04_and_v05_spec_versions_both_map(paths, tmp_path):
    v04 = {"context": {"version": "0.4.1", "id": "old", "source": "/jenkins", "type": "dev.cdevents.build.started.0.2.0",
                       "timestamp": "2026-07-01T10:00:00Z"}, "subject": {"id": "b1", "type": "build", "content": {}}}
    v03 = {"context": {"version": "0.3.0", "id": "older", "source": "/jenkins",
                       "type": "dev.cdevents.service.deployed.0.1.1", "timestamp": "2026-07-01T10:00:00Z"},
           "subject": {"id": "svc", "type": "service", "content": {"environment": {"id": "dev"},
                                                                    "artifactId": "pkg:oci/svc@v1"}}}
    tasks.ingest(paths, [write_lines(tmp_path / "e.ndjson", [v04, v03])])
    tasks.build(paths)
    ev = events_by_id(paths)
    assert (ev["old"]["stage"], ev["old"]["source_tool"]) == ("build_started", "jenkins")
    assert (ev["older"]["stage"], ev["older"]["version"], ev["older"]["environment_tier"]) == (
        "deployed", "v1", "development")
    schema_versions = dict(query(paths, "select event_id, schema_version from raw.events"))
    assert schema_versions == {"old": "0.4.1", "older": None}  # 0.1.1 has no bundled schema: loaded, not validated


def test_non_cdevent_cloudevents_and_webhooks_are_kept_without_a_stage(paths, tmp_path):
    other = cloudevent(1, type="com.example.something", data={"hello": "world"})
    # a webhook of a tool no source model maps yet (docs/sources.md lists the mapped ones)
    tasks.ingest(paths, [write_lines(tmp_path / "e.ndjson", [
        other, {"headers": {"X-Lifecycle-Source": "generic"}, "body": {"build": {"phase": "COMPLETED"}}}])])
    tasks.build(paths)
    rows = sorted(query(paths, "select source_tool, raw_type, stage from marts.lifecycle_events"))
    # the CloudEvent's source is /argocd/prod-eu, so its tool is argocd even though no model maps its type
    assert rows == [("argocd", "com.example.something", None), ("generic", "generic:COMPLETED", None)]
