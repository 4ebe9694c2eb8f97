"""kubewatch CloudEvents (KUBERNETES_TOPOLOGY_CHANGE) → staging.kubewatch_events → deployments.

Payloads: the captured kubewatch events (tests/fixtures/captured/kubewatch_cloudevents, a Helm upgrade of one
Deployment seen by robusta-dev/kubewatch), edited into small journeys: the object's name, namespace, labels,
images and the event's id and time changed, the rest as kubewatch sent it.
"""

from __future__ import annotations

import re

import pytest

from pipelines import source_config
from pipelines.source_config import ConfigError, parse_config
from tests.source_helpers import CAPTURED, argocd_notification, build, digest, fixture, ingest, rows, sha, utc

KUBEWATCH = CAPTURED / "kubewatch_cloudevents"
D19, D20 = digest("ledger:1.9.0"), digest("ledger:1.9.1")
LEDGER = {"app.kubernetes.io/name": "ledger", "app.kubernetes.io/part-of": "payments-core"}
CONFIG = """
[environments.production]
tier = "production"
aliases = ["payments-prod"]

[kubernetes]
cluster = "prod-eu"
sources = { "c-77" = "prod-us" }
"""


def kubewatch(event_id: str, time: str, operation: str, name: str, namespace: str = "payments-prod", *,
              kind: str = "Deployment", image: str | None = None, old_image: str | None = None,
              labels: dict | None = None, annotations: dict | None = None, replicas: int = 2,
              old_replicas: int | None = None, cluster_uid: str = "TODO") -> dict:
    """A kubewatch CloudEvent built on the captured Deployment update: `image` is the new object's (None: no
    obj), `old_image` the old object's (None: no oldObj); a delete carries the deleted object as obj."""
    event = fixture(KUBEWATCH / "deployment" / "update.json")
    event.update(id=event_id, time=time)
    data = event["data"]
    base = data["obj"]
    data.update(operation=operation, kind=kind, clusterUid=cluster_uid, apiVersion="apps/v1")

    def obj(img: str, count: int) -> dict:
        metadata = {**base["metadata"], "name": name, "namespace": namespace,
                    "labels": dict(labels or {}), "annotations": dict(annotations or {})}
        template = {**base["spec"]["template"], "spec": {**base["spec"]["template"]["spec"],
                                                         "containers": [{"name": name, "image": img}]}}
        return {**base, "kind": kind, "metadata": metadata,
                "spec": {**base["spec"], "replicas": count, "template": template}}

    data["obj"] = obj(image, replicas) if image else None
    data["oldObj"] = obj(old_image, old_replicas or replicas) if old_image else None
    return event


def use_config(tmp_path, monkeypatch, text: str = CONFIG) -> None:
    path = tmp_path / "lifecycle.toml"
    path.write_text(text)
    monkeypatch.setenv(source_config.CONFIG_ENV, str(path))


