"""Helpers for the vendor-webhook source tests (tests/unit/test_source_*.py, tests/integration/
test_source_journeys.py): real payloads from tests/fixtures, edited into tiny journeys, written as
captured requests (the landing zone's format) or bare bodies, then ingested and built."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from pipelines import loader, tasks
from pipelines.config import Paths
from tests.conftest import FIXTURES, query, write_lines

OCTOKIT = FIXTURES / "github-octokit"
CAPTURED = FIXTURES / "captured"
GITLAB = FIXTURES / "gitlab-gitlab4j"
WRITTEN = FIXTURES / "written"


def fixture(path: str | Path) -> dict:
    """A deep copy of a fixture body (edit freely)."""
    p = path if isinstance(path, Path) else FIXTURES / path
    return copy.deepcopy(json.loads(p.read_text()))


def sha(name: str) -> str:
    """A stable 40-hex commit sha for a readable name."""
    return hashlib.sha1(name.encode()).hexdigest()


def digest(name: str) -> str:
    """A stable `sha256:` image digest for a readable name."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def utc(text: str) -> datetime:
    """'2026-03-02 10:30' (UTC) as an aware datetime, the way the marts return it."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def request(headers: dict, body: dict, received_at: str = "2026-03-02T12:00:00Z") -> dict:
    return {"headers": headers, "body": body, "received_at": received_at}


def github(event: str, body: dict, delivery: str, received_at: str = "2026-03-02T12:00:00Z") -> dict:
    return request({"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"},
                   body, received_at)


def gitlab(event: str, body: dict, uuid: str, received_at: str = "2026-03-02T12:00:00Z") -> dict:
    return request({"X-Gitlab-Event": event, "X-Gitlab-Event-UUID": uuid}, body, received_at)


def lifecycle(tool: str, body: dict, received_at: str = "2026-03-02T12:00:00Z", **headers: str) -> dict:
    """A request as the receiver stores it for a tool whose webhook has no vendor header (path → header)."""
    return request({"X-Lifecycle-Source": tool, **headers}, body, received_at)


def ingest(paths: Paths, tmp_path: Path, name: str, lines: list, source: str | None = None) -> loader.LoadResult:
    return tasks.ingest(paths, [write_lines(tmp_path / name, lines)], source=source)


def build(paths: Paths) -> None:
    tasks.build(paths)


def rows(paths: Paths, sql: str, params: list | None = None) -> list[tuple]:
    return query(paths, sql, params)


def argocd_notification(app: str, service: str, *, revision: str, repo_url: str, images: list[str],
                        phase: str | None, started: str | None, finished: str | None, notified: str,
                        health: str = "Healthy", health_since: str | None = None,
                        history: list[tuple[str, str]] = (), labels: dict | None = None,
                        annotations: dict | None = None, deleted: str | None = None) -> dict:
    """An Argo CD notification (the webhook template posting the `app` object), built on a captured one
    (a single-source Git application): `history` is [(revision, deployedAt), …] oldest first."""
    body = fixture(CAPTURED / "argocd_notifications" / "019_sync_podinfo_4_2.json")
    body["timestamp"] = notified
    a = body["app"]
    a["metadata"].update(name=app, uid=f"uid-{app}",
                         labels={"app.kubernetes.io/name": service, **(labels or {})},
                         annotations=dict(annotations or {}))
    if deleted:
        a["metadata"]["deletionTimestamp"] = deleted
    a["spec"]["source"].update(repoURL=repo_url, path="deploy")
    a["spec"]["destination"] = {"name": "in-cluster", "namespace": service}
    status = a["status"]
    status["sync"] = {"status": "Synced", "revision": revision,
                      "comparedTo": {"source": {"repoURL": repo_url}, "destination": a["spec"]["destination"]}}
    status["health"] = {"status": health, "lastTransitionTime": health_since or finished or started or notified}
    status["summary"] = {"images": images}
    status["history"] = [{"id": i, "revision": r, "deployedAt": t, "deployStartedAt": t,
                          "source": {"repoURL": repo_url, "path": "deploy"}} for i, (r, t) in enumerate(history)]
    if phase is None:
        status.pop("operationState", None)
    else:
        op = {"phase": phase, "startedAt": started, "message": "",
              "operation": {"sync": {"revision": revision}, "initiatedBy": {"automated": True}}}
        if finished:
            op["finishedAt"] = finished
        if phase != "Running":
            op["syncResult"] = {"revision": revision, "source": {"repoURL": repo_url, "path": "deploy"}}
        status["operationState"] = op
    return body
