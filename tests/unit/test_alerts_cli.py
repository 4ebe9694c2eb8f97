"""`lifecycle alerts evaluate` / `lifecycle alerts list` on the failed-deployment scenario of test_alerts.py."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipelines.cli import main
from tests.unit.test_flow_world import FlowWorld


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_evaluate_fires_once_and_list_shows_the_active_alert(paths, tmp_path):
    """svc 1.0.0 in prod-eu at 09:00, 1.1.0 fails there at 10:00 → 1 alert; evaluating again fires nothing;
    `list` reads the snapshot, which the evaluation republished."""
    w = FlowWorld(team="payments")
    w.deploy("d1", 60, w.purl("1.0.0"), "prod-eu", "deployed")
    w.failed_deploy("f2", 120, w.purl("1.1.0"), "prod-eu")
    w.build_warehouse(paths, tmp_path)

    before = run("alerts", "list", "--format", "json")
    assert before.exit_code == 0 and json.loads(before.output) == []

    first = run("alerts", "evaluate")
    assert first.exit_code == 0, first.output
    assert "svc 1.1.0 failed to deploy to prod-eu at 2026-07-01 10:00 UTC" in first.output
    assert "1 fired, 0 cleared, 1 active; written to " in first.output

    again = run("alerts", "evaluate")
    assert again.output.strip() == "0 fired, 0 cleared, 1 active"

    listed = run("alerts", "list", "--format", "json")
    active, = json.loads(listed.output)
    assert (active["kind"], active["condition_key"], active["team"], active["cleared_at"]) == (
        "deployment_failed", "deployment_failed/svc/prod-eu/prod-eu", "payments", None)
    table = run("alerts", "list")
    assert table.exit_code == 0 and table.output.rstrip().endswith("1 active")


def test_evaluating_before_any_build_says_what_to_do(paths):
    result = CliRunner().invoke(main, ["alerts", "evaluate"])
    assert result.exit_code == 1
    assert "the marts are not built yet (run `lifecycle build`)" in result.output


def test_thresholds_are_checked():
    result = CliRunner().invoke(main, ["alerts", "evaluate", "--min-n", "0"])
    assert result.exit_code == 2 and "--min-n" in result.output
