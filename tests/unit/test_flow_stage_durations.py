"""marts.stage_durations on hand-worked journeys (definitions: docs/metrics.md, "Flow analytics").

Times are minutes after t0 = 2026-07-01 08:00 UTC, written as clock times; every figure in an assert is
derived in the docstring from the definitions.
"""

from __future__ import annotations

from tests.unit.test_flow_world import FlowWorld, at, normalised, rows


def durations(paths, artifact: str) -> list[tuple]:
    return [(r["stage"], r["environment"], r["tool"], r["entered_at"], r["exited_at"], r["duration_s"],
             r["active_s"], r["waiting_s"])
            for r in rows(paths, "select * from marts.stage_durations where artifact_id = ? order by seq",
                          [normalised(artifact)])]


def test_build_queued_ten_minutes_and_run_five_is_waiting_then_active(paths, tmp_path):
    """A build queued 10 min and run 5 min: 600 s waiting, 300 s active.

    Story (service svc, build chain K1):
      08:00 commit c1 · 08:02 build.queued · 08:12 build.started · 08:17 build.finished (artifact a1)
      08:18 artifact.packaged (tekton) · 08:20 artifact.published (harbor)
      08:25 deploy to dev starts (argocd) · 08:28 deployed to dev
      09:00 deploy to prod-eu starts · 09:04 deployed to prod-eu — the journey ends (first production arrival).
    Rows (stage reached: previous milestone → this one, tool of this stage, duration = active + waiting):
      build_queued        08:00→08:02  tekton   120 = 0 + 120   (commit → CI picks it up)
      build_started       08:02→08:12  tekton   600 = 0 + 600   (queued: no started→finished span covers it)
      build_finished      08:12→08:17  tekton   300 = 300 + 0   (tekton's build_started→build_finished span)
      artifact_packaged   08:17→08:18  tekton    60 = 0 + 60
      artifact_published  08:18→08:20  harbor   120 = 0 + 120
      deployed dev        08:20→08:28  argocd   480 = 180 + 300 (argocd's deploy span 08:25→08:28)
      deployed prod-eu    08:28→09:04  argocd  2160 = 240 + 1920 (deploy span 09:00→09:04)
    They add up to the journey: 120+600+300+60+120+480+2160 = 3840 s = 08:00→09:04.
    """
    w = FlowWorld()
    c1, = w.push("p1", [("c1", 0)])
    a1 = w.purl("1.0.0")
    w.build("bq", "queued", 2, "K1", c1)
    w.build("bs", "started", 12, "K1", c1)
    w.build("bf", "finished", 17, "K1", c1, a1)
    w.package("pkg", 18, c1, "1.0.0", chain="K1")
    w.publish("pub", 20, a1)
    w.deploy_start("s-dev", 25, a1, "dev")
    w.deploy("d-dev", 28, a1, "dev", "deployed")
    w.deploy_start("s-eu", 60, a1, "prod-eu")
    w.deploy("d-eu", 64, a1, "prod-eu", "deployed")
    w.build_warehouse(paths, tmp_path)

    assert durations(paths, a1) == [
        ("build_queued", None, "tekton", at(0), at(2), 120, 0, 120),
        ("build_started", None, "tekton", at(2), at(12), 600, 0, 600),
        ("build_finished", None, "tekton", at(12), at(17), 300, 300, 0),
        ("artifact_packaged", None, "tekton", at(17), at(18), 60, 0, 60),
        ("artifact_published", None, "harbor", at(18), at(20), 120, 0, 120),
        ("deployed", "dev", "argocd", at(20), at(28), 480, 180, 300),
        ("deployed", "prod-eu", "argocd", at(28), at(64), 2160, 240, 1920),
    ]
    total = rows(paths, "select sum(duration_s) as s, bool_and(reached_production) as p from marts.stage_durations")[0]
    assert (total["s"], total["p"]) == (3840, True)


