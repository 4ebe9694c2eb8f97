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


def test_dagster_definitions_validate_passes(paths, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    env = serve_processes.child_env(paths) | {"DAGSTER_HOME": str(serve_processes.dagster_home(paths))}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m", "pipelines.definitions"],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
