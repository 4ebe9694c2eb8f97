"""``/metrics``: the DORA and flow figures of the published snapshot as Prometheus / OpenMetrics gauges.

So that existing Prometheus + Grafana setups can graph and alert on them (docs/metrics-export.md). It is a
small exporter of its own (``lifecycle metrics-exporter``), because the receiver never touches DuckDB
(DESIGN §2); it reads only the **published snapshot**, read-only, like the dashboard:

- the figures come from ``marts.dora_metrics`` rows of the rolling period ``30d`` (the 30 UTC days ending
  with the snapshot's ``as_of`` day — the same definitions as every other DORA figure, computed once per
  build) for the grains overall, service, team, app and environment, and from ``marts.artifact_journeys``
  (``is_stuck``, as of the same instant);
- a figure that is unknown (a percentile with n = 0, a rate with no deployment) is left out, not exported
  as 0 or NaN: an absent series is what Prometheus understands as "no data";
- the snapshot is re-read only when its file changes (inode, mtime, size — a publish is an atomic rename,
  so a new snapshot is a new inode), with a short-lived connection: a scrape never holds the file open
  between scrapes, and never blocks or sees a half-published snapshot.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from pipelines import warehouse
from pipelines.config import Paths

WINDOW = "30d"
GRAINS = ("overall", "service", "team", "app", "environment")

# marts.dora_metrics column → (metric name, help). Counts are gauges too: they are figures over a window
# that slides, not monotonic counters.
DORA_GAUGES = (
    ("deployments", "lifecycle_dora_deployments", "Successful production deployments in the last 30 days"),
    ("deployment_days", "lifecycle_dora_deployment_days", "Distinct UTC days with a production deployment"),
    ("lead_time_p50_s", "lifecycle_dora_lead_time_p50_seconds",
     "Change lead time, median (continuous percentile) of the changes delivered in the window"),
    ("lead_time_p90_s", "lifecycle_dora_lead_time_p90_seconds", "Change lead time, 90th percentile"),
    ("lead_time_n", "lifecycle_dora_lead_time_changes", "Changes behind the lead time percentiles (n)"),
    ("change_fail_rate", "lifecycle_dora_change_fail_rate", "Failed changes / production deployments"),
    ("failed_changes", "lifecycle_dora_failed_changes", "Production deployments that were failed changes"),
    ("recovery_time_p50_s", "lifecycle_dora_recovery_time_p50_seconds",
     "Failed deployment recovery time, median over the window's failed changes"),
    ("recovery_time_n", "lifecycle_dora_recovery_time_failures", "Recovered failed changes behind the percentile (n)"),
    ("rework_rate", "lifecycle_dora_rework_rate", "Rework (rollback, hotfix) deployments / production deployments"),
    ("rework_deployments", "lifecycle_dora_rework_deployments", "Production rollbacks and hotfixes"),
)

DORA_QUERY = """
select group_by, group_value, period_start, period_end, {columns}
from marts.dora_metrics
where period = $window and group_by in ('overall', 'service', 'team', 'app', 'environment')
order by group_by, group_value
"""

STUCK_QUERY = """
with stuck as (
    select service, team, app, current_environment as environment
    from marts.artifact_journeys
    where is_stuck
)

select 'overall' as group_by, 'all' as group_value, count(*) as stuck from stuck
union all
select 'service', service, count(*) from stuck where service is not null group by all
union all
select 'team', team, count(*) from stuck where team is not null group by all
union all
select 'app', app, count(*) from stuck where app is not null group by all
union all
select 'environment', environment, count(*) from stuck where environment is not null group by all
"""

AS_OF_QUERY = """
select (select max(as_of) from marts.artifact_journeys) as as_of,
       (select max(benchmark_year) from marts.dora_metrics) as benchmark_year
