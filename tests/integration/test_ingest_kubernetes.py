"""`lifecycle ingest-kubernetes`: kubectl snapshots → one deployment per Deployment → the release inventory.

Fixtures: tests/fixtures/written/kubernetes (two clusters' `kubectl get deployments -A -o json`, see its README).
"""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from pipelines import cli, kubernetes, source_config, tasks
from pipelines.config import resolve_paths
from tests.conftest import FIXTURES, write_lines
from tests.source_helpers import build, rows, utc

K8S = FIXTURES / "written" / "kubernetes"
PROD, NONPROD = K8S / "prod-eu.deployments.json", K8S / "nonprod.deployments.json"
D241 = "sha256:2ad20864032abb83c9e04451dd95598d014d9a9098190fd954b918422133fce9"
D250 = "sha256:c069350303be405c35084d3233ff7ee00e8e22d982373bc44989288a61921906"

# The state both clusters run, worked out by hand from the two snapshots:
#   service, environment, cluster, version, artifact_id, team, app, deployed_at
# prod-eu: namespaces are per service (shop, payments, default) — none names an environment, so the
#   environment is the cluster's name (prod-eu: production by the default rule);
#   shop-api: label name shop; the envoy sidecar comes first, the container image named like the service is
#     chosen: harbor.acme.io/web/shop:2.4.1@D241 → pkg:oci/shop@D241; version label 2.4.1; team annotation web;
#     deployed_at = Progressing lastUpdateTime 09:00;
#   ledger: tag only → pkg:oci/ledger@1.8.0, version from the tag, team from the label; Progressing 10:30;
#   hello: no labels → service = its name; its only image agnhost:2.39 → pkg:oci/agnhost@2.39; no status
#     conditions → deployed_at = creationTimestamp 11:00.
# nonprod: namespaces staging and dev name environments (the default tier rule knows them);
#   staging/shop: by digest only → pkg:oci/shop@D250, version label 2.5.0; Progressing 07:00;
#   dev/shop: tag only, no version label → version 2.6.0-rc.1; Progressing 11:30.
STATE = [
    ("hello", "prod-eu", "prod-eu", "2.39", "pkg:oci/agnhost@2.39", None, None, "2026-07-01 11:00"),
    ("ledger", "prod-eu", "prod-eu", "1.8.0", "pkg:oci/ledger@1.8.0", "payments", "payments-core", "2026-07-01 10:30"),
    ("shop", "dev", "nonprod", "2.6.0-rc.1", "pkg:oci/shop@2.6.0-rc.1", "web", "storefront", "2026-07-01 11:30"),
    ("shop", "prod-eu", "prod-eu", "2.4.1", f"pkg:oci/shop@{D241}", "web", "storefront", "2026-07-01 09:00"),
    ("shop", "staging", "nonprod", "2.5.0", f"pkg:oci/shop@{D250}", "web", "storefront", "2026-07-01 07:00"),
]
INVENTORY = ("select service, environment, cluster, version, artifact_id, team, app, deployed_at "
             "from marts.release_inventory order by service, environment, cluster")


def expected() -> list[tuple]:
    return sorted((*s[:7], utc(s[7])) for s in STATE)


def service_deployed(n: int, service, environment, cluster, version, artifact, team, app, at) -> dict:
    """The CDEvents service.deployed a deploying tool would send for the same state."""
    custom = {"cluster": cluster, "version": version}
    custom.update({k: v for k, v in (("team", team), ("app", app)) if v})
    time = at.replace(" ", "T") + ":00Z"
    cd = {"context": {"specversion": "0.5.1", "id": f"dep-{n}", "source": f"/deployer/{cluster}",
                      "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": time},
          "subject": {"id": service, "content": {"environment": {"id": environment}, "artifactId": artifact}},
          "customData": custom}
    return {"specversion": "1.0", "id": f"dep-{n}", "source": f"/deployer/{cluster}",
            "type": "dev.cdevents.service.deployed.0.3.0", "time": time, "data": cd}


def test_two_cluster_snapshots_give_the_inventory_the_deployment_events_give(paths, tmp_path):
    """Acceptance: the release inventory from the two snapshots equals the one from CDEvents service.deployed
    events describing the same state (STATE above, derived by hand) — row for row."""
    first = tasks.ingest_kubernetes(paths, [PROD], cluster="prod-eu")
    second = tasks.ingest_kubernetes(paths, [NONPROD], cluster="nonprod")
    assert [(s.cluster, s.deployments, s.other_objects) for s in first.snapshots + second.snapshots] == [
        ("prod-eu", 3, 0), ("nonprod", 2, 0)]
    assert first.load.total("accepted") + second.load.total("accepted") == 5
    build(paths)
    from_snapshots = rows(paths, INVENTORY)
    assert from_snapshots == expected()

    other = resolve_paths(tmp_path / "events" / "warehouse.duckdb")
    events = [service_deployed(n, *s) for n, s in enumerate(STATE)]
    tasks.ingest(other, [write_lines(tmp_path / "deployed.ndjson", events)])
    build(other)
    assert rows(other, INVENTORY) == from_snapshots
    # the snapshot's digests are the events' digests
    assert rows(paths, "select service, environment, digest from marts.lifecycle_events where digest is not null "
                       "order by all") == [("shop", "prod-eu", D241), ("shop", "staging", D250)]


