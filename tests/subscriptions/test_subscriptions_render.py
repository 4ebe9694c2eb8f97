"""What targets receive: canonical CloudEvents (CDEvents where one fits), originals as received, chat messages."""

from __future__ import annotations

import base64
import json

from pipelines.cdevents import default_registry
from pipelines.subscriptions.canonicalise import ATTRIBUTE_COLUMNS, canonicalise
from pipelines.subscriptions.render import chat_message, journey_url, render
from pipelines.subscriptions.rules import Target
from tests.conftest import write_lines
from tests.subscriptions.conftest import alert_fired

BINARY = Target("t", "cloudevents", "http://sink", "binary", "canonical")
STRUCTURED = Target("t", "cloudevents", "http://sink", "structured", "canonical")
ORIGINAL = Target("t", "cloudevents", "http://sink", "structured", "original")
ORIGINAL_BINARY = Target("t", "cloudevents", "http://sink", "binary", "original")
CHAT = Target("c", "chat", "http://hooks", headers={"X-Extra": "1"})
KEY = "0123456789abcdef0123456789abcdef"
DIGEST = "sha256:" + "ab" * 32


def attrs(**values) -> dict:
    base = dict.fromkeys(ATTRIBUTE_COLUMNS)
    base.update(event_key="k1", event_id="e1", source_tool="argocd", raw_type="dev.cdevents.service.deployed.0.3.0",
                occurred_at="2026-07-01T09:00:00Z", received_at="2026-07-01T09:00:02Z")
    return {**base, **values}


DEPLOYED = attrs(stage="deployed", outcome="success", service="payments-api", team="payments", app="bank",
                 environment="prod-eu", environment_tier="production", cluster="eu-1", version="1.4.2",
                 artifact_id=f"pkg:oci/payments-api@{DIGEST}", commit_sha="9c6a7d0e9f2b4a1c3e5d7f9a1b3c5d7e9f1a3b5c")


def test_a_deployment_becomes_a_valid_cdevents_service_deployed_with_the_dedup_key_as_id():
    headers, body = render(BINARY, {"attributes": DEPLOYED, "original": None}, KEY)
    assert headers["ce-id"] == headers["X-Lifecycle-Dedup-Key"] == KEY
    assert headers["ce-type"] == "dev.cdevents.service.deployed.0.2.0"
    assert headers["ce-time"] == "2026-07-01T09:00:00Z"
    assert (headers["ce-stage"], headers["ce-service"], headers["ce-team"], headers["ce-environmenttier"]) == (
        "deployed", "payments-api", "payments", "production")
    assert headers["content-type"] == "application/json"
    cd = json.loads(body)
    assert default_registry().validate(cd) == []
    assert cd["context"] == {"version": "0.4.1", "id": KEY, "source": "/lifecycle-analytics/subscriptions",
                             "type": "dev.cdevents.service.deployed.0.2.0", "timestamp": "2026-07-01T09:00:00Z"}
    assert cd["subject"]["id"] == "payments-api"
    assert cd["subject"]["content"] == {"environment": {"id": "prod-eu"}, "artifactId": f"pkg:oci/payments-api@{DIGEST}"}
    assert cd["customData"]["team"] == "payments" and cd["customData"]["cluster"] == "eu-1"


def test_structured_mode_carries_the_same_event_in_the_body():
    headers, body = render(STRUCTURED, {"attributes": DEPLOYED, "original": None}, KEY)
    assert headers == {"content-type": "application/cloudevents+json", "X-Lifecycle-Dedup-Key": KEY}
    ce = json.loads(body)
    assert (ce["id"], ce["type"], ce["specversion"], ce["subject"]) == (
        KEY, "dev.cdevents.service.deployed.0.2.0", "1.0", "payments-api")
    assert ce["data"]["context"]["id"] == KEY


def test_without_what_the_cdevent_requires_or_without_a_cdevent_the_type_is_the_stage():
    no_artifact = {**DEPLOYED, "artifact_id": None}  # service.deployed requires artifactId
    for attributes, expected in [(no_artifact, "dev.lifecycle.deployed.v1"),
                                 (attrs(stage="alert_fired", service="x"), "dev.lifecycle.alert_fired.v1"),
                                 (attrs(stage=None), "dev.lifecycle.unknown.v1")]:
        headers, body = render(BINARY, {"attributes": attributes, "original": None}, KEY)
        assert headers["ce-type"] == expected
        assert json.loads(body)["event_key"] == "k1"  # the data is the canonical attributes