def test_captured_events_workload_image_changes_are_deployments_the_rest_ignored(paths, tmp_path):
    """The four captured Deployment updates share one CloudEvents id (a duplicate each): given their own id
    and namespace (so they are four objects), by hand:
      update.json               image robustadev/aaaaaaaaa v2.8.0 → v2.9.0            → deployed
      update_same.json          v2.9.0 → v2.9.0 (only the status changed)             → ignored
      update_missing_obj.json   no obj: the new state is unknown                      → ignored
      update_missing_oldobj.json no oldObj, no earlier event of that object           → deployed (first seen)
      pod/update, pod/delete    Pods                                                  → ignored
    Identity of a deployment: service = label app.kubernetes.io/name `aaaaaaaaa`; artifact pkg:oci/aaaaaaaaa@v2.9.0
    (tag only, no digest); version = the tag (no version label); no cluster configured, the namespace names no
    environment → environment = the namespace."""
    events = []
    for n, name in enumerate(["update", "update_same", "update_missing_obj", "update_missing_oldobj"], 1):
        e = fixture(KUBEWATCH / "deployment" / f"{name}.json")
        e["id"] = f"1734544719-{n}"
        for key in ("obj", "oldObj"):
            if e["data"].get(key):
                e["data"][key]["metadata"]["namespace"] = name.replace("_", "-")
        events.append(e)
    for n, name in enumerate(["update", "delete"], 5):
        e = fixture(KUBEWATCH / "pod" / f"{name}.json")
        e["id"] = f"1734544719-{n}"
        events.append(e)
    result = ingest(paths, tmp_path, "kubewatch.ndjson", events)
    assert (result.total("accepted"), result.total("quarantined")) == (6, 0)
    build(paths)
    at = utc("2024-12-18 17:58:39.674637")
    assert rows(paths, "select raw_type, subject_id, stage, occurred_at, outcome, service, artifact_id, digest, "
                       "version, environment, cluster from marts.lifecycle_events order by event_id") == [
        ("kubewatch:Deployment.update", "Deployment/update/aaaaaaaaa", "deployed", at, "success", "aaaaaaaaa",
         "pkg:oci/aaaaaaaaa@v2.9.0", None, "v2.9.0", "update", None),
        ("kubewatch:Deployment.update", "Deployment/update-same/aaaaaaaaa", "ignored", at, None, "aaaaaaaaa",
         "pkg:oci/aaaaaaaaa@v2.9.0", None, "v2.9.0", "update-same", None),
        ("kubewatch:Deployment.update", "Deployment/update-missing-obj/aaaaaaaaa", "ignored", at, None, "aaaaaaaaa",
         "pkg:oci/aaaaaaaaa@v2.9.0", None, "v2.9.0", "update-missing-obj", None),
        ("kubewatch:Deployment.update", "Deployment/update-missing-oldobj/aaaaaaaaa", "deployed", at, "success",
         "aaaaaaaaa", "pkg:oci/aaaaaaaaa@v2.9.0", None, "v2.9.0", "update-missing-oldobj", None),
        ("kubewatch:Pod.update", "Pod/aaaaaaaaa/aaaaaaaaa-11a1111aa-aa111", "ignored",
         utc("2024-12-18 17:58:39.659061"), None, None, None, None, None, None, None),
        ("kubewatch:Pod.delete", "Pod/aaaaaaaaa/aaaaaaaaa-111a1a1a1a-1a1aa", "ignored",
         utc("2024-12-18 17:58:40.787314"), None, None, None, None, None, None, None),
    ]


