"""Prometheus metrics for the receiver (``GET /metrics``), on a registry of its own per app."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from pipelines.receiver.landing import LandingWriter

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class _LandingCollector(Collector):
    """Gauges read from the writer at scrape time (no bookkeeping on the request path)."""

    def __init__(self, writer: LandingWriter, inflight: Callable[[], int]):
        self.writer = writer
        self.inflight = inflight

    def collect(self):
        writer, stats = self.writer, self.writer.stats
        yield GaugeMetricFamily(
            "lifecycle_receiver_landing_lag_seconds",
            "Age of the oldest acknowledged line still in an .open file (not yet visible to the loader)",
            value=writer.unpublished_age())
        yield GaugeMetricFamily("lifecycle_receiver_landing_open_file_bytes", "Size of the file being written",
                                value=writer.status()["open_file_bytes"])
        free = writer.free_bytes()
        if free is not None:
            yield GaugeMetricFamily("lifecycle_receiver_landing_free_bytes",
                                    "Free bytes on the landing zone's file system", value=free)
        yield GaugeMetricFamily("lifecycle_receiver_pending_bytes", "Bytes queued for the next group commit",
                                value=writer.status()["pending_bytes"])
        yield GaugeMetricFamily("lifecycle_receiver_inflight_requests", "Requests being handled",
                                value=self.inflight())
        yield CounterMetricFamily("lifecycle_receiver_landing_files_closed", "Landing files closed (rotated)",
                                  value=stats.files_closed)
        yield CounterMetricFamily("lifecycle_receiver_landing_lines", "Captured requests written durably",
                                  value=stats.lines)
        yield CounterMetricFamily("lifecycle_receiver_landing_write_errors", "Failed group commits",
                                  value=stats.write_errors)
        yield CounterMetricFamily("lifecycle_receiver_landing_recovered_files",
                                  ".open files of dead writers closed at start-up", value=stats.recovered)


class ReceiverMetrics:
    def __init__(self, writer: LandingWriter, inflight: Callable[[], int]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("lifecycle_receiver_requests", "Requests by source and HTTP status",
                                ["source", "status"], registry=self.registry)
        self.events = Counter("lifecycle_receiver_events", "Events accepted, by source and mode",
                              ["source", "mode"], registry=self.registry)
        self.request_bytes = Counter("lifecycle_receiver_request_bytes", "Request body bytes received, by source",
                                     ["source"], registry=self.registry)
        self.latency = Histogram("lifecycle_receiver_request_duration_seconds",
                                 "Time from request start to answer, by source", ["source"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.commit_seconds = Histogram("lifecycle_receiver_commit_duration_seconds",
                                        "write + fdatasync time of one group commit",
                                        buckets=LATENCY_BUCKETS, registry=self.registry)
        self.commit_requests = Histogram("lifecycle_receiver_commit_requests",
                                         "Requests made durable by one group commit (one fsync)",
                                         buckets=GROUP_BUCKETS, registry=self.registry)
        self.registry.register(_LandingCollector(writer, inflight))

    def on_commit(self, requests: int, size: int, seconds: float) -> None:  # noqa: ARG002
        self.commit_seconds.observe(seconds)
        self.commit_requests.observe(requests)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
