"""Acceptance: landing-zone events reach the targets their rules name, at least once, through outages and restarts.

The world (hand-worked; lifecycle.toml: payments-api → team payments, storefront → team web):

| event | canonical stage / environment (tier) / team | targets |
|---|---|---|
| E1 deployment d1: payments-api 1.4.2 → staging | deployed / staging (staging) / payments | load-test, archive |
| E2 deployment d2: payments-api 1.4.2 → prod-eu | deployed / prod-eu (production) / payments | archive |
| E3 Flux HealthCheckFailed: storefront in prod-eu | deploy_failed / prod-eu (production) / web | web-chat, archive |
| E4 alert fired: fund-transfer failed in prod-eu | alert_fired / prod-eu (production) / payments | payments-chat, archive |

Rules: staging deployments → load-test; production failures (deploy_failed, rolled_back, alert_fired) of team
payments → payments-chat, of team web → web-chat; everything → archive. So 1 + 1 + 1 + 4 = 7 deliveries.
"""

from __future__ import annotations

import json
import time

import pytest

from pipelines.subscriptions import dispatch
from pipelines.subscriptions.canonicalise import canonicalise
from pipelines.subscriptions.dispatch import Dispatcher, dedup_key, queue_for
from pipelines.subscriptions.rules import parse_rules
from pipelines.subscriptions.store import Store
from tests.conftest import FIXTURES
from tests.subscriptions.conftest import (
    alert_fired, captured, ce_key, delivery_key, deployment, flux_health_check_failed, landing_file, write_rules,
)

DEPLOYED = "dev.cdevents.service.deployed.0.3.0"
ALERT = alert_fired()
E1 = deployment("d1", "payments-api", "staging", "1.4.2", "2026-07-01T09:00:00Z")
E2 = deployment("d2", "payments-api", "prod-eu", "1.4.2", "2026-07-01T09:30:00Z")
K1, K2 = ce_key("/argocd/bank", "d1", DEPLOYED), ce_key("/argocd/bank", "d2", DEPLOYED)
K3 = delivery_key("flux", "flux-1")
K4 = ce_key(ALERT["source"], ALERT["id"], ALERT["type"])
EXPECTED = {
    "/load-test": {dedup_key("load-test", K1)},
    "/payments-chat": {dedup_key("payments-chat", K4)},
    "/web-chat": {dedup_key("web-chat", K3)},
    "/archive": {dedup_key("archive", k) for k in (K1, K2, K3, K4)},
}


def rules_text(sink, max_attempts: int = 50) -> str:
    return f"""
delivery: {{max_attempts: {max_attempts}, backoff_initial_seconds: 0.001, backoff_max_seconds: 0.01, timeout_seconds: 2}}
targets:
  load-test: {{type: cloudevents, url: "{sink.url('/load-test')}", mode: binary, payload: canonical}}
  payments-chat: {{type: chat, url: "{sink.url('/payments-chat')}"}}
  web-chat: {{type: chat, url: "{sink.url('/web-chat')}"}}
  archive: {{type: cloudevents, url: "{sink.url('/archive')}", mode: structured, payload: original}}
rules:
  - name: staging-deploys
    match: {{stage: deployed, environment_tier: staging}}
    to: load-test
  - name: payments-production-failures
    match: {{environment_tier: production, team: payments, stage: [deploy_failed, rolled_back, alert_fired]}}
    to: payments-chat
  - name: web-production-failures
    match: {{environment_tier: production, team: web, stage: [deploy_failed, rolled_back, alert_fired]}}
    to: web-chat
  - name: everything
    to: archive
"""


def write_world(landing) -> None:
    landing_file(landing, "host-1-000001", [
        captured(E1), captured(E2),
        captured(flux_health_check_failed("storefront", "prod-eu", "prod-eu-1"), **{
            "gotk-component": "kustomize-controller", "x-lifecycle-delivery": "flux-1"}),
        captured(ALERT),
    ])


def open_dispatcher(world, sink, **kwargs) -> Dispatcher:
    landing, state = world
    rules = write_rules(landing.parent / "subscriptions.yaml", rules_text(sink, **kwargs))
    return Dispatcher(landing, state, rules, deliver_backlog=True)


def drain(d: Dispatcher, rounds: int = 400) -> None:
    """Run rounds until the outbox is empty (retries are due within ~10 ms)."""
    for _ in range(rounds):
        d.run_once()
        if d.store.next_due() is None:
            return
        time.sleep(0.005)
    raise AssertionError("the outbox did not drain")


def delivered_keys(sink) -> dict[str, list[str]]:
    return {path: sorted(r.dedup_key for r in sink.to(path)) for path in EXPECTED}


