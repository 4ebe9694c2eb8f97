"""Alerts (pipelines/alerts.py, pipelines/sql/alerts/*.sql, docs/alerts.md) on hand-built scenarios.

Each scenario is a small world of hand-written events (the builders of test_dora_scenarios / test_flow_world),
ingested and built; then the evaluator runs at chosen wall-clock instants. Every alert kind must fire once on
the scenario built for it, stay quiet while its condition holds, and clear when it stops holding; the fired
and cleared CloudEvents land in ``<landing>/alerts/date=…/`` and load back as stages alert_fired / alert_cleared
without changing any condition (an alert is derived from the figures: it must not move them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines import alerts, tasks, warehouse
from tests.conftest import FIXTURES, query
from tests.unit.test_dora_scenarios import World
from tests.unit.test_flow_world import FlowWorld, at, normalised, rows

N1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # the evaluator's clock (wall clock, not the data's time)
N2 = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
N3 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
N4 = datetime(2026, 11, 2, 9, 45, tzinfo=UTC)
N5 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def evaluate(paths, now, **settings) -> alerts.Evaluation:
    return tasks.evaluate_alerts(paths, alerts.AlertSettings(**settings) if settings else None, now)


def alert_files(paths) -> list[Path]:
    return sorted((paths.landing / "alerts").rglob("*.ndjson")) if (paths.landing / "alerts").exists() else []


def keys(events: list[dict]) -> list[str]:
    return [e["data"]["condition_key"] for e in events]


def assert_quiet(paths, now, active: int) -> None:
    """Re-evaluating while the conditions hold: nothing fired or cleared, no file written."""
    files = alert_files(paths)
    again = evaluate(paths, now)
    assert (again.fired, again.cleared, again.active, again.file) == ([], [], active, None)
    assert alert_files(paths) == files


def load_alerts_back(paths) -> list[dict]:
    """Ingest the alert files from the landing zone, rebuild, and return the alert rows of marts.lifecycle_events."""
    tasks.ingest(paths, [paths.landing / "alerts"])
    tasks.build(paths)
    return rows(paths, "select * from marts.lifecycle_events where stage in ('alert_fired', 'alert_cleared') "
                       "order by occurred_at, stage desc")


# ---------------------------------------------------------------------------------------------------------
# deployment_failed
# ---------------------------------------------------------------------------------------------------------


def test_a_failed_production_deployment_fires_once_and_clears_with_the_fix(paths, tmp_path):
    """Service svc (team payments), prod-eu (cluster = environment), minutes after 2026-07-01 08:00 UTC:
      09:00 1.0.0 deployed;  10:00 1.1.0 fails to deploy (a failed attempt: 1.0.0 keeps running)
    → the latest outcome in prod-eu is a failure: one condition deployment_failed/svc/prod-eu/prod-eu, fired at
      N1 with id = alert_id(key, N1); quiet at N2.
      11:00 1.1.0 deployed (the fix) → at N3 the latest outcome is a success, not a rollback: cleared (id =
      alert_id(key, N1, 'cleared'), naming the fired id).
      12:00 rolled back to 1.0.0 → at N4 the same condition holds again: a new episode, fired at N4 with a new id.
    Loaded back: fired N1, cleared N3, fired N4 as lifecycle events of svc / payments / prod-eu (production).
    """
    w = FlowWorld(team="payments")
    a1, a2 = w.purl("1.0.0"), w.purl("1.1.0")
    w.deploy("d1", 60, a1, "prod-eu", "deployed")
    w.failed_deploy("f2", 120, a2, "prod-eu")
    w.build_warehouse(paths, tmp_path)
    key = "deployment_failed/svc/prod-eu/prod-eu"

    first = evaluate(paths, N1)
    assert (keys(first.fired), first.cleared, first.active) == ([key], [], 1)
    fired = first.fired[0]
    assert fired["id"] == alerts.alert_id(key, N1)
    assert (fired["type"], fired["source"], fired["subject"], fired["time"]) == (
        "dev.lifecycle.alert.fired.v1", "lifecycle-analytics/alerts", key, "2026-11-02T09:00:00.000000Z")
    data = fired["data"]
    assert {k: data[k] for k in ("kind", "severity", "service", "team", "environment", "cluster", "artifact_id",
                                 "version", "deployment_id")} == {
        "kind": "deployment_failed", "severity": "high", "service": "svc", "team": "payments",
        "environment": "prod-eu", "cluster": "prod-eu", "artifact_id": normalised(a2), "version": "1.1.0",
        "deployment_id": "f2"}
    assert data["summary"] == "svc 1.1.0 failed to deploy to prod-eu at 2026-07-01 10:00 UTC"
    assert data["values"]["reason"] == "failed"
    assert [json.loads(line) for line in first.file.read_text().splitlines()] == [fired]
    assert first.file.parent.name == "date=2026-11-02" and first.file.name.startswith("alerts-20261102T090000")

    assert_quiet(paths, N2, active=1)

    w.deploy("d3", 180, a2, "prod-eu", "upgraded")
    w.build_warehouse(paths, tmp_path)
    fixed = evaluate(paths, N3)
    assert (fixed.fired, keys(fixed.cleared), fixed.active) == ([], [key], 0)
    cleared = fixed.cleared[0]
    assert cleared["type"] == "dev.lifecycle.alert.cleared.v1"
    assert cleared["id"] == alerts.alert_id(key, N1, "cleared") != fired["id"]
    assert (cleared["data"]["alert_id"], cleared["data"]["fired_at"], cleared["data"]["cleared_at"]) == (
        fired["id"], "2026-11-02T09:00:00.000000Z", "2026-11-02T09:30:00.000000Z")
    assert_quiet(paths, N3, active=0)

    w.deploy("d4", 240, a1, "prod-eu", "rolledback")
    w.build_warehouse(paths, tmp_path)
    again = evaluate(paths, N4)
    assert (keys(again.fired), again.cleared) == ([key], [])
    assert again.fired[0]["id"] == alerts.alert_id(key, N4) != fired["id"]
    assert again.fired[0]["data"]["summary"] == "svc was rolled back to 1.0.0 in prod-eu at 2026-07-01 12:00 UTC"
    assert len(alert_files(paths)) == 3

    state = query(paths, "select condition_key, fired_at, cleared_at from alerts.state order by fired_at")
    assert state == [(key, N1, N3), (key, N4, None)]

    events = load_alerts_back(paths)
    assert [(e["stage"], e["occurred_at"], e["event_id"]) for e in events] == [
        ("alert_fired", N1, fired["id"]), ("alert_cleared", N3, cleared["id"]),
        ("alert_fired", N4, again.fired[0]["id"])]
    assert {(e["source_tool"], e["service"], e["team"], e["environment"], e["environment_tier"], e["severity"])
            for e in events} == {("lifecycle-analytics", "svc", "payments", "prod-eu", "production", "high")}
    assert query(paths, "select count(*) from marts.lifecycle_events where raw_type like 'dev.lifecycle.alert.%' "
                        "and stage is null") == [(0,)]
    # the alerts' own events change no condition: nothing fires or clears
    assert_quiet(paths, N5, active=1)


# ---------------------------------------------------------------------------------------------------------
# artifact_stuck
# ---------------------------------------------------------------------------------------------------------


def test_a_stuck_artifact_fires_once_and_clears_when_it_moves_on(paths, tmp_path):
    """Service svc, dev → qa → prod-eu (minutes after 08:00 UTC):
      a1 1.0.0: dev 08:00, qa 09:00, prod-eu 10:00;  a2 1.1.0: dev 11:00, qa 12:00, prod-eu 13:00;
      a3 1.2.0: dev 14:00, qa 15:00 — and waits;  service other: o1 deployed to prod-eu 18:00 (as_of = 18:00).
    Time after `deployed` qa before the next milestone: a1 3600, a2 3600 → p90 3600 (n = 2 < 5: all services'
    exits, the same two). a3 has been in `deployed` qa for 18:00 − 15:00 = 10800 s > 3600 → stuck: one
    condition, summary "waited 3.0 h … (p90 1.0 h)". 19:00 a3 deployed to prod-eu → it moved on: cleared.
    """
    w = FlowWorld()
    plan = {"a1": ("1.0.0", {"dev": 0, "qa": 60, "prod-eu": 120}),
            "a2": ("1.1.0", {"dev": 180, "qa": 240, "prod-eu": 300}),
            "a3": ("1.2.0", {"dev": 360, "qa": 420})}
    for name, (version, envs) in plan.items():
        for env, minutes in envs.items():
            w.deploy(f"{name}-{env}", minutes, w.purl(version), env)
    w.deploy("o1", 600, w.purl("9.0.0", service="other"), "prod-eu", service="other")
    w.build_warehouse(paths, tmp_path)
    a3 = normalised(w.purl("1.2.0"))
    key = f"artifact_stuck/svc/{a3}/deployed/qa"

    first = evaluate(paths, N1)
    assert (keys(first.fired), first.cleared) == ([key], [])
    data = first.fired[0]["data"]
    assert (data["kind"], data["severity"], data["environment"], data["artifact_id"], data["version"]) == (
        "artifact_stuck", "warning", "qa", a3, "1.2.0")
    assert data["summary"] == "svc 1.2.0 has waited 3.0 h after deployed in qa (p90 1.0 h)"
    assert (data["values"]["time_in_stage_s"], data["values"]["stage_p90_s"]) == (10800, pytest.approx(3600))

    # the fired alert, loaded back, is an event of 2026-11-02 — but as_of stays the newest delivery event
    load_alerts_back(paths)
    a3_row, = rows(paths, "select as_of, time_in_stage_s from marts.artifact_journeys where artifact_id = ?", [a3])
    assert a3_row == {"as_of": at(600), "time_in_stage_s": 10800}
    assert_quiet(paths, N2, active=1)

    w.deploy("a3-prod-eu", 660, w.purl("1.2.0"), "prod-eu")
    w.build_warehouse(paths, tmp_path)
    moved = evaluate(paths, N3)
    assert (moved.fired, keys(moved.cleared), moved.active) == ([], [key], 0)

    events = load_alerts_back(paths)
    assert [(e["stage"], e["artifact_id"], e["environment"]) for e in events] == [
        ("alert_fired", a3, "qa"), ("alert_cleared", a3, "qa")]
    # loading the alerts back moves no as_of: the artifacts' journeys are unchanged, nothing fires again
    assert_quiet(paths, N4, active=0)


# ---------------------------------------------------------------------------------------------------------
# vulnerable_in_production
# ---------------------------------------------------------------------------------------------------------

HARBOR_SCAN = FIXTURES / "written" / "harbor" / "default.scanning_completed.json"
ALPINE_DIGEST = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"


def test_a_vulnerable_artifact_in_production_fires_once_and_clears_when_replaced(paths, tmp_path):
    """Harbor's documented SCANNING_COMPLETED (2023-04-03 06:12 UTC): alpine:3.17 (digest 954b…) has 1 critical,
    3 high findings. Service edge deploys it to prod-eu on 2023-04-03 07:00 and to staging at 07:30 (not
    production: no condition there) → one condition vulnerable_in_production/edge/prod-eu/<alpine>, severity
    critical (a critical finding). 2023-04-04 07:00 edge deploys 3.18 (another digest, never scanned) to
    prod-eu → 3.17 no longer runs in production: cleared.
    """
    w = World(service="edge", repo="org/edge")
    purl_317 = f"pkg:oci/alpine@{ALPINE_DIGEST.replace(':', '%3A')}?tag=3.17"
    purl_318 = "pkg:oci/alpine@sha256%3A" + "b" * 64 + "?tag=3.18"
    w.deploy("e1", "2023-04-03T07:00:00Z", purl_317, "prod-eu")
    w.deploy("e2", "2023-04-03T07:30:00Z", purl_317, "staging")
    (tmp_path / "w1").mkdir()
    tasks.ingest(paths, [HARBOR_SCAN])
    w.build(paths, tmp_path / "w1")
    artifact = f"pkg:oci/alpine@{ALPINE_DIGEST}"
    key = f"vulnerable_in_production/edge/prod-eu/{artifact}"

    first = evaluate(paths, N1)
    assert (keys(first.fired), first.cleared) == ([key], [])
    data = first.fired[0]["data"]
    assert (data["severity"], data["service"], data["environment"], data["version"]) == (
        "critical", "edge", "prod-eu", "3.17")
    assert data["summary"] == "edge 3.17 runs in prod-eu with 1 critical and 3 high vulnerabilities found by Trivy"
    assert (data["values"]["vulnerabilities_critical"], data["values"]["vulnerabilities_high"],
            data["values"]["clusters"]) == (1, 3, ["prod-eu"])

    assert_quiet(paths, N2, active=1)

    w.deploy("e3", "2023-04-04T07:00:00Z", purl_318, "prod-eu", "upgraded")
    w.build(paths, tmp_path / "w1")
    replaced = evaluate(paths, N3)
    assert (replaced.fired, keys(replaced.cleared), replaced.active) == ([], [key], 0)

    events = load_alerts_back(paths)
    assert [(e["stage"], e["service"], e["artifact_id"], e["severity"]) for e in events] == [
        ("alert_fired", "edge", artifact, "critical"), ("alert_cleared", "edge", artifact, "critical")]
    assert_quiet(paths, N4, active=0)


# ---------------------------------------------------------------------------------------------------------
# dora_regression
# ---------------------------------------------------------------------------------------------------------


def daily_deliveries(w: World, days: range, lead_hours, incidents_on: tuple[int, ...] = ()) -> None:
    """Per day d (hours 24·d after 2026-07-01 08:00 UTC): svc commits at +0, packages at +0.5 and deploys to
    prod-eu at +lead_hours(d); pay commits at +0.2, packages at +0.5, deploys at +1.2 (lead 1 h), and on the
    days in incidents_on has an incident in prod-eu from +2 to +3 (attributed to that day's deployment)."""
    for d in days:
        for service, commit_at, deploy_at in (("svc", 0, lead_hours(d)), ("pay", 0.2, 1.2)):
            repo = f"org/{service}"
            commit, = w.push(f"{service}-p{d}", [(f"c{d}", 24 * d + commit_at)], repo=repo)
            purl = w.package(f"{service}-k{d}", 24 * d + 0.5, commit, f"1.{d}.0", service, repo)
            w.deploy(f"{service}-d{d}", 24 * d + deploy_at, purl, "prod-eu", "upgraded", service)
        if d in incidents_on:
            w.incident(f"pay-I{d}", 24 * d + 2, "prod-eu", resolved=24 * d + 3, service="pay")


def test_a_dora_regression_fires_once_and_clears_in_a_newer_period(paths, tmp_path):
    """Two services deploy to prod-eu once a day, days 0–34 (2026-07-01 … 08-04); as_of = the last deployment
    (day 34), so the window `7d` = days 28–34 and its baseline `28d_before_7d` = days 0–27.
      svc: lead time 1 h on days 0–27, 3 h on days 28–34 → p50 3600 (n = 28) vs 10800 (n = 7): +200 % > +50 %,
        n ≥ 5 both → lead_time_p50 fires. Its tiers do not drop (lead time elite both; 7 deployment days in
        every 7-day block: on-demand both; change fail rate 0: elite both).
      pay: lead time 1 h throughout; incidents on days 29 and 31 (2 h after that day's deployment, resolved 1 h
        later) are attributed to those deployments → 2 failed changes of 7 = 0.2857 in `7d` (2024 tiers: elite
        ≤ 0.05, high ≤ 0.20, medium ≤ 0.10, else low → low) vs 0 of 28 (elite) → change_fail_rate_tier
        fires. Recovery time has n = 2 < 5: not compared.
    Days 35–41 add a week with svc back to 1 h and no incident: `7d` = days 35–41, baseline days 7–34.
      svc: 3600 (n = 7) vs p50 of 21 × 3600 and 7 × 10800 = 3600 → not worse: cleared;
      pay: 0/7 (elite) vs 2/28 = 0.0714 (high) → better: cleared.
    """
    w = World()
    daily_deliveries(w, range(35), lambda d: 3 if d >= 28 else 1, incidents_on=(29, 31))
    w.build(paths, tmp_path)
    windows = query(paths, "select period, period_start, period_end from marts.dora_metrics "
                           "where period in ('7d', '28d_before_7d') and group_by = 'overall'")
    assert sorted(windows) == [
        ("28d_before_7d", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 29, tzinfo=UTC)),
        ("7d", datetime(2026, 7, 29, tzinfo=UTC), datetime(2026, 8, 5, tzinfo=UTC))]
    lead_key, cfr_key = "dora_regression/svc/lead_time_p50", "dora_regression/pay/change_fail_rate_tier"

    first = evaluate(paths, N1)
    assert (sorted(keys(first.fired)), first.cleared) == (sorted([lead_key, cfr_key]), [])
    by_key = {e["data"]["condition_key"]: e["data"] for e in first.fired}
    assert by_key[lead_key]["summary"] == (
        "svc: lead time p50 rose 200% to 3.0 h in the last 7 days from 1.0 h over the 28 days before (n = 7 / 28)")
    assert (by_key[lead_key]["values"]["current_p50_s"], by_key[lead_key]["values"]["baseline_p50_s"]) == (
        10800, 3600)
    assert by_key[cfr_key]["summary"] == (
        "pay: change fail rate tier dropped from elite to low (last 7 days vs the 28 days before; n = 7 / 28)")
    assert {d["severity"] for d in by_key.values()} == {"warning"}

    # loaded back, the alerts (events of 2026-11-02) do not move the rolling windows: still quiet
    load_alerts_back(paths)
    assert sorted(query(paths, "select period, period_start, period_end from marts.dora_metrics "
                               "where period in ('7d', '28d_before_7d') and group_by = 'overall'")) == sorted(windows)
    assert_quiet(paths, N2, active=2)

    daily_deliveries(w, range(35, 42), lambda d: 1)
    w.build(paths, tmp_path)
    newer = evaluate(paths, N3)
    assert (newer.fired, sorted(keys(newer.cleared)), newer.active) == ([], sorted([lead_key, cfr_key]), 0)


