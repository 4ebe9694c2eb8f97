"""Flow analytics on the committed sample, checked against the scenario's ground truth where it has the figure.

`sample_events/expected.json` is computed by the generator from its world model (SCENARIO.md §5) — an
independent implementation. Definitions that differ are named here and in docs/metrics.md ("Flow analytics"):
the generator's `abandoned` (failed acceptance in qa) is our `rejected`.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pipelines import tasks
from pipelines.demo import EXPECTED, SAMPLE_DIR
from tests.conftest import query

FATES = {"rejected": "abandoned"}  # ours → the generator's name


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from pipelines.config import resolve_paths

    paths = resolve_paths(tmp_path_factory.mktemp("sample-flow") / "warehouse.duckdb")
    tasks.ingest(paths, [SAMPLE_DIR])
    tasks.build(paths)
    return paths, json.loads(EXPECTED.read_text())


def test_every_artifact_gets_the_generators_furthest_stage_and_fate(sample):
    paths, truth = sample
    expected = {a: t for a, t in zip(
        [r[0] for r in query(paths, "select normalise_purl(unnest(?::varchar[]))",
                             [[t["artifact_id"] for t in truth["artifacts"]]])],
        truth["artifacts"], strict=True)}
    got = dict((a, (step, outcome)) for a, step, outcome in query(
        paths, "select artifact_id, furthest_step, outcome from marts.artifact_journeys"))
    assert set(got) == set(expected)
    wrong = {a: (got[a], (t["furthest_stage"], t["fate"])) for a, t in expected.items()
             if (got[a][0], FATES.get(got[a][1], got[a][1])) != (t["furthest_stage"], t["fate"])}
    assert wrong == {}


def test_funnel_counts_and_fates_match(sample):
    """The funnel (cumulative) and the fates equal the generator's; fates it counts zero times are absent."""
    paths, truth = sample
    reached = dict(query(paths, "select step, reached from marts.artifact_funnel where group_by = 'overall'"))
    assert reached == truth["funnel"]["artifacts"]
    fates = Counter({FATES.get(o, o): n for o, n in query(
        paths, "select outcome, count(*) from marts.artifact_journeys group by outcome")})
    assert dict(fates) == {k: n for k, n in truth["funnel"]["fates"].items() if n}
    stopped = query(paths, "select sum(stopped_here), sum(stopped_in_flight), sum(stopped_rejected) "
                           "from marts.artifact_funnel where group_by = 'overall'")[0]
    assert stopped == (truth["funnel"]["artifacts"]["built"], truth["funnel"]["fates"]["in_flight"],
                       truth["funnel"]["fates"]["abandoned"])


def test_stuck_artifacts_are_in_flight_beyond_their_stage_p90(sample):
    paths, _ = sample
    bad = query(paths, "select artifact_id from marts.artifact_journeys where is_stuck and "
                       "not (outcome = 'in_flight' and time_in_stage_s > stage_p90_s)")
    assert bad == []


def test_deployments_per_environment_match(sample):
    paths, truth = sample
    got = {env: {"success": s, "failure": f} for env, s, f in query(
        paths, "select environment, sum(deployments)::int, sum(failed_deployments)::int "
               "from marts.deployment_activity where period = 'month' group by environment")}
    assert got == truth["deployments_by_environment"]


@pytest.mark.parametrize("grain, key", [("service", "by_service"), ("team", "by_team"), ("app", "by_app")])
def test_activity_per_service_team_and_app_matches(sample, grain, key):
    paths, truth = sample
    got = {g: (p, c, d, i) for g, p, c, d, i in query(
        paths, "select group_value, production_deployments, changes, changes_deployed, incidents "
               "from marts.team_activity where period = 'all' and group_by = ?", [grain])}
    assert got == {g: (t["production_deployments"], t["changes"], t["changes_deployed"], t["incidents"])
                   for g, t in truth["dora"][key].items()}


def test_production_deployments_by_kind_match(sample):
    paths, truth = sample
    overall = truth["dora"]["overall"]
    got = query(paths, "select sum(new_artifact_deployments)::int, sum(rollbacks)::int, sum(redeploys)::int "
                       "from marts.deployment_activity where period = 'month' and is_production")[0]
    assert got == (overall["new_artifact_deployments"], overall["rollbacks"], overall["redeploys"])


