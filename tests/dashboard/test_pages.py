"""Every dashboard page under Streamlit's AppTest, on the hand-derived world of tests/dashboard/world.py.

Each expected number comes from the arithmetic in world.py's docstring; the CSV checks read the exact bytes a
download button would give.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines import warehouse
from tests.dashboard.conftest import PAGES, Dashboard, point_at
from tests.dashboard.world import build_world

# -- every page --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_without_exception(dashboard, name):
    d = dashboard(name)
    assert d.at.title, f"{name} has no title"
    assert not d.at.error, [e.value for e in d.at.error]
    assert not d.at.warning, [w.value for w in d.at.warning]


def test_no_snapshot_says_what_to_do(tmp_path, media, monkeypatch):
    from pipelines.config import resolve_paths

    point_at(monkeypatch, resolve_paths(tmp_path / "empty" / "warehouse.duckdb"))
    d = Dashboard(media)
    assert "run `lifecycle build`" in d.text()


# -- DORA overview -----------------------------------------------------------------------------------


def test_dora_overview_figures_and_too_little_data(dashboard):
    d = dashboard()  # the default page
    assert d.metric("Deployment frequency") == "8.6 per week"  # 16 / 13 days × 7
    assert d.metric("Change lead time (p50)") == "8.0 h"
    assert d.metric("Change fail rate") == "6.2 %"  # 1 / 16 (6.25 %, rounded half to even)
    assert d.metric("Deployment rework rate") == "6.2 %"
    assert d.metric("Failed deployment recovery time (p50)") == "Not enough data"
    assert d.metric("Incident time to restore (p50)") == "Not enough data"
    text = d.text()
    assert "not enough data (n = 1 < 5)" in text  # recovery and incident restore: one each
    assert "n = 15 changes · p90 17.2 h" in text
    assert "n = 16 production deployments on 11 days" in text
    assert "Elite] on-demand · DORA 2024" in text  # median 5.5 deployment days/week
    assert "High] DORA 2024: 20%" in text  # change fail rate 6.25 %: above elite's 5 %
    # the whole data range has no earlier period: no trend is invented
    assert all(m.proto.delta == "" for m in d.at.metric)
    assert "no previous 13-day period" in text


def test_dora_benchmark_year_changes_the_tier_source(dashboard):
    d = dashboard()
    d.set("dora_year", 2023)
    assert "High] DORA 2023: 10%" in d.text()


def test_team_filter_changes_the_numbers(dashboard):
    d = dashboard()
    d.set("f_team", ["payments"])
    assert d.metric("Deployment frequency") == "5.9 per week"  # 11 / 13 × 7
    assert d.metric("Change lead time (p50)") == "5.5 h"
    assert "p90 9.1 h" in d.text()
    assert d.metric("Change fail rate") == "9.1 %"  # 1 / 11
    d.set("f_team", ["cards"])
    assert d.metric("Deployment frequency") == "2.7 per week"  # 5 / 13 × 7
    assert d.metric("Change lead time (p50)") == "16.0 h"
    assert d.metric("Change fail rate") == "Not enough data"
    text = d.text()
    assert "not enough data (n = 5 < 10)" in text  # the rate and the p90
    assert "p90 not enough data (n = 5 < 10)" in text


def test_date_range_gives_a_trend_against_the_previous_period(dashboard):
    d = dashboard()
    d.set("f_dates", (date(2026, 7, 13), date(2026, 7, 17)))
    assert d.metric("Change lead time (p50)") == "9.0 h"  # 6, 7, 8, 9, 10, 18, 20
    assert d.metric_delta("Change lead time (p50)") == "+4.0 h"  # previous 5 days: 3, 4, 5, 14, 16 → 5 h
    assert d.metric("Deployment frequency") == "9.8 per week"  # 7 in 5 days
    assert d.metric_delta("Deployment frequency") == "+1.4 per week"  # 6 in the 5 days before
    assert d.metric("Change fail rate") == "Not enough data"  # n = 7 < 10
    assert "not enough data (n = 7 < 10)" in d.text()


def test_dora_breakdown_csv(dashboard):
    d = dashboard()
    by_team = d.csv("dora_by_team.csv")
    rows = {r["team"]: r for r in by_team.iter_rows(named=True)}
    assert rows["payments"]["production_deployments"] == 11
    assert rows["payments"]["lead_time_p50_hours"] == 5.5
    assert rows["payments"]["lead_time_p90_hours"] == 9.1
    assert rows["payments"]["change_fail_rate_pct"] == 9.1
    assert rows["cards"]["production_deployments"] == 5
    assert rows["cards"]["lead_time_p50_hours"] == 16.0
    assert rows["cards"]["lead_time_p90_hours"] is None  # n = 5 < 10: blank, not a number
    assert rows["cards"]["change_fail_rate_pct"] is None
    weekly = d.csv("dora_weekly.csv")
    assert weekly["week_start"].to_list() == ["2026-07-06T00:00:00Z", "2026-07-13T00:00:00Z"]
    assert weekly["deployments"].to_list() == [9, 7]


# -- filters: shared across pages and in the URL -----------------------------------------------------


def test_filters_are_written_to_the_url(dashboard):
    d = dashboard()
    assert d.at.query_params == {}  # the default view has a plain URL
    d.set("f_team", ["payments", "cards"])
    d.set("f_dates", (date(2026, 7, 13), date(2026, 7, 16)))
    assert d.at.query_params == {"team": ["payments", "cards"], "from": "2026-07-13", "to": "2026-07-16"}
    d.set("f_dates", (date(2026, 7, 13), date(2026, 7, 18)))  # up to the data's last day: left open
    assert d.at.query_params == {"team": ["payments", "cards"], "from": "2026-07-13"}
    d.set("f_team", [])
    assert d.at.query_params == {"from": "2026-07-13"}


def test_a_shared_url_opens_the_same_view(dashboard):
    d = dashboard(query={"team": "cards", "env": "prod", "from": "2026-07-13", "unknown": "kept"})
    assert d.at.multiselect(key="f_team").value == ["cards"]
    assert d.at.multiselect(key="f_environment").value == ["prod"]
    assert d.at.date_input(key="f_dates").value == (date(2026, 7, 13), date(2026, 7, 18))
    assert d.metric("Deployment frequency") == "2.3 per week"  # cards: day 8 and day 10 in 6 days


def test_unknown_filter_values_in_the_url_are_dropped(dashboard):
    d = dashboard(query={"team": ["nobody", "cards"], "from": "1999-01-01", "to": "not-a-date"})
    assert d.at.multiselect(key="f_team").value == ["cards"]
    assert d.at.date_input(key="f_dates").value == (date(2026, 7, 6), date(2026, 7, 18))


def test_filters_are_kept_across_pages(dashboard):
    d = dashboard()
    d.set("f_team", ["cards"])
    d.open("deployments")
    assert d.at.multiselect(key="f_team").value == ["cards"]
    assert d.metric("to production") == "5"
    assert d.metric("Deployments (all environments)") == "11"  # 5 prod + 6 staging
    d.open("lead_time")
    assert d.metric("p50 (median)") == "16.0 h"


# -- Deployments -------------------------------------------------------------------------------------


def test_deployments_page_counts_and_csv(dashboard):
    d = dashboard("deployments")
    assert d.metric("Deployments (all environments)") == "32"
    assert d.metric("to production") == "16"
    assert d.metric("Rollbacks") == "1"
    assert d.metric("Failed deployments") == "1"
    weekly = d.csv("deployments_per_week.csv")
    got = {(r["period_start"], r["environment"]): (r["deployments"], r["rollbacks"], r["failed_deployments"])
           for r in weekly.iter_rows(named=True)}
    assert got == {
        ("2026-07-06T00:00:00Z", "prod"): (9, 1, 0),
        ("2026-07-06T00:00:00Z", "staging"): (8, 0, 0),
        ("2026-07-13T00:00:00Z", "prod"): (7, 0, 1),
        ("2026-07-13T00:00:00Z", "staging"): (8, 0, 0),
    }
    listing = d.csv("deployments.csv")
    assert listing.height == 33  # 16 staging + 16 prod + 1 failed attempt
    assert listing.filter(pl.col("is_rollback"))["version"].to_list() == ["1.0.3"]
    calendar = d.csv("production_deployment_calendar.csv")
    assert calendar.height == 13  # every day of the range, days without a deployment as zeros
    assert dict(zip(calendar["day"], calendar["production_deployments"], strict=True))["2026-07-10"] == 2


def test_deployments_page_lists_the_newest_and_downloads_them_all(dashboard, monkeypatch):
    from dashboards import ui

    monkeypatch.setattr(ui, "LISTED_ROWS", 10)
    d = dashboard("deployments")
    assert d.metric("Deployments (all environments)") == "32"  # the tiles count every deployment in view
    assert "Listed: 10 of 33; the CSV download has them all." in d.text()
    assert d.at.dataframe[-1].value.shape[0] == 10
    listing = d.csv("deployments.csv")
    assert listing.height == 33
    assert listing["deployed_at"].to_list() == sorted(listing["deployed_at"].to_list(), reverse=True)


def test_deployments_environment_filter(dashboard):
    d = dashboard("deployments")
    d.set("f_environment", ["staging"])
    assert d.metric("Deployments (all environments)") == "16"
    assert d.metric("to production") == "0"
    assert d.csv("deployments_per_week.csv")["environment"].unique().to_list() \
        == ["staging"]


def test_deployments_per_day(dashboard):
    d = dashboard("deployments")
    d.set("deployments_grain", "day")
    daily = d.csv("deployments_per_day.csv").filter(pl.col("environment") == "prod")
    assert daily["deployments"].sum() == 16
    assert dict(zip(daily["period_start"], daily["deployments"], strict=True))["2026-07-10T00:00:00Z"] == 2


# -- Lead time ---------------------------------------------------------------------------------------


def test_lead_time_page(dashboard):
    d = dashboard("lead_time")
    assert d.metric("p50 (median)") == "8.0 h"
    assert d.metric("p90") == "17.2 h"
    assert d.metric("mean") == "9.0 h"  # (55 + 80) / 15
    assert d.metric("Changes delivered") == "15"
    changes = d.csv("changes_lead_time.csv")
    assert sorted(changes["lead_time_hours"].to_list()) == [*range(1, 11), 12, 14, 16, 18, 20]
    assert changes["deployed_environment"].unique().to_list() == ["prod"]
    d.set("f_service", ["cards"])
    assert d.metric("p50 (median)") == "16.0 h"
    assert d.metric("p90") == "Not enough data"
    assert "not enough data (n = 5 < 10)" in d.text()
    assert d.csv("lead_time_commits.csv").height == 5


# -- Journeys ----------------------------------------------------------------------------------------


def test_journey_of_the_release_that_broke(dashboard):
    d = dashboard("journeys")
    d.set("journey_search", "1.0.4")
    artifact = d.at.selectbox(key="journey_artifact")
    assert artifact.options == [o for o in artifact.options if o.startswith("pay 1.0.4 · ")] and artifact.options
    assert d.at.query_params["artifact"] == artifact.value
    assert d.metric("Version") == "1.0.4"
    assert d.metric("First commit → production") == "5.0 h"  # 08:00 → 13:00
    steps = d.csv("journey_steps.csv")
    assert list(zip(steps["step"], steps["tool"], steps["duration_hours"], strict=True)) == [
        ("first commit → packaged", "tekton", 0.25),
        ("packaged → published", "harbor", pytest.approx(1 / 12)),
        ("published → in staging", "argocd", pytest.approx(1 / 6)),
        ("in staging → in prod", "argocd", 4.5),
        ("in prod → incident opened", "pagerduty", 1.0),
        ("incident opened → rolled back", "argocd", 2.0),
    ]
    assert "Longest step: **in staging → in prod** — 4.5 h" in d.text()
    events = d.csv("journey_events.csv")
    # packaged, published, deployed ×2, its commit, the incident's two events
    assert sorted(events["stage"].to_list()) == sorted(
        ["artifact_packaged", "artifact_published", "deployed", "deployed", "commit", "incident_opened",
         "incident_resolved"])
    assert d.csv("journey_commits.csv")["lead_time_hours"].to_list() == [5.0]


def test_journeys_list_follows_the_filters(dashboard):
    d = dashboard("journeys")
    d.set("f_team", ["cards"])
    options = d.at.selectbox(key="journey_artifact").options
    assert len(options) == 6 and all(o.startswith("cards ") for o in options)


def test_a_shared_journey_url_opens_that_artifact(dashboard):
    d = dashboard("journeys")
    d.set("journey_search", "2.0.5")
    artifact = d.at.query_params["artifact"]
    again = dashboard()  # a new session opening /journeys?artifact=…
    again.at.query_params["artifact"] = artifact
    again.open("journeys")
    assert again.metric("Version") == "2.0.5"
    assert again.metric("Furthest stage") == "staging"


# -- Funnel ------------------------------------------------------------------------------------------


def test_funnel_page(dashboard):
    d = dashboard("funnel")
    assert d.metric("Artifacts built") == "17"
    assert d.metric("In production") == "15"
    assert d.metric("Stuck") == "1"
    assert d.metric("In flight") == "1"
    assert d.metric("Superseded") == "0"
    assert d.metric("In flight") == "1"  # pay 1.0.10, packaged 0 min before "now"
    stages = d.csv("funnel_stages.csv")
    assert list(zip(stages["stage"], stages["artifacts"], strict=True)) == [
        ("built", 17), ("published", 16), ("staging", 16), ("production", 15)]
    stuck = d.csv("stuck_artifacts.csv")
    assert stuck["version"].to_list() == ["2.0.5"]
    assert stuck["hours_in_stage"].to_list() == [23.8]  # 23.75 h in staging, above its p90 either way
    flows = {(r["from"], r["to"]): r["artifacts"] for r in d.csv("funnel_flows.csv").iter_rows(named=True)}
    # pay 1.0.10 was only packaged; every other artifact was published and deployed to staging
    assert flows == {("built", "published"): 16, ("published", "staging"): 16, ("staging", "prod"): 15,
                     ("staging", "stuck"): 1, ("built", "in flight"): 1}
    status = d.csv("funnel_status.csv")
    assert status.rows() == [("built", "in flight", 1), ("staging", "stuck", 1), ("production", "in production", 15)]
    assert "Listed: the newest 17 of the 17 artifacts in view." in d.text()
    every = d.csv("funnel_artifacts.csv")  # built when clicked, every artifact in view
    assert every.height == 17 and every["version"][0] == "1.0.10"  # newest first
    assert "stage_rank" not in every.columns


def test_funnel_team_filter(dashboard):
    d = dashboard("funnel")
    d.set("f_team", ["payments"])
    assert d.metric("Artifacts built") == "11"
    assert d.metric("Stuck") == "0"
    assert d.csv("funnel_artifacts.csv").height == 11
    d.set("f_dates", (date(2026, 7, 13), date(2026, 7, 18)))  # pay 1.0.5 … 1.0.10
    assert d.metric("Artifacts built") == "6"
    assert d.csv("funnel_stages.csv").rows()[0][:2] == ("built", 6)


# -- Incidents & risk --------------------------------------------------------------------------------


def test_incidents_page(dashboard):
    d = dashboard("incidents")
    assert d.metric("Incidents opened") == "1"
    assert d.metric("Attributed to a deployment") == "1"
    assert d.metric("Incident time to restore (p50)") == "Not enough data"
    incidents = d.csv("incidents.csv")
    row = incidents.row(0, named=True)
    assert (row["incident_id"], row["service"], row["team"], row["attribution"], row["attributed_version"]) == (
        "INC-1", "pay", "payments", "latest_production_deployment", "1.0.4")
    assert row["incident_time_to_restore_hours"] == 3.0
    assert row["deployment_recovery_hours"] == 2.0
    assert row["opened_at"] == "2026-07-10T14:00:00Z"
    risk = {r["service"]: r for r in d.csv("risk_by_service.csv").iter_rows(named=True)}
    assert {k: v for k, v in risk["pay"].items() if k != "service"} == {
        "production_deployments": 11, "failed_changes": 1, "rollbacks": 1, "failed_deployments": 0, "incidents": 1}
    assert {k: v for k, v in risk["cards"].items() if k != "service"} == {
        "production_deployments": 5, "failed_changes": 0, "rollbacks": 0, "failed_deployments": 1, "incidents": 0}
    assert "No scan results" in d.text()  # the world has no scanner


def test_vulnerable_artifacts_follow_the_date_range(scan_world, media, monkeypatch):
    point_at(monkeypatch, scan_world)  # world.build_scan_world
    d = Dashboard(media).open("incidents")
    assert "Listed: 3 of 3." in d.text()
    vulnerable = d.csv("vulnerable_artifacts.csv")  # built when clicked: every scanned artifact built in view
    assert vulnerable.select("service", "version").rows() == [("cards", "2.0.0"), ("pay", "1.0.0"), ("pay", "1.0.1")]
    d.set("f_dates", (date(2026, 7, 6), date(2026, 7, 6)))  # built on day 0: pay 1.0.0 (its latest scan: day 3)
    assert "Listed: 1 of 1." in d.text()
    assert d.csv("vulnerable_artifacts.csv").select("version", "vulnerabilities_high", "scans").rows() == [
        ("1.0.0", 1, 2)]
    # a snapshot without marts.artifact_risk: the same artifacts from their scan events
    from dashboards import data

    missing = data.missing
    monkeypatch.setattr(data, "missing", lambda table, columns=None: "missing" if table == "marts.artifact_risk"
                        else missing(table, columns))
    d.set("f_dates", (date(2026, 7, 6), date(2026, 7, 8)))
    assert "Listed: 3 of 3." in d.text()
    assert d.csv("scanned_artifacts.csv").select("version", "scans").rows() == [("1.0.0", 2), ("2.0.0", 1), ("1.0.1", 1)]


def test_incidents_filtered_away(dashboard):
    d = dashboard("incidents")
    d.set("f_team", ["cards"])
    assert d.metric("Incidents opened") == "0"
    assert "No incident opened in this view." in d.text()


# -- Warehouse health --------------------------------------------------------------------------------


def test_health_page(dashboard):
    d = dashboard("health")
    assert d.metric("Quarantined") == "1"
    assert d.metric("Link coverage") == "100.0%"
    reasons = d.csv("quarantine_reasons.csv")
    assert reasons["records"].to_list() == [1]
    assert reasons["reason"][0].startswith("not valid JSON")
    coverage = d.csv("link_coverage.csv")
    assert coverage.select("link_method", "production_deployments").rows() == [("artifact_packaged", 16)]
    by_stage = {(r["source_tool"], r["stage"]): r["events"] for r in d.csv("events_by_tool_and_stage.csv").iter_rows(named=True)}
    assert by_stage[("github", "commit")] == 17  # 11 pay + 6 cards pushes
    assert by_stage[("argocd", "rolled_back")] == 1
    assert by_stage[("pagerduty", "incident_opened")] == 1
    # the sidebar filters do not apply here
    d.set("f_team", ["cards"])
    assert d.metric("Quarantined") == "1"


# -- flow-analytics pages (marts.stage_durations, release_inventory/history, artifact_journeys outcomes) ----


def needs_flow_marts(paths) -> None:
    from tests.dashboard.conftest import flow_marts_missing

    if flow_marts_missing(paths):
        pytest.skip("the flow-analytics models are not in this tree (marts.stage_durations …)")


def test_bottlenecks_page(world, dashboard):
    needs_flow_marts(world)
    d = dashboard("bottlenecks")
    assert d.metric("Journeys to production") == "15"
    # the prod step: lead time − 0.5 h per journey = 135 − 7.5 = 127.5 h of 135 h
    assert d.metric("Biggest step's share") == "94%"
    assert "of lead time: deployed (prod) · argocd" in d.text()
    assert d.metric("…of which waiting") == "100 %"  # no started/finished spans in this world
    assert d.metric("Most often the slowest step") == "argocd"
    rows = {r["step"]: r for r in d.csv("bottlenecks.csv").iter_rows(named=True)}
    prod = rows["deployed (prod) · argocd"]
    assert (prod["journeys"], prod["share_of_lead_time_pct"], prod["p50_hours"], prod["p90_hours"]) == (
        15, 94.4, 7.5, 16.7)
    assert rows["artifact_packaged · tekton"]["share_of_lead_time_pct"] == 2.8  # 15 × 0.25 h of 135 h
    d.set("f_team", ["payments"])
    rows = {r["step"]: r for r in d.csv("bottlenecks.csv").iter_rows(named=True)}
    prod = rows["deployed (prod) · argocd"]
    # lead times 1…10 h: prod steps 0.5…9.5 h, 50 h of 55 h; p50 5.0 h, p90 (h = 8.1) 8.6 h
    assert (prod["journeys"], prod["share_of_lead_time_pct"], prod["p50_hours"], prod["p90_hours"]) == (
        10, 90.9, 5.0, 8.6)
    weekly = d.csv("bottlenecks_per_week.csv")
    assert sorted(set(weekly["period_start"].to_list())) == ["2026-07-06T00:00:00Z", "2026-07-13T00:00:00Z"]


def test_release_inventory_page(world, dashboard):
    needs_flow_marts(world)
    d = dashboard("inventory")
    matrix = {r["service"]: r for r in d.csv("release_matrix.csv").iter_rows(named=True)}
    assert (matrix["pay"]["staging"], matrix["pay"]["prod"]) == ("1.0.9", "1.0.9")
    assert (matrix["cards"]["staging"], matrix["cards"]["prod"]) == ("2.0.5", "2.0.4")
    drift = {(r["service"], r["environment"]): r["drift"] for r in d.csv("release_inventory.csv").iter_rows(named=True)}
    assert drift == {("pay", "staging"): "level", ("pay", "prod"): "level",
                     ("cards", "staging"): "ahead of production", ("cards", "prod"): "level"}
    d.set("inventory_as_of", date(2026, 7, 10))  # day 4, after the 16:00 rollback of pay to 1.0.3
    matrix = {r["service"]: r for r in d.csv("release_matrix.csv").iter_rows(named=True)}
    assert (matrix["pay"]["staging"], matrix["pay"]["prod"]) == ("1.0.4", "1.0.3")
    assert (matrix["cards"]["staging"], matrix["cards"]["prod"]) == ("2.0.2", "2.0.1")  # 2.0.2 reaches prod at 00:00
    d.set("f_environment", ["prod"])
    assert d.csv("release_inventory.csv")["environment"].unique().to_list() == ["prod"]


def test_funnel_status_comes_from_the_mart(world, dashboard):
    needs_flow_marts(world)
    d = dashboard("funnel")
    stuck = d.csv("stuck_artifacts.csv")
    # the mart's p90 is the service's own (5 cards exits from staging: 11.5 … 19.5 h, h = 3.6 → 18.7 h)
    assert stuck["stage_p90_hours"].to_list() == [18.7]


@pytest.fixture(scope="module")
def world_before_flow_marts(tmp_path_factory):
    """The same world as an older snapshot would have it: no flow-analytics marts or columns."""
    from pipelines.config import resolve_paths

    root = tmp_path_factory.mktemp("older")
    paths = resolve_paths(root / "data" / "warehouse.duckdb")
    build_world(paths, root)
    with warehouse.warehouse_lock(paths):
        with warehouse.writer(paths) as conn:
            for table in ("stage_durations", "bottlenecks", "bottleneck_tools", "release_inventory",
                          "release_history", "artifact_risk", "service_risk", "artifact_funnel"):
                conn.execute(f"drop table if exists marts.{table}")
            columns = {r[0] for r in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'artifact_journeys'").fetchall()}
            for (index,) in conn.execute(  # a column of an indexed table cannot be dropped (older snapshots had none)
                    "select index_name from duckdb_indexes() "
                    "where schema_name = 'marts' and table_name = 'artifact_journeys'").fetchall():
                conn.execute(f'drop index marts."{index}"')
            for column in ("outcome", "is_stuck", "in_stage_since", "time_in_stage_s", "stage_p90_s"):
                if column in columns:
                    conn.execute(f"alter table marts.artifact_journeys drop column {column}")
        warehouse.publish_snapshot(paths)
    return paths


@pytest.fixture
def older_dashboard(world_before_flow_marts, media, monkeypatch):
    point_at(monkeypatch, world_before_flow_marts)
    return lambda page: Dashboard(media).open(page)


@pytest.mark.parametrize(("name", "table"), [("bottlenecks", "marts.stage_durations"),
                                             ("inventory", "marts.release_inventory")])
def test_flow_pages_say_which_mart_they_wait_for(older_dashboard, name, table):
    d = older_dashboard(name)
    text = d.text()
    assert "Not available yet" in text and table in text and "lifecycle build" in text


def test_funnel_without_the_flow_columns(older_dashboard):
    d = older_dashboard("funnel")
    assert d.metric("Stuck") == "1"
    stuck = d.csv("stuck_artifacts.csv")
    # computed here: staging p90 over all 15 exits (0.5 … 9.5, 11.5 … 19.5 h; h = 12.6) = 16.7 h
    assert stuck["stage_p90_hours"].to_list() == [16.7]
    assert stuck["hours_in_stage"].to_list() == [23.8]


def test_incidents_without_the_risk_mart(older_dashboard):
    d = older_dashboard("incidents")
    assert "No scan results for the artifacts built in this view" in d.text()