def test_a_cluster_journey_create_scale_upgrade_rollback_and_delete(paths, tmp_path, monkeypatch):
    """One cluster (lifecycle.toml: [kubernetes] cluster = prod-eu; namespace payments-prod is an alias of
    production), by hand:
      10:00 create Deployment ledger, ghcr.io/acme/ledger:1.8.0                → deployed 1.8.0
      10:05 update ledger: replicas 2 → 4, same image (a scale)                → ignored
      11:00 update ledger: image → :1.9.0@D19 (label version 1.9.0)            → deployed 1.9.0, digest D19
      11:01 update ledger without oldObj, image still D19 (status only)        → ignored (= its previous event)
      12:00 create StatefulSet ledger-db, postgres:16.4                        → deployed (image postgres: the
            only container, though not named like the service)
      12:10 create DaemonSet node-exporter in namespace monitoring (no labels) → deployed, service = its name,
            environment = the cluster prod-eu (the namespace names no environment), tier production by name
      12:30 create ReplicaSet ledger-5d8f                                      → ignored (not a workload)
      13:00 update ledger: image D19 → :1.8.0 again                            → deployed; 1.8.0 ran there before
            and not just now → a rollback
      14:00 delete StatefulSet ledger-db                                       → service_removed
      14:30 a Deployment in clusterUid c-77 (configured as prod-us)            → deployed in cluster prod-us
    Team: annotation owner.team on ledger (payments); app: label part-of (payments-core).
    marts.deployments: 10:00, 11:00, 12:00, 12:10, 13:00 (rollback), 14:30 → 6 production deployments.
    Inventory as of 14:30: ledger 1.8.0, node-exporter, search (prod-us); ledger-db removed at 14:00."""
    use_config(tmp_path, monkeypatch)
    team = {"owner.team": "payments"}
    v19 = f"ghcr.io/acme/ledger:1.9.0@{D19}"
    events = [
        kubewatch("k-1", "2026-07-01T10:00:00Z", "create", "ledger", image="ghcr.io/acme/ledger:1.8.0",
                  labels=LEDGER, annotations=team),
        kubewatch("k-2", "2026-07-01T10:05:00Z", "update", "ledger", image="ghcr.io/acme/ledger:1.8.0",
                  old_image="ghcr.io/acme/ledger:1.8.0", labels=LEDGER, annotations=team, replicas=4, old_replicas=2),
        kubewatch("k-3", "2026-07-01T11:00:00Z", "update", "ledger", image=v19, old_image="ghcr.io/acme/ledger:1.8.0",
                  labels={**LEDGER, "app.kubernetes.io/version": "1.9.0"}, annotations=team),
        kubewatch("k-4", "2026-07-01T11:01:00Z", "update", "ledger", image=v19,
                  labels={**LEDGER, "app.kubernetes.io/version": "1.9.0"}, annotations=team),
        kubewatch("k-5", "2026-07-01T12:00:00Z", "create", "ledger-db", kind="StatefulSet",
                  image="docker.io/library/postgres:16.4",
                  labels={"app.kubernetes.io/name": "ledger-db", "app.kubernetes.io/part-of": "payments-core"}),
        kubewatch("k-6", "2026-07-01T12:10:00Z", "create", "node-exporter", "monitoring", kind="DaemonSet",
                  image="quay.io/prometheus/node-exporter:v1.8.2"),
        kubewatch("k-7", "2026-07-01T12:30:00Z", "create", "ledger-5d8f", kind="ReplicaSet",
                  image="ghcr.io/acme/ledger:1.8.0", labels=LEDGER),
        kubewatch("k-8", "2026-07-01T13:00:00Z", "update", "ledger", image="ghcr.io/acme/ledger:1.8.0", old_image=v19,
                  labels=LEDGER, annotations=team),
        kubewatch("k-9", "2026-07-01T14:00:00Z", "delete", "ledger-db", kind="StatefulSet",
                  image="docker.io/library/postgres:16.4", labels={"app.kubernetes.io/name": "ledger-db"}),
        kubewatch("k-10", "2026-07-01T14:30:00Z", "create", "search", "production", image="ghcr.io/acme/search:3.0.0",
                  cluster_uid="c-77"),
    ]
    result = ingest(paths, tmp_path, "kubewatch.ndjson", events)
    assert (result.total("accepted"), result.total("quarantined")) == (10, 0)
    build(paths)
    assert rows(paths, "select event_id, stage from marts.lifecycle_events order by occurred_at") == [
        ("k-1", "deployed"), ("k-2", "ignored"), ("k-3", "deployed"), ("k-4", "ignored"), ("k-5", "deployed"),
        ("k-6", "deployed"), ("k-7", "ignored"), ("k-8", "deployed"), ("k-9", "service_removed"), ("k-10", "deployed")]
    assert rows(paths, "select deployment_id, service, environment, cluster, environment_tier, version, artifact_id, "
                       "team, app, is_rollback from marts.deployments order by deployed_at") == [
        ("k-1", "ledger", "production", "prod-eu", "production", "1.8.0", "pkg:oci/ledger@1.8.0", "payments",
         "payments-core", False),
        ("k-3", "ledger", "production", "prod-eu", "production", "1.9.0", f"pkg:oci/ledger@{D19}", "payments",
         "payments-core", False),
        ("k-5", "ledger-db", "production", "prod-eu", "production", "16.4", "pkg:oci/postgres@16.4", None,
         "payments-core", False),
        ("k-6", "node-exporter", "prod-eu", "prod-eu", "production", "v1.8.2", "pkg:oci/node-exporter@v1.8.2",
         None, None, False),
        ("k-8", "ledger", "production", "prod-eu", "production", "1.8.0", "pkg:oci/ledger@1.8.0", "payments",
         "payments-core", True),
        ("k-10", "search", "production", "prod-us", "production", "3.0.0", "pkg:oci/search@3.0.0", None, None, False),
    ]
    assert rows(paths, "select digest from marts.lifecycle_events where event_id = 'k-3'") == [(D19,)]
    assert rows(paths, "select service, cluster, version from marts.release_inventory order by all") == [
        ("ledger", "prod-eu", "1.8.0"), ("node-exporter", "prod-eu", "v1.8.2"), ("search", "prod-us", "3.0.0")]
    assert rows(paths, "select deployments from marts.dora_metrics "
                       "where period = 'all' and group_by = 'overall'") == [(6,)]


