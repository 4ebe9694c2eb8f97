"""The funnel (marts.artifact_funnel) and each artifact's outcome (marts.artifact_journeys) by hand.

One world (times: minutes after t0 = 2026-07-01 08:00 UTC, as clock times; "+1 01:00" = the next day):
service svc goes dev → qa → staging → prod-eu; every artifact is packaged, then published 5 min later.

  artifact  packaged  dev    qa     staging  prod-eu  what happens
  a1 1.0.0  08:00     08:10  09:00  10:00    11:00    reaches production
  a2 1.1.0  12:00     12:10  13:00  14:00    —        a3 (newer) reaches staging at 17:00: superseded in staging
  a3 1.2.0  15:00     15:10  16:00  17:00    18:00    reaches production
  a4 1.3.0  19:00     19:10  20:00  —        —        acceptance tests in qa fail at 20:30: rejected
  a5 1.4.0  21:00     —      —      —        —        published 21:05, never deployed: a6 (newer) reached dev
  a6 1.5.0  22:00     22:10  23:00  —        —        waits in qa — stuck
  Service other: artifact o1 deployed to prod-eu at +1 01:00 — the newest event, so as_of = +1 01:00.

Stuck: a6's last milestone is `deployed` qa at 23:00 → 7200 s in it at as_of. Historical time after
`deployed` qa before the next milestone: a1 3600 (→ staging), a2 3600, a3 3600, a4 1800 (→ its failed
test) → p90 of [1800, 3600, 3600, 3600] = 3600 (h = 2.7 → v₂ + 0.7·(v₃ − v₂)); n = 4 < 5, so the basis is
all services (the same data here). 7200 > 3600 → stuck.
"""

from __future__ import annotations

import pytest

from pipelines.config import resolve_paths
from tests.unit.test_flow_world import FlowWorld, at, normalised, rows

H = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("funnel")
    paths = resolve_paths(directory / "warehouse.duckdb")
    w = FlowWorld()
    ids = {}
    plan = {  # name: (version, packaged hour, {env: hour})
        "a1": ("1.0.0", 0, {"dev": 0 + 1 / 6, "qa": 1, "staging": 2, "prod-eu": 3}),
        "a2": ("1.1.0", 4, {"dev": 4 + 1 / 6, "qa": 5, "staging": 6}),
        "a3": ("1.2.0", 7, {"dev": 7 + 1 / 6, "qa": 8, "staging": 9, "prod-eu": 10}),
        "a4": ("1.3.0", 11, {"dev": 11 + 1 / 6, "qa": 12}),
        "a5": ("1.4.0", 13, {}),
        "a6": ("1.5.0", 14, {"dev": 14 + 1 / 6, "qa": 15}),
    }
    for name, (version, packaged, envs) in plan.items():
        commit, = w.push(f"push-{name}", [(f"c-{name}", packaged * H - 10)])
        purl = w.package(f"{name}-pkg", packaged * H, commit, version)
        w.publish(f"{name}-pub", packaged * H + 5, purl)
        for env, hour in envs.items():
            w.deploy(f"{name}-{env}", hour * H, purl, env)
        ids[name] = normalised(purl)
    w.test("a4-ts", "started", 12 * H + 5, "qa", purl=w.purl("1.3.0"))
    w.test("a4-tf", "finished", 12.5 * H, "qa", purl=w.purl("1.3.0"), outcome="failure")
    o1 = w.purl("9.0.0", service="other")
    w.deploy("o1-eu", 17 * H, o1, "prod-eu", service="other")
    ids["o1"] = normalised(o1)
    w.build_warehouse(paths, directory)
    return paths, ids


def journeys(paths) -> dict[str, dict]:
    return {r["artifact_id"]: r for r in rows(paths, "select * from marts.artifact_journeys")}


