"""Release inventory (now and as of any instant), drift, and team / deployment activity by hand.

One world (times as clock times after t0 = 2026-07-01 08:00 UTC):

  svc (team payments, app payments-core; environments staging, prod-eu, prod-us):
    a1 1.0.0 packaged 08:00 → staging 08:30, prod-eu 09:00, prod-us 09:30
    a2 1.1.0 packaged 10:00 → staging 10:30, prod-eu 11:00, prod-us 11:30
    12:00 prod-eu rolled back to a1 (service.rolledback)
    13:00 prod-us re-synced with a2 (a redeploy: running_since stays 11:30)
    a3 1.2.0 packaged 13:00 → staging 13:30, prod-eu 14:00
    15:00 svc removed from staging — the newest event: as_of = 15:00
  web (team web, app portal): w1 packaged 09:00 → dev 09:10; prod-eu attempt fails 10:00; prod-eu 10:30

Commits: c1 07:50, c2 09:50, c3 12:50 (svc), cw 08:50 (web), each the commit of the next artifact.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models import MODELS_DIR
from pipelines.config import resolve_paths
from tests.unit.test_flow_world import FlowWorld, at, normalised, rows

H = 60
DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inventory")
    paths = resolve_paths(directory / "warehouse.duckdb")
    w = FlowWorld(team="payments", app="payments-core")
    c1, = w.push("p1", [("c1", -10)])
    a1 = w.package("a1", 0, c1, "1.0.0")
    w.deploy("a1-stg", 0.5 * H, a1, "staging")
    w.deploy("a1-eu", 1 * H, a1, "prod-eu")
    w.deploy("a1-us", 1.5 * H, a1, "prod-us")
    c2, = w.push("p2", [("c2", 2 * H - 10)])
    a2 = w.package("a2", 2 * H, c2, "1.1.0")
    w.deploy("a2-stg", 2.5 * H, a2, "staging")
    w.deploy("a2-eu", 3 * H, a2, "prod-eu")
    w.deploy("a2-us", 3.5 * H, a2, "prod-us")
    w.deploy("rb-eu", 4 * H, a1, "prod-eu", "rolledback")
    w.deploy("a2-us-again", 5 * H, a2, "prod-us")
    c3, = w.push("p3", [("c3", 5 * H - 10)])
    a3 = w.package("a3", 5 * H, c3, "1.2.0")
    w.deploy("a3-stg", 5.5 * H, a3, "staging")
    w.deploy("a3-eu", 6 * H, a3, "prod-eu")
    w.remove("rm-stg", 7 * H, "staging")

    web = FlowWorld(service="web", repo="org/web", team="web", app="portal", items=w.items)
    cw, = web.push("pw", [("cw", 1 * H - 10)])
    w1 = web.package("w1", 1 * H, cw, "3.0.0")
    web.deploy("w1-dev", 1 * H + 10, w1, "dev")
    web.failed_deploy("w1-eu-fail", 2 * H, w1, "prod-eu")
    web.deploy("w1-eu", 2.5 * H, w1, "prod-eu")
    w.build_warehouse(paths, directory)
    return paths, {"a1": normalised(a1), "a2": normalised(a2), "a3": normalised(a3), "w1": normalised(w1)}


def as_of_query() -> str:
    text = DOCS.read_text()
    block = re.search(r"<!-- release-inventory-as-of:begin -->\s*```sql\n(.*?)```\s*<!-- release-inventory-as-of:end -->",
                      text, re.S)
    assert block, "the as-of query is missing from docs/metrics.md"
    return block.group(1)


def inventory(paths, when: float | None = None) -> dict[tuple[str, str], dict]:
    """(service, environment) → row: the mart (when=None) or the documented as-of query at t0 + when minutes."""
    got = rows(paths, "select * from marts.release_inventory") if when is None else rows(paths, as_of_query(), [at(when)])
    return {(r["service"], r["environment"]): r for r in got}


def brief(row: dict) -> tuple:
    return (row["artifact_id"], row["deployed_at"], row["running_since"], row["versions_behind_production"],
            row["behind_production_since"], row["behind_production_s"])


def test_the_documented_as_of_query_is_the_mart_with_as_of_bound():
    mart = (MODELS_DIR / "marts" / "release_inventory.sql").read_text()
    mart = mart[mart.index("with params as ("):]
    documented = as_of_query()
    newest = "select as_of from intermediate.as_of"
    assert documented.replace("select ?::timestamptz as as_of", newest) == mart


def test_inventory_before_the_rollback(world):
    """11:45: a2 runs everywhere for svc (staging 10:30, prod-eu 11:00, prod-us 11:30) — production's newest is
    a2, nothing behind. web: w1 in dev (09:10) and prod-eu (10:30; the 10:00 failure changed nothing)."""
    paths, ids = world
    inv = inventory(paths, 3.75 * H)
    assert set(inv) == {("svc", "staging"), ("svc", "prod-eu"), ("svc", "prod-us"), ("web", "dev"), ("web", "prod-eu")}
    assert brief(inv["svc", "staging"]) == (ids["a2"], at(2.5 * H), at(2.5 * H), 0, None, None)
    assert brief(inv["svc", "prod-eu"]) == (ids["a2"], at(3 * H), at(3 * H), 0, None, None)
    assert brief(inv["svc", "prod-us"]) == (ids["a2"], at(3.5 * H), at(3.5 * H), 0, None, None)
    assert brief(inv["web", "prod-eu"]) == (ids["w1"], at(2.5 * H), at(2.5 * H), 0, None, None)
    assert inv["svc", "prod-eu"]["production_version"] == "1.1.0"
    assert (inv["svc", "prod-eu"]["team"], inv["svc", "prod-eu"]["app"]) == ("payments", "payments-core")


def test_inventory_just_after_the_rollback(world):
    """12:15: prod-eu runs a1 again since 12:00 (is_rollback); production's newest is a2 (prod-us) → prod-eu is
    1 version behind (a2, which reached production at 11:00) since max(12:00, 11:00) = 12:00: 900 s."""
    paths, ids = world
    inv = inventory(paths, 4.25 * H)
    eu = inv["svc", "prod-eu"]
    assert brief(eu) == (ids["a1"], at(4 * H), at(4 * H), 1, at(4 * H), 900)
    assert (eu["version"], eu["is_rollback"], eu["production_version"]) == ("1.0.0", True, "1.1.0")
    assert brief(inv["svc", "prod-us"]) == (ids["a2"], at(3.5 * H), at(3.5 * H), 0, None, None)
    assert brief(inv["svc", "staging"])[:4] == (ids["a2"], at(2.5 * H), at(2.5 * H), 0)


def test_inventory_after_the_next_release(world):
    """14:30: a3 in staging (13:30) and prod-eu (14:00); prod-us still a2 — last synced 13:00 (the redeploy),
    running since 11:30 — 1 version behind (a3) since max(11:30, 14:00) = 14:00: 1800 s. staging is level."""
    paths, ids = world
    inv = inventory(paths, 6.5 * H)
    assert brief(inv["svc", "prod-us"]) == (ids["a2"], at(5 * H), at(3.5 * H), 1, at(6 * H), 1800)
    assert brief(inv["svc", "prod-eu"]) == (ids["a3"], at(6 * H), at(6 * H), 0, None, None)
    assert brief(inv["svc", "staging"]) == (ids["a3"], at(5.5 * H), at(5.5 * H), 0, None, None)
    assert inv["svc", "prod-us"]["production_version"] == "1.2.0"


def test_current_inventory_drops_a_removed_service_and_equals_the_latest_deployments(world):
    """as_of = 15:00 (the removal): no svc row in staging; prod-us behind since 14:00 → 3600 s. Every other row
    is the latest successful deployment of marts.deployments in that service × environment × cluster."""
    paths, ids = world
    inv = inventory(paths)
    assert set(inv) == {("svc", "prod-eu"), ("svc", "prod-us"), ("web", "dev"), ("web", "prod-eu")}
    assert brief(inv["svc", "prod-us"]) == (ids["a2"], at(5 * H), at(3.5 * H), 1, at(6 * H), 3600)
    assert inv["svc", "prod-us"]["as_of"] == at(7 * H)
    latest = {(r["service"], r["environment"]): r["deployment_id"] for r in rows(
        paths, "select * from marts.deployments where outcome = 'success' "
               "qualify row_number() over (partition by service, environment, cluster order by deployed_at desc) = 1")}
    del latest["svc", "staging"]
    assert {k: r["deployment_id"] for k, r in inv.items()} == latest
    assert inventory(paths, 7 * H) == inv


def test_release_history_runs_and_what_ended_them(world):
    """Per place, each successful deployment until the next change there (valid_to, ended_by), and the run it
    belongs to (running_since: a redeploy of the artifact already running continues its run).
    svc staging: a1 08:30 → a2 10:30 → a3 13:30 → removed 15:00. prod-eu: a1 09:00 → a2 11:00 → the rollback to
    a1 12:00 → a3 14:00 (running). prod-us: a1 09:30 → a2 11:30 → a2 again 13:00 (a redeploy: running since 11:30).
    web: dev w1 09:10; prod-eu w1 10:30 (the 10:00 failure is not a release)."""
    paths, ids = world
    name = {v: k for k, v in ids.items()}
    got = {}
    for r in rows(paths, "select * from marts.release_history order by deployed_at"):
        got.setdefault((r["service"], r["environment"]), []).append(
            (name[r["artifact_id"]], r["deployed_at"], r["valid_to"], r["ended_by"], r["running_since"],
             r["is_rollback"], r["is_redeploy"]))
    assert got == {
        ("svc", "staging"): [("a1", at(0.5 * H), at(2.5 * H), "deployment", at(0.5 * H), False, False),
                             ("a2", at(2.5 * H), at(5.5 * H), "deployment", at(2.5 * H), False, False),
                             ("a3", at(5.5 * H), at(7 * H), "removal", at(5.5 * H), False, False)],
        ("svc", "prod-eu"): [("a1", at(1 * H), at(3 * H), "deployment", at(1 * H), False, False),
                             ("a2", at(3 * H), at(4 * H), "deployment", at(3 * H), False, False),
                             ("a1", at(4 * H), at(6 * H), "deployment", at(4 * H), True, False),
                             ("a3", at(6 * H), None, None, at(6 * H), False, False)],
        ("svc", "prod-us"): [("a1", at(1.5 * H), at(3.5 * H), "deployment", at(1.5 * H), False, False),
                             ("a2", at(3.5 * H), at(5 * H), "deployment", at(3.5 * H), False, False),
                             ("a2", at(5 * H), None, None, at(3.5 * H), False, True)],
        ("web", "dev"): [("w1", at(1 * H + 10), None, None, at(1 * H + 10), False, False)],
        ("web", "prod-eu"): [("w1", at(2.5 * H), None, None, at(2.5 * H), False, False)],
    }


def test_deployment_activity_per_environment(world):
    """Week of 2026-06-29, svc: prod-eu 4 deployments (a1, a2, the rollback to a1, a3: 3 new, 1 rollback,
    3 distinct artifacts); prod-us 3 (a1, a2, the a2 redeploy: 2 new, 1 redeploy, 2 artifacts); staging 3.
    web: dev 1; prod-eu 1 deployment and 1 failed attempt."""
    paths, _ = world
    got = {(r["service"], r["environment"]): (r["deployments"], r["new_artifact_deployments"], r["rollbacks"],
                                              r["redeploys"], r["failed_deployments"], r["artifacts"])
           for r in rows(paths, "select * from marts.deployment_activity where period = 'week'")}
    assert got == {
        ("svc", "prod-eu"): (4, 3, 1, 0, 0, 3),
        ("svc", "prod-us"): (3, 2, 0, 1, 0, 2),
        ("svc", "staging"): (3, 3, 0, 0, 0, 3),
        ("web", "dev"): (1, 1, 0, 0, 0, 1),
        ("web", "prod-eu"): (1, 1, 0, 0, 1, 1),
    }


def test_team_activity(world):
    """Whole period, per team:
    payments: 10 deployments (3 staging + 4 prod-eu + 3 prod-us), 7 to production, 0 failed, 1 service,
      3 artifacts built, 3 reached production, 3 commits, 3 delivered (c1 by 09:00, c2 by 11:00, c3 by 14:00).
    web: 2 deployments (dev, prod-eu), 1 to production, 1 failed attempt, 1 artifact, 1 to production,
      1 commit, 1 delivered."""
    paths, _ = world
    keys = ("deployments", "production_deployments", "failed_deployments", "services_deployed", "artifacts_built",
            "artifacts_to_production", "changes", "changes_deployed", "incidents")
    got = {r["group_value"]: tuple(r[k] for k in keys)
           for r in rows(paths, "select * from marts.team_activity where period = 'all' and group_by = 'team'")}
    assert got == {"payments": (10, 7, 0, 1, 3, 3, 3, 3, 0), "web": (2, 1, 1, 1, 1, 1, 1, 1, 0)}
    apps = {r["group_value"] for r in rows(paths, "select * from marts.team_activity where group_by = 'app'")}
    assert apps == {"payments-core", "portal"}