def test_release_inventory_is_the_latest_successful_deployment_everywhere(sample):
    """The acceptance check: for every service × environment × cluster, marts.release_inventory holds the
    latest successful deployment of marts.deployments (the sample has no service_removed)."""
    paths, _ = sample
    inventory = set(query(paths, "select service, environment, cluster, deployment_id, artifact_id, deployed_at "
                                 "from marts.release_inventory"))
    latest = set(query(paths, """
        select service, environment, cluster, deployment_id, artifact_id, deployed_at
        from marts.deployments where outcome = 'success'
        qualify row_number() over (partition by service, environment, cluster
                                   order by deployed_at desc, deployment_id desc) = 1"""))
    assert inventory == latest
    assert len(inventory) == 39  # 8 services × 5 environments, statements has no prod-us


def test_stage_durations_add_up_to_each_production_journey(sample):
    paths, truth = sample
    bad = query(paths, """
        select artifact_id from marts.stage_durations where reached_production
        group by artifact_id, first_production_at, journey_started_at
        having abs(sum(duration_s) - (epoch(first_production_at) - epoch(journey_started_at))) > 0.001
            or sum(active_s) + sum(waiting_s) <> sum(duration_s)""")
    assert bad == []
    assert query(paths, "select count(distinct artifact_id) from marts.stage_durations where reached_production") == [
        (truth["funnel"]["artifacts"]["production"],)]


def test_the_slow_scanner_is_the_samples_bottleneck(sample):
    """SCENARIO §2.4a makes one tool deliberately slow: Harbor's scanner keeps every image 40–64 h in its queue
    and releases wait for the scan. So `harbor` / `artifact_scanned` is the first bottleneck (tool × stage),
    all of it waiting (Harbor's event gives no started→finished pair we count as active), and harbor is the
    first bottleneck tool — the slowest stage of more production journeys than any other tool. The release
    train's wait (argocd's promotion to qa) comes second."""
    paths, truth = sample
    top = query(paths, "select tool, stage, environment, share_of_lead_time, waiting_share, p50_s "
                       "from marts.bottlenecks where period = 'all' order by rank_in_period limit 2")
    assert [(t, s, e) for t, s, e, *_ in top] == [("harbor", "artifact_scanned", None), ("argocd", "deployed", "qa")]
    assert top[0][3] > top[1][3] and top[0][4] == 1.0
    assert 40 * 3600 <= top[0][5] <= 64 * 3600  # the scan's p50 lies in the documented queue time
    tools = query(paths, "select tool, slowest_stage_journeys, journeys from marts.bottleneck_tools "
                         "where period = 'all' order by rank")
    assert tools[0][0] == "harbor" and tools[1][0] == "argocd"
    assert tools[0][1] > tools[1][1] and tools[0][2] == truth["funnel"]["artifacts"]["production"]


def test_scan_findings_per_artifact_match(sample):
    """Every scanned artifact's vulnerability counts in marts.artifact_risk equal the generator's, and the
    ones with critical or high findings that reached production are the same artifacts."""
    paths, truth = sample
    scanned = [t for t in truth["artifacts"] if t["scanned_at"]]
    ids = [r[0] for r in query(paths, "select normalise_purl(unnest(?::varchar[]))",
                               [[t["artifact_id"] for t in scanned]])]
    expected = {a: tuple(t["vulnerabilities"].get(k, 0) for k in ("Critical", "High", "Medium", "Low"))
                for a, t in zip(ids, scanned, strict=True)}
    got = {a: (c, h, m, lo) for a, c, h, m, lo in query(
        paths, "select artifact_id, vulnerabilities_critical, vulnerabilities_high, vulnerabilities_medium, "
               "vulnerabilities_low from marts.artifact_risk where scans > 0")}
    assert got == expected
    vulnerable_in_prod = {a for a, t in zip(ids, scanned, strict=True) if t["reached_production"]
                          and (t["vulnerabilities"].get("Critical") or t["vulnerabilities"].get("High"))}
    assert set(r[0] for r in query(
        paths, "select artifact_id from marts.artifact_risk where reached_production "
               "and vulnerabilities_critical + vulnerabilities_high > 0")) == vulnerable_in_prod
