"""Argo CD notifications (webhook template posting the `app` object) → staging.argocd_notifications.

Real payloads: tests/fixtures/captured/argocd_notifications (a demo cluster: apps synced, degraded, removed),
bare bodies recognised by their shape (an `app` of apiVersion argoproj.io/*), no --source needed.
"""

from __future__ import annotations

from tests.conftest import write_lines
from tests.source_helpers import (
    CAPTURED,
    argocd_notification,
    build,
    digest,
    ingest,
    lifecycle,
    rows,
    sha,
    utc,
)
from pipelines import tasks

ARGOCD = CAPTURED / "argocd_notifications"
DEMO = "cdviz-dev/demo-cluster"


def test_every_captured_notification_ingests_without_source_and_maps_to_a_stage(paths):
    result = tasks.ingest(paths, [ARGOCD])
    assert (result.total("records"), result.total("accepted"), result.total("quarantined")) == (23, 23, 0)
    build(paths)
    got = rows(paths, "select split_part(r.file, '/', -1), a.stage, a.commit_sha, a.artifact_id "
                      "from staging.argocd_notifications a join raw.events r using (event_key) order by 1")
    by_file = {name: (stage, commit, artifact) for name, stage, commit, artifact in got}
    assert {name: stage for name, (stage, _, _) in by_file.items()} == {
        "000_cli_template.json": "ignored",            # sync status unknown, no operation
        "001.json": "deployed",                        # sync succeeded, healthy (on-deployed)
        "002.json": "deployed",
        "003.json": "ignored",
        "004.json": "deployed",
        "005.json": "ignored",                         # no operation, sync status unknown
        "006.json": "ignored",
        "007_sync_podinfo_1_1.json": "deploy_started",  # operation Running
        "008_sync_podinfo_1_2.json": "deployed",
        "009_sync_podinfo_1_3.json": "deploy_started",
        "010_sync_podinfo_1_4.json": "service_degraded",  # synced, health Degraded since 16:31:04
        "011_sync_podinfo_2_1.json": "deploy_started",
        "012_sync_podinfo_2_2.json": "ignored",        # the same degraded episode reported again
        "013_sync_podinfo_2_3.json": "deployed",
        "014_sync_podinfo_3_1.json": "deploy_started",
        "015_sync_podinfo_3_2.json": "deploy_started",
        "016_sync_podinfo_3_3.json": "deployed",
        "017_sync_podinfo_3_4.json": "deployed",
        "018_sync_podinfo_4_1.json": "deploy_started",
        "019_sync_podinfo_4_2.json": "deployed",
        "020_sync_podinfo_4_3.json": "deploy_started",
        "021_remove_podinfo_1_1.json": "ignored",      # the operation of 019 reported again
        "022_remove_podinfo_2_1.json": "service_removed",  # deletionTimestamp set
    }
    # identity: the synced Git revision; the app's image (name = the app's name) else its chart, else the source
    assert by_file["008_sync_podinfo_1_2.json"][1:] == (
        "94fcc5e8673e0d2d7fbca6b1c6c455ba308314fc", f"pkg:github/{DEMO}@94fcc5e8673e0d2d7fbca6b1c6c455ba308314fc")
    assert by_file["002.json"][1:] == ("90460e57069cadc1332ca8137268028bf3f12765", "pkg:oci/aaaaaaaa-aaaaaaa@0.6.3")
    assert by_file["017_sync_podinfo_3_4.json"][1:] == (None, "pkg:oci/aaaaaaa@6.9.0")
    # while 6.9.2 syncs the live image is still 6.9.0: the start names no artifact (not the old image)
    assert by_file["020_sync_podinfo_4_3.json"][1:] == (None, None)
    # an app without images yet: its chart
    assert by_file["015_sync_podinfo_3_2.json"][1:] == (None, "pkg:helm/aaaaaaa@6.9.0")
    assert rows(paths, "select count(*) from marts.lifecycle_events where stage is null") == [(0,)]
    # one sync is one deployment, whatever the number of notifications
    assert rows(paths, "select count(*), count(distinct artifact_id) from marts.deployments "
                       "where outcome = 'success'") == [(8, 8)]
    assert rows(paths, "select service, app, occurred_at, version from marts.lifecycle_events "
                       "where stage = 'service_removed'") == [("aaaaaaa", None, utc("2025-10-02 17:05:10"), "6.9.2")]