def test_each_event_reaches_the_targets_its_rules_name(world, sink):
    d = open_dispatcher(world, sink)
    write_world(world[0])
    report = d.run_once()
    assert (report.files, report.events, report.queued) == (1, 4, 7)
    assert report.outcomes == {"delivered": 7}
    assert {path: set(keys) for path, keys in delivered_keys(sink).items()} == EXPECTED
    assert all(len(keys) == len(set(keys)) for keys in delivered_keys(sink).values())

    # the staging deployment reaches the load-test target only (besides the archive), as a canonical CDEvent
    [load] = sink.to("/load-test")
    assert load.headers["ce-type"] == "dev.cdevents.service.deployed.0.2.0"
    assert load.headers["ce-id"] == load.dedup_key == dedup_key("load-test", K1)
    assert (load.headers["ce-environment"], load.headers["ce-team"]) == ("staging", "payments")
    assert load.json["subject"]["content"]["environment"] == {"id": "staging"}
    assert load.json["customData"]["version"] == "1.4.2"

    # the production failure reaches its owning team's chat only: web-chat gets the Flux failure, payments-chat
    # the alert about fund-transfer
    [web] = sink.to("/web-chat")
    assert web.json["text"].startswith(":x: storefront 4f3e2d1 deployment failed in prod-eu (production), cluster "
                                       "prod-eu-1 — owner: web")
    [payments] = sink.to("/payments-chat")
    assert payments.json["text"] == (":rotating_light: Alert fired: fund-transfer 1.4.0 failed to deploy to prod-eu "
                                     "(prod-eu-1) at 2026-07-01 10:00 UTC — owner: payments")

    # the archive gets every event as received (structured mode keeps the producers' ids)
    archive = sink.to("/archive")
    assert {r.headers["content-type"] for r in archive} == {"application/cloudevents+json"}
    assert sorted(r.json["id"] for r in archive) == sorted(["d1", "d2", "flux-1", ALERT["id"]])
    assert [r.json["type"] for r in archive if r.json["id"] == "flux-1"] == ["dev.lifecycle.webhook.v1"]

    # a producer's retry of E2 in a later file makes no new delivery; a new staging deployment does
    e5 = deployment("d5", "payments-api", "staging", "1.4.3", "2026-07-01T11:00:00Z")
    landing_file(world[0], "host-1-000002", [captured(E2), captured(e5)])
    report = d.run_once()
    assert (report.files, report.events, report.queued) == (1, 2, 2)
    k5 = ce_key("/argocd/bank", "d5", DEPLOYED)
    assert {r.dedup_key for r in sink.to("/load-test")} == {dedup_key("load-test", K1), dedup_key("load-test", k5)}
    assert len(sink.to("/archive")) == 5
    d.close()


def test_a_sink_that_is_down_for_a_while_gets_everything_once_it_is_back(world, sink):
    """Refused connections for two rounds, then 503 for the first two requests per path, then 200: every expected
    dedup key is answered 2xx exactly once, nothing else is delivered."""
    d = open_dispatcher(world, sink)
    write_world(world[0])
    sink.stop()
    for _ in range(2):
        report = d.run_once()
        assert report.outcomes["delivered"] == 0
        time.sleep(0.02)
    assert sum(s["queue_depth"] for s in d.store.stats().values()) == 7
    sink.answer = lambda path, n: 503 if n <= 2 else 200
    sink.start()
    drain(d)
    assert {path: set(keys) for path, keys in delivered_keys(sink).items()} == EXPECTED
    assert all(len(keys) == len(set(keys)) for keys in delivered_keys(sink).values())
    assert sum(1 for r in sink.requests if r.status == 503) == 8  # 2 per path
    stats = d.store.stats()
    assert all(s["queue_depth"] == 0 and s["dead_lettered"] == 0 for s in stats.values())
    # each target failed at least twice on refused connections and twice on 503
    assert all(s["retried"] >= 4 and s["retried"] == s["failed"] for s in stats.values())
    assert {t: s["delivered"] for t, s in stats.items()} == {
        "load-test": 1, "payments-chat": 1, "web-chat": 1, "archive": 4}
    d.close()


