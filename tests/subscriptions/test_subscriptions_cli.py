"""`lifecycle subscriptions test | run --once | status`, and the one-line error for a broken rules file.

The world and its routing are those of test_subscriptions_dispatch.py (4 events, 7 deliveries).
"""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.subscriptions.conftest import write_rules
from tests.subscriptions.test_subscriptions_dispatch import rules_text, write_world


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _forget_log_handlers():
    """`run` logs to the stderr it was started with; CliRunner replaces stderr per call."""
    yield
    logging.getLogger("lifecycle.subscriptions").handlers.clear()


def test_test_prints_each_event_its_attributes_and_where_the_rules_send_it(world, sink):
    landing, _ = world
    rules = write_rules(landing.parent / "subscriptions.yaml", rules_text(sink))
    write_world(landing)
    [events] = list(landing.rglob("*.ndjson"))
    result = run("subscriptions", "test", str(events), "--rules", str(rules))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "1. dev.cdevents.service.deployed.0.3.0  id d1  at 2026-07-01T09:00:00Z"
    assert lines[1] == ("   stage=deployed environment=staging environment_tier=staging service=payments-api team=payments "
                        "app=bank outcome=success source_tool=argocd cluster=- raw_type=dev.cdevents.service.deployed.0.3.0")
    assert lines[2] == "   → load-test (cloudevents, binary, canonical) by rule staging-deploys"
    assert lines[3] == "   → archive (cloudevents, structured, original) by rule everything"
    assert "   → web-chat (chat) by rule web-production-failures" in lines
    assert "   → payments-chat (chat) by rule payments-production-failures" in lines
    assert lines[-1] == "4 events (0 records quarantined), 4 matched by a rule, 7 deliveries"
    assert sink.requests == []  # `test` never delivers


def test_run_once_then_status(world, sink):
    landing, state = world
    rules = write_rules(landing.parent / "subscriptions.yaml", rules_text(sink))
    write_world(landing)
    common = ["--rules", str(rules), "--landing", str(landing), "--state", str(state)]
    result = run("subscriptions", "run", "--once", "--backlog", *common)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("1 files, 4 events (0 files skipped as backlog): 7 deliveries queued; 7 delivered, "
                                     "0 to retry, 0 dead-lettered")
    assert len(sink.requests) == 7
    status = json.loads(run("subscriptions", "status", "--state", str(state), "--format", "json").output)
    assert {t: (s["delivered"], s["queue_depth"], s["dead_lettered"]) for t, s in status["targets"].items()} == {
        "archive": (4, 0, 0), "load-test": (1, 0, 0), "payments-chat": (1, 0, 0), "web-chat": (1, 0, 0)}
    assert (status["files"]["files"], status["files"]["events"], status["files"]["queued"]) == (1, 4, 7)
    table = run("subscriptions", "status", "--state", str(state))
    assert table.exit_code == 0 and "archive" in table.output and "1 files read (4 events, 7 deliveries)" in table.output
    metrics = (state / "metrics.prom").read_text().splitlines()
    assert 'lifecycle_subscriptions_delivered_total{target="archive"} 4' in metrics
    assert 'lifecycle_subscriptions_queue_depth{target="web-chat"} 0' in metrics
    assert "lifecycle_subscriptions_events_total 4" in metrics


def test_a_broken_rules_file_is_one_line_and_exit_code_1(world, tmp_path):
    landing, state = world
    rules = write_rules(tmp_path / "subscriptions.yaml", "targets: {t: {type: chat, url: 'http://x'}}\n"
                                                         "rules: [{name: r, to: [t, nowhere]}]\n")
    result = CliRunner().invoke(main, ["subscriptions", "run", "--once", "--rules", str(rules), "--landing", str(landing),
                                       "--state", str(state)])
    assert result.exit_code == 1
    assert result.output.strip() == f"lifecycle: error: {rules}: rule 'r': to: unknown target 'nowhere' (defined: t)"
    missing = CliRunner().invoke(main, ["subscriptions", "status", "--state", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "the dispatcher has not run yet" in missing.output
