"""Fuzz the receiver's parsers with malformed bodies and headers (hypothesis, bounded).

Properties: never a 5xx; every answer is JSON; a refused request writes nothing; an accepted one writes
exactly one complete line; and every line the receiver accepted loads without quarantine.

The suite runs a deterministic profile (``derandomize``, 300 examples); for a longer random hunt:
``HYPOTHESIS_PROFILE=receiver-fuzz pytest tests/receiver/test_receiver_fuzz.py``.
"""

from __future__ import annotations

import gzip
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from pipelines import tasks
from pipelines.receiver.app import create_app
from tests.conftest import query
from tests.receiver.conftest import landing_bytes, landing_lines, settings_for, structured

settings.register_profile("receiver-ci", max_examples=300, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("receiver-fuzz", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "receiver-ci")

PATHS = ["/", "/", "/", "/webhooks/github", "/webhooks/gitlab", "/webhooks/generic", "/webhooks/pagerduty",
         "/webhooks/harbor", "/webhooks/flux", "/webhooks/unknown"]
CONTENT_TYPES = ["application/cloudevents+json", "application/cloudevents-batch+json", "application/json",
                 "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
                 "application/cloudevents+avro", "text/json", "application/vnd.x+json", ""]
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | \
    st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
CE_KEYS = ["specversion", "id", "source", "type", "time", "data", "data_base64", "datacontenttype", "subject",
           "Bad-Ext", "context", "subject"]


@st.composite
def mutated_event(draw):
    """A valid structured event with some attributes dropped or replaced by junk."""
    event = structured(draw(st.integers(0, 5)))
    for key in draw(st.lists(st.sampled_from(CE_KEYS), max_size=3)):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(json_values | st.sampled_from(["1.0", "0.3", "", "2026-07-01T10:00:00Z", "now"]))
    return event


@st.composite
def bodies(draw):
    kind = draw(st.sampled_from(["bytes", "json", "event", "batch", "cdevent", "truncated", "literal"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "event":
        return json.dumps(draw(mutated_event())).encode()
    if kind == "batch":
        return json.dumps(draw(st.lists(mutated_event() | json_values, max_size=4))).encode()
    if kind == "cdevent":
        cd = structured(1)["data"]
        for key in draw(st.lists(st.sampled_from(["id", "source", "type", "timestamp"]), max_size=2)):
            cd["context"][key] = draw(json_values)
        return json.dumps(cd).encode()
    if kind == "truncated":
        full = json.dumps(structured(1)).encode()
        return full[: draw(st.integers(0, len(full) - 1))]
    return draw(st.sampled_from([b"NaN", b'{"a": Infinity}', b'{"a": 1e999}', b'"\\ud800"', b"[" * 5000,
                                 b'{"a": "\\ud83d\\ude00"}', b"\xef\xbb\xbf{}", b"null", b"payload=%7B%7D"]))


@st.composite
def plausible_requests(draw):
    """Mostly well-formed requests of every kind, so the accepting paths are exercised as much as the refusals."""
    kind = draw(st.sampled_from(["structured", "binary", "batch", "webhook", "cdevent"]))
    if kind == "structured":
        return "/", {"Content-Type": "application/cloudevents+json"}, json.dumps(draw(mutated_event())).encode()
    if kind == "batch":
        events = draw(st.lists(mutated_event(), min_size=1, max_size=3))
        return "/", {"Content-Type": "application/cloudevents-batch+json"}, json.dumps(events).encode()
    if kind == "binary":
        headers = {"ce-specversion": "1.0", "ce-id": draw(header_text), "ce-source": "/src", "ce-type": "t.x"}
        if draw(st.booleans()):
            headers["ce-time"] = draw(st.sampled_from(["2026-07-01T10:00:00Z", "2026-07-01T10%3A00%3A00%2B02%3A00"]))
        content_type = draw(st.sampled_from(["application/json", "text/plain", "application/xml", ""]))
        if content_type:
            headers["Content-Type"] = content_type
        return "/", headers, draw(st.sampled_from([b"", b"[1, 2]", b"{}", b"null", b"<x/>", b'"s"']) | bodies())
    if kind == "cdevent":
        return "/", {"Content-Type": "application/json"}, json.dumps(structured(1)["data"]).encode()
    path = draw(st.sampled_from([p for p in PATHS if p.startswith("/webhooks/")]))
    body = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    return path, {"Content-Type": "application/json", "X-Lifecycle-Delivery": draw(header_text)}, \
        json.dumps(body).encode()


@st.composite
def requests(draw):
    if draw(st.booleans()):
        path, headers, body = draw(plausible_requests())
        extra = draw(st.dictionaries(st.sampled_from(["X-GitHub-Event", "ce-partof", "X-Lifecycle-Source"]),
                                     header_text, max_size=1))
        return path, {**headers, **extra}, body
    headers = {}
    content_type = draw(st.sampled_from(CONTENT_TYPES) | header_text)
    if content_type:
        headers["Content-Type"] = content_type
    for name in draw(st.lists(st.sampled_from(["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time",
                                               "ce-Bad_Ext", "X-GitHub-Event", "X-Gitlab-Event", "Gotk-Component",
                                               "X-Lifecycle-Source", "X-PagerDuty-Signature", "Authorization",
                                               "Content-Encoding"]), max_size=5, unique=True)):
        headers[name] = draw(st.sampled_from(["1.0", "push", "gzip", "github", "0.3", ""]) | header_text)
    body = draw(bodies())
    if headers.get("Content-Encoding") == "gzip" and draw(st.booleans()):
        body = gzip.compress(body)
    return draw(st.sampled_from(PATHS)), headers, body


def test_fuzzed_requests_never_5xx_never_write_partially_and_always_load(paths):
    client = TestClient(create_app(settings_for(paths.landing, max_body_bytes=64 * 1024, rotate_seconds=1e6)))
    client.__enter__()
    accepted = 0

    @settings(settings.get_profile(PROFILE))
    @given(request=requests())
    def check(request):
        nonlocal accepted
        path, headers, body = request
        before = landing_bytes(paths.landing)
        lines_before = len(landing_lines(paths.landing))
        response = client.post(path, content=body, headers=headers)
        assert response.status_code < 500, (response.status_code, response.text)
        assert response.headers.get("content-type", "").startswith("application/json") or \
            (response.status_code == 202 and response.content == b"")  # Knative-style empty 202
        if 200 <= response.status_code < 300:
            accepted += 1
            assert len(landing_lines(paths.landing)) == lines_before + 1
        else:
            assert set(response.json()) == {"error", "detail"}
            assert landing_bytes(paths.landing) == before, "a refused request wrote something"

    try:
        check()
    finally:
        client.__exit__(None, None, None)
    print(f"fuzz: {accepted} accepted")
    assert accepted > 10  # the generator reaches the accepting paths too
    result = tasks.ingest_landing_zone(paths)
    assert result.total("quarantined") == 0, query(paths, "select reason, payload from raw.quarantine limit 5")
    assert result.total("records") >= accepted
