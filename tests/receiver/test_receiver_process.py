"""`lifecycle serve` as a real uvicorn process on loopback: SIGKILL faults, graceful shutdown, refusal to start.

Bounded: a few seconds of traffic per run, a handful of client threads, everything on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipelines import demo, tasks
from pipelines.config import resolve_paths
from pipelines.receiver import replay
from tests.conftest import query
from tests.process_helpers import free_port, wait_for_http
from tests.receiver.conftest import structured

pytestmark = pytest.mark.slow

LIFECYCLE = str(Path(sys.executable).with_name("lifecycle"))
GRACEFUL = (0, -signal.SIGTERM)  # uvicorn re-raises the signal once its graceful shutdown is done


def start_receiver(paths, port: int, *extra: str, env: dict | None = None) -> subprocess.Popen:
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    log = open(paths.data_dir / f"receiver-{port}.log", "ab")  # a file, not a pipe: a full pipe blocks the server
    proc = subprocess.Popen(
        [LIFECYCLE, "serve", "--port", str(port), "--landing", str(paths.landing), *extra],
        env={**os.environ, **(env or {})}, stdout=log, stderr=log,
    )
    log.close()
    wait_for_http(f"http://127.0.0.1:{port}/readyz", timeout=60, proc=proc)
    return proc


class Producer(threading.Thread):
    """Posts events continuously; retries an event until it gets a 2xx (so some are delivered twice)."""

    def __init__(self, port: int, name: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.prefix, self.stop = port, name, stop
        self.sent: set[str] = set()
        self.acked: set[str] = set()
        self.retries = 0

    def run(self) -> None:
        conn = None
        n = 0
        while not self.stop.is_set():
            n += 1
            if n % 5 == 0:  # every fifth request is a batch of three
                ids = [f"{self.prefix}-{n}-{k}" for k in range(3)]
                body = json.dumps([structured(0, id=i) for i in ids])
                headers = {"Content-Type": "application/cloudevents-batch+json"}
            else:
                ids = [f"{self.prefix}-{n}"]
                body = json.dumps(structured(0, id=ids[0]))
                headers = {"Content-Type": "application/cloudevents+json"}
            self.sent.update(ids)
            while not self.stop.is_set():
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    conn.request("POST", "/", body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    if 200 <= response.status < 300:
                        self.acked.update(ids)
                        break
                    assert response.status == 503, response.status
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                self.retries += 1
                time.sleep(0.02)
        if conn is not None:
            conn.close()


def test_sigkill_never_loses_an_acknowledged_event_nor_stores_one_twice(paths):
    port = free_port()
    stop = threading.Event()
    producers = [Producer(port, f"p{i}", stop) for i in range(3)]
    pids = []
    proc = start_receiver(paths, port)
    pids.append(proc.pid)
    for producer in producers:
        producer.start()
    try:
        for _ in range(3):  # three kills, each followed by a restart
            acked_before = sum(len(p.acked) for p in producers)
            deadline = time.monotonic() + 10
            while sum(len(p.acked) for p in producers) < acked_before + 150 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            time.sleep(0.2)  # clients see refused connections and keep retrying
            proc = start_receiver(paths, port)
            pids.append(proc.pid)
        time.sleep(1.0)
        stop.set()
        for producer in producers:
            producer.join(timeout=15)
        proc.send_signal(signal.SIGTERM)  # the last run shuts down gracefully
        assert proc.wait(timeout=30) in GRACEFUL
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()

    landing_files = sorted((paths.landing / "receiver").rglob("*"))
    assert not [f for f in landing_files if f.name.endswith(".open")], "a file was left open"
    # every run wrote (and closed: by rotation, shutdown or the next start's recovery) its own files
    writers = {int(f.name.split("-")[-2]) for f in landing_files if f.name.endswith(".ndjson")}
    assert writers == set(pids)

    result = tasks.ingest_landing_zone(paths)
    acked = set().union(*(p.acked for p in producers))
    sent = set().union(*(p.sent for p in producers))
    stored = dict(query(paths, "select event_id, count(*) from raw.events group by event_id"))
    assert len(acked) > 450
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert all(count == 1 for count in stored.values())
    assert set(stored) <= sent
    assert result.total("quarantined") == 0  # torn lines were cut at recovery, never loaded as garbage
    print(f"sigkill: {len(acked)} acknowledged, {len(stored)} stored, {result.total('duplicates')} duplicate "
          f"deliveries, {sum(p.retries for p in producers)} retries over {len(pids)} runs")


def test_graceful_shutdown_finishes_the_request_in_flight(paths):
    port = free_port()
    proc = start_receiver(paths, port)
    body = json.dumps(structured(1)).encode()
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        sock.sendall(head + body[:20])  # the request is in flight: half its body sent
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[20:])
        answer = sock.recv(65536).decode()
        sock.close()
        assert answer.startswith("HTTP/1.1 202"), answer
        assert proc.wait(timeout=30) in GRACEFUL
    finally:
        if proc.poll() is None:
            proc.kill()
    files = sorted((paths.landing / "receiver").rglob("*.ndjson*"))
    assert [f.suffix for f in files] == [".ndjson"]
    assert json.loads(files[0].read_text())["body"]["id"] == "ce-1"


def test_refuses_to_start_beyond_loopback_without_a_secret(paths, no_secret_env):
    result = subprocess.run([LIFECYCLE, "serve", "--host", "0.0.0.0", "--port", str(free_port()),
                             "--landing", str(paths.landing)], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items()})
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0" in result.stderr and "Traceback" not in result.stderr


def test_the_sample_replayed_through_a_receiver_loads_the_same_events_as_the_files(paths, tmp_path):
    result = replay.replay_via_local_receiver(paths.landing, [demo.SAMPLE_DIR], batch_size=200)
    assert result.rejected == 0 and result.skipped == 0, result.errors
    assert not list(paths.landing.rglob("*.open"))
    via_receiver = tasks.ingest_landing_zone(paths)
    assert via_receiver.total("quarantined") == 0
    received = {k for (k,) in query(paths, "select event_key from raw.events")}
    direct_paths = resolve_paths(tmp_path / "direct" / "warehouse.duckdb")
    tasks.ingest(direct_paths, [demo.SAMPLE_DIR])
    direct = {k for (k,) in query(direct_paths, "select event_key from raw.events")}
    assert received == direct and len(direct) > 4000
