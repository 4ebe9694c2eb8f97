"""The dashboard's data module: figures equal the marts' where both exist, caching follows the snapshot,
values never reach the SQL text."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dashboards import data
from pipelines import tasks, warehouse
from pipelines.config import resolve_paths
from tests.dashboard.conftest import flow_marts_missing, point_at
from tests.dashboard.world import World, at

SAMPLE = Path(__file__).resolve().parents[2] / "sample_events" / "data"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The committed sample, ingested and built once."""
    paths = resolve_paths(tmp_path_factory.mktemp("sample") / "data" / "warehouse.duckdb")
    tasks.ingest(paths, [SAMPLE])
    tasks.build(paths)
    return paths


def mart_rows(paths, sql: str, params: list | None = None) -> list[dict]:
    with warehouse.snapshot_reader(paths) as conn:
        cursor = conn.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) if isinstance(a, float | int) else a == b


DORA_COLUMNS = ("deployments", "deployment_days", "failed_deployment_attempts", "failed_changes", "rework_deployments",
                "changes_deployed", "lead_time_n", "lead_time_nonpositive_excluded", "lead_time_p50_s",
                "lead_time_p90_s", "lead_time_mean_s", "recovery_time_n", "unrecovered", "recovery_time_p50_s",
                "recovery_time_p90_s", "incidents", "incident_time_to_restore_p50_s", "change_fail_rate",
                "change_fail_rate_incl_failed_attempts", "rework_rate", "median_deployment_days_per_week")


@pytest.mark.parametrize("which", ["world", "sample"])
def test_dora_figures_equal_the_mart_over_the_whole_range(which, request, monkeypatch):
    paths = request.getfixturevalue(which)
    point_at(monkeypatch, paths)
    view = data.filter_options().everything()
    ours = data.dora_summary(view)
    mart = mart_rows(paths, "select * from marts.dora_metrics where period = 'all' and group_by = 'overall'")[0]
    for column in DORA_COLUMNS:
        assert same(ours[column], mart[column]), (column, ours[column], mart[column])
    by_team = {r["group_value"]: r for r in data.dora_table(view, "team").iter_rows(named=True)}
    for row in mart_rows(paths, "select * from marts.dora_metrics where period = 'all' and group_by = 'team'"):
        for column in DORA_COLUMNS[:-1]:  # the weekly median is over the view's weeks, the same here
            assert same(by_team[row["group_value"]][column], row[column]), (row["group_value"], column)


@pytest.mark.parametrize("which", ["world", "sample"])
def test_bottleneck_figures_equal_the_mart_over_the_whole_range(which, request, monkeypatch):
    paths = request.getfixturevalue(which)
    if flow_marts_missing(paths):
        pytest.skip("the flow-analytics models are not in this tree")
    point_at(monkeypatch, paths)
    view = data.filter_options().everything()
    ours = {(r["tool"], r["stage"], r["environment"]): r for r in data.bottlenecks(view, "all").iter_rows(named=True)}
    mart = mart_rows(paths, "select * from marts.bottlenecks where period = 'all'")
    assert len(ours) == len(mart)
    for row in mart:
        mine = ours[(row["tool"], row["stage"], row["environment"])]
        for column in ("journeys", "share_of_lead_time", "p50_s", "p90_s", "waiting_share"):
            assert same(mine[column], row[column]), (row["tool"], row["stage"], column)
    weekly = {(r["period_start"], r["tool"], r["stage"], r["environment"]): r
              for r in data.bottlenecks(view, "week").iter_rows(named=True)}
    for row in mart_rows(paths, "select * from marts.bottlenecks where period = 'week'"):
        mine = weekly[(row["period_start"], row["tool"], row["stage"], row["environment"])]
        assert same(mine["share_of_lead_time"], row["share_of_lead_time"])


def test_as_of_inventory_at_the_snapshot_equals_the_mart(sample, monkeypatch):
    if flow_marts_missing(sample):
        pytest.skip("the flow-analytics models are not in this tree")
    point_at(monkeypatch, sample)
    view = data.filter_options().everything()
    now = data.release_inventory(view)
    as_of = now["as_of"].max()
    then = data.release_inventory_as_of(view, as_of)
    assert then.select(now.columns).sort("service", "environment", "cluster").equals(
        now.sort("service", "environment", "cluster"))


