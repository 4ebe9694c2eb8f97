"""`dagster dev` on our code location and instance config serves the UI with our assets."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from pipelines import serve_processes
from tests.process_helpers import free_port, wait_for_http

pytestmark = pytest.mark.slow


def test_dagster_ui_serves_the_code_location(paths, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    port = free_port()
    proc = serve_processes.start_dagster(paths, port=port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", proc=proc, timeout=120)
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        body: dict = {}
        nodes: list = []
        for _ in range(120):  # the code location loads in the background after the server is up
            req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=query,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = json.loads(resp.read())
            nodes = (body.get("data") or {}).get("assetNodes") or []
            if nodes:
                break
            time.sleep(1)
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {"raw/events", "marts/lifecycle_events", "serving/snapshot"} <= keys, body
        # the instance config it ran with is ours (telemetry off, one writer pool)
        assert (tmp_path / "dagster_home" / "dagster.yaml").read_text() == serve_processes.REPO_DAGSTER_YAML.read_text()
    finally:
        serve_processes.stop([proc])