def test_journey_ends_at_the_first_production_arrival_and_tests_are_stages(paths, tmp_path):
    """Acceptance tests are a stage of their own; later production clusters are not in the journey.

    Story: 08:00 commit c1 · 08:10 packaged a1 (no build events: the journey goes commit → packaged)
      08:20 deployed qa · 08:25 acceptance tests start in qa · 08:40 they fail · 08:50 rerun starts ·
      09:00 rerun passes · 09:30 deployed prod-eu · 10:00 deployed prod-us (after the journey's end).
    Rows:
      artifact_packaged  08:00→08:10  tekton   600 = 0 + 600
      deployed qa        08:10→08:20  argocd   600 = 0 + 600   (no deploy_started: no span)
      test_finished qa   08:20→09:00  tekton  2400 = 1500 + 900 — the first *passing* run is the milestone;
                         spans 08:25→08:40 (900) and 08:50→09:00 (600) are tekton's work
      deployed prod-eu   09:00→09:30  argocd  1800 = 0 + 1800
    prod-us (10:00) is after the first production arrival: no row.
    """
    w = FlowWorld()
    c1, = w.push("p1", [("c1", 0)])
    a1 = w.package("pkg", 10, c1, "1.0.0")
    w.deploy("d-qa", 20, a1, "qa")
    w.test("t1s", "started", 25, "qa", purl=a1)
    w.test("t1f", "finished", 40, "qa", purl=a1, outcome="failure")
    w.test("t2s", "started", 50, "qa", purl=a1)
    w.test("t2f", "finished", 60, "qa", purl=a1, outcome="success")
    w.deploy("d-eu", 90, a1, "prod-eu")
    w.deploy("d-us", 120, a1, "prod-us")
    w.build_warehouse(paths, tmp_path)

    assert durations(paths, a1) == [
        ("artifact_packaged", None, "tekton", at(0), at(10), 600, 0, 600),
        ("deployed", "qa", "argocd", at(10), at(20), 600, 0, 600),
        ("test_finished", "qa", "tekton", at(20), at(60), 2400, 1500, 900),
        ("deployed", "prod-eu", "argocd", at(60), at(90), 1800, 0, 1800),
    ]


def test_a_commit_clock_ahead_gives_a_flagged_negative_duration(paths, tmp_path):
    """Clock skew is kept and flagged, not hidden; bottlenecks leave the journey out.

    Story: commit c1 stamped 11:00 by an author clock 3 h fast; packaged 08:10; deployed prod-eu 08:40.
    Rows: artifact_packaged 11:00→08:10 = −10200 s, is_clock_skew, active/waiting null;
          deployed prod-eu 08:10→08:40 = 1800 s (waiting).
    marts.bottlenecks has no row for the journey and counts it: clock_skew_journeys_excluded = 1 — visible on
    the other journey's rows (c2 08:00 → packaged 08:05 → prod-eu 08:20, the same week).
    """
    w = FlowWorld()
    c1, = w.push("p1", [("c1", 180)])
    a1 = w.package("pkg1", 10, c1, "1.0.0")
    w.deploy("d1", 40, a1, "prod-eu")
    w2 = FlowWorld(service="web", repo="org/web", items=w.items)
    c2, = w2.push("p2", [("c2", 0)])
    a2 = w2.package("pkg2", 5, c2, "2.0.0")
    w2.deploy("d2", 20, a2, "prod-eu")
    w.build_warehouse(paths, tmp_path)

    got = rows(paths, "select stage, duration_s, active_s, waiting_s, is_clock_skew from marts.stage_durations "
                      "where artifact_id = ? order by seq", [normalised(a1)])
    assert [tuple(r.values()) for r in got] == [
        ("artifact_packaged", -10200, None, None, True),
        ("deployed", 1800, 0, 1800, False),
    ]
    b = rows(paths, "select tool, stage, journeys, share_of_lead_time, clock_skew_journeys_excluded "
                    "from marts.bottlenecks where period = 'week' order by tool")
    assert [tuple(r.values()) for r in b] == [
        ("argocd", "deployed", 1, 900 / 1200, 1),
        ("tekton", "artifact_packaged", 1, 300 / 1200, 1),
    ]
