"""marts.bottlenecks, marts.bottleneck_tools and marts.artifact_risk on a world where the scan queue dominates.

One world, built once for the module (times: minutes after t0 = 2026-07-01 08:00 UTC; B = t0 + 7 days):

  artifact  commit  build q/s/f          packaged published scanned (trivy)          dev start/done  prod-eu start/done
  a1 1.0.0  08:00   08:01 08:02 08:07    08:08    08:10     09:10 crit 1, high 2     09:13 09:15     09:26 09:30
  a2 1.1.0  10:00   10:01 10:03 10:08    10:09    10:10     11:40 HIGH 0, Low 3      11:43 11:45     11:56 12:00
  a3 1.2.0  B 08:00 +1   +2    +7        +8       +10       +20 (no counts)          +23   +25       +41   +45
  a4 1.3.0  B 13:00 (author clock 3 h fast: stamped B 13:00, really ~B 09:00)
                    +61  +62   +67       +68      +70       +80 (no counts)          —     +85       —     +100

Stage durations (s; stage reached ← previous milestone; active = the tool's own started→finished spans):
  a1: build_queued 60 · build_started 60 · build_finished 300 (active) · artifact_packaged 60 ·
      artifact_published 120 (harbor) · artifact_scanned 3600 (trivy, all waiting) ·
      deployed dev 300 (argocd; 120 active 09:13→09:15) · deployed prod-eu 900 (240 active) — total 5400
  a2: 60 · 120 · 300 · 60 · 60 · 5400 · 300 (120) · 900 (240) — total 7200
  a3: 60 · 60 · 300 · 60 · 120 · 600 · 300 (120) · 1200 (240) — total 2700
  a4: its commit is stamped after its build was queued → a negative first stage: left out of bottlenecks.
"""

from __future__ import annotations

import pytest

from pipelines.config import resolve_paths
from tests.unit.test_flow_world import FlowWorld, normalised, rows

B = 7 * 24 * 60


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("scanner")
    paths = resolve_paths(directory / "warehouse.duckdb")
    w = FlowWorld()
    ids = {}
    for name, base, q, s, f, pkg, pub, scan, findings, dev_start, dev, prod_start, prod in [
        ("a1", 0, 1, 2, 7, 8, 10, 70, {"critical": 1, "high": 2}, 73, 75, 86, 90),
        ("a2", 120, 121, 123, 128, 129, 130, 220, {"HIGH": 0, "Low": 3}, 223, 225, 236, 240),
        ("a3", B, B + 1, B + 2, B + 7, B + 8, B + 10, B + 20, None, B + 23, B + 25, B + 41, B + 45),
        ("a4", B + 300, B + 61, B + 62, B + 67, B + 68, B + 70, B + 80, None, None, B + 85, None, B + 100),
    ]:
        version = f"1.{int(name[1]) - 1}.0"
        chain = f"K-{name}"
        commit, = w.push(f"push-{name}", [(f"c-{name}", base)])
        purl = w.purl(version)
        w.build(f"{name}-bq", "queued", q, chain, commit)
        w.build(f"{name}-bs", "started", s, chain, commit)
        w.build(f"{name}-bf", "finished", f, chain, commit, purl)
        w.package(f"{name}-pkg", pkg, commit, version, chain=chain)
        w.publish(f"{name}-pub", pub, purl)
        w.scan(f"{name}-scan", scan, purl, "trivy", findings)
        if dev_start is not None:
            w.deploy_start(f"{name}-sdev", dev_start, purl, "dev")
        w.deploy(f"{name}-dev", dev, purl, "dev")
        if prod_start is not None:
            w.deploy_start(f"{name}-seu", prod_start, purl, "prod-eu")
        w.deploy(f"{name}-eu", prod, purl, "prod-eu")
        ids[name] = normalised(purl)
    w.build_warehouse(paths, directory)
    return paths, ids


