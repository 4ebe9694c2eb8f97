"""A load never breaks the dashboard: while `lifecycle build` runs in a loop on the same data directory, the
served app keeps answering and every page run reads a whole snapshot (old or new), with the right figures."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from dashboards import data
from pipelines import serve_processes
from pipelines.config import resolve_paths
from tests.dashboard.conftest import Dashboard, point_at
from tests.dashboard.world import build_world
from tests.process_helpers import free_port, wait_for_http

pytestmark = pytest.mark.slow

LOOP_SECONDS = 20  # at least this long, and until two builds have published and been seen (a loaded CI machine
MAX_SECONDS = 150  # builds slower than the 5 s they take alone), but no longer than this


def test_dashboard_keeps_answering_while_builds_loop(tmp_path, media, monkeypatch):
    paths = resolve_paths(tmp_path / "data" / "warehouse.duckdb")
    build_world(paths, tmp_path)
    point_at(monkeypatch, paths)
    port = free_port()
    server = serve_processes.start_dashboard(paths, port=port)
    base = f"http://127.0.0.1:{port}"
    lifecycle = str(Path(sys.executable).with_name("lifecycle"))
    env = serve_processes.child_env(paths)
    builds: list[int] = []
    stop = threading.Event()

    def build_loop() -> None:
        while not stop.is_set():
            done = subprocess.run([lifecycle, "build"], env=env, capture_output=True, text=True, timeout=120)
            builds.append(done.returncode)
            assert done.returncode == 0, done.stderr

    try:
        wait_for_http(f"{base}/_stcore/health", expect="ok", proc=server)
        builder = threading.Thread(target=build_loop, daemon=True)
        builder.start()
        versions, runs, answers = set(), 0, 0
        started_at = time.monotonic()
        while time.monotonic() < started_at + LOOP_SECONDS or (
                (len(builds) < 2 or len(versions) < 2) and time.monotonic() < started_at + MAX_SECONDS):
            # the served app: its health endpoint and its page answer, fast, whatever the build is doing
            for url, expect in ((f"{base}/_stcore/health", "ok"), (f"{base}/deployments", "<div id=\"root\"")):
                started = time.monotonic()
                with urllib.request.urlopen(url, timeout=10) as resp:
                    assert resp.status == 200 and expect in resp.read().decode()
                assert time.monotonic() - started < 5, f"{url} took {time.monotonic() - started:.1f}s"
                answers += 1
            # the app's scripts on the same snapshot file: whole figures, never an error
            d = Dashboard(media)
            assert d.metric("Deployment frequency") == "8.6 per week"
            assert d.metric("Change lead time (p50)") == "8.0 h"
            d.open("deployments")
            assert d.metric("to production") == "16"
            versions.add(data.snapshot_version())
            runs += 1
        stop.set()
        builder.join(timeout=120)
        assert server.poll() is None, "the dashboard server died during the builds"
    finally:
        stop.set()
        serve_processes.stop([server])

    assert builds and all(code == 0 for code in builds), builds
    assert len(builds) >= 2, f"only {len(builds)} builds ran in {MAX_SECONDS}s"
    assert len(versions) >= 2, "the page runs never saw a newly published snapshot"
    assert runs >= 3 and answers >= 6
    assert os.path.exists(paths.serving)
