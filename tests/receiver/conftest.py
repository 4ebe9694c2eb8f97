"""Receiver test helpers: an in-process app per test (Starlette TestClient) and landing-zone readers."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pipelines.receiver.app import create_app
from pipelines.receiver.settings import SECRET_ENV, Secrets, Settings
from tests.conftest import FIXTURES

GITHUB_PR = (FIXTURES / "captured/github_events/pull_request/closed.01.json").read_bytes()
GITLAB_PUSH = (FIXTURES / "gitlab-gitlab4j/push-event.json").read_bytes()
ARGOCD_SYNC = (FIXTURES / "captured/argocd_notifications/017_sync_podinfo_3_4.json").read_bytes()
# Shapes from the vendors' documentation (PagerDuty v3 webhooks, Harbor's default payload, Flux's generic provider).
PAGERDUTY = json.dumps({"event": {
    "id": "01DEN5Q7ZBMK3WA2ZXBN3LG1LS", "event_type": "incident.triggered", "resource_type": "incident",
    "occurred_at": "2026-07-01T10:05:00.000Z",
    "data": {"id": "Q1AA2BB3CC", "type": "incident", "number": 42, "status": "triggered", "title": "payments 5xx",
             "service": {"id": "PSVC1", "summary": "payments", "type": "service_reference"},
             "created_at": "2026-07-01T10:05:00Z", "urgency": "high"}}}).encode()
HARBOR = json.dumps({"type": "PUSH_ARTIFACT", "occur_at": 1782900000, "operator": "robot$ci", "event_data": {
    "resources": [{"digest": "sha256:" + "c" * 64, "tag": "1.4.2",
                   "resource_url": "harbor.example/payments/api:1.4.2"}],
    "repository": {"name": "api", "namespace": "payments", "repo_full_name": "payments/api",
                   "repo_type": "private"}}}).encode()
FLUX = json.dumps({"involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "payments"},
                   "severity": "info", "timestamp": "2026-07-01T10:10:00Z", "reason": "ReconciliationSucceeded",
                   "message": "Applied revision: main@sha1:" + "d" * 40,
                   "metadata": {"revision": "main@sha1:" + "d" * 40},
                   "reportingController": "kustomize-controller"}).encode()

SECRETS = {
    "cloudevents": "ingest-token-123",
    "github": "gh-webhook-secret",
    "gitlab": "gl-token-456",
    "pagerduty": "pd-signing-secret",
    "harbor": "harbor-auth-789",
    "argocd": "argocd-token-abc",
    "flux": "flux-token-def",
}


def settings_for(landing: Path, secrets: dict[str, str] | None = None, **overrides) -> Settings:
    configured = Secrets({k: (v,) for k, v in (secrets or {}).items()})
    return Settings(landing=landing, secrets=configured, **overrides)


@pytest.fixture
def make_client(paths):
    """``make_client(secrets=None, **settings)`` → a started TestClient writing to the test's landing zone."""
    started: list[TestClient] = []

    def make(secrets: dict[str, str] | None = None, **overrides) -> TestClient:
        client = TestClient(create_app(settings_for(paths.landing, secrets, **overrides)))
        client.__enter__()
        started.append(client)
        return client

    yield make
    for client in started:
        client.__exit__(None, None, None)


@pytest.fixture
def no_secret_env(monkeypatch):
    for var in (*SECRET_ENV.values(), "LIFECYCLE_SECRETS_FILE"):
        monkeypatch.delenv(var, raising=False)


def landing_lines(landing: Path) -> list[dict]:
    """Every captured request in the receiver's files, open or closed, in file order."""
    lines = []
    for path in sorted((landing / "receiver").rglob("*.ndjson*")):
        for raw in path.read_bytes().splitlines(keepends=True):
            assert raw.endswith(b"\n"), f"torn line in {path}"
            lines.append(json.loads(raw))
    return lines


def landing_bytes(landing: Path) -> int:
    return sum(p.stat().st_size for p in (landing / "receiver").rglob("*.ndjson*")) if landing.exists() else 0


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def structured(i: int = 1, **overrides) -> dict:
    event = {
        "specversion": "1.0", "id": f"ce-{i}", "source": "https://argocd.example/prod", "type":
        "dev.cdevents.service.deployed.0.3.0", "time": "2026-07-01T10:00:00Z", "datacontenttype": "application/json",
        "data": {
            "context": {"specversion": "0.5.1", "id": f"ce-{i}", "source": "https://argocd.example/prod",
                        "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": "2026-07-01T10:00:00Z"},
            "subject": {"id": "payments", "content": {"environment": {"id": "prod"},
                                                       "artifactId": "pkg:oci/payments@sha256%3A" + "b" * 64}},
        },
    }
    event.update(overrides)
    return event