def test_a_failed_deployment_pipeline_and_a_test_suite_map_onto_their_cdevents():
    failed = attrs(stage="deploy_failed", outcome="failure", environment="prod-eu", pipeline_run_id="run-7")
    headers, body = render(BINARY, {"attributes": failed, "original": None}, KEY)
    cd = json.loads(body)
    assert headers["ce-type"] == "dev.cdevents.pipelinerun.finished.0.2.0"
    assert (cd["subject"]["id"], cd["subject"]["content"], cd["customData"]["environment"]) == (
        "run-7", {"outcome": "failure"}, "prod-eu")
    tests = attrs(stage="test_finished", outcome="success", environment="staging")
    headers, body = render(BINARY, {"attributes": tests, "original": None}, KEY)
    assert headers["ce-type"] == "dev.cdevents.testsuiterun.finished.0.2.0"
    assert json.loads(body)["subject"]["content"] == {"environment": {"id": "staging"}, "outcome": "pass"}


def test_an_original_cloudevent_keeps_its_attributes_and_gets_its_receive_time_when_it_had_none():
    payload = {"specversion": "1.0", "id": "abc", "source": "/ci", "type": "com.example.built", "ext1": "v",
               "datacontenttype": "application/json", "data": {"n": 1}}
    original = {"format": "cloudevent", "transport": "structured", "id": "abc", "headers": {}, "payload": payload}
    headers, body = render(ORIGINAL, {"attributes": attrs(), "original": original}, KEY)
    ce = json.loads(body)
    assert ce == {**payload, "time": "2026-07-01T09:00:02Z"}  # received_at, not the SDK's "now"
    assert headers["X-Lifecycle-Dedup-Key"] == KEY
    # data_base64 travels as bytes: binary mode sends them as the body
    payload64 = {**{k: v for k, v in payload.items() if k != "data"}, "datacontenttype": "application/octet-stream",
                 "data_base64": base64.b64encode(b"\x00\x01").decode()}
    headers, body = render(ORIGINAL_BINARY, {"attributes": attrs(), "original": {**original, "payload": payload64}}, KEY)
    assert (body, headers["ce-id"], headers["ce-ext1"], headers["content-type"]) == (
        b"\x00\x01", "abc", "v", "application/octet-stream")


def test_an_original_binary_mode_event_keeps_its_ce_headers():
    alert = alert_fired()
    original = {"format": "cloudevent", "transport": "binary", "id": alert["id"], "payload": alert["data"],
                "headers": {"ce-specversion": "1.0", "ce-id": alert["id"], "ce-source": alert["source"],
                            "ce-type": alert["type"], "ce-time": alert["time"], "ce-subject": "a%2Fb",
                            "content-type": "application/json"}}
    headers, body = render(ORIGINAL_BINARY, {"attributes": attrs(), "original": original}, KEY)
    # header values are percent-decoded, then encoded again by the SDK ('/' needs no escaping): the same value
    assert (headers["ce-id"], headers["ce-type"], headers["ce-subject"]) == (alert["id"], alert["type"], "a/b")
    assert headers["ce-time"] == "2026-07-01T10:05:00Z"
    assert json.loads(body) == alert["data"]


def test_an_original_bare_cdevent_and_a_webhook_are_wrapped():
    cd = {"context": {"version": "0.4.1", "id": "cd-1", "source": "/tekton", "type": "dev.cdevents.build.started.0.2.0",
                      "timestamp": "2026-07-01T08:00:00Z"}, "subject": {"id": "b1", "content": {}}}
    bare = {"format": "cdevent", "transport": "bare", "id": "cd-1", "headers": {}, "payload": cd}
    ce = json.loads(render(ORIGINAL, {"attributes": attrs(), "original": bare}, KEY)[1])
    assert (ce["id"], ce["source"], ce["type"], ce["time"], ce["data"]) == (
        "cd-1", "/tekton", "dev.cdevents.build.started.0.2.0", "2026-07-01T08:00:00Z", cd)
    hook = {"format": "webhook", "transport": "webhook", "id": "guid-1", "headers": {"x-github-event": "push"},
            "payload": {"ref": "refs/heads/main"}}
    webhook_attrs = attrs(source_tool="github", raw_type="github:push")
    ce = json.loads(render(ORIGINAL, {"attributes": webhook_attrs, "original": hook}, KEY)[1])
    assert (ce["id"], ce["source"], ce["type"], ce["subject"], ce["data"]) == (
        "guid-1", "/webhooks/github", "dev.lifecycle.webhook.v1", "github:push", {"ref": "refs/heads/main"})