"""


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def group_labels(group_by: str, group_value: str) -> dict[str, str]:
    """``{group_by="team", team="payments"}``; overall has ``group_by`` only — so a PromQL ``by (team)``
    reads naturally, and no series of one grain can be summed with another by accident."""
    return {"group_by": group_by} if group_by == "overall" else {"group_by": group_by, group_by: group_value}


def read_samples(conn) -> tuple[list[Sample], dict]:
    """The samples of one snapshot, and its metadata (as_of, window bounds, benchmark year)."""
    columns = ", ".join(column for column, _, _ in DORA_GAUGES)
    dora = conn.execute(DORA_QUERY.format(columns=columns), {"window": WINDOW})
    names = [d[0] for d in dora.description]
    samples: list[Sample] = []
    meta: dict = {"window_start": None, "window_end": None}
    for row in dora.fetchall():
        record = dict(zip(names, row, strict=True))
        meta["window_start"], meta["window_end"] = record["period_start"], record["period_end"]
        labels = group_labels(record["group_by"], record["group_value"])
        for column, metric, _ in DORA_GAUGES:
            if record[column] is not None:
                samples.append(Sample(metric, labels, float(record[column])))
    for group_by, group_value, stuck in conn.execute(STUCK_QUERY).fetchall():
        samples.append(Sample("lifecycle_flow_stuck_artifacts", group_labels(group_by, group_value), float(stuck)))
    as_of, benchmark_year = conn.execute(AS_OF_QUERY).fetchone()
    meta.update(as_of=as_of, benchmark_year=benchmark_year)
    return samples, meta


def snapshot_version(paths: Paths) -> tuple[int, int, int] | None:
    try:
        st = os.stat(paths.serving)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


HELP = {metric: text for _, metric, text in DORA_GAUGES}
HELP["lifecycle_flow_stuck_artifacts"] = ("Artifacts in flight waiting in their stage longer than its historical "
                                          "p90, as of the snapshot's as_of")


class SnapshotCollector(Collector):
    """Yields the snapshot's figures; re-reads them when the snapshot file has changed since the last scrape."""

    def __init__(self, paths: Paths):
        self.paths = paths
        self._lock = threading.Lock()
        self._version: tuple[int, int, int] | None = None
        self._samples: list[Sample] = []
        self._meta: dict = {}
        self.reads = 0  # how many times the snapshot was opened (tests check the cache)

    def _refresh(self) -> tuple[int, int, int] | None:
        with self._lock:
            version = snapshot_version(self.paths)
            if version is None:
                self._version, self._samples, self._meta = None, [], {}
            elif version != self._version:
                with warehouse.snapshot_reader(self.paths) as conn:
                    self._samples, self._meta = read_samples(conn)
                self.reads += 1
                # keyed by the version seen before opening: a publish racing the read is picked up next scrape
                self._version = version
            return self._version

    def collect(self):
        version = self._refresh()
        yield GaugeMetricFamily("lifecycle_snapshot_available",
                                "1 when a published snapshot was read, 0 when there is none yet",
                                value=0 if version is None else 1)
        if version is None:
            return
        families: dict[str, Metric] = {}
        for s in self._samples:
            family = families.setdefault(s.name, Metric(s.name, HELP[s.name], "gauge"))
            family.add_sample(s.name, s.labels, s.value)
        yield from families.values()
        meta = self._meta
        yield InfoMetricFamily("lifecycle_snapshot", "The published snapshot the figures come from", value={
            "window": WINDOW,
            "as_of": _iso(meta.get("as_of")),
            "window_start": _iso(meta.get("window_start")),
            "window_end": _iso(meta.get("window_end")),
            "benchmark_year": "" if meta.get("benchmark_year") is None else str(meta["benchmark_year"]),
        })
        yield GaugeMetricFamily("lifecycle_snapshot_published_timestamp_seconds",
                                "When the snapshot file was published (its modification time, Unix seconds)",
                                value=version[1] / 1e9)
        if meta.get("as_of") is not None:
            yield GaugeMetricFamily("lifecycle_snapshot_as_of_timestamp_seconds",
                                    "The newest event the figures know of (as_of, Unix seconds)",
                                    value=meta["as_of"].timestamp())


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def create_app(paths: Paths):
    """The exporter's ASGI app: ``GET /metrics`` (Prometheus text, or OpenMetrics when the scraper asks for it
    in ``Accept``) and ``GET /healthz``."""
    from prometheus_client.exposition import choose_encoder
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    registry = CollectorRegistry(auto_describe=False)
    collector = SnapshotCollector(paths)
    registry.register(collector)

    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    async def healthz(request: Request) -> Response:  # noqa: ARG001
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/metrics", metrics, methods=["GET"]), Route("/healthz", healthz, methods=["GET"])])
    app.state.collector = collector
    return app


DEFAULT_PORT = 9109


def run(paths: Paths, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    import uvicorn

    uvicorn.run(create_app(paths), host=host, port=port, log_level="warning")