def test_nothing_is_lost_when_the_process_dies(world, sink, monkeypatch):
    landing, state = world
    write_world(landing)
    # 1. dies after canonicalising, before the ledger commit: the file is read again by the next process
    d = open_dispatcher(world, sink)
    with monkeypatch.context() as m:
        m.setattr(Store, "commit_files", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
        with pytest.raises(RuntimeError, match="killed"):
            d.run_once()
    d.close()
    # 2. the next process queues them but dies before any delivery (the sink is down)
    sink.stop()
    d = open_dispatcher(world, sink)
    assert d.run_once().queued == 7
    d.close()
    # 3. the third one delivers from the outbox it finds; the file is not read again
    sink.start()
    d = open_dispatcher(world, sink)
    drain(d)
    assert {path: set(keys) for path, keys in delivered_keys(sink).items()} == EXPECTED
    assert all(len(keys) == len(set(keys)) for keys in delivered_keys(sink).values())
    assert d.store.file_stats()["files"] == 1
    d.close()


def test_a_delivery_sent_as_the_process_died_is_sent_again_with_the_same_dedup_key(world, sink):
    d = open_dispatcher(world, sink)
    write_world(world[0])
    calls = []

    def send_then_die(url, headers, body, timeout):
        outcome = dispatch.deliver.post(url, headers, body, timeout)
        calls.append(url)
        raise KeyboardInterrupt("killed after sending, before recording")

    d.send = send_then_die
    with pytest.raises(KeyboardInterrupt):
        d.run_once()
    d.close()
    first = {r.dedup_key for r in sink.requests}
    d = open_dispatcher(world, sink)
    drain(d)
    assert {path: set(keys) for path, keys in delivered_keys(sink).items()} == EXPECTED
    # the requests that got through before the "crash" came again, with the same keys
    repeated = [k for k in first if sum(1 for r in sink.requests if r.dedup_key == k) == 2]
    assert repeated and set(repeated) == first
    d.close()


def test_permanent_failures_and_exhausted_retries_go_to_the_dead_letter_file(world, sink):
    """/gone answers 410 (permanent: 1 attempt); /flaky always 503 with max_attempts 3 (3 attempts, 2 retries)."""
    landing, state = world
    rules = write_rules(landing.parent / "subscriptions.yaml", f"""
delivery: {{max_attempts: 3, backoff_initial_seconds: 0.001, backoff_max_seconds: 0.002}}
targets:
  gone: {{type: chat, url: "{sink.url('/gone')}"}}
  flaky: {{type: cloudevents, url: "{sink.url('/flaky')}"}}
rules:
  - {{name: staging, match: {{environment_tier: staging}}, to: [gone, flaky]}}
""")
    sink.answer = lambda path, n: 410 if path == "/gone" else (503, {"Retry-After": "0"})
    landing_file(landing, "host-1-000001", [captured(E1)])
    d = Dispatcher(landing, state, rules, deliver_backlog=True)
    drain(d)
    gone = [json.loads(line) for line in (state / "dead-letter/gone.ndjson").read_text().splitlines()]
    flaky = [json.loads(line) for line in (state / "dead-letter/flaky.ndjson").read_text().splitlines()]
    assert [(e["attempts"], e["last_status"], e["rules"], e["dedup_key"]) for e in gone] == [
        (1, 410, ["staging"], dedup_key("gone", K1))]
    assert gone[0]["reason"].startswith("HTTP 410 Gone")
    assert [(e["attempts"], e["last_status"]) for e in flaky] == [(3, 503)]
    assert flaky[0]["reason"].startswith("gave up after 3 attempts: HTTP 503")
    assert flaky[0]["event"]["attributes"]["service"] == "payments-api"
    assert flaky[0]["event"]["original"]["id"] == "d1"
    assert len(sink.to("/flaky", ok_only=False)) == 3 and len(sink.to("/gone", ok_only=False)) == 1
    stats = d.store.stats()
    assert {k: stats["gone"][k] for k in ("failed", "retried", "dead_lettered", "delivered")} == {
        "failed": 1, "retried": 0, "dead_lettered": 1, "delivered": 0}
    assert {k: stats["flaky"][k] for k in ("failed", "retried", "dead_lettered", "delivered")} == {
        "failed": 3, "retried": 2, "dead_lettered": 1, "delivered": 0}
    d.close()


def test_retry_after_decides_when_the_next_attempt_is(world, sink):
    """A 503 with Retry-After: 120 at t=1000 makes the next attempt due at 1120 exactly, whatever the backoff."""
    landing, state = world
    rules = write_rules(landing.parent / "subscriptions.yaml", f"""
delivery: {{backoff_initial_seconds: 1, backoff_max_seconds: 1}}
targets: {{sink: {{type: cloudevents, url: "{sink.url('/s')}"}}}}
rules: [{{name: all, to: sink}}]
""")
    sink.answer = lambda path, n: (503, {"Retry-After": "120"}) if n == 1 else 200
    landing_file(landing, "host-1-000001", [captured(E1)])
    now = [1000.0]
    d = Dispatcher(landing, state, rules, deliver_backlog=True, clock=lambda: now[0])
    assert d.run_once().outcomes == {"retried": 1}
    assert d.store.next_due() == 1120.0
    now[0] = 1119.0
    assert d.run_once().outcomes == {}
    now[0] = 1120.0
    assert d.run_once().outcomes == {"delivered": 1}
    assert [r.status for r in sink.requests] == [503, 200]
    d.close()


def test_the_first_run_starts_at_the_end_of_the_landing_zone_unless_asked_for_the_backlog(world, sink):
    landing, state = world
    rules = write_rules(landing.parent / "subscriptions.yaml", f"""
targets: {{sink: {{type: cloudevents, url: "{sink.url('/s')}"}}}}
rules: [{{name: all, to: sink}}]
""")
    landing_file(landing, "host-1-000001", [captured(E1)])
    d = Dispatcher(landing, state, rules)
    report = d.run_once()
    assert (report.backlog_skipped, report.queued, sink.requests) == (1, 0, [])
    landing_file(landing, "host-1-000002", [captured(E2)])
    assert d.run_once().outcomes == {"delivered": 1}
    assert [r.headers["ce-subject"] for r in sink.requests] == ["payments-api"]
    assert sink.requests[0].json["subject"]["content"]["environment"] == {"id": "prod-eu"}
    d.close()
    # with the backlog, a fresh state delivers both
    d = Dispatcher(landing, state.with_name("state2"), rules, deliver_backlog=True)
    assert d.run_once().outcomes == {"delivered": 2}
    d.close()


def test_files_being_written_are_left_until_closed_and_a_second_dispatcher_is_refused(world, sink):
    landing, state = world
    d = open_dispatcher(world, sink)
    f = landing_file(landing, "host-1-000001", [captured(E1)])
    open_file = f.rename(f.with_name(f.name + ".open"))
    assert d.run_once().files == 0
    open_file.rename(f)
    assert d.run_once().files == 1
    with pytest.raises(dispatch.DispatcherBusy, match="another dispatcher is running"):
        open_dispatcher(world, sink)
    d.close()


def test_an_edited_rules_file_takes_effect_and_a_broken_edit_keeps_the_previous_rules(world, sink):
    landing, state = world
    d = open_dispatcher(world, sink)
    rules_file = d.rules_file
    rules_file.write_text(rules_file.read_text().replace("- name: everything\n    to: archive\n", ""))
    landing_file(landing, "host-1-000001", [captured(E2)])  # production deployment: only `everything` took it
    assert d.run_once().queued == 0
    rules_file.write_text("rules: [{name: x, to: nowhere}]\n")
    landing_file(landing, "host-1-000002", [captured(E1)])
    assert d.run_once().queued == 1  # the previous rules: the load test
    assert [r.path for r in sink.requests] == ["/load-test"]
    d.close()


def test_a_push_makes_one_canonical_event_per_commit_but_one_original_delivery(world):
    """A GitHub push listing 2 commits (octokit's payload + a second commit) → 2 canonical `commit` events, each
    traced to the push (its event id is `<delivery id>:<sha>`): a canonical target gets 2 deliveries, a target of
    the original payload 1 (both commits' dedup keys are the push's)."""
    body = json.loads((FIXTURES / "github-octokit/push/with-new-branch.payload.json").read_text())
    second = {**body["commits"][0], "id": "1" * 40, "timestamp": "2026-07-01T09:01:00Z"}
    body["commits"].append(second)
    landing, _ = world
    f = landing_file(landing, "push", [captured(body, **{"x-github-event": "push", "x-github-delivery": "push-1"})])
    result = canonicalise([f])
    assert [(e.attributes["stage"], e.attributes["commit_sha"]) for e in result.events] == [
        ("commit", body["commits"][0]["id"]), ("commit", "1" * 40)]
    push = delivery_key("github", "push-1")
    assert [e.raw_key for e in result.events] == [push, push]
    assert all(e.original["payload"] == body for e in result.events)
    rules = parse_rules("""
targets:
  canonical: {type: cloudevents, url: "http://sink/c"}
  original: {type: cloudevents, url: "http://sink/o", payload: original}
rules: [{name: commits, match: {stage: commit}, to: [canonical, original]}]
""", None, {})
    keys = {(q.target, q.dedup_key) for e in result.events for q in queue_for(rules, e)}
    assert keys == {("canonical", dedup_key("canonical", e.key)) for e in result.events} | {
        ("original", dedup_key("original", push))}