def bottleneck(paths, period, start, tool, stage, environment=None) -> dict:
    found = rows(paths, "select * from marts.bottlenecks where period = ? and strftime(period_start, '%Y-%m-%d') = ? "
                        "and tool = ? and stage = ? and environment is not distinct from ?",
                 [period, start, tool, stage, environment])
    assert len(found) == 1, (period, start, tool, stage, environment)
    return found[0]


def test_the_scan_stage_is_attributed_to_the_scanner_and_is_all_waiting(world):
    """a1's rows, in journey order, as in the module docstring."""
    paths, ids = world
    got = rows(paths, "select stage, environment, tool, duration_s, active_s, waiting_s from marts.stage_durations "
                      "where artifact_id = ? order by seq", [ids["a1"]])
    assert [tuple(r.values()) for r in got] == [
        ("build_queued", None, "tekton", 60, 0, 60),
        ("build_started", None, "tekton", 60, 0, 60),
        ("build_finished", None, "tekton", 300, 300, 0),
        ("artifact_packaged", None, "tekton", 60, 0, 60),
        ("artifact_published", None, "harbor", 120, 0, 120),
        ("artifact_scanned", None, "trivy", 3600, 0, 3600),
        ("deployed", "dev", "argocd", 300, 120, 180),
        ("deployed", "prod-eu", "argocd", 900, 240, 660),
    ]


def test_the_scanner_is_the_bottleneck_of_the_first_week(world):
    """Week of 2026-06-29: journeys a1, a2 — 5400 + 7200 = 12600 s of commit-to-production time.

    trivy / artifact_scanned: 3600 + 5400 = 9000 s → share 9000 / 12600 = 0.714…; p50 of [3600, 5400] = 4500;
      p90 = 3600 + 0.9 · 1800 = 5220; waiting share 1.0; rank 1.
    argocd / deployed prod-eu: 900 + 900 = 1800 → share 1800 / 12600 = 0.142…; waiting (660 + 660) / 1800.
    No earlier week: previous_* null.
    """
    paths, _ = world
    trivy = bottleneck(paths, "week", "2026-06-29", "trivy", "artifact_scanned")
    assert (trivy["journeys"], trivy["period_journeys"], trivy["total_s"], trivy["period_lead_time_s"]) == (
        2, 2, 9000, 12600)
    assert trivy["share_of_lead_time"] == pytest.approx(9000 / 12600)
    assert (trivy["p50_s"], trivy["p90_s"], trivy["waiting_share"], trivy["rank_in_period"]) == (4500, 5220, 1.0, 1)
    assert trivy["previous_share_of_lead_time"] is None and trivy["share_change"] is None
    prod = bottleneck(paths, "week", "2026-06-29", "argocd", "deployed", "prod-eu")
    assert prod["share_of_lead_time"] == pytest.approx(1800 / 12600)
    assert prod["waiting_share"] == pytest.approx(1320 / 1800)
    week = rows(paths, "select sum(share_of_lead_time) as s from marts.bottlenecks "
                       "where period = 'week' and strftime(period_start, '%Y-%m-%d') = '2026-06-29'")[0]
    assert week["s"] == pytest.approx(1.0)


def test_trend_against_the_previous_week_and_the_month(world):
    """Week of 2026-07-06: journey a3 only (a4 has clock skew) — 2700 s.

    trivy: 600 / 2700 = 0.222…, previous week 0.714…, change = 600/2700 − 9000/12600 = −0.492…;
      p50 600 vs 4500 → p50_change −3900.
    argocd prod-eu: 1200 / 2700 = 0.444… → rank 1 this week (the scan queue was fixed); previous 1800/12600.
    a4 is counted in clock_skew_journeys_excluded = 1.
    Month 2026-07: a1, a2, a3 — 15300 s; trivy 9600 / 15300; p50 of [600, 3600, 5400] = 3600;
      p90 = 3600 + 0.8 · 1800 = 5040.
    """
    paths, _ = world
    trivy = bottleneck(paths, "week", "2026-07-06", "trivy", "artifact_scanned")
    assert trivy["share_of_lead_time"] == pytest.approx(600 / 2700)
    assert trivy["previous_share_of_lead_time"] == pytest.approx(9000 / 12600)
    assert trivy["share_change"] == pytest.approx(600 / 2700 - 9000 / 12600)
    assert (trivy["p50_s"], trivy["previous_p50_s"], trivy["p50_change_s"]) == (600, 4500, -3900)
    assert (trivy["rank_in_period"], trivy["clock_skew_journeys_excluded"]) == (2, 1)
    prod = bottleneck(paths, "week", "2026-07-06", "argocd", "deployed", "prod-eu")
    assert (prod["share_of_lead_time"], prod["rank_in_period"]) == (pytest.approx(1200 / 2700), 1)
    assert prod["share_change"] == pytest.approx(1200 / 2700 - 1800 / 12600)
    month = bottleneck(paths, "month", "2026-07-01", "trivy", "artifact_scanned")
    assert month["share_of_lead_time"] == pytest.approx(9600 / 15300)
    assert (month["p50_s"], month["p90_s"], month["journeys"]) == (3600, pytest.approx(5040), 3)