def test_a_new_snapshot_is_picked_up_and_old_results_are_not_served(tmp_path, monkeypatch):
    paths = resolve_paths(tmp_path / "data" / "warehouse.duckdb")
    point_at(monkeypatch, paths)
    event = {"specversion": "1.0", "id": "e1", "source": "/argocd/prod", "type": "dev.cdevents.service.deployed.0.3.0",
             "time": "2026-07-01T10:00:00Z", "datacontenttype": "application/json",
             "data": {"context": {"specversion": "0.5.1", "id": "e1", "source": "/argocd/prod",
                                  "type": "dev.cdevents.service.deployed.0.3.0",
                                  "timestamp": "2026-07-01T10:00:00Z"},
                      "subject": {"id": "svc", "content": {"environment": {"id": "prod"},
                                                           "artifactId": "pkg:oci/svc@sha256%3A" + "a" * 64}}}}
    first = tmp_path / "one.ndjson"
    first.write_text(json.dumps(event) + "\n")
    tasks.ingest(paths, [first])
    tasks.build(paths)
    sql = "select count(*) as n from marts.deployments"
    assert data.query(sql).item() == 1
    version = data.snapshot_version()

    opened = []
    real_connect = warehouse.connect

    def counting(path, read_only=False):
        if read_only:  # builds open the warehouse for writing too
            opened.append(path)
        return real_connect(path, read_only=read_only)

    monkeypatch.setattr(warehouse, "connect", counting)
    assert data.query(sql).item() == 1
    assert opened == [], "a repeated query on the same snapshot is served from the cache"
    assert data._run(sql, {}).item() == 1 and data._run(sql, {}).item() == 1
    assert opened == [], "uncached queries on the same snapshot reuse its open connection"

    second = tmp_path / "two.ndjson"
    event2 = json.loads(json.dumps(event).replace('"e1"', '"e2"').replace("10:00:00Z", "11:00:00Z"))
    event2["data"]["subject"]["content"]["artifactId"] = "pkg:oci/svc@sha256%3A" + "b" * 64
    second.write_text(json.dumps(event2) + "\n")
    tasks.ingest(paths, [second])
    tasks.build(paths)
    assert data.snapshot_version() != version
    assert data.query(sql).item() == 2
    assert opened == [paths.serving], "the new snapshot is read through a fresh read-only connection, once"
    assert data._run(sql, {}).item() == 2 and len(opened) == 1


def test_values_are_parameters_never_sql_text(world, monkeypatch):
    point_at(monkeypatch, world)
    nasty = "o'brien'); drop table marts.deployments; --"
    view = data.Filters(data.filter_options().first, data.filter_options().last, team=(nasty,), service=(nasty,))
    predicate, params = data.where(view, "deployed_at", team="team", service="service")
    assert nasty not in predicate and params["team"] == [nasty]
    assert data.deployments(view).height == 0
    assert data.dora_summary(view)["deployments"] == 0
    assert data.find_artifacts(view, nasty).height == 0
    assert data.query("select count(*) as n from marts.deployments").item() == 33  # still there


def test_table_checks(world, monkeypatch):
    point_at(monkeypatch, world)
    assert data.table_exists("marts", "deployments")
    assert not data.table_exists("marts", "no_such_table")
    assert data.missing("marts.no_such_table") == "missing"
    assert data.missing("marts.deployments", ("deployment_id", "nope")) == "lacks column(s) nope"
    assert data.missing("marts.deployments", ("deployment_id",)) is None


def test_funnel_fallback_matches_the_hand_derivation(world, monkeypatch):
    point_at(monkeypatch, world)
    view = data.filter_options().everything()
    computed = {r["version"]: r for r in data.funnel_artifacts(view, prefer_mart=False).iter_rows(named=True)}
    assert computed["2.0.5"]["status"] == "stuck"
    assert round(computed["2.0.5"]["stage_p90_hours"], 1) == 16.7
    assert computed["1.0.10"]["status"] == "in flight"
    assert sum(r["status"] == "in production" for r in computed.values()) == 15


def test_a_session_opens_on_the_last_four_weeks():
    from datetime import date

    opts = data.FilterOptions(first=date(2026, 7, 1), last=date(2026, 9, 28))
    assert opts.default() == data.Filters(date(2026, 9, 1), date(2026, 9, 28))
    assert opts.default().previous() == data.Filters(date(2026, 8, 4), date(2026, 8, 31))
    short = data.FilterOptions(first=date(2026, 7, 6), last=date(2026, 7, 18))
    assert short.default() == short.everything()


