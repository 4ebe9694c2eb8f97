"""Start the long-running UIs (Dagster webserver+daemon, Streamlit) as child processes.

They share the resolved warehouse paths through the environment, so `lifecycle demo` with
``--warehouse`` points every process at the same files.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dashboards
from pipelines.config import Paths

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def child_env(paths: Paths) -> dict[str, str]:
    env = dict(os.environ)
    env["LIFECYCLE_WAREHOUSE"] = str(paths.warehouse)
    env["LIFECYCLE_SERVING"] = str(paths.serving)
    env["LIFECYCLE_LANDING"] = str(paths.landing)
    return env


def dagster_home(paths: Paths) -> Path:
    """``$DAGSTER_HOME`` if set, else ``.dagster_home`` beside the data directory, with our dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.data_dir.parent / ".dagster_home").absolute()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() and REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, target)
    return home


def start_dagster(paths: Paths, port: int = 3000, host: str = "127.0.0.1") -> subprocess.Popen:
    env = child_env(paths)
    env["DAGSTER_HOME"] = str(dagster_home(paths))
    exe = Path(sys.executable).with_name("dagster")
    return subprocess.Popen(
        [str(exe), "dev", "-m", "pipelines.definitions", "-h", host, "-p", str(port)],
        env=env, start_new_session=True,
    )


def start_dashboard(paths: Paths, port: int = 8501, host: str = "127.0.0.1") -> subprocess.Popen:
    app = Path(dashboards.__file__).with_name("app.py")
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
         "--server.address", host, "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--client.toolbarMode", "viewer"],
        env=child_env(paths), start_new_session=True,
    )


def stop(procs: list[subprocess.Popen], timeout: float = 10) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait(procs: list[subprocess.Popen]) -> None:
    """Block until one child exits, Ctrl-C or SIGTERM, then stop them all (they run in their own sessions)."""

    def terminate(signum, frame):  # noqa: ARG001 - signal handler signature
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        while all(p.poll() is None for p in procs):
            try:
                procs[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        stop(procs)