def test_the_scanner_ranks_first_among_bottleneck_tools(world):
    """Whole period (a1–a3): the longest stage is trivy's scan in a1 (3600) and a2 (5400), argocd's prod-eu
    deploy in a3 (1200 > 600). trivy: rank 1, 2 of 3 journeys, share 9600 / 15300; argocd: rank 2, 1 journey,
    share (1200 + 1200 + 1500) / 15300; tekton 1500 / 15300 and harbor 300 / 15300 are never the slowest.
    """
    paths, _ = world
    got = rows(paths, "select tool, rank, slowest_stage_journeys, journeys, share_of_lead_time, top_stage "
                      "from marts.bottleneck_tools where period = 'all' order by rank")
    assert [(r["tool"], r["rank"], r["slowest_stage_journeys"], r["journeys"]) for r in got] == [
        ("trivy", 1, 2, 3), ("argocd", 2, 1, 3), ("tekton", 3, 0, 3), ("harbor", 4, 0, 3)]
    assert [r["share_of_lead_time"] for r in got] == pytest.approx([9600 / 15300, 3900 / 15300, 1500 / 15300, 300 / 15300])
    assert got[0]["top_stage"] == "artifact_scanned"


def test_artifact_risk_counts_findings_by_severity_and_time_in_production(world):
    """Findings of the latest scan, severity keys in any case; null when the scan gave no counts.

    a1: critical 1, high 2 → total 3; ran in prod-eu 09:30 → 12:00 (a2 replaced it) = 9000 s.
    a2: high 0, low 3 → total 3; ran 12:00 → B 08:45 (a3) = 6 d 20 h 45 min = 593100 s.
    a3: scanned, no counts (null); ran B 08:45 → B 09:40 (a4) = 3300 s.
    a4: scanned, no counts; arrived B 09:40 = as_of (the newest event) → 0 s, still in production.
    risk_rank: all reached production; a1 first (a critical finding), then by time in production: a2, a3, a4.
    """
    paths, ids = world
    got = {r["artifact_id"]: r for r in rows(paths, "select * from marts.artifact_risk")}
    a1, a2, a3, a4 = (got[ids[k]] for k in ("a1", "a2", "a3", "a4"))
    assert (a1["vulnerabilities_critical"], a1["vulnerabilities_high"], a1["vulnerabilities_low"],
            a1["vulnerabilities_total"], a1["scanner"], a1["scans"]) == (1, 2, 0, 3, "trivy", 1)
    assert (a2["vulnerabilities_critical"], a2["vulnerabilities_high"], a2["vulnerabilities_low"],
            a2["vulnerabilities_total"]) == (0, 0, 3, 3)
    assert (a3["scans"], a3["vulnerabilities_critical"], a3["vulnerabilities_total"]) == (1, None, None)
    assert [x["production_running_s"] for x in (a1, a2, a3, a4)] == [9000, 593100, 3300, 0]
    assert [x["in_production_now"] for x in (a1, a2, a3, a4)] == [False, False, False, True]
    assert [x["risk_rank"] for x in (a1, a2, a3, a4)] == [1, 2, 3, 4]
