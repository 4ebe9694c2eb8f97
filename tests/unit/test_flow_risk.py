"""marts.service_risk: a tiny sample must not top the ranking (hand-worked shrinkage).

Three services deploy to prod-eu once a day from 2026-07-01 08:00 (each deployment a new artifact):
  tiny:  1 deployment;  an incident 1 h after it                        → 1 failed change of 1 (raw 100 %)
  mid:  10 deployments; incidents 1 h after deployments 1, 4 and 7     → 3 failed changes of 10 (raw 30 %)
  clean: 30 deployments; no incident                                   → 0 of 30
Every incident names the service and prod-eu and is resolved 1 h later, so it is attributed to the latest
production deployment before it (DevLake's rule), which is then a failed change. The service's next
deployment, a day later, is within 48 h of the resolution: the incident's hotfix — rework, not itself a
failed change — so the counts above stand.

Overall failed-change rate = 4 / 41; prior weight k = 10:
  tiny  (1 + 10·4/41) / (1 + 10)  = 81/451  = 0.17960…
  mid   (3 + 10·4/41) / (10 + 10) = 163/820 = 0.19878…
  clean (0 + 10·4/41) / (30 + 10) = 1/41    = 0.02439…
→ risk_rank: mid 1, tiny 2, clean 3 (raw rates would put tiny first). The incident rate is the same here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import tasks
from tests.unit.test_flow_world import FlowWorld, rows

DAY = 24 * 60
HARBOR_SCAN = Path(__file__).resolve().parents[1] / "fixtures" / "written" / "harbor" / "default.scanning_completed.json"


def test_smoothed_rates_keep_a_tiny_sample_from_topping_the_list(paths, tmp_path):
    w = FlowWorld()
    for service, deployments, incidents_after in (("tiny", 1, {1}), ("mid", 10, {1, 4, 7}), ("clean", 30, set())):
        for n in range(1, deployments + 1):
            purl = w.purl(f"1.{n}.0", service=service)
            w.deploy(f"{service}-d{n}", (n - 1) * DAY, purl, "prod-eu", service=service)
            if n in incidents_after:
                w.incident(f"{service}-I{n}", (n - 1) * DAY + 60, "prod-eu", resolved=(n - 1) * DAY + 120,
                           service=service)
    w.build_warehouse(paths, tmp_path)

    got = {r["service"]: r for r in rows(paths, "select * from marts.service_risk")}
    assert {s: (r["production_deployments"], r["failed_changes"], r["incidents_attributed"]) for s, r in got.items()} == {
        "tiny": (1, 1, 1), "mid": (10, 3, 3), "clean": (30, 0, 0)}
    assert got["tiny"]["change_fail_rate"] == 1.0
    assert got["tiny"]["change_fail_rate_smoothed"] == pytest.approx(81 / 451)
    assert got["mid"]["change_fail_rate_smoothed"] == pytest.approx(163 / 820)
    assert got["clean"]["change_fail_rate_smoothed"] == pytest.approx(1 / 41)
    assert got["mid"]["incident_rate_smoothed"] == pytest.approx(163 / 820)
    assert [s for s, _ in sorted(got.items(), key=lambda kv: kv[1]["risk_rank"])] == ["mid", "tiny", "clean"]


def test_a_harbor_scan_gives_the_artifacts_findings(paths):
    """Harbor's SCANNING_COMPLETED (Default format; Harbor's documented example, a Trivy scan of alpine:3.17
    finding 1 critical, 3 high, 5 medium, 3 low — 12 in all) → marts.artifact_risk, by severity; nothing else
    is known of the artifact, so it never reached production."""
    if not HARBOR_SCAN.exists():
        pytest.skip("the Harbor fixtures are not in this checkout")
    tasks.ingest(paths, [HARBOR_SCAN])
    tasks.build(paths)
    got = rows(paths, "select * from marts.artifact_risk")
    assert len(got) == 1
    r = got[0]
    assert r["artifact_id"].startswith("pkg:oci/alpine@sha256:")
    assert (r["scans"], r["scanner"], r["scanner_name"]) == (1, "harbor", "Trivy")
    assert (r["vulnerabilities_critical"], r["vulnerabilities_high"], r["vulnerabilities_medium"],
            r["vulnerabilities_low"], r["vulnerabilities_other"], r["vulnerabilities_total"]) == (1, 3, 5, 3, 0, 12)
    assert (r["reached_production"], r["production_running_s"]) == (False, 0)
