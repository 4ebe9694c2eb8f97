"""The receiver's HTTP behaviour, in-process (Starlette TestClient): paths, modes, auth, limits, errors."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from tests.receiver.conftest import (
    ARGOCD_SYNC, FLUX, GITHUB_PR, GITLAB_PUSH, HARBOR, PAGERDUTY, SECRETS, github_signature, hmac_hex, landing_bytes,
    landing_lines, structured,
)

CE_JSON = {"Content-Type": "application/cloudevents+json"}
CE_BATCH = {"Content-Type": "application/cloudevents-batch+json"}



def test_structured_binary_and_batch_modes_are_each_one_line(make_client, paths):
    client = make_client()
    r1 = client.post("/", content=json.dumps(structured(1)), headers=CE_JSON)
    r2 = client.post("/", content=json.dumps({"k": 1}), headers={
        "ce-specversion": "1.0", "ce-id": "bin-1", "ce-source": "/src", "ce-type": "t.x",
        "ce-time": "2026-07-01T10:00:00Z", "Content-Type": "application/json", "Accept": "application/json"})
    r3 = client.post("/", content=json.dumps([structured(2), structured(3)]), headers=CE_BATCH)
    assert [r.status_code for r in (r1, r2, r3)] == [202, 202, 202]
    assert r1.json()["mode"] == "structured" and r1.json()["events"][0]["id"] == "ce-1"
    assert r2.json()["mode"] == "binary" and r2.json()["events"][0]["id"] == "bin-1"
    assert r3.json()["mode"] == "batch" and r3.json()["accepted"] == 2
    assert [e["index"] for e in r3.json()["events"]] == [0, 1]
    lines = landing_lines(paths.landing)
    assert len(lines) == 3
    assert lines[0]["body"] == structured(1)
    assert lines[1]["headers"]["ce-id"] == "bin-1" and lines[1]["body"] == {"k": 1}
    assert lines[2]["body"] == [structured(2), structured(3)]
    assert all(line["received_at"].endswith("Z") for line in lines)


def test_knative_deliveries_get_an_empty_202(make_client, paths):
    """Knative reads a 2xx body as a reply event: brokers/channels (Prefer: reply) and binary mode get none."""
    client = make_client()
    binary = {"ce-specversion": "1.0", "ce-id": "kn-1", "ce-source": "/apiserver", "ce-type": "dev.knative.x",
              "Content-Type": "application/json"}
    r = client.post("/", content=b"{}", headers=binary)
    assert (r.status_code, r.content) == (202, b"")
    r = client.post("/", content=json.dumps(structured(2)), headers={**CE_JSON, "Prefer": "reply"})
    assert (r.status_code, r.content) == (202, b"")
    r = client.post("/", content=json.dumps(structured(3)), headers=CE_JSON)
    assert r.status_code == 202 and r.json()["events"][0]["id"] == "ce-3"  # others get the per-event results
    assert len(landing_lines(paths.landing)) == 3


def test_binary_mode_keeps_non_json_data_as_a_string_and_never_invents_time(make_client, paths):
    client = make_client()
    r = client.post("/", content=b"<xml/>", headers={
        "ce-specversion": "1.0", "ce-id": "x1", "ce-source": "/s", "ce-type": "t", "Content-Type": "application/xml"})
    assert r.status_code == 202
    (line,) = landing_lines(paths.landing)
    assert line["body"] == "<xml/>"
    assert "ce-time" not in line["headers"]  # the SDK would have added one: we store what was sent


def test_structured_event_is_stored_as_sent(make_client, paths):
    client = make_client()
    event = structured(1)
    del event["time"]
    event["partof"] = "payments-core"  # an extension attribute
    assert client.post("/", content=json.dumps(event), headers=CE_JSON).status_code == 202
    (line,) = landing_lines(paths.landing)
    assert line["body"] == event and "time" not in line["body"]


def test_bare_cdevent_and_structured_event_as_plain_json(make_client, paths):
    client = make_client()
    cdevent = structured(7)["data"]
    r1 = client.post("/", json=cdevent)
    r2 = client.post("/", json=structured(8))
    assert (r1.status_code, r1.json()["mode"], r1.json()["source"]) == (202, "cdevent", "cdevents")
    assert (r2.status_code, r2.json()["mode"]) == (202, "structured")
    assert [line["body"] for line in landing_lines(paths.landing)] == [cdevent, structured(8)]


def test_batch_with_one_invalid_event_is_rejected_whole_with_per_event_results(make_client, paths):
    client = make_client()
    bad = structured(2)
    del bad["id"]
    r = client.post("/", content=json.dumps([structured(1), bad, "nope"]), headers=CE_BATCH)
    assert r.status_code == 422
    results = r.json()["detail"]["events"]
    assert [e["status"] for e in results] == ["not written", "invalid", "invalid"]
    assert "id: missing" in results[1]["errors"][0]
    assert landing_bytes(paths.landing) == 0


@pytest.mark.parametrize(("body", "headers", "status", "words"), [
    (b'{"specversion": "1.0", "id": "1", "source": "/s"', CE_JSON, 400, "not valid JSON"),
    (b'{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "x": NaN}', CE_JSON, 400, "NaN"),
    (b'{"a": "\\ud800"}', {"Content-Type": "application/json", "X-GitHub-Event": "push"}, 400, "surrogate"),
    (b"\xff\xfe{}", CE_JSON, 400, "UTF-8"),
    (b"", {"Content-Type": "application/json"}, 400, "empty"),
    (b"hello", {"Content-Type": "text/plain"}, 415, "unsupported content type"),
    (b"<e/>", {"Content-Type": "application/cloudevents+xml"}, 415, "unsupported CloudEvents format"),
    (b"{}", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415, "Content-Encoding"),
    (b"{}", {"Content-Type": "application/json; charset=latin-1"}, 415, "charset"),
    (json.dumps({"specversion": "1.0", "source": "/s", "type": "t"}).encode(), CE_JSON, 422, "id: missing"),
    (json.dumps({"specversion": "2.0", "id": "1", "source": "/s", "type": "t"}).encode(), CE_JSON, 422, "specversion"),
    (json.dumps({"specversion": "1.0", "id": "", "source": "/s", "type": "t"}).encode(), CE_JSON, 422, "empty"),
    (json.dumps({"specversion": "1.0", "id": 5, "source": "/s", "type": "t"}).encode(), CE_JSON, 422, "string"),
    (json.dumps(structured(1, time="yesterday")).encode(), CE_JSON, 422, "RFC 3339"),
    (json.dumps(structured(1, time="2026-07-01T10:00:00")).encode(), CE_JSON, 422, "UTC offset"),
    (json.dumps(structured(1, **{"Bad-Name": "x"})).encode(), CE_JSON, 422, "Bad-Name"),
    (json.dumps([1, 2]).encode(), CE_JSON, 422, "JSON object"),
    (json.dumps({"hello": "world"}).encode(), {"Content-Type": "application/json"}, 422, "unrecognised event"),
    (json.dumps([{"a": 1}]).encode(), {"Content-Type": "application/json"}, 422, "batch of structured"),
    (b"[]", CE_BATCH, 422, "empty batch"),
    (b"{}", CE_BATCH, 400, "JSON array"),
    (json.dumps({"context": {"id": "1"}, "subject": {}}).encode(), {"Content-Type": "application/json"}, 422,
     "context.source"),
])
def test_bad_input_gets_a_json_error_and_writes_nothing(make_client, paths, body, headers, status, words):
    client = make_client()
    r = client.post("/", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert words in r.json()["error"]
    assert set(r.json()) == {"error", "detail"}
    assert landing_bytes(paths.landing) == 0


def test_binary_mode_invalid_attributes_are_422(make_client, paths):
    client = make_client()
    r = client.post("/", content=b"{}", headers={"ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t",
                                                 "Content-Type": "application/json"})
    assert r.status_code == 422 and "id: missing" in r.json()["error"]
    r = client.post("/", content=b"{broken", headers={"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s",
                                                      "ce-type": "t", "Content-Type": "application/json"})
    assert r.status_code == 400
    assert landing_bytes(paths.landing) == 0


def test_size_limit_by_content_length_and_while_streaming(make_client, paths):
    client = make_client(max_body_bytes=1000)
    big = json.dumps(structured(1, padding="x" * 2000)).encode()
    r = client.post("/", content=big, headers=CE_JSON)
    assert r.status_code == 413 and r.json()["detail"] == {"limit": 1000}

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(5):
            yield b"x" * 300

    r = client.post("/", content=chunks(), headers=CE_JSON)
    assert r.status_code == 413
    bomb = gzip.compress(json.dumps(structured(1, padding="x" * 100_000)).encode())
    assert len(bomb) < 1000
    r = client.post("/", content=bomb, headers={**CE_JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["error"]
    assert landing_bytes(paths.landing) == 0
    small = gzip.compress(json.dumps(structured(2)).encode())
    assert client.post("/", content=small, headers={**CE_JSON, "Content-Encoding": "gzip"}).status_code == 202
    (line,) = landing_lines(paths.landing)
    assert line["body"]["id"] == "ce-2" and "content-encoding" not in line["headers"]


def test_unknown_source_and_wrong_method_are_json_errors(make_client):
    client = make_client()
    r = client.post("/webhooks/nope", json={})
    assert r.status_code == 404 and "github" in r.json()["detail"]["sources"]
    r = client.get("/")
    assert r.status_code == 405 and "error" in r.json()
    assert client.get("/nowhere").status_code == 404


# -- authentication ----------------------------------------------------------------------------------------------

def _vendor_requests(secret: dict[str, str]) -> dict[str, tuple[str, bytes, dict, dict]]:
    """source → (path, body, good headers, bad headers)."""
    return {
        "github": ("/webhooks/github", GITHUB_PR,
                   {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "gh-1",
                    "X-Hub-Signature-256": github_signature(secret["github"], GITHUB_PR)},
                   {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": github_signature("wrong", GITHUB_PR)}),
        "gitlab": ("/webhooks/gitlab", GITLAB_PUSH,
                   {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret["gitlab"]},
                   {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"}),
        "pagerduty": ("/webhooks/pagerduty", PAGERDUTY,
                      {"X-PagerDuty-Signature": f"v1={hmac_hex('old-secret', PAGERDUTY)},"
                                                f"v1={hmac_hex(secret['pagerduty'], PAGERDUTY)}"},
                      {"X-PagerDuty-Signature": f"v1={hmac_hex('wrong', PAGERDUTY)}"}),
        "harbor": ("/webhooks/harbor", HARBOR, {"Authorization": secret["harbor"]}, {"Authorization": "wrong"}),
        "argocd": ("/webhooks/argocd", ARGOCD_SYNC, {"Authorization": f"Bearer {secret['argocd']}"},
                   {"Authorization": "Bearer wrong"}),
        "flux": ("/webhooks/flux", FLUX, {"Gotk-Component": "kustomize-controller",
                                          "X-Signature": "sha256=" + hmac_hex(secret["flux"], FLUX)},
                 {"Gotk-Component": "kustomize-controller", "X-Signature": "sha256=" + hmac_hex("no", FLUX)}),
        "cloudevents": ("/", json.dumps(structured(1)).encode(),
                        {**CE_JSON, "Authorization": f"Bearer {secret['cloudevents']}"},
                        {**CE_JSON, "Authorization": "Bearer wrong"}),
    }


@pytest.mark.parametrize("source", ["github", "gitlab", "pagerduty", "harbor", "argocd", "flux", "cloudevents"])
def test_each_vendor_fixture_with_right_wrong_and_missing_credentials(make_client, paths, source):
    client = make_client(secrets=SECRETS)
    path, body, good, bad = _vendor_requests(SECRETS)[source]
    base = {"Content-Type": "application/json"}
    missing = {k: v for k, v in bad.items() if k.lower() not in (
        "authorization", "x-hub-signature-256", "x-gitlab-token", "x-pagerduty-signature", "x-signature")}
    for headers in (bad, missing):
        r = client.post(path, content=body, headers={**base, **headers})
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"].startswith("unauthenticated")
        assert SECRETS[source] not in r.text
    assert landing_bytes(paths.landing) == 0  # 401 writes nothing
    r = client.post(path, content=body, headers={**base, **good})
    assert r.status_code == 202, r.text
    (line,) = landing_lines(paths.landing)
    assert line["body"] == json.loads(body)
    if source != "cloudevents":
        assert line["headers"]["x-lifecycle-source"] == source
    stored = json.dumps(line["headers"]).lower()
    for word in ("authorization", "signature", "token"):
        assert word not in stored, f"{word} header stored"
    assert not any(s in json.dumps(line) for s in SECRETS.values())


def test_the_ingest_token_works_for_every_source_and_flux_accepts_a_bearer_token(make_client, paths):
    client = make_client(secrets=SECRETS)
    bearer = {"Authorization": f"Bearer {SECRETS['cloudevents']}", "Content-Type": "application/json"}
    assert client.post("/webhooks/github", content=GITHUB_PR, headers=bearer).status_code == 202
    assert client.post("/webhooks/generic", json={"tool": "x"}, headers=bearer).status_code == 202
    assert client.post("/webhooks/generic", json={"tool": "x"}).status_code == 401
    r = client.post("/webhooks/flux", content=FLUX, headers={"Authorization": f"Bearer {SECRETS['flux']}",
                                                             "Content-Type": "application/json"})
    assert r.status_code == 202
    assert len(landing_lines(paths.landing)) == 3


def test_without_secrets_loopback_is_open_and_other_hosts_refuse_requests(make_client):
    assert make_client().post("/webhooks/github", content=GITHUB_PR,
                              headers={"Content-Type": "application/json"}).status_code == 202
    remote = make_client(secrets={"github": "s"}, host="0.0.0.0")
    r = remote.post("/webhooks/gitlab", content=GITLAB_PUSH, headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and "LIFECYCLE_GITLAB_TOKEN" in r.json()["error"]


def test_github_form_encoded_delivery_and_vendor_headers_at_the_root(make_client, paths):
    from urllib.parse import urlencode

    client = make_client(secrets={"github": SECRETS["github"]})
    form = urlencode({"payload": GITHUB_PR.decode()}).encode()
    r = client.post("/webhooks/github", content=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "gh-form", "X-Hub-Signature-256": github_signature(SECRETS["github"], form)})
    assert r.status_code == 202 and r.json()["events"][0] == {"id": "gh-form", "type": "pull_request",
                                                             "status": "accepted"}
    # a GitHub hook pointed at `/` is routed (and authenticated) by its headers
    r = client.post("/", content=GITHUB_PR, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "gh-root",
        "X-Hub-Signature-256": github_signature(SECRETS["github"], GITHUB_PR)})
    assert r.status_code == 202 and r.json()["source"] == "github"
    bodies = [line["body"] for line in landing_lines(paths.landing)]
    assert bodies == [json.loads(GITHUB_PR)] * 2


def test_webhook_bodies_must_be_objects(make_client, paths):
    client = make_client()
    r = client.post("/webhooks/gitlab", json=[1, 2])
    assert r.status_code == 422 and "JSON object" in r.json()["error"]
    assert landing_bytes(paths.landing) == 0


def test_secrets_and_bodies_never_reach_the_logs(make_client, caplog):
    client = make_client(secrets=SECRETS)
    with caplog.at_level(logging.INFO, logger="lifecycle.receiver"):
        client.post("/", content=json.dumps(structured(1, data={"password": "hunter2"})),
                    headers={**CE_JSON, "Authorization": f"Bearer {SECRETS['cloudevents']}"})
        client.post("/", content=b"{}", headers={**CE_JSON, "Authorization": "Bearer guessed-token"})
    text = caplog.text
    assert "hunter2" not in text and SECRETS["cloudevents"] not in text and "guessed-token" not in text
    records = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith('{"event": "request"')]
    assert [r["status"] for r in records] == [202, 401]


# -- backpressure and operability -----------------------------------------------------------------------------------

def test_disk_full_is_503_with_retry_after_and_not_ready(make_client, paths):
    client = make_client(min_free_bytes=1 << 62)
    r = client.post("/", content=json.dumps(structured(1)), headers=CE_JSON)
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
    assert "disk is full" in r.json()["error"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "disk full" in ready.json()["problems"][0]
    assert client.get("/healthz").status_code == 200
    assert landing_bytes(paths.landing) == 0


def test_unwritable_landing_zone_is_503(make_client, paths):
    paths.landing.mkdir(parents=True)
    (paths.landing / "receiver").write_text("a file where the directory should be")
    client = make_client()
    r = client.post("/", content=json.dumps(structured(1)), headers=CE_JSON)
    assert r.status_code == 503 and "not writable" in r.json()["error"] and "Retry-After" in r.headers
    assert client.get("/readyz").status_code == 503


def test_write_errors_are_503_and_the_file_stays_clean(make_client, paths, monkeypatch):
    from pipelines.receiver import landing

    client = make_client()
    assert client.post("/", content=json.dumps(structured(1)), headers=CE_JSON).status_code == 202
    real_write = landing.os.write

    def torn_write(fd, data):  # half the bytes reach the file, then the disk is full
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(landing.os, "write", torn_write)
    r = client.post("/", content=json.dumps(structured(2)), headers=CE_JSON)
    assert r.status_code == 503 and "disk is full" in r.json()["error"]
    monkeypatch.setattr(landing.os, "write", real_write)
    assert client.post("/", content=json.dumps(structured(3)), headers=CE_JSON).status_code == 202
    assert [line["body"]["id"] for line in landing_lines(paths.landing)] == ["ce-1", "ce-3"]


def test_healthz_readyz_metrics_and_webhook_handshake(make_client):
    client = make_client()
    client.post("/", content=json.dumps(structured(1)), headers=CE_JSON)
    client.post("/", content=b"nope", headers=CE_JSON)
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    text = client.get("/metrics").text
    assert 'lifecycle_receiver_requests_total{source="cloudevents",status="202"} 1.0' in text
    assert 'lifecycle_receiver_requests_total{source="cloudevents",status="400"} 1.0' in text
    assert 'lifecycle_receiver_events_total{mode="structured",source="cloudevents"} 1.0' in text
    for name in ("lifecycle_receiver_request_duration_seconds_bucket", "lifecycle_receiver_request_bytes_total",
                 "lifecycle_receiver_landing_lag_seconds", "lifecycle_receiver_commit_requests_bucket",
                 "lifecycle_receiver_landing_free_bytes"):
        assert name in text
    r = client.options("/", headers={"WebHook-Request-Origin": "eventemitter.example.com"})
    assert r.status_code == 200 and r.headers["WebHook-Allowed-Origin"] == "eventemitter.example.com"


def test_shutdown_closes_the_open_file(make_client, paths):
    client = make_client()
    client.post("/", content=json.dumps(structured(1)), headers=CE_JSON)
    files = list((paths.landing / "receiver").rglob("*"))
    assert any(f.name.endswith(".ndjson.open") for f in files)
    client.__exit__(None, None, None)
    names = [f.name for f in (paths.landing / "receiver").rglob("*.ndjson*")]
    assert len(names) == 1 and names[0].endswith(".ndjson") and not names[0].endswith(".open")
    assert Path(paths.landing / "receiver").glob("date=*")


def test_cloudevents_on_vendor_paths_keep_the_vendor_except_generic(make_client, paths):
    client = make_client()
    assert client.post("/webhooks/harbor", content=json.dumps(structured(1)), headers=CE_JSON).status_code == 202
    assert client.post("/webhooks/generic", content=json.dumps(structured(2)), headers=CE_JSON).status_code == 202
    assert client.post("/webhooks/generic", json={"tool": "x"}).status_code == 202
    harbor, generic_ce, generic_hook = landing_lines(paths.landing)
    assert harbor["headers"]["x-lifecycle-source"] == "harbor"  # e.g. Harbor's CloudEvents format
    assert "x-lifecycle-source" not in generic_ce["headers"]  # a CloudEvent names its own source
    assert generic_hook["headers"]["x-lifecycle-source"] == "generic"