def test_the_chat_message_says_what_which_version_where_who_and_links_the_journey():
    headers, body = render(CHAT, {"attributes": DEPLOYED, "original": None}, KEY, "https://dash.example")
    assert headers == {"Content-Type": "application/json", "X-Extra": "1", "X-Lifecycle-Dedup-Key": KEY}
    message = json.loads(body)
    url = f"https://dash.example/journeys?artifact=pkg%3Aoci%2Fpayments-api%40sha256%3A{'ab' * 32}"
    assert message["text"] == (f":rocket: payments-api 1.4.2 deployed to prod-eu (production), cluster eu-1 "
                               f"— owner: payments — {url}")
    assert message["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": (
        ":rocket: payments-api 1.4.2 deployed to prod-eu (production), cluster eu-1")}}
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields == ["*What*\ndeployed (`dev.cdevents.service.deployed.0.3.0` from argocd)",
                      "*Service*\npayments-api · app bank", "*Version*\n1.4.2",
                      "*Where*\nprod-eu (production), cluster eu-1", "*Owner*\nteam payments",
                      "*When*\n2026-07-01T09:00:00Z", "*Commit*\n9c6a7d0e9f2b"]
    assert message["blocks"][2]["elements"][0]["text"] == f"<{url}|Open the journey in the dashboard>"


def test_chat_messages_for_alerts_failures_and_events_without_owner_or_dashboard():
    alert = alert_fired()
    original = {"format": "cloudevent", "transport": "structured", "payload": alert}
    fired = attrs(stage="alert_fired", service="fund-transfer", team="payments", environment="prod-eu",
                  environment_tier="production", cluster="prod-eu-1", artifact_id=None)
    message = chat_message(fired, original, "https://dash.example")
    assert message["text"] == (":rotating_light: Alert fired: fund-transfer 1.4.0 failed to deploy to prod-eu (prod-eu-1) "
                               "at 2026-07-01 10:00 UTC — owner: payments — "
                               "https://dash.example/journeys?service=fund-transfer")
    failed = attrs(stage="deploy_failed", outcome="failure", service="<b>&co", version="9c6a7d0e9f2b4a1c3e5d7f9a1b3c5d7e9f1a3b5c")
    message = chat_message(failed, None, None)
    assert message["text"] == ":x: <b>&co 9c6a7d0 deployment failed — owner: unknown"
    assert message["blocks"][0]["text"]["text"] == ":x: &lt;b&gt;&amp;co 9c6a7d0 deployment failed"
    assert len(message["blocks"]) == 2  # no dashboard: no link
    assert journey_url("https://d", attrs()) == "https://d/journeys"


def test_a_canonical_cdevent_sent_back_to_the_project_maps_onto_the_same_canonical_event(tmp_path, monkeypatch):
    """Round trip: render a deployment and a failed deployment pipeline as canonical CloudEvents, load them as the
    receiver would store them, canonicalise: stage, service, team, app, environment, version, artifact survive."""
    monkeypatch.delenv("LIFECYCLE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no lifecycle.toml: team and app come from the events themselves
    failed = attrs(stage="deploy_failed", outcome="failure", service="payments-api", team="payments", app="bank",
                   environment="prod-eu", environment_tier="production", pipeline_run_id="run-7", version="1.4.3")
    lines = []
    for n, a in enumerate((DEPLOYED, failed)):
        _, body = render(STRUCTURED, {"attributes": a, "original": None}, f"{KEY[:-1]}{n}")
        lines.append({"headers": {"content-type": "application/cloudevents+json"}, "body": json.loads(body),
                      "received_at": "2026-07-01T09:05:00Z"})
    result = canonicalise([write_lines(tmp_path / "back.ndjson", lines)])
    keep = ("stage", "service", "team", "app", "environment", "environment_tier", "version", "artifact_id", "occurred_at")
    assert [{k: e.attributes[k] for k in keep} for e in result.events] == [
        {k: DEPLOYED[k] for k in keep}, {k: failed[k] for k in keep}]
