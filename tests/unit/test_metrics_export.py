"""``GET /metrics`` of the exporter (pipelines/metrics_export.py) on a scenario with figures worked out by hand.

World (minutes after t0 = 2026-07-01 08:00 UTC; "day d" = 2026-07-01 + d days, clock times UTC):
  pay (team payments, app core):
    day 0   c0 08:00, packaged, deployed prod-eu 10:00                            (outside the window)
    day 10  the same artifact redeployed to prod-eu at 23:00 (2026-07-11)        (outside the window, by 1 h)
    day 20  c1 08:00 → a1 deployed prod-eu 10:00 (delivers c1: 7200 s) and prod-us 11:00
    day 25  c2 08:00, c3 09:00 → a2 (from c3) deployed prod-eu 13:00 (c2 18000 s, c3 14400 s);
            incident in prod-eu 14:00–16:00, attributed to that deployment (the latest before it) → a failed
            change; a1 rolled back in prod-eu 15:00 (rework) → recovery = min(16:00, 15:00) − 14:00 = 3600 s
    day 40  c4 08:00 → a3 deployed prod-eu 09:00 (3600 s) — the newest event: as_of = 2026-08-10 09:00
  web (team web, app portal):
    day 12  c5 08:00 → w1 deployed dev 08:30, prod-us 09:00 (3600 s)
    day 13  c6 08:00 → w2 deployed dev 08:30, prod-us 10:00 (7200 s)
    day 39  w3 deployed dev 08:00, and waits
Window `30d` = the 30 UTC days ending with as_of's day = [2026-07-12, 2026-08-11): days 11–40.
  pay: deployments 5 (day 20 ×2, day 25 ×2, day 40), days 3; lead times [3600, 7200, 14400, 18000]: p50 10800,
       p90 14400 + 0.7·3600 = 16920 (h = 3·0.9 = 2.7), n 4; failed 1 → change fail rate 1/5; rework 1/5;
       recovery p50 3600 (n 1)
  web: deployments 2, days 2; lead [3600, 7200]: p50 5400, p90 3600 + 0.9·3600 = 6840; rates 0; no recovery n
  prod-eu: 4 deployments (pay's day 20, day 25 ×2, day 40), days 3, lead as pay's, rates 1/4, recovery 3600
  prod-us: 3 deployments (pay day 20, web ×2), days 3, lead [3600, 7200], rates 0
  overall: 7 deployments, days 5 (12, 13, 20, 25, 40); lead [3600, 3600, 7200, 7200, 14400, 18000]: p50 7200
       (h = 2.5), p90 14400 + 0.5·3600 = 16200 (h = 4.5), n 6; rates 1/7; recovery 3600
Stuck: time after `deployed` dev: w1 1800, w2 5400 → p90 1800 + 0.9·3600 = 5040; w3 has waited from day 39
  08:00 to as_of = 90000 s > 5040 → 1 stuck artifact (web, team web, app portal, environment dev).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from pipelines import metrics_export, tasks
from pipelines.config import resolve_paths
from tests.unit.test_flow_world import FlowWorld, rows

H, DAY = 60, 24 * 60


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("exporter")
    paths = resolve_paths(directory / "warehouse.duckdb")
    w = FlowWorld(service="pay", repo="org/pay", team="payments", app="core")
    c0, = w.push("pay-p0", [("c0", 0)])
    a0 = w.package("pay-k0", 30, c0, "1.0.0")
    w.deploy("pay-d0", 2 * H, a0, "prod-eu", "deployed")
    w.deploy("pay-d0-again", 10 * DAY + 15 * H, a0, "prod-eu")
    c1, = w.push("pay-p1", [("c1", 20 * DAY)])
    a1 = w.package("pay-k1", 20 * DAY + 30, c1, "1.1.0")
    w.deploy("pay-d1-eu", 20 * DAY + 2 * H, a1, "prod-eu")
    w.deploy("pay-d1-us", 20 * DAY + 3 * H, a1, "prod-us", "deployed")
    _, c3 = w.push("pay-p2", [("c2", 25 * DAY), ("c3", 25 * DAY + H)])
    a2 = w.package("pay-k2", 25 * DAY + 90, c3, "1.2.0")
    w.deploy("pay-d2-eu", 25 * DAY + 5 * H, a2, "prod-eu")
    w.incident("I1", 25 * DAY + 6 * H, "prod-eu", resolved=25 * DAY + 8 * H)
    w.deploy("pay-rb", 25 * DAY + 7 * H, a1, "prod-eu", "rolledback")
    c4, = w.push("pay-p4", [("c4", 40 * DAY)])
    a3 = w.package("pay-k4", 40 * DAY + 30, c4, "1.3.0")
    w.deploy("pay-d3-eu", 40 * DAY + H, a3, "prod-eu")
    w.team, w.app = "web", "portal"
    for name, day, to_prod in (("w1", 12, 60), ("w2", 13, 120)):
        commit, = w.push(f"web-{name}", [(f"c-{name}", day * DAY)], repo="org/web")
        purl = w.package(f"web-k-{name}", day * DAY + 10, commit, f"2.{day}.0", service="web", repo="org/web")
        w.deploy(f"web-{name}-dev", day * DAY + 30, purl, "dev", "deployed", service="web")
        w.deploy(f"web-{name}-us", day * DAY + to_prod, purl, "prod-us", "deployed", service="web")
    w.deploy("web-w3-dev", 39 * DAY, w.purl("2.39.0", service="web"), "dev", "deployed", service="web")
    w.build_warehouse(paths, directory)
    return paths


def scrape(paths, accept: str | None = None):
    with TestClient(metrics_export.create_app(paths)) as client:
        response = client.get("/metrics", headers={"accept": accept} if accept else {})
    assert response.status_code == 200
    return response


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) → value, parsed with prometheus_client's own parser."""
    got = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            got[s.name, tuple(sorted(s.labels.items()))] = s.value
    return got


