"""Loopback load test of the receiver: sustained events/s and p50/p99 latency, single events and batches.

    .venv/bin/python benchmarks/receiver_load.py                 # starts `lifecycle serve` on a free port
    .venv/bin/python benchmarks/receiver_load.py --url http://127.0.0.1:8080   # an already running receiver

Bounded in count and time: each phase stops after ``--seconds`` or ``--max-requests``, whichever comes
first, and only ever talks to 127.0.0.1 (or the ``--url`` you give). Every answer is counted: a latency is
only recorded for a 2xx, which the receiver sends after the event is fsync'd. Prints one JSON document.
The client is asyncio over raw keep-alive HTTP/1.1 connections, so it costs little next to the server;
on a 2-core machine both share the cores, which the figures include.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit


def event(i: int, prefix: str) -> dict:
    eid = f"{prefix}-{i}"
    return {
        "specversion": "1.0", "id": eid, "source": "https://argocd.bench.example/prod",
        "type": "dev.cdevents.service.deployed.0.3.0", "time": "2026-07-01T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {"context": {"specversion": "0.5.1", "id": eid, "source": "https://argocd.bench.example/prod",
                             "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": "2026-07-01T10:00:00Z"},
                 "subject": {"id": "payments", "content": {"environment": {"id": "prod"},
                                                           "artifactId": "pkg:oci/payments@sha256%3A" + "a" * 64}}},
    }


def request_bytes(host: str, path: str, body: bytes, content_type: str, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if match:
        await reader.readexactly(int(match.group(1)))
    return status


async def phase(host: str, port: int, path: str, batch: int, concurrency: int, seconds: float,
                max_requests: int, token: str | None, prefix: str) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = 0
    deadline = time.perf_counter() + seconds
    content_type = "application/cloudevents-batch+json" if batch > 1 else "application/cloudevents+json"

    async def worker(w: int) -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline and counter < max_requests:
                n = counter
                counter += 1
                if batch > 1:
                    payload = [event(n * batch + k, f"{prefix}{w}") for k in range(batch)]
                else:
                    payload = event(n, f"{prefix}{w}")
                data = request_bytes(host, path, json.dumps(payload).encode(), content_type, token)
                started = time.perf_counter()
                writer.write(data)
                await writer.drain()
                status = await read_response(reader)
                elapsed = time.perf_counter() - started
                statuses[status] = statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    latencies.append(elapsed)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall = time.perf_counter() - started
    ok = len(latencies)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive") if ok >= 2 else [float("nan")] * 99
    return {
        "batch_size": batch, "concurrency": concurrency, "seconds": round(wall, 3), "requests": sum(statuses.values()),
        "ok_requests": ok, "events": ok * batch, "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "requests_per_s": round(ok / wall, 1), "events_per_s": round(ok * batch / wall, 1),
        "latency_ms": {"p50": round(quantiles[49] * 1000, 2), "p99": round(quantiles[98] * 1000, 2),
                       "max": round(max(latencies) * 1000, 2) if latencies else None},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the receiver exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready in {timeout}s")


def commit_stats(url: str) -> dict:
    """Average requests per fsync (group commit) and fsync time, from the receiver's /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()

    def value(name: str) -> float:
        match = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
        return float(match.group(1)) if match else float("nan")

    commits = value("lifecycle_receiver_commit_requests_count")
    return {"commits": int(commits) if commits == commits else None,
            "requests_per_commit": round(value("lifecycle_receiver_commit_requests_sum") / commits, 2) if commits else None,
            "mean_commit_ms": round(value("lifecycle_receiver_commit_duration_seconds_sum") / commits * 1000, 3)
            if commits else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running receiver (default: start one on a free loopback port)")
    parser.add_argument("--token", default=os.environ.get("LIFECYCLE_INGEST_TOKEN"))
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--max-requests", type=int, default=50_000, help="request cap per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    args.seconds = min(args.seconds, 120.0)  # bounded, whatever is asked

    tmp = None
    proc = None
    url = args.url
    if url is None:
        tmp = Path(tempfile.mkdtemp(prefix="receiver-bench-"))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        exe = Path(sys.executable).with_name("lifecycle")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
        proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--landing", str(tmp / "landing")],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        args.token = None
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        wait_ready(url, proc)
        run_id = f"bench{int(time.time())}"
        results = {"url": url, "cpus": os.cpu_count()}
        for name, batch in (("single", 1), ("batch", args.batch_size)):
            before = commit_stats(url)
            results[name] = asyncio.run(phase(host, port, "/", batch, args.concurrency, args.seconds,
                                              args.max_requests, args.token, f"{run_id}-{name}-"))
            after = commit_stats(url)
            commits = (after["commits"] or 0) - (before["commits"] or 0)
            results[name]["fsyncs"] = commits
            results[name]["requests_per_fsync"] = round(results[name]["ok_requests"] / commits, 2) if commits else None
        if tmp is not None:
            files = list((tmp / "landing").rglob("*.ndjson*"))
            results["landing"] = {"files": len(files), "bytes": sum(f.stat().st_size for f in files)}
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
