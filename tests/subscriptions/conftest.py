"""Subscriptions test helpers: a recording HTTP sink on 127.0.0.1 (no network), landing-zone writers, events.

Events are built from fixtures written from their producers' documentation: the CDEvents spec's conformance
event (tests/fixtures/cdevents-spec), Flux's documented alert shape (tests/fixtures/written/flux) and the
project's own alert event (tests/fixtures/written/lifecycle-alerts).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.subscriptions import canonicalise as canonicalise_module
from pipelines.subscriptions import dispatch
from tests.conftest import CONFORMANCE, FIXTURES, write_lines

LIFECYCLE_TOML = """
[services.payments-api]
team = "payments"
app = "bank"

[services.storefront]
team = "web"
app = "shop"
"""


_CANONICALISED: dict = {}


@pytest.fixture(autouse=True)
def canonicalise_each_input_once(monkeypatch):
    """Canonicalising costs seconds whatever the batch size (DuckDB binds the union of every staging model), and the
    same file contents under the same configuration give the same events: the dispatcher's calls are memoised per
    distinct input for the session, each one computed by the real function (only the file paths are mapped back)."""
    real = canonicalise_module.canonicalise

    def memoised(files, forced_source=None):
        config = os.environ.get("LIFECYCLE_CONFIG")
        key = (tuple(Path(f).read_bytes() for f in files), Path(config).read_text() if config else None, forced_source)
        if key not in _CANONICALISED:
            _CANONICALISED[key] = (real(files, forced_source), [str(f) for f in files])
        result, names = _CANONICALISED[key]
        paths = dict(zip(names, map(str, files), strict=True))
        return replace(result, events=[replace(e, file=paths.get(e.file, e.file)) for e in result.events])

    monkeypatch.setattr(dispatch, "canonicalise", memoised)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # what the sink answered

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def dedup_key(self) -> str:
        return self.headers["x-lifecycle-dedup-key"]


class Sink:
    """A threaded HTTP server recording every POST. ``answer(path, n)`` decides the status of the n-th request to
    a path (default 200); ``stop()`` closes the port (connections refused), ``start()`` opens the same port again."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answer: Callable[[str, int], int | tuple[int, dict[str, str]]] = lambda path, n: 200
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def start(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink._lock:
                    n = sum(1 for r in sink.requests if r.path == self.path) + 1
                    answer = sink.answer(self.path, n)
                    status, headers = answer if isinstance(answer, tuple) else (answer, {})
                    sink.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                  body, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str, ok_only: bool = True) -> list[Received]:
        return [r for r in self.requests if r.path == path and (r.status < 300 or not ok_only)]


@pytest.fixture
def sink():
    s = Sink()
    s.start()
    yield s
    s.stop()


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Landing zone, state directory and a lifecycle.toml naming the teams of two services."""
    config = tmp_path / "lifecycle.toml"
    config.write_text(LIFECYCLE_TOML)
    monkeypatch.setenv("LIFECYCLE_CONFIG", str(config))
    monkeypatch.delenv("LIFECYCLE_DASHBOARD_URL", raising=False)
    landing = tmp_path / "landing"
    landing.mkdir()
    return landing, tmp_path / "state"


def write_rules(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def landing_file(landing: Path, name: str, lines: list) -> Path:
    """A closed receiver file: <landing>/receiver/date=2026-07-01/<name>.ndjson, one captured request per line."""
    return write_lines(landing / "receiver" / "date=2026-07-01" / f"{name}.ndjson", lines)


def captured(body: dict, received_at: str = "2026-07-01T10:00:01Z", **headers: str) -> dict:
    return {"headers": {"content-type": "application/json", **headers}, "body": body, "received_at": received_at}


def deployment(event_id: str, service: str, environment: str, version: str, at: str, outcome_stage: str = "deployed",
               cluster: str | None = None) -> dict:
    """A structured CloudEvent carrying the CDEvents spec's conformance service.deployed event, edited."""
    cd = copy.deepcopy(json.loads((CONFORMANCE / "v0.5.1/conformance/service_deployed.json").read_text()))
    del cd["context"]["links"], cd["context"]["chainId"], cd["context"]["schemaUri"]
    cd["context"].update(id=event_id, source="/argocd/bank", timestamp=at)
    digest = hashlib.sha256(f"{service}-{version}".encode()).hexdigest()
    cd["subject"] = {"id": service, "source": "/argocd/bank", "content": {
        "environment": {"id": environment}, "artifactId": f"pkg:oci/{service}@sha256%3A{digest}"}}
    cd["customData"] = {"version": version, **({"cluster": cluster} if cluster else {})}
    return {"specversion": "1.0", "id": event_id, "source": "/argocd/bank", "type": cd["context"]["type"],
            "time": at, "datacontenttype": "application/json", "data": cd}


def artifact_id(service: str, version: str) -> str:
    """The canonical (normalised) purl of deployment(...)'s artifact: `%3A` decoded."""
    return f"pkg:oci/{service}@sha256:{hashlib.sha256(f'{service}-{version}'.encode()).hexdigest()}"


def flux_health_check_failed(service: str, environment: str, cluster: str) -> dict:
    """Flux's HealthCheckFailed alert with the Alert's eventMetadata naming service, environment and cluster."""
    body = json.loads((FIXTURES / "written/flux/kustomization.health-check-failed.json").read_text())
    body["metadata"].update(service=service, environment=environment, cluster=cluster)
    return body


def alert_fired() -> dict:
    """The project's own alert event (fund-transfer failed to deploy to prod-eu; team payments)."""
    return json.loads((FIXTURES / "written/lifecycle-alerts/fired.structured.json").read_text())


def ce_key(source: str, event_id: str, type_: str) -> str:
    """raw.events' key of a CloudEvent (pipelines/sql/classify.sql): md5 of 'ce', source, id, type joined by chr(31)."""
    return hashlib.md5("\x1f".join(("ce", source, event_id, type_)).encode()).hexdigest()


def delivery_key(tool: str, delivery_id: str) -> str:
    """raw.events' key of a webhook with a delivery id (classify.sql): md5 of 'delivery', tool, id."""
    return hashlib.md5("\x1f".join(("delivery", tool, delivery_id)).encode()).hexdigest()