def test_each_artifact_gets_its_outcome(world):
    paths, ids = world
    j = journeys(paths)
    got = {name: (j[ids[name]]["outcome"], j[ids[name]]["furthest_step"]) for name in ("a1", "a2", "a3", "a4", "a5", "a6")}
    assert got == {
        "a1": ("production", "production"),
        "a2": ("superseded", "staging"),
        "a3": ("production", "production"),
        "a4": ("rejected", "qa"),
        "a5": ("never_deployed", "published"),
        "a6": ("in_flight", "qa"),
    }


def test_an_artifact_superseded_in_staging_names_its_successor(world):
    """a2 reached staging at 14:00; a3, built later, arrived there at 17:00."""
    paths, ids = world
    a2 = journeys(paths)[ids["a2"]]
    assert (a2["superseded_by_artifact_id"], a2["superseded_at"]) == (ids["a3"], at(9 * H))
    a5 = journeys(paths)[ids["a5"]]
    assert (a5["superseded_by_artifact_id"], a5["superseded_at"]) == (ids["a6"], at(14 * H + 10))


def test_a_failed_acceptance_test_rejects_the_artifact(world):
    paths, ids = world
    a4 = journeys(paths)[ids["a4"]]
    assert (a4["rejected_stage"], a4["rejected_environment"], a4["rejected_at"]) == ("test_finished", "qa", at(12.5 * H))
    assert a4["is_stuck"] is False


def test_an_artifact_stuck_in_qa_beyond_the_p90(world):
    """a6: in `deployed` qa since 23:00, 7200 s at as_of (+1 01:00), p90 3600 → stuck (see module docstring)."""
    paths, ids = world
    a6 = journeys(paths)[ids["a6"]]
    assert (a6["current_stage"], a6["current_environment"], a6["in_stage_since"]) == ("deployed", "qa", at(15 * H))
    assert (a6["time_in_stage_s"], a6["stage_p90_s"], a6["stage_p90_basis"], a6["is_stuck"]) == (
        7200, pytest.approx(3600), "all_services", True)
    assert a6["as_of"] == at(17 * H)


def test_funnel_counts_yields_and_where_artifacts_stopped(world):
    """Service svc, cumulative by furthest step (a1 1000 = production, a2 staging, a3 production, a4 qa,
    a5 published, a6 qa):
      built 6 · published 6 (yield 1.0) · dev 5 (5/6) · qa 5 (1.0) · staging 3 (3/5) · production 2 (2/3);
      from the start: production 2/6.
    Stopped at: published 1 (never_deployed a5), dev 0, qa 2 (rejected a4; in flight a6, stuck),
      staging 1 (superseded a2), production 2.
    Every artifact was published (actually_reached 6); dev/qa/staging/production actually reached = 5, 5, 3, 2.
    """
    paths, _ = world
    got = rows(paths, "select * from marts.artifact_funnel where group_by = 'service' and group_value = 'svc' "
                      "order by step_order")
    assert [(r["step"], r["reached"], r["actually_reached"], r["stopped_here"]) for r in got] == [
        ("built", 6, 6, 0), ("published", 6, 6, 1), ("dev", 5, 5, 0), ("qa", 5, 5, 2), ("staging", 3, 3, 1),
        ("production", 2, 2, 2)]
    assert got[0]["yield_from_previous"] is None
    assert [r["yield_from_previous"] for r in got][1:] == pytest.approx([1.0, 5 / 6, 1.0, 3 / 5, 2 / 3])
    assert got[-1]["yield_from_start"] == pytest.approx(2 / 6)
    by_step = {r["step"]: r for r in got}
    assert by_step["published"]["stopped_never_deployed"] == 1
    qa = by_step["qa"]
    assert (qa["stopped_rejected"], qa["stopped_in_flight"], qa["stopped_stuck"]) == (1, 1, 1)
    assert by_step["staging"]["stopped_superseded"] == 1
    assert by_step["production"]["stopped_production"] == 2
    overall = {r["step"]: r["reached"]
               for r in rows(paths, "select * from marts.artifact_funnel where group_by = 'overall'")}
    assert overall == {"built": 7, "published": 7, "dev": 6, "qa": 6, "staging": 4, "production": 3}
