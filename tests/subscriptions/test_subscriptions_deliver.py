"""One delivery: which answers are permanent, how long to wait before a retry, and what a failed POST reports."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from pipelines.subscriptions.deliver import Outcome, backoff_delay, classify, next_delay, parse_retry_after, post


@pytest.mark.parametrize(("attempt", "rand", "expected"), [
    # initial 1 s, cap 300 s: base = min(300, 1 · 2^(attempt-1)); delay = base · (0.5 + 0.5 · rand)
    (1, 0.0, 0.5),      # base 1 → half of it
    (1, 1.0, 1.0),      # … up to all of it
    (4, 0.5, 6.0),      # base 8 → 8 · 0.75
    (9, 1.0, 256.0),    # base 2^8 = 256
    (10, 1.0, 300.0),   # base 512 capped at 300
    (30, 0.0, 150.0),   # capped, then jitter
])
def test_backoff_doubles_up_to_the_cap_with_jitter(attempt, rand, expected):
    assert backoff_delay(attempt, 1.0, 300.0, lambda: rand) == pytest.approx(expected)


def test_retry_after_wins_over_the_backoff_and_is_capped_at_an_hour():
    now = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 Jul 2026 10:02:30 GMT", now) == 150.0  # 2 min 30 s after `now`
    assert parse_retry_after("Wed, 01 Jul 2026 09:00:00 GMT", now) == 0.0  # in the past: now
    assert parse_retry_after("86400") == 3600.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert next_delay(Outcome(False, 503, retry_after=7.0), 5, 1.0, 300.0, lambda: 1.0) == 7.0
    assert next_delay(Outcome(False, 503), 5, 1.0, 300.0, lambda: 1.0) == 16.0  # 2^4


@pytest.mark.parametrize(("status", "permanent"), [
    (400, True), (401, True), (403, True), (404, True), (410, True), (413, True), (422, True), (302, True),
    (408, False), (425, False), (429, False), (500, False), (502, False), (503, False), (504, False),
])
def test_which_answers_are_permanent(status, permanent):
    assert classify(status) is permanent


def test_post_reports_success_statuses_retry_after_and_refused_connections(sink):
    sink.answer = lambda path, n: {"/ok": 202, "/busy": (429, {"Retry-After": "3"}), "/moved": (302, {"Location": "/ok"}),
                                   "/gone": 410}[path]
    assert post(sink.url("/ok"), {"X-A": "1"}, b"{}", 2) == Outcome(ok=True, status=202)
    assert sink.requests[0].headers["x-a"] == "1" and sink.requests[0].body == b"{}"
    busy = post(sink.url("/busy"), {}, b"{}", 2)
    assert (busy.ok, busy.status, busy.permanent, busy.retry_after) == (False, 429, False, 3.0)
    moved = post(sink.url("/moved"), {}, b"{}", 2)  # not followed: a POST must reach its final URL
    assert (moved.status, moved.permanent) == (302, True)
    assert [r.path for r in sink.requests] == ["/ok", "/busy", "/moved"]
    gone = post(sink.url("/gone"), {}, b"{}", 2)
    assert (gone.status, gone.permanent, gone.error) == (410, True, "HTTP 410 Gone: ok")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = post(f"http://127.0.0.1:{port}/", {}, b"{}", 2)
    assert (refused.ok, refused.status, refused.permanent) == (False, None, False)
    assert refused.error == "no answer: Connection refused"