def test_importing_a_snapshot_again_adds_nothing_and_only_new_images_are_new_deployments(paths, tmp_path):
    """By hand:
      1st import of prod-eu: 3 Deployments → 3 accepted, 3 deployments
      the same file again: its landing file is already loaded → 0 accepted
      a later snapshot (copy): ledger → 1.9.0 rolled out at 12:00 (new image, new Progressing time) → new;
        shop-api scaled 3 → 5 (same images, same Progressing time: the same delivery id) → duplicate;
        hello unchanged → duplicate  ⇒ 1 accepted, 2 duplicates
      a third snapshot: ledger restarted at 13:00 (`kubectl rollout restart`: same image, new Progressing
        time) → accepted, but its images equal the previous state's → stage ignored, not a deployment
    marts.deployments: 3 + 1 = 4."""
    assert tasks.ingest_kubernetes(paths, [PROD], cluster="prod-eu").load.total("accepted") == 3
    again = tasks.ingest_kubernetes(paths, [PROD], cluster="prod-eu").load
    assert (again.total("accepted"), again.skipped) == (0, 1)

    snapshot = json.loads(PROD.read_text())
    later = copy.deepcopy(snapshot)
    ledger = next(i for i in later["items"] if i["metadata"]["name"] == "ledger")
    ledger["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/ledger:1.9.0"
    ledger["status"]["conditions"][1]["lastUpdateTime"] = "2026-07-01T12:00:00Z"
    shop = next(i for i in later["items"] if i["metadata"]["name"] == "shop-api")
    shop["spec"]["replicas"] = shop["status"]["replicas"] = 5
    (tmp_path / "later.json").write_text(json.dumps(later))
    load = tasks.ingest_kubernetes(paths, [tmp_path / "later.json"], cluster="prod-eu").load
    assert (load.total("accepted"), load.total("duplicates")) == (1, 2)

    restarted = copy.deepcopy(later)
    ledger = next(i for i in restarted["items"] if i["metadata"]["name"] == "ledger")
    ledger["status"]["conditions"][1]["lastUpdateTime"] = "2026-07-01T13:00:00Z"
    (tmp_path / "restarted.json").write_text(json.dumps(restarted))
    assert tasks.ingest_kubernetes(paths, [tmp_path / "restarted.json"], cluster="prod-eu").load.total("accepted") == 1
    build(paths)
    assert rows(paths, "select service, version, deployed_at from marts.deployments order by deployed_at") == [
        ("shop", "2.4.1", utc("2026-07-01 09:00")), ("ledger", "1.8.0", utc("2026-07-01 10:30")),
        ("hello", "2.39", utc("2026-07-01 11:00")), ("ledger", "1.9.0", utc("2026-07-01 12:00"))]
    assert rows(paths, "select stage from marts.lifecycle_events where occurred_at = '2026-07-01 13:00:00+00'") == [
        ("ignored",)]


def test_a_deployment_a_gitops_tool_or_kubewatch_reported_is_not_counted_again(paths, tmp_path):
    """Precedence: a deploying tool > kubewatch > a snapshot. By hand, for prod-eu's shop-api (D241, 09:00):
    a CDEvents service.deployed of D241 to prod-eu/prod-eu at 08:59 → the snapshot's shop row is dropped;
    ledger 1.8.0 reported by nobody else → the snapshot's row counts. Deployments: the CDEvents producer's shop
    08:59 (tool `deployer`, from its source /deployer/prod-eu), snapshot ledger 10:30, snapshot hello 11:00."""
    tasks.ingest_kubernetes(paths, [PROD], cluster="prod-eu")
    event = service_deployed(1, "shop", "prod-eu", "prod-eu", "2.4.1", f"pkg:oci/shop@{D241}", "web", "storefront",
                             "2026-07-01 08:59")
    tasks.ingest(paths, [write_lines(tmp_path / "deployed.ndjson", [event])])
    build(paths)
    assert rows(paths, "select source_tool, service, deployed_at from marts.deployments order by deployed_at") == [
        ("deployer", "shop", utc("2026-07-01 08:59")), ("kubernetes", "ledger", utc("2026-07-01 10:30")),
        ("kubernetes", "hello", utc("2026-07-01 11:00"))]


def test_the_cluster_comes_from_the_flag_or_the_configuration(paths, tmp_path, monkeypatch):
    """--cluster wins; else lifecycle.toml [kubernetes] files (a glob on the file name), else cluster; else an
    error that says what to do."""
    config = tmp_path / "lifecycle.toml"
    config.write_text('[kubernetes]\ncluster = "main"\nfiles = { "nonprod*.json" = "nonprod" }\n')
    monkeypatch.setenv(source_config.CONFIG_ENV, str(config))
    result = tasks.ingest_kubernetes(paths, [PROD, NONPROD])
    assert [(s.file.name, s.cluster) for s in result.snapshots] == [
        ("prod-eu.deployments.json", "main"), ("nonprod.deployments.json", "nonprod")]
    assert [s.cluster for s in tasks.ingest_kubernetes(paths, [NONPROD], cluster="eu-2").snapshots] == ["eu-2"]

    config.write_text("")
    with pytest.raises(kubernetes.SnapshotError, match="pass --cluster NAME"):
        tasks.ingest_kubernetes(paths, [PROD])
    (tmp_path / "notes.json").write_text('{"hello": "world"}')
    with pytest.raises(kubernetes.SnapshotError, match="not a Kubernetes List or Deployment"):
        tasks.ingest_kubernetes(paths, [tmp_path / "notes.json"], cluster="x")


def test_cli_prints_counts_and_fails_in_one_line(paths, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli.main, ["ingest-kubernetes", str(PROD), "--cluster", "prod-eu"])
    assert ok.exit_code == 0, ok.output
    assert "cluster prod-eu, 3 Deployments" in ok.output and "3 accepted, 0 duplicate, 0 quarantined" in ok.output
    bad = runner.invoke(cli.main, ["ingest-kubernetes", str(tmp_path / "missing.json"), "--cluster", "x"])
    assert bad.exit_code == 1 and "no such file or directory" in bad.output
