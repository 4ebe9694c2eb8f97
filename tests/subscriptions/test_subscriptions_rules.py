"""The rules file: filters (equality, sets, globs, null, all/any/not), routing, ${VAR} secrets, validation errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.subscriptions.match import compile_filter
from pipelines.subscriptions.rules import RulesError, load_rules, parse_rules

DOCS = Path(__file__).parents[2] / "docs" / "subscriptions.md"
ENV = {"LOADTEST_TOKEN": "s3cr3t-token", "PAYMENTS_SLACK_WEBHOOK": "https://hooks.slack.example/T0/B0/payments-xyz",
       "WEB_SLACK_WEBHOOK": "https://hooks.slack.example/T0/B1/web-abc"}


def attrs(**values) -> dict:
    base = dict.fromkeys(("stage", "environment", "environment_tier", "service", "team", "app", "outcome",
                          "source_tool", "cluster", "raw_type"))
    return {**base, **values}


def docs_example() -> str:
    """The full example in docs/subscriptions.md (the first yaml block)."""
    return re.search(r"```yaml\n(.*?)```", DOCS.read_text(), re.S).group(1)


@pytest.mark.parametrize(("spec", "event", "expected"), [
    ({"stage": "deployed"}, attrs(stage="deployed"), True),
    ({"stage": "deployed"}, attrs(stage="Deployed"), False),  # case-sensitive, like the stored values
    ({"stage": ["deploy_failed", "rolled_back"]}, attrs(stage="rolled_back"), True),
    ({"stage": ["deploy_failed", "rolled_back"]}, attrs(stage="deployed"), False),
    ({"service": "payments-*"}, attrs(service="payments-api"), True),
    ({"service": "payments-*"}, attrs(service="web-payments"), False),
    ({"service": "payments-*"}, attrs(service=None), False),  # a glob never matches an unknown value
    ({"environment": "prod-[eu][us]"}, attrs(environment="prod-eu"), True),
    ({"team": None}, attrs(team=None), True),
    ({"team": None}, attrs(team="web"), False),
    ({"stage": "deployed", "environment_tier": "staging"}, attrs(stage="deployed", environment_tier="production"), False),
    ({"any": [{"team": "web"}, {"app": "bank"}]}, attrs(team="payments", app="bank"), True),
    ({"any": [{"team": "web"}, {"app": "bank"}]}, attrs(team="payments", app="shop"), False),
    ({"all": [{"team": "web"}, {"not": {"environment": "prod-canary"}}]}, attrs(team="web", environment="prod-eu"), True),
    ({"all": [{"team": "web"}, {"not": {"environment": "prod-canary"}}]}, attrs(team="web", environment="prod-canary"),
     False),
    (None, attrs(), True),
    ({}, attrs(), True),
])
def test_filters(spec, event, expected):
    assert compile_filter(spec)(event) is expected


def test_the_documented_example_parses_and_routes_as_its_comments_say():
    rules = parse_rules(docs_example(), Path("subscriptions.yaml"), ENV)
    assert sorted(rules.targets) == ["archive", "load-tests", "payments-chat", "web-chat"]
    assert rules.dashboard_url == "https://lifecycle.example.com"
    assert rules.targets["load-tests"].headers == {"Authorization": "Bearer s3cr3t-token"}
    assert rules.targets["payments-chat"].url == ENV["PAYMENTS_SLACK_WEBHOOK"]
    assert (rules.delivery.max_attempts, rules.delivery.backoff_max_seconds) == (10, 300.0)
    # a staging deployment: the load tests and the archive
    assert rules.route(attrs(stage="deployed", environment="staging", environment_tier="staging", team="payments")) == {
        "load-tests": ["staging-deployments-start-load-tests"], "archive": ["everything"]}
    # a payments production failure: the payments channel
    assert rules.route(attrs(stage="deploy_failed", environment="prod-eu", environment_tier="production",
                             team="payments")) == {"payments-chat": ["payments-production-trouble"], "archive": ["everything"]}
    # web: failures, and deployments of storefront-* services, but nothing in prod-canary
    web = {"environment_tier": "production", "team": "web"}
    assert "web-chat" in rules.route(attrs(stage="deployed", service="storefront-ui", environment="prod-eu", **web))
    assert "web-chat" not in rules.route(attrs(stage="deployed", service="checkout", environment="prod-eu", **web))
    assert "web-chat" not in rules.route(attrs(stage="rolled_back", service="checkout", environment="prod-canary", **web))


def test_secrets_stay_out_of_reprs():
    rules = parse_rules(docs_example(), None, ENV)
    text = repr(rules)
    assert "s3cr3t" not in text and "payments-xyz" not in text
    assert "load-tests" in text


@pytest.mark.parametrize(("text", "message"), [
    ("rules: [", "subscriptions.yaml: not valid YAML (line 1, column 9): expected the node content"),  # stream end after col 8
    ("- a\n", "subscriptions.yaml: expected a mapping with targets and rules"),
    ("rule: []\n", "subscriptions.yaml: unknown section(s) rule (expected targets, rules, delivery, dashboard_url)"),
    ("targets: {t: {type: webhook, url: 'http://x'}}\n",
     "subscriptions.yaml: target 't': type: expected one of cloudevents, chat, got 'webhook'"),
    ("targets: {t: {type: cloudevents, url: 'http://x', mode: batch}}\n",
     "subscriptions.yaml: target 't': mode: expected one of binary, structured, got 'batch'"),
    ("targets: {t: {type: cloudevents, url: 'http://x', payload: raw}}\n",
     "subscriptions.yaml: target 't': payload: expected one of canonical, original, got 'raw'"),
    ("targets: {t: {type: chat, url: 'http://x', mode: binary}}\n",
     "subscriptions.yaml: target 't': unknown key(s) mode (a chat target has headers, type, url)"),
    ("targets: {t: {type: chat, url: 'ftp://hooks/secret-path'}}\n", "subscriptions.yaml: target 't': url: not an http(s) URL"),
    ("targets: {t: {type: chat}}\n", "subscriptions.yaml: target 't': url: expected an http(s) URL"),
    ("targets: {t: {type: chat, url: '${NOT_SET_ANYWHERE}'}}\n",
     "subscriptions.yaml: target 't': url: environment variable NOT_SET_ANYWHERE is not set"),
    ("targets: {t: {type: chat, url: 'http://x', headers: {Authorization: 'Bearer ${NO_TOKEN}'}}}\n",
     "subscriptions.yaml: target 't': headers.Authorization: environment variable NO_TOKEN is not set"),
    ("targets: {'a b': {type: chat, url: 'http://x'}}\n",
     "subscriptions.yaml: target 'a b': a target name is letters, digits, '_', '.', '-'"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r, to: u}]\n",
     "subscriptions.yaml: rule 'r': to: unknown target 'u' (defined: t)"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r}]\n",
     "subscriptions.yaml: rule 'r': to: expected a target name or a non-empty list of them"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r, to: t}, {name: r, to: t}]\n",
     "subscriptions.yaml: rule 'r': name: used by another rule"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{to: t}]\n",
     "subscriptions.yaml: rules[0]: name: expected letters, digits, '_', '.', '-', got None"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r, to: t, when: x}]\n",
     "subscriptions.yaml: rule 'r': unknown key(s) when (expected name, description, match, to)"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r, to: t, match: {all: [{team: a}, {stge: x}]}}]\n",
     "subscriptions.yaml: rule 'r': match.all[1].stge: unknown attribute 'stge' (expected one of stage, environment, "
     "environment_tier, service, team, app, outcome, source_tool, cluster, raw_type, all, any, not)"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r, to: t, match: {stage: 3}}]\n",
     "subscriptions.yaml: rule 'r': match.stage: expected a string, a non-empty list of strings, or null; got 3"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r, to: t, match: {any: []}}]\n",
     "subscriptions.yaml: rule 'r': match.any: expected a non-empty list of filters"),
    ("targets: {t: {type: chat, url: 'http://x'}}\nrules: [{name: r, to: t, match: [stage]}]\n",
     "subscriptions.yaml: rule 'r': match: expected a mapping of attributes to values, got list"),
    ("delivery: {max_attempts: 0}\n", "subscriptions.yaml: delivery.max_attempts: expected an integer ≥ 1, got 0"),
    ("delivery: {backoff_initial_seconds: 5, backoff_max_seconds: 1}\n",
     "subscriptions.yaml: delivery.backoff_max_seconds: must be ≥ backoff_initial_seconds"),
    ("delivery: {retries: 3}\n", "subscriptions.yaml: delivery: unknown key(s) retries (expected max_attempts, "
     "backoff_initial_seconds, backoff_max_seconds, timeout_seconds)"),
])
def test_validation_errors_name_the_rule_or_target_and_the_field(text, message):
    with pytest.raises(RulesError) as caught:
        parse_rules(text, Path("subscriptions.yaml"), {})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert "secret-path" not in str(caught.value)  # a URL may be a secret: never echoed


def test_the_file_comes_from_the_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "routes.yaml"
    path.write_text("targets: {t: {type: chat, url: '${HOOK}'}}\nrules: [{name: r, to: t}]\n")
    monkeypatch.setenv("LIFECYCLE_SUBSCRIPTIONS", str(path))
    monkeypatch.setenv("HOOK", "https://hooks.example/abc")
    monkeypatch.setenv("LIFECYCLE_DASHBOARD_URL", "https://dash.example/")
    rules = load_rules()
    assert (rules.path, rules.targets["t"].url, rules.dashboard_url) == (path, "https://hooks.example/abc",
                                                                          "https://dash.example")
    monkeypatch.setenv("LIFECYCLE_SUBSCRIPTIONS", str(tmp_path / "missing.yaml"))
    with pytest.raises(RulesError, match="missing.yaml: no such rules file"):
        load_rules()
