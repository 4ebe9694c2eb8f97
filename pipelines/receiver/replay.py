"""Replay event files through a running receiver: ``python -m pipelines.receiver.replay PATH… --url URL``.

Reads what ``lifecycle ingest`` reads (NDJSON, JSON arrays, ``.gz``) and posts each record the way a
producer would: structured CloudEvents in batches (``application/cloudevents-batch+json``), bare CDEvents
one by one, captured requests ``{"headers", "body"}`` with their own headers (binary-mode CloudEvents and
vendor webhooks), and bare vendor bodies to ``/webhooks/{source}`` when ``--source`` names the tool.
503 answers are retried after their ``Retry-After`` (bounded); anything else that is not 2xx is counted
as rejected. The ingest token (``--token`` or ``LIFECYCLE_INGEST_TOKEN``) authenticates every source.

The demo through the receiver (sample → HTTP → landing zone → warehouse)::

    python -m pipelines.receiver.replay --sample --serve-landing data/landing   # own receiver, stopped after
    lifecycle ingest data/landing && lifecycle build
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.receiver.settings import WEBHOOK_SOURCES

SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
SKIPPED_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "content-encoding"}

# post(path, headers, body) -> (status, response headers lower-cased, response body)
Poster = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


@dataclass
class ReplayResult:
    requests: int = 0
    events: int = 0
    rejected: int = 0
    skipped: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)


class HttpPoster:
    """A keep-alive HTTP/1.1 client on the standard library (reconnects when the server closes)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url}")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self.conn = cls(self.host, self.port, timeout=self.timeout)
        return self.conn

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = dict(headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(2):
            conn = self._connect()
            try:
                conn.request("POST", self.prefix + path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def discover(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.name.endswith(SUFFIXES)
                         and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return found


def _read(path: Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def records(path: Path) -> Iterator[object]:
    text = _read(path)
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from json.loads(stripped)
        return
    try:
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)
    except json.JSONDecodeError:
        decoder, pos = json.JSONDecoder(), 0  # pretty-printed documents, one after another
        while pos < len(text):
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            value, pos = decoder.raw_decode(text, pos)
            yield value


def requests_for(items: Iterable[object], batch_size: int, source: str | None) -> Iterator[tuple[str, dict, bytes, int]]:
    """(path, headers, body, events) per request to send."""
    batch: list[dict] = []

    def flush():
        nonlocal batch
        if batch:
            if len(batch) == 1:
                yield "/", {"Content-Type": "application/cloudevents+json"}, _dumps(batch[0]), 1
            else:
                yield "/", {"Content-Type": "application/cloudevents-batch+json"}, _dumps(batch), len(batch)
            batch = []

    for item in items:
        if isinstance(item, dict) and "headers" in item and "body" in item and isinstance(item["headers"], dict):
            headers = {str(k): str(v) for k, v in item["headers"].items() if str(k).lower() not in SKIPPED_HEADERS}
            claimed = next((v.lower() for k, v in headers.items() if k.lower() == "x-lifecycle-source"), None)
            path = f"/webhooks/{claimed}" if claimed in WEBHOOK_SOURCES else "/"
            body = item["body"]
            if isinstance(body, list) and not any(k.lower() == "ce-specversion" for k in headers):
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                headers["Content-Type"] = "application/cloudevents-batch+json"
                yield path, headers, _dumps(body), len(body)
            else:
                payload = body.encode("utf-8") if isinstance(body, str) else _dumps(body)
                yield path, headers, payload, 1
        elif isinstance(item, dict) and "specversion" in item:
            batch.append(item)
            if len(batch) >= batch_size:
                yield from flush()
        elif isinstance(item, dict) and "context" in item and "subject" in item:
            yield "/", {"Content-Type": "application/json"}, _dumps(item), 1
        elif source:
            yield f"/webhooks/{source}", {"Content-Type": "application/json"}, _dumps(item), 1
        else:
            yield "", {}, b"", 0  # unrecognised: counted as skipped
    yield from flush()


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def replay(paths: Iterable[str | Path], post: Poster, batch_size: int = 100, source: str | None = None,
           max_wait: float = 60.0) -> ReplayResult:
    result = ReplayResult()
    for file in discover(paths):
        for path, headers, body, events in requests_for(records(file), batch_size, source):
            if not path:
                result.skipped += 1
                continue
            deadline = time.monotonic() + max_wait
            while True:
                status, response_headers, data = post(path, headers, body)
                if status != 503 or time.monotonic() > deadline:
                    break
                result.retries += 1
                time.sleep(min(float(response_headers.get("retry-after", "1") or 1), 5.0))
            result.requests += 1
            if 200 <= status < 300:
                result.events += events
            else:
                result.rejected += events
                if len(result.errors) < 20:
                    result.errors.append(f"{file.name}: {status} {data[:200].decode('utf-8', 'replace')}")
    return result


def replay_via_local_receiver(landing: Path, inputs: Iterable[str | Path], batch_size: int = 100,
                              timeout: float = 60.0) -> ReplayResult:
    """Start ``lifecycle serve`` on a free loopback port writing to ``landing``, replay ``inputs`` through it,
    and stop it gracefully (its files are closed, ready for the loader). The demo's receiver path."""
    import signal
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).with_name("lifecycle")
    env = {k: v for k, v in os.environ.items() if k != "LIFECYCLE_SECRETS_FILE" and not k.endswith(("_SECRET", "_TOKEN"))}
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--landing", str(landing)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the receiver exited with {proc.returncode} before it was ready")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the receiver did not become ready in {timeout:.0f}s")
            time.sleep(0.2)
        poster = HttpPoster(url)
        try:
            return replay(inputs, poster, batch_size=batch_size)
        finally:
            poster.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.receiver.replay", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or directories (default with --sample: the demo's sample)")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--sample", action="store_true", help="replay the committed sample events")
    parser.add_argument("--serve-landing", type=Path, default=None,
                        help="start a receiver of our own on a free loopback port writing to this landing zone "
                             "(instead of --url), and stop it when done")
    parser.add_argument("--token", default=os.environ.get("LIFECYCLE_INGEST_TOKEN"))
    parser.add_argument("--batch", type=int, default=100, help="structured CloudEvents per batch request")
    parser.add_argument("--source", choices=WEBHOOK_SOURCES, default=None, help="tool of bare webhook bodies")
    args = parser.parse_args(argv)
    paths = list(args.paths)
    if args.sample:
        import sample_events

        paths.append(Path(sample_events.__file__).parent / "data")
    if not paths:
        parser.error("give PATH… or --sample")
    if args.serve_landing is not None:
        result = replay_via_local_receiver(args.serve_landing, paths, batch_size=max(1, args.batch))
    else:
        poster = HttpPoster(args.url, args.token)
        try:
            result = replay(paths, poster, batch_size=max(1, args.batch), source=args.source)
        finally:
            poster.close()
    print(json.dumps({"requests": result.requests, "events": result.events, "rejected": result.rejected,
                      "skipped": result.skipped, "retries": result.retries}))
    for error in result.errors:
        print(error, file=sys.stderr)
    return 1 if result.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