@pytest.fixture(scope="module")
def lead_times(tmp_path_factory):
    """Six releases of pay, each commit at 08:00 (day d = 2026-07-06 + d) and deployed to prod: day 0 at 09:00,
    day 1 at 11:00, day 2 at 14:00, day 3 at 20:00 (lead times 1, 3, 6, 12 h), day 4 at 08:00 (0 h) and day 7
    at 07:30 (−0.5 h: the deployment's clock is behind the commit's)."""
    root = tmp_path_factory.mktemp("lead_times")
    paths = resolve_paths(root / "data" / "warehouse.duckdb")
    w = World()
    for k, (day, prod_hour) in enumerate([(0, 9), (1, 11), (2, 14), (3, 20), (4, 8), (7, 7.5)]):
        commit = w.push("pay", f"p{k}", at(day, 8))
        w.deploy("pay", w.package("pay", f"1.0.{k}", commit, at(day, 8.25)), "prod", at(day, prod_hour),
                 predicate="upgraded")
    events = root / "lead_times.ndjson"
    events.write_text("\n".join(w.lines) + "\n")
    tasks.ingest(paths, [events])
    tasks.build(paths)
    return paths


def test_changes_summary_by_hand(lead_times, monkeypatch):
    from datetime import date

    point_at(monkeypatch, lead_times)
    h = 3600
    # positive: 1, 3, 6, 12 h; 0 h and −0.5 h excluded. p50: rank (4 − 1) × 0.5 = 1.5 → 3 + 0.5 × (6 − 3) = 4.5 h;
    # p90: rank 2.7 → 6 + 0.7 × (12 − 6) = 10.2 h; mean 22 / 4 = 5.5 h
    every = data.changes_summary(data.Filters(date(2026, 7, 6), date(2026, 7, 13)))
    assert (every["total"], every["n"], every["excluded"]) == (6, 4, 2)
    assert every["p50_s"] == pytest.approx(4.5 * h) and every["p90_s"] == pytest.approx(10.2 * h)
    assert every["mean_s"] == pytest.approx(5.5 * h)
    assert (every["min_s"], every["max_s"]) == (1 * h, 12 * h)
    # days 0–1: 1 and 3 h → p50 2 h, p90 1 + 0.9 × 2 = 2.8 h, mean 2 h
    first_two = data.changes_summary(data.Filters(date(2026, 7, 6), date(2026, 7, 7)))
    assert (first_two["total"], first_two["n"], first_two["excluded"]) == (2, 2, 0)
    assert first_two["p50_s"] == pytest.approx(2 * h) and first_two["p90_s"] == pytest.approx(2.8 * h)
    assert first_two["mean_s"] == pytest.approx(2 * h)
    # days 4–7: only the 0 h and −0.5 h changes, both excluded: no figure
    skewed = data.changes_summary(data.Filters(date(2026, 7, 10), date(2026, 7, 13)))
    assert (skewed["total"], skewed["n"], skewed["excluded"]) == (2, 0, 2)
    assert skewed["p50_s"] is None and skewed["p90_s"] is None and skewed["mean_s"] is None
    assert data.changes_summary(data.Filters(date(2026, 7, 6), date(2026, 7, 13), team=("cards",)))["total"] == 0


def test_changes_histogram_and_the_drawn_sample(lead_times, monkeypatch):
    from datetime import date

    point_at(monkeypatch, lead_times)
    view = data.Filters(date(2026, 7, 6), date(2026, 7, 13))
    # 5 h bins of the positive lead times: 1 and 3 h in [0, 5), 6 h in [5, 10), 12 h in [10, 15)
    bins = data.changes_histogram(view, 5 * 3600)
    assert bins.rows() == [(0.0, 2), (5 * 3600.0, 1), (10 * 3600.0, 1)]
    every = data.changes(view)
    assert every.height == 6
    drawn = data.changes(view, limit=3)
    assert drawn.height == 3 and drawn.equals(data.changes(view, limit=3))  # the same sample every time
    assert drawn.join(every, on=["commit_sha", "deployment_id"], how="anti").height == 0
    assert drawn["deployed_at"].is_sorted()
    assert data.changes(view, limit=10).equals(every)


# -- funnel: figures and Sankey links in SQL ------------------------------------------------------------------


