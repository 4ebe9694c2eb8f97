"""The receiver's ASGI app (Starlette) and its runner (uvicorn) — ``lifecycle serve``.

Endpoints (see docs/receiver.md):

- ``POST /`` — CloudEvents sink (binary, structured, batch; Knative-compatible) and bare CDEvents;
  vendor webhooks too when their headers say whose they are;
- ``POST /webhooks/{source}`` — github, gitlab, harbor, argocd, flux, pagerduty, tekton, jenkins, keptn,
  kubewatch, generic, argo-rollouts, flagger, k6;
- ``OPTIONS /`` — the CloudEvents webhook validation handshake;
- ``GET /healthz`` (the process is up), ``GET /readyz`` (it can write), ``GET /metrics`` (Prometheus).

Each accepted request becomes one captured-request line ``{"headers", "body", "received_at"}`` in the landing
zone, fsync'd before the 2xx. Order of checks: size (413) → credentials (401) → encoding/content type (415)
→ JSON (400) → event validity (422) → disk (503). A refused request writes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import zlib
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.receiver import detect
from pipelines.receiver.auth import authenticate
from pipelines.receiver.detect import Classified, Rejection
from pipelines.receiver.landing import (
    LandingUnavailable, LandingWriter, UnstorableBody, captured_line, utc_now_iso,
)
from pipelines.receiver.metrics import ReceiverMetrics
from pipelines.receiver.settings import WEBHOOK_SOURCES, Settings

log = logging.getLogger("lifecycle.receiver")

# Never stored: transport-level headers, and anything that looks like a credential (the loader's own rule).
HOP_BY_HOP = frozenset({
    "host", "connection", "keep-alive", "content-length", "transfer-encoding", "te", "trailer", "upgrade",
    "expect", "proxy-connection", "content-encoding", "accept-encoding",
})
SECRET_HEADER = re.compile(r"authorization|token|secret|signature|cookie|api-key|apikey|password")
OFFLOAD_BYTES = 64 * 1024  # parse bodies larger than this in a worker thread, off the event loop
DELIVERY_HEADERS = ("x-github-delivery", "x-gitlab-event-uuid", "x-lifecycle-delivery")
EVENT_HEADERS = ("x-github-event", "x-gitlab-event", "gotk-component")


def error_response(status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def knative_wants_no_body(headers: dict[str, str], mode: str) -> bool:
    """Knative brokers and channels (``Prefer: reply``) read a 2xx body as a reply event and fail on one that is
    not a CloudEvent; binary mode is what Knative sends. Those get an empty 202, unless ``Accept`` asks for JSON."""
    if "reply" in headers.get("prefer", "").lower():
        return True
    return mode == "binary" and "application/json" not in headers.get("accept", "").lower()


def request_headers(request: Request) -> dict[str, str]:
    """Lower-cased header names; repeated headers joined with ', ' (as HTTP allows)."""
    result: dict[str, str] = {}
    for raw_name, raw_value in request.scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        result[name] = f"{result[name]}, {value}" if name in result else value
    return result


def stored_headers(headers: dict[str, str], classified: Classified) -> dict[str, str]:
    kept = {k: v for k, v in headers.items() if k not in HOP_BY_HOP and not SECRET_HEADER.search(k)}
    if classified.mode != "binary":
        # the loader reads ce-* headers as binary mode: keep them only where they are the event
        kept = {k: v for k, v in kept.items() if not k.startswith("ce-")}
    if classified.lifecycle_source:
        kept["x-lifecycle-source"] = classified.lifecycle_source
    return kept


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to be over ``limit`` (header or stream)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise Rejection(400, "Content-Length is not a number") from None
        if size > limit:
            raise Rejection(413, f"the body is {size} bytes; the limit is {limit} bytes", {"limit": limit})
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise Rejection(413, f"the body is over the limit of {limit} bytes", {"limit": limit})
        chunks.append(chunk)
    return b"".join(chunks)


def decode_content(raw: bytes, headers: dict[str, str], limit: int) -> bytes:
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise Rejection(415, f"unsupported Content-Encoding {encoding!r} (gzip or none)")
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(raw, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise Rejection(413, f"the decompressed body is over the limit of {limit} bytes", {"limit": limit})
        data += inflater.flush()
    except zlib.error as exc:
        raise Rejection(400, f"the gzip body is corrupt: {exc}") from None
    if not inflater.eof:
        raise Rejection(400, "the gzip body is truncated")
    if len(data) > limit:
        raise Rejection(413, f"the decompressed body is over the limit of {limit} bytes", {"limit": limit})
    return data


class Receiver:
    """The request handlers, with the writer, the settings and the metrics they share."""

    def __init__(self, settings: Settings, writer: LandingWriter | None = None):
        self.settings = settings
        self.writer = writer or LandingWriter(
            settings.receiver_dir, rotate_bytes=settings.rotate_bytes, rotate_seconds=settings.rotate_seconds,
            min_free_bytes=settings.min_free_bytes, max_pending_bytes=settings.max_pending_bytes,
            retry_after=settings.retry_after_seconds,
        )
        self.inflight = 0
        self.metrics = ReceiverMetrics(self.writer, lambda: self.inflight)
        self.writer.on_commit = self.metrics.on_commit

    # -- ingestion -----------------------------------------------------------------------------------------

    async def ingest(self, request: Request) -> Response:
        started = time.perf_counter()
        received_at = utc_now_iso()
        path_source = request.path_params.get("source")
        # metric labels come from a closed set: an unknown path segment must not create series
        label = (path_source if path_source in WEBHOOK_SOURCES else "unknown") if path_source else "cloudevents"
        info: dict[str, Any] = {}
        size = 0
        response: Response
        self.inflight += 1
        try:
            if path_source is not None and path_source not in WEBHOOK_SOURCES:
                raise Rejection(404, f"unknown webhook source {path_source!r}",
                                {"sources": list(WEBHOOK_SOURCES)})
            if self.inflight > self.settings.max_inflight:
                raise LandingUnavailable("too many requests in flight; retry later", 1)
            headers = request_headers(request)
            raw = await read_body(request, self.settings.max_body_bytes)
            size = len(raw)
            auth_source = detect.auth_source(path_source, headers)
            label = path_source or auth_source
            outcome = authenticate(auth_source, headers, raw, self.settings.secrets, self.settings.open_access)
            info["auth"] = outcome.method
            if not outcome.ok:
                raise _Unauthorized(outcome.reason,
                                    {"WWW-Authenticate": outcome.challenge} if outcome.challenge else {})
            body = decode_content(raw, headers, self.settings.max_body_bytes)
            if len(body) > OFFLOAD_BYTES:
                classified = await anyio.to_thread.run_sync(detect.classify, path_source, headers, body)
            else:
                classified = detect.classify(path_source, headers, body)
            label = classified.source
            try:
                line = captured_line(stored_headers(headers, classified), classified.body, received_at)
            except UnstorableBody as exc:
                raise Rejection(400, str(exc)) from None
            self.writer.ensure_started()
            await self.writer.append(line)
            events = classified.events
            if classified.mode == "webhook":
                events = [{"id": next((headers[h] for h in DELIVERY_HEADERS if h in headers), None),
                           "type": next((headers[h] for h in EVENT_HEADERS if h in headers), None),
                           "status": "accepted"}]
            info.update(mode=classified.mode, events=len(events))
            self.metrics.events.labels(label, classified.mode).inc(len(events))
            if knative_wants_no_body(headers, classified.mode):
                response = Response(status_code=202)
            else:
                response = JSONResponse({"status": "accepted", "source": label, "mode": classified.mode,
                                         "accepted": len(events), "received_at": received_at, "events": events},
                                        status_code=202)
        except _Unauthorized as exc:
            response = error_response(401, f"unauthenticated: {exc.reason}", None, exc.headers or None)
            info["error"] = "unauthenticated"
        except Rejection as exc:
            response = error_response(exc.status, exc.error, exc.detail)
            info["error"] = exc.error[:200]
        except LandingUnavailable as exc:
            response = error_response(503, exc.reason, None, {"Retry-After": str(exc.retry_after)})
            info["error"] = exc.reason
        except ClientDisconnect:
            response = Response(status_code=499)  # nobody is listening; nothing was written
            info["error"] = "client disconnected"
        finally:
            self.inflight -= 1
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(label, str(response.status_code)).inc()
        self.metrics.request_bytes.labels(label).inc(size)
        self.metrics.latency.labels(label).observe(elapsed)
        log.info(json.dumps({"event": "request", "method": request.method, "path": request.url.path,
                             "source": label, "status": response.status_code, "bytes": size,
                             "duration_ms": round(elapsed * 1000, 3),
                             "remote": request.client.host if request.client else None, **info}))
        return response

    # -- operability -----------------------------------------------------------------------------------------

    async def options(self, request: Request) -> Response:
        """CloudEvents HTTP webhook validation handshake (abuse protection)."""
        headers = {"Allow": "POST, OPTIONS"}
        origin = request.headers.get("webhook-request-origin")
        if origin:
            headers.update({"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"})
        return Response(status_code=200, headers=headers)

    async def healthz(self, request: Request) -> Response:  # noqa: ARG002
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:  # noqa: ARG002
        status = self.writer.status()
        if status["ready"]:
            return JSONResponse({"status": "ready", **status})
        return JSONResponse({"status": "unavailable", **status}, status_code=503,
                            headers={"Retry-After": str(self.settings.retry_after_seconds)})

    async def metrics_endpoint(self, request: Request) -> Response:  # noqa: ARG002
        payload, content_type = self.metrics.exposition()
        return Response(payload, media_type=content_type)


class _Unauthorized(Exception):
    def __init__(self, reason: str, headers: dict[str, str]):
        super().__init__(reason)
        self.reason = reason
        self.headers = headers


async def _http_error(request: Request, exc: HTTPException) -> Response:  # noqa: ARG001
    return error_response(exc.status_code, exc.detail if isinstance(exc.detail, str) else "error", None,
                          dict(exc.headers) if exc.headers else None)


async def _server_error(request: Request, exc: Exception) -> Response:  # noqa: ARG001
    log.error(json.dumps({"event": "error", "path": request.url.path, "error": type(exc).__name__}))
    return error_response(500, "internal error", type(exc).__name__)


def create_app(settings: Settings, writer: LandingWriter | None = None) -> Starlette:
    """The receiver app. Its lifespan recovers crashed files and starts the writer, and closes it at shutdown."""
    receiver = Receiver(settings, writer)

    @asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ARG001
        recovered = receiver.writer.start()
        log.info(json.dumps({"event": "started", "landing": str(settings.receiver_dir),
                             "recovered_files": len(recovered), "auth": list(settings.secrets.configured),
                             "open_access": settings.open_access and not settings.secrets.configured}))
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(receiver.writer.close)
            log.info(json.dumps({"event": "stopped", "files_closed": receiver.writer.stats.files_closed}))

    routes = [
        Route("/", receiver.ingest, methods=["POST"]),
        Route("/", receiver.options, methods=["OPTIONS"]),
        Route("/webhooks/{source}", receiver.ingest, methods=["POST"]),
        Route("/healthz", receiver.healthz, methods=["GET"]),
        Route("/readyz", receiver.readyz, methods=["GET"]),
        Route("/metrics", receiver.metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.receiver = receiver
    return app


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line; messages that are JSON objects are merged in (never bodies or secrets)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
        }
        message = record.getMessage()
        parsed = None
        if message.startswith("{"):
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict):
            payload.update(parsed)
        else:
            payload["msg"] = message
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "info") -> None:
    logger = logging.getLogger("lifecycle.receiver")
    if not any(isinstance(h.formatter, JsonLogFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def run(settings: Settings, log_level: str = "info") -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish, then the open file is closed."""
    import uvicorn

    settings.check_can_start()
    configure_logging(log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, lifespan="on", access_log=False, server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds), log_level=log_level,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(1)