def test_a_rollout_argo_cd_reported_is_counted_once(paths, tmp_path, monkeypatch):
    """Argo CD and kubewatch report the same rollout: the deploying tool's report counts, kubewatch only adds
    what no deploying tool reported to that environment (and cluster, when both name one). By hand:
      11:00 kubewatch (prod-eu) sees ledger → D19          — Argo CD reported D19 to production/prod-eu: dropped
      11:02 Argo CD: ledger D19 synced, production/prod-eu  → counts
      15:00 kubewatch (prod-eu) sees ledger → D20 (kubectl set image by hand)
                                                           — Argo CD reported D20 to prod-us only: counts
      15:05 Argo CD: ledger D20 synced, production/prod-us  → counts
    marts.deployments: argocd 11:02, kubewatch 15:00, argocd 15:05 → 3 production deployments (not 4);
    both kubewatch events stay `deployed` in marts.lifecycle_events."""
    use_config(tmp_path, monkeypatch)
    repo = "https://github.com/acme/ledger-deploy"
    r1, r2 = sha("ledger-deploy:1"), sha("ledger-deploy:2")
    argo = [
        argocd_notification("ledger-prod-eu", "ledger", revision=r1, repo_url=repo,
                            images=[f"ghcr.io/acme/ledger:1.9.0@{D19}"], phase="Succeeded",
                            started="2026-07-01T11:01:00Z", finished="2026-07-01T11:02:00Z",
                            notified="2026-07-01T11:02:05Z", history=[(r1, "2026-07-01T11:02:00Z")],
                            labels={"environment": "production", "cluster": "prod-eu"}),
        argocd_notification("ledger-prod-us", "ledger", revision=r2, repo_url=repo,
                            images=[f"ghcr.io/acme/ledger:1.9.1@{D20}"], phase="Succeeded",
                            started="2026-07-01T15:04:00Z", finished="2026-07-01T15:05:00Z",
                            notified="2026-07-01T15:05:05Z", history=[(r2, "2026-07-01T15:05:00Z")],
                            labels={"environment": "production", "cluster": "prod-us"}),
    ]
    watched = [
        kubewatch("k-1", "2026-07-01T11:00:00Z", "update", "ledger", image=f"ghcr.io/acme/ledger:1.9.0@{D19}",
                  old_image="ghcr.io/acme/ledger:1.8.0", labels=LEDGER),
        kubewatch("k-2", "2026-07-01T15:00:00Z", "update", "ledger", image=f"ghcr.io/acme/ledger:1.9.1@{D20}",
                  old_image=f"ghcr.io/acme/ledger:1.9.0@{D19}", labels=LEDGER),
    ]
    ingest(paths, tmp_path, "argocd.ndjson", argo)
    ingest(paths, tmp_path, "kubewatch.ndjson", watched)
    build(paths)
    assert rows(paths, "select source_tool, cluster, deployed_at, artifact_id from marts.deployments "
                       "order by deployed_at") == [
        ("argocd", "prod-eu", utc("2026-07-01 11:02"), f"pkg:oci/ledger@{D19}"),
        ("kubewatch", "prod-eu", utc("2026-07-01 15:00"), f"pkg:oci/ledger@{D20}"),
        ("argocd", "prod-us", utc("2026-07-01 15:05"), f"pkg:oci/ledger@{D20}"),
    ]
    assert rows(paths, "select count(*) from marts.lifecycle_events "
                       "where source_tool = 'kubewatch' and stage = 'deployed'") == [(2,)]
    assert rows(paths, "select deployments from marts.dora_metrics "
                       "where period = 'all' and group_by = 'overall'") == [(3,)]


def test_the_kubernetes_section_of_the_configuration_is_checked():
    config = parse_config(CONFIG)
    assert config.kubernetes.cluster == "prod-eu"
    assert config.kubernetes.sources == (("c-77", "prod-us"),)
    for text, message in [
        ("[kubernetes]\nclusters = 'x'", "kubernetes: unknown key(s) clusters"),
        ("[kubernetes]\ncluster = 3", "kubernetes.cluster: expected a string"),
        ("[kubernetes]\nfiles = { 'a*.json' = 1 }", "kubernetes.files: expected a table of strings"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config(text)