def test_dora_regression_thresholds_are_parameters(paths, tmp_path):
    """The same first five weeks: svc's +200 % does not exceed a 250 % threshold, and with min_n = 8 the 7-day
    window's 7 changes and 7 deployments are too few for either condition."""
    w = World()
    daily_deliveries(w, range(35), lambda d: 3 if d >= 28 else 1, incidents_on=(29, 31))
    w.build(paths, tmp_path)
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        loose = alerts.conditions(conn, alerts.AlertSettings(lead_time_increase=2.5))
        strict_n = alerts.conditions(conn, alerts.AlertSettings(min_n=8))
        default = alerts.conditions(conn)
    assert [c.condition_key for c in loose] == ["dora_regression/pay/change_fail_rate_tier"]
    assert strict_n == []
    assert [c.condition_key for c in default] == ["dora_regression/pay/change_fail_rate_tier",
                                                  "dora_regression/svc/lead_time_p50"]


# ---------------------------------------------------------------------------------------------------------
# the events themselves
# ---------------------------------------------------------------------------------------------------------


def test_alert_events_in_both_cloudevents_modes_map_to_the_alert_stages(paths):
    """The written fixtures (tests/fixtures/written/lifecycle-alerts: a fired event in structured mode, its
    cleared event posted in binary mode) → one alert_fired and one alert_cleared with the data's attributes;
    the configured-by-default tier of prod-eu is production; none is left as an unmapped CloudEvent."""
    folder = FIXTURES / "written" / "lifecycle-alerts"
    tasks.ingest(paths, [folder])
    tasks.build(paths)
    got = rows(paths, "select stage, event_id, occurred_at, service, team, app, environment, environment_tier, "
                      "cluster, artifact_id, version, severity from marts.lifecycle_events order by occurred_at")
    artifact = "pkg:oci/fund-transfer@sha256:" + "a" * 64
    common = {"service": "fund-transfer", "team": "payments", "app": "core-banking", "environment": "prod-eu",
              "environment_tier": "production", "cluster": "prod-eu-1", "artifact_id": artifact, "version": "1.4.0",
              "severity": "high"}
    assert got == [
        {"stage": "alert_fired", "event_id": "5d0c6a3e9b1f4f7a8c2e6d4b3a291f0e",
         "occurred_at": datetime(2026, 7, 1, 10, 5, tzinfo=UTC), **common},
        {"stage": "alert_cleared", "event_id": "0b7e2f4c1d9a8e6f5a3c2b1d0e9f8a7b",
         "occurred_at": datetime(2026, 7, 1, 11, 35, tzinfo=UTC), **common}]
    staged = rows(paths, "select alert_kind, condition_key, alert_id from staging.lifecycle_alerts")
    assert {(r["alert_kind"], r["condition_key"], r["alert_id"]) for r in staged} == {
        ("deployment_failed", "deployment_failed/fund-transfer/prod-eu/prod-eu-1", "5d0c6a3e9b1f4f7a8c2e6d4b3a291f0e")}


def test_the_alert_file_is_complete_when_it_appears(tmp_path):
    """write_events leaves no temporary file, names the file by date and time, and numbers a second file
    written in the same microsecond instead of overwriting the first."""
    events = [{"id": "1"}, {"id": "2"}]
    first = alerts.write_events(tmp_path, events, N1)
    second = alerts.write_events(tmp_path, events[:1], N1)
    assert first.relative_to(tmp_path).as_posix() == "alerts/date=2026-11-02/alerts-20261102T090000000000Z-1.ndjson"
    assert second.name == "alerts-20261102T090000000000Z-2.ndjson"
    assert [json.loads(line)["id"] for line in first.read_text().splitlines()] == ["1", "2"]
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name, second.name]


def test_every_kind_has_a_query_defined_in_words_and_a_section_in_the_docs():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    for kind in alerts.KINDS:
        assert alerts.definition(kind).startswith(f"{kind}: "), kind
        assert f"### `{kind}`" in docs and f"(../pipelines/sql/alerts/{kind}.sql)" in docs, kind