def test_labels_and_annotations_name_environment_team_app_and_version(paths, tmp_path):
    rev = sha("r1")
    body = argocd_notification(
        "shop-prod", "shop", revision=rev, repo_url="https://github.com/acme/shop.git",
        images=["harbor.acme.io/web/shop:1.4.0@" + digest("shop-1.4.0"), "docker.io/envoyproxy/envoy:v1.30"],
        phase="Succeeded", started="2026-03-02T11:10:00Z", finished="2026-03-02T11:12:00+01:00",
        notified="2026-03-02T10:12:30Z", history=[(rev, "2026-03-02T10:12:00Z")],
        labels={"environment": "prod-eu", "app.kubernetes.io/part-of": "storefront", "app.kubernetes.io/version": "1.4.0"},
        annotations={"owner.team": "web"})
    ingest(paths, tmp_path, "argo.ndjson", [lifecycle("argocd", body)])
    build(paths)
    assert rows(paths, "select stage, occurred_at, service, team, app, environment, environment_tier, cluster, version, "
                       "artifact_id, digest, commit_sha, repository from marts.lifecycle_events") == [
        ("deployed", utc("2026-03-02 10:12"), "shop", "web", "storefront", "prod-eu", "production", None, "1.4.0",
         "pkg:oci/shop@" + digest("shop-1.4.0"), digest("shop-1.4.0"), rev, "acme/shop")]


def test_a_sync_to_an_older_revision_of_the_history_is_a_rollback(paths, tmp_path):
    r1, r2 = sha("r1"), sha("r2")
    common = dict(repo_url="https://github.com/acme/shop", labels={"environment": "production"})
    forward = argocd_notification("shop", "shop", revision=r2, images=["harbor.acme.io/web/shop@" + digest("2")],
                                  phase="Succeeded", started="2026-03-02T10:00:00Z", finished="2026-03-02T10:01:00Z",
                                  notified="2026-03-02T10:01:05Z",
                                  history=[(r1, "2026-03-01T10:00:00Z"), (r2, "2026-03-02T10:01:00Z")], **common)
    back = argocd_notification("shop", "shop", revision=r1, images=["harbor.acme.io/web/shop@" + digest("1")],
                               phase="Succeeded", started="2026-03-02T11:00:00Z", finished="2026-03-02T11:01:00Z",
                               notified="2026-03-02T11:01:05Z",
                               history=[(r1, "2026-03-01T10:00:00Z"), (r2, "2026-03-02T10:01:00Z"),
                                        (r1, "2026-03-02T11:01:00Z")], **common)
    # a redeploy of the same revision is not a rollback
    again = argocd_notification("shop", "shop", revision=r1, images=["harbor.acme.io/web/shop@" + digest("1")],
                                phase="Succeeded", started="2026-03-02T12:00:00Z", finished="2026-03-02T12:01:00Z",
                                notified="2026-03-02T12:01:05Z",
                                history=[(r1, "2026-03-01T10:00:00Z"), (r2, "2026-03-02T10:01:00Z"),
                                         (r1, "2026-03-02T11:01:00Z"), (r1, "2026-03-02T12:01:00Z")], **common)
    failed = argocd_notification("shop", "shop", revision=r2, images=["harbor.acme.io/web/shop@" + digest("1")],
                                 phase="Failed", started="2026-03-02T13:00:00Z", finished="2026-03-02T13:02:00Z",
                                 notified="2026-03-02T13:02:05Z", health="Healthy",
                                 history=[(r1, "2026-03-02T12:01:00Z")], **common)
    ingest(paths, tmp_path, "argo.ndjson", [lifecycle("argocd", b) for b in (forward, back, again, failed)])
    build(paths)
    assert rows(paths, "select stage, occurred_at, commit_sha, artifact_id from marts.lifecycle_events "
                       "order by occurred_at") == [
        ("deployed", utc("2026-03-02 10:01"), r2, "pkg:oci/shop@" + digest("2")),
        ("rolled_back", utc("2026-03-02 11:01"), r1, "pkg:oci/shop@" + digest("1")),
        ("deployed", utc("2026-03-02 12:01"), r1, "pkg:oci/shop@" + digest("1")),
        # a failed sync: the live image is the old one, so it names no artifact, only the synced revision
        ("deploy_failed", utc("2026-03-02 13:02"), r2, None),
    ]
    assert rows(paths, "select deployed_at, outcome, is_rollback, is_redeploy from marts.deployments "
                       "order by deployed_at") == [
        (utc("2026-03-02 10:01"), "success", False, False),
        (utc("2026-03-02 11:01"), "success", True, False),
        (utc("2026-03-02 12:01"), "success", False, True),
        (utc("2026-03-02 13:02"), "failure", False, False),
    ]


def test_bare_notifications_need_no_source_and_unknown_json_still_needs_one(paths, tmp_path):
    body = argocd_notification("shop", "shop", revision=sha("r"), repo_url="https://github.com/acme/shop",
                               images=[], phase=None, started=None, finished=None, notified="2026-03-02T10:00:00Z")
    result = tasks.ingest(paths, [write_lines(tmp_path / "bare.ndjson", [body, {"app": {"kind": "Deployment"}}])])
    assert (result.total("accepted"), result.total("quarantined")) == (1, 1)
    assert rows(paths, "select source_tool, event_format from raw.events") == [("argocd", "webhook")]