def key(name: str, group_by: str, value: str | None = None) -> tuple[str, tuple]:
    return name, tuple(sorted(metrics_export.group_labels(group_by, value).items()))


EXPECTED = {  # (group_by, value): deployments, days, lead p50, lead p90, lead n, cfr, rework, recovery p50
    ("overall", None): (7, 5, 7200, 16200, 6, 1 / 7, 1 / 7, 3600),
    ("service", "pay"): (5, 3, 10800, 16920, 4, 1 / 5, 1 / 5, 3600),
    ("service", "web"): (2, 2, 5400, 6840, 2, 0, 0, None),
    ("team", "payments"): (5, 3, 10800, 16920, 4, 1 / 5, 1 / 5, 3600),
    ("team", "web"): (2, 2, 5400, 6840, 2, 0, 0, None),
    ("app", "core"): (5, 3, 10800, 16920, 4, 1 / 5, 1 / 5, 3600),
    ("app", "portal"): (2, 2, 5400, 6840, 2, 0, 0, None),
    ("environment", "prod-eu"): (4, 3, 10800, 16920, 4, 1 / 4, 1 / 4, 3600),
    ("environment", "prod-us"): (3, 3, 5400, 6840, 2, 0, 0, None),
}
NAMES = ("lifecycle_dora_deployments", "lifecycle_dora_deployment_days", "lifecycle_dora_lead_time_p50_seconds",
         "lifecycle_dora_lead_time_p90_seconds", "lifecycle_dora_lead_time_changes", "lifecycle_dora_change_fail_rate",
         "lifecycle_dora_rework_rate", "lifecycle_dora_recovery_time_p50_seconds")


def test_metrics_equal_the_hand_worked_30_day_figures(world):
    got = samples(scrape(world).text)
    for (group_by, value), figures in EXPECTED.items():
        for name, expected in zip(NAMES, figures, strict=True):
            k = key(name, group_by, value)
            if expected is None:
                assert k not in got, k  # unknown (n = 0): no series, not a 0
            else:
                assert got[k] == pytest.approx(expected), k
    groups = {labels for (name, labels) in got if name == "lifecycle_dora_deployments"}
    assert groups == {key("x", g, v)[1] for g, v in EXPECTED}


def test_metrics_equal_marts_dora_metrics_for_the_same_window(world):
    """Every exported DORA sample is the `30d` row of marts.dora_metrics for its group, and the window is the
    one worked out by hand."""
    got = samples(scrape(world).text)
    mart = rows(world, "select * from marts.dora_metrics where period = '30d'")
    assert {(r["period_start"], r["period_end"]) for r in mart} == {
        (datetime(2026, 7, 12, tzinfo=UTC), datetime(2026, 8, 11, tzinfo=UTC))}
    compared = 0
    for r in mart:
        for column, name, _ in metrics_export.DORA_GAUGES:
            k = key(name, r["group_by"], r["group_value"])
            if r[column] is None:
                assert k not in got
            else:
                assert got[k] == pytest.approx(r[column]), k
                compared += 1
    dora_samples = [k for k in got if k[0].startswith("lifecycle_dora_")]
    assert compared == len(dora_samples) > 0


def test_stuck_artifacts_and_the_snapshot_gauges(world):
    got = samples(scrape(world).text)
    stuck = {labels: v for (name, labels), v in got.items() if name == "lifecycle_flow_stuck_artifacts"}
    assert stuck == {key("x", "overall")[1]: 1, key("x", "service", "web")[1]: 1, key("x", "team", "web")[1]: 1,
                     key("x", "app", "portal")[1]: 1, key("x", "environment", "dev")[1]: 1}
    info = [labels for (name, labels) in got if name == "lifecycle_snapshot_info"]
    assert [dict(labels) for labels in info] == [{
        "window": "30d", "as_of": "2026-08-10T09:00:00+00:00", "window_start": "2026-07-12T00:00:00+00:00",
        "window_end": "2026-08-11T00:00:00+00:00", "benchmark_year": "2024"}]
    assert got["lifecycle_snapshot_as_of_timestamp_seconds", ()] == datetime(2026, 8, 10, 9, tzinfo=UTC).timestamp()
    assert got["lifecycle_snapshot_published_timestamp_seconds", ()] == pytest.approx(
        os.stat(world.serving).st_mtime_ns / 1e9)
    assert got["lifecycle_snapshot_available", ()] == 1


def test_openmetrics_when_the_scraper_asks_for_it(world):
    response = scrape(world, "application/openmetrics-text; version=1.0.0")
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    assert "lifecycle_dora_deployments{group_by=\"overall\"} 7.0" in response.text


def test_the_snapshot_is_reread_only_when_it_changes(world, tmp_path):
    """Two scrapes of one snapshot open it once; a newly published snapshot (atomic replace: a new inode) is
    read at the next scrape; no snapshot → only lifecycle_snapshot_available 0."""
    paths = resolve_paths(tmp_path / "warehouse.duckdb")
    app = metrics_export.create_app(paths)
    with TestClient(app) as client:
        empty = samples(client.get("/metrics").text)
        assert empty == {("lifecycle_snapshot_available", ()): 0}
        paths.serving.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(world.serving, paths.serving)
        client.get("/metrics")
        client.get("/metrics")
        assert app.state.collector.reads == 1
        tasks.build(paths)  # an empty warehouse: publishes a snapshot with no deployments
        after = samples(client.get("/metrics").text)
        assert app.state.collector.reads == 2
        assert not [k for k in after if k[0] == "lifecycle_dora_deployments"]
