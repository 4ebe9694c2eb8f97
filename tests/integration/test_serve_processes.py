"""`lifecycle dashboard` stops its child when it is terminated: no orphaned servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.process_helpers import free_port, wait_for_http

pytestmark = pytest.mark.slow


def test_sigterm_stops_the_dashboard_child(paths):
    port = free_port()
    exe = Path(sys.executable).with_name("lifecycle")
    proc = subprocess.Popen([str(exe), "dashboard", "--port", str(port)], env=dict(os.environ))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", expect="ok", proc=proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            except AssertionError:
                break  # nothing answers any more: the child is gone
            time.sleep(0.5)
        else:
            pytest.fail("the Streamlit child still answers after its parent was terminated")
    finally:
        if proc.poll() is None:
            proc.kill()