def python_flows(artifacts, order: dict[str, int]) -> dict[tuple, int]:
    """The funnel page's former Sankey loop over every artifact, kept as the reference for ``funnel_flows``."""
    links: dict[tuple, int] = {}
    for r in artifacts.iter_rows(named=True):
        path = []
        if r["built_at"] is not None or r["published_at"] is not None:
            path.append("built")
        if r["published_at"] is not None:
            path.append("published")
        envs = sorted(r["environments_reached"] or [], key=lambda e: (order.get(e, 99), e))
        path.extend(e for e in envs if order.get(e, 99) < 4)
        pairs = list(zip(path, path[1:], strict=False))
        last = path[-1] if path else None
        if last is not None:
            pairs += [(last, e) for e in envs if order.get(e, 99) == 4]
            if r["status"] != "in production":
                pairs.append((last, r["status"]))
        for pair in pairs:
            links[pair] = links.get(pair, 0) + 1
    return links


def flows_of(frame) -> dict[tuple, int]:
    links = {(r["from"], r["to"]): r["artifacts"] for r in frame.iter_rows(named=True)}
    assert len(links) == frame.height  # one row per link
    return links


@pytest.mark.parametrize("prefer_mart", [True, False], ids=["mart", "fallback"])
def test_funnel_figures_and_flows_by_hand(flow_world, prefer_mart, monkeypatch):
    from datetime import date

    point_at(monkeypatch, flow_world)
    every = data.Filters(date(2026, 7, 6), date(2026, 7, 9))
    # world.build_flow_world: pay 1.0.0, 1.0.2 and cards 2.0.0 in production, pay 1.0.1 superseded in uat,
    # cards 2.0.1 stuck in dev, pay 1.0.3 in flight (built only)
    summary = data.funnel_summary(every, prefer_mart)
    assert summary.select("furthest_stage", "status", "artifacts").rows() == [
        ("built", "in flight", 1), ("development", "stuck", 1), ("testing", "superseded", 1),
        ("production", "in production", 3)]
    reached = {name: summary[f"reached_{name}"].sum() for name, _ in data.FUNNEL_STAGES}
    # published: all but 1.0.3 and 2.0.1; development: pay 1.0.0–1.0.2 and 2.0.1; testing: pay 1.0.0–1.0.2;
    # staging: 1.0.0 and 1.0.2; production: those two and 2.0.0
    assert reached == {"built": 6, "published": 4, "development": 4, "testing": 3, "staging": 2, "production": 3}
    # the paths, environments by tier then name (uat before stage, dev before sandbox; perf has no tier):
    # 1.0.0 built → published → dev → uat → stage → prod-eu and → prod-us; 1.0.1 built → published → dev →
    # sandbox → uat → superseded; 1.0.2 built → published → dev → uat → stage → prod-eu; 1.0.3 built → in flight;
    # 2.0.0 built → published → prod-us; 2.0.1 built → dev → stuck
    assert flows_of(data.funnel_flows(every, prefer_mart)) == {
        ("built", "published"): 4, ("published", "dev"): 3, ("dev", "uat"): 2, ("uat", "stage"): 2,
        ("stage", "prod-eu"): 2, ("stage", "prod-us"): 1, ("dev", "sandbox"): 1, ("sandbox", "uat"): 1,
        ("uat", "superseded"): 1, ("built", "in flight"): 1, ("built", "dev"): 1, ("dev", "stuck"): 1,
        ("published", "prod-us"): 1}
    stuck = data.funnel_artifacts(every, prefer_mart, stuck=True)
    # 2.0.1 in dev from day 1 09:00 to "now", day 3 12:00; the p90 after dev: the mart's over pay's three
    # exits from dev (1 h each), the fallback's over the development dwell times 1, 2 and 1 h (h = 1.8)
    assert stuck.select("version", "hours_in_stage", "stage_p90_hours").rows() == [
        ("2.0.1", 51.0, pytest.approx(1.0 if prefer_mart else 1.8))]
    assert data.funnel_artifacts(every, prefer_mart, limit=2)["version"].to_list() == ["1.0.3", "1.0.2"]

    cards = data.Filters(date(2026, 7, 6), date(2026, 7, 9), team=("cards",))
    assert data.funnel_summary(cards, prefer_mart).select("furthest_stage", "status", "artifacts").rows() == [
        ("development", "stuck", 1), ("production", "in production", 1)]
    assert flows_of(data.funnel_flows(cards, prefer_mart)) == {
        ("built", "dev"): 1, ("dev", "stuck"): 1, ("built", "published"): 1, ("published", "prod-us"): 1}
    # days 2–3: pay 1.0.2 and 1.0.3 (statuses still from the whole history)
    late = data.Filters(date(2026, 7, 8), date(2026, 7, 9))
    assert flows_of(data.funnel_flows(late, prefer_mart)) == {
        ("built", "published"): 1, ("published", "dev"): 1, ("dev", "uat"): 1, ("uat", "stage"): 1,
        ("stage", "prod-eu"): 1, ("built", "in flight"): 1}
    assert data.funnel_artifacts(late, prefer_mart).height == 2


