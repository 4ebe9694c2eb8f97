"""Helpers for tests that start real processes (Streamlit, Dagster) and drive them over loopback."""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.error
import urllib.request

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 90, expect: str | None = None, proc=None) -> str:
    """Poll a loopback URL until it answers 200 (and contains ``expect``); bounded in time."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                body = resp.read().decode("utf-8", "replace")
                if resp.status == 200 and (expect is None or expect in body):
                    return body
                last = f"{resp.status}: {body[:200]}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout}s (last: {last})")


def chromium_path() -> str:
    """Debian's Chromium. Missing: a failure in CI (CI=true), a skip on a workstation."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("Chromium is not installed: CI must run the browser tests (apt-get install chromium)")
    pytest.skip("Chromium is not installed (apt-get install chromium); CI runs these tests")
