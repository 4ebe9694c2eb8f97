"""End to end, in-process: the real cloudevents SDK and vendor fixtures as clients → receiver → landing zone
→ the loader (``tasks.ingest_landing_zone``) → ``raw.events``. Re-deliveries are stored once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent

from pipelines import tasks
from tests.conftest import query
from tests.receiver.conftest import (
    ARGOCD_SYNC, FLUX, GITHUB_PR, GITLAB_PUSH, HARBOR, PAGERDUTY, SECRETS, github_signature, hmac_hex, structured,
)


def sdk_event(i: int) -> CloudEvent:
    payload = structured(i)["data"]
    return CloudEvent(attributes={
        "id": f"sdk-{i}", "source": "https://tekton.example/ci", "type": "dev.cdevents.pipelinerun.finished.0.2.0",
        "time": datetime(2026, 7, 1, 10, i, tzinfo=UTC), "datacontenttype": "application/json",
        "partof": "payments-core"}, data=payload)


def post_message(client, message, path="/"):
    return client.post(path, content=message.body, headers=message.headers)


def test_sdk_binary_structured_and_batch_land_once_in_raw_events(make_client, paths):
    client = make_client()
    binary = ce_http.to_binary_event(sdk_event(1))
    structured_msg = ce_http.to_structured_event(sdk_event(2))
    assert post_message(client, binary).status_code == 202
    assert post_message(client, structured_msg).status_code == 202
    # re-deliveries: the same event again in each mode, and inside a batch with a new one
    assert post_message(client, ce_http.to_structured_event(sdk_event(1))).status_code == 202
    assert post_message(client, binary).status_code == 202
    batch = [json.loads(ce_http.to_structured_event(sdk_event(i)).body) for i in (2, 3)]
    r = client.post("/", content=json.dumps(batch), headers={"Content-Type": "application/cloudevents-batch+json"})
    assert r.status_code == 202 and [e["id"] for e in r.json()["events"]] == ["sdk-2", "sdk-3"]
    client.__exit__(None, None, None)  # shutdown closes the file, so the loader can see it

    result = tasks.ingest_landing_zone(paths)
    assert (result.total("accepted"), result.total("duplicates"), result.total("quarantined")) == (3, 3, 0)
    rows = query(paths, "select event_id, transport, event_format, occurred_at, received_at is not null "
                        "from raw.events order by event_id")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("sdk-1", "binary", "cdevent"), ("sdk-2", "structured", "cdevent"), ("sdk-3", "batch", "cdevent")]
    assert rows[0][3] == datetime(2026, 7, 1, 10, 1, tzinfo=UTC) and all(r[4] for r in rows)
    # a second load of the same landing zone adds nothing
    assert tasks.ingest_landing_zone(paths).total("accepted") == 0


def test_vendor_webhooks_load_with_their_tool_and_delivery_keys(make_client, paths):
    client = make_client(secrets=SECRETS)
    json_type = {"Content-Type": "application/json"}
    sent = [
        ("/webhooks/github", GITHUB_PR, {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "gh-1",
                                         "X-Hub-Signature-256": github_signature(SECRETS["github"], GITHUB_PR)}),
        ("/webhooks/gitlab", GITLAB_PUSH, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRETS["gitlab"],
                                           "X-Gitlab-Event-UUID": "gl-1"}),
        ("/webhooks/pagerduty", PAGERDUTY, {"X-PagerDuty-Signature": "v1=" + hmac_hex(SECRETS["pagerduty"], PAGERDUTY)}),
        ("/webhooks/harbor", HARBOR, {"Authorization": SECRETS["harbor"]}),
        ("/webhooks/argocd", ARGOCD_SYNC, {"Authorization": f"Bearer {SECRETS['argocd']}"}),
        ("/webhooks/flux", FLUX, {"Authorization": f"Bearer {SECRETS['flux']}", "Gotk-Component": "kustomize-controller"}),
    ]
    for path, body, headers in sent * 2:  # every delivery twice
        assert client.post(path, content=body, headers={**json_type, **headers}).status_code == 202
    client.__exit__(None, None, None)
    result = tasks.ingest_landing_zone(paths)
    assert (result.total("accepted"), result.total("duplicates"), result.total("quarantined")) == (6, 6, 0)
    rows = dict(query(paths, "select source_tool, key_basis from raw.events"))
    assert rows == {"github": "delivery-id", "gitlab": "delivery-id", "pagerduty": "delivery-id",
                    "harbor": "content-hash", "argocd": "content-hash", "flux": "content-hash"}
    (pd_id,) = query(paths, "select event_id from raw.events where source_tool = 'pagerduty'")[0]
    assert pd_id == "01DEN5Q7ZBMK3WA2ZXBN3LG1LS"


def test_binary_mode_data_that_is_a_json_array_is_one_event_not_a_batch(make_client, paths):
    client = make_client()
    headers = {"ce-specversion": "1.0", "ce-source": "/metrics", "ce-type": "sample.list",
               "Content-Type": "application/json"}
    assert client.post("/", content=b"[1, 2, 3]", headers={**headers, "ce-id": "list-1"}).status_code == 202
    assert client.post("/", content=b"[]", headers={**headers, "ce-id": "list-2"}).status_code == 202
    client.__exit__(None, None, None)
    result = tasks.ingest_landing_zone(paths)
    assert (result.total("accepted"), result.total("quarantined")) == (2, 0)
    assert query(paths, "select event_id, payload::varchar from raw.events order by 1") == [
        ("list-1", "[1,2,3]"), ("list-2", "[]")]


def test_the_landing_zone_sensor_sees_only_closed_receiver_files(make_client, paths):
    from pipelines.orchestration.automation import landing_fingerprint

    client = make_client()
    assert client.post("/", json=structured(1)).status_code == 202
    assert landing_fingerprint(paths.landing)["files"] == 0  # still .open: not for the loader yet
    client.__exit__(None, None, None)
    assert landing_fingerprint(paths.landing)["files"] == 1