@pytest.mark.parametrize("prefer_mart", [True, False], ids=["mart", "fallback"])
@pytest.mark.parametrize("which", ["world", "sample", "flow_world"])
def test_funnel_sql_equals_the_former_python(which, prefer_mart, request, monkeypatch):
    """The SQL links, reach counts and stage × status table equal what the page computed from every artifact."""
    import polars as pl

    point_at(monkeypatch, request.getfixturevalue(which))
    options = data.filter_options()
    for view in (options.everything(), options.default()):
        artifacts = data.funnel_artifacts(view, prefer_mart)
        order = data.environment_order()
        assert flows_of(data.funnel_flows(view, prefer_mart, order)) == python_flows(artifacts, order)
        summary = data.funnel_summary(view, prefer_mart)
        for name, _ in data.FUNNEL_STAGES:
            assert summary[f"reached_{name}"].sum() == artifacts[f"{name}_at"].is_not_null().sum()
        by_stage = (artifacts.group_by("furthest_stage", "stage_rank", "status").agg(pl.len().alias("artifacts"))
                    .sort("stage_rank", "status").select("furthest_stage", "status", "artifacts"))
        assert summary.select("furthest_stage", "status", "artifacts").rows() == by_stage.rows()
        stuck = artifacts.filter(pl.col("status") == "stuck").sort("hours_in_stage", descending=True,
                                                                   maintain_order=True)
        assert data.funnel_artifacts(view, prefer_mart, stuck=True).equals(stuck)
        assert data.funnel_artifacts(view, prefer_mart, limit=5).equals(artifacts.head(5))


# -- vulnerable artifacts: built in view, bounded -------------------------------------------------------------


def test_vulnerable_artifacts_by_build_date_and_limit(scan_world, monkeypatch):
    from datetime import date

    point_at(monkeypatch, scan_world)

    def listed(view, limit=None):
        rows = data.vulnerable_artifacts(view, limit)
        return [(r["service"], r["version"], r["vulnerabilities_critical"], r["vulnerabilities_high"], r["scans"])
                for r in rows.iter_rows(named=True)]

    # world.build_scan_world: production first (cards 2.0.0 with 3 high before pay 1.0.0 with 1 high: its latest
    # scan's, on day 3, after the sidebar's last day), then pay 1.0.1 (staging, 2 critical); 2.0.1 never scanned
    every = data.Filters(date(2026, 7, 6), date(2026, 7, 8))
    assert listed(every) == [("cards", "2.0.0", 0, 3, 1), ("pay", "1.0.0", 0, 1, 2), ("pay", "1.0.1", 2, 0, 1)]
    assert data.vulnerable_artifacts_count(every) == 3
    assert listed(every, limit=2) == listed(every)[:2]
    # built on day 0: pay 1.0.0 only (scanned on days 0 and 3); built days 1–2: cards 2.0.0, pay 1.0.1
    day0 = data.Filters(date(2026, 7, 6), date(2026, 7, 6))
    assert listed(day0) == [("pay", "1.0.0", 0, 1, 2)] and data.vulnerable_artifacts_count(day0) == 1
    later = data.Filters(date(2026, 7, 7), date(2026, 7, 8))
    assert listed(later) == [("cards", "2.0.0", 0, 3, 1), ("pay", "1.0.1", 2, 0, 1)]
    assert data.vulnerable_artifacts_count(later) == 2
    cards = data.Filters(date(2026, 7, 6), date(2026, 7, 8), team=("cards",))
    assert listed(cards) == [("cards", "2.0.0", 0, 3, 1)] and data.vulnerable_artifacts_count(cards) == 1
    # the fallback without marts.artifact_risk: the same artifacts, production first, then the latest scanned
    scanned = data.scanned_artifacts(every)
    assert scanned.select("service", "version", "scans", "reached_production").rows() == [
        ("pay", "1.0.0", 2, True), ("cards", "2.0.0", 1, True), ("pay", "1.0.1", 1, False)]
    assert data.scanned_artifacts(day0).select("version", "scans").rows() == [("1.0.0", 2)]
    assert data.scanned_artifacts(later)["version"].to_list() == ["2.0.0", "1.0.1"]
