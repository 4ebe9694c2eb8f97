"""One HTTP delivery and what to do after it: done, retry later (when), or give up now.

The standard library's client (``urllib``) is enough for one POST with a timeout; redirects are not followed (a
POST redirected to a GET would lose its body — configure the final URL). Permanent failures are the 4xx answers a
retry cannot fix; 408, 425 and 429 are retried, like 5xx, timeouts and refused connections. Retry delays grow
exponentially up to a cap, with jitter so that many deliveries failing together do not retry together, and a
``Retry-After`` from the receiver wins (up to an hour). Error texts never include the URL or headers (secrets).
"""

from __future__ import annotations

import http.client
import random
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_4XX = frozenset({408, 425, 429})
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None  # the HTTP status, None when no answer came (refused, timeout)
    error: str | None = None
    permanent: bool = False  # retrying cannot help: dead-letter now
    retry_after: float | None = None  # seconds the receiver asked us to wait


Sender = Callable[[str, Mapping[str, str], bytes, float], Outcome]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002, PLR0913
        return None  # the 3xx surfaces as an HTTPError


_opener = urllib.request.build_opener(_NoRedirect)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - (now or datetime.now(UTC))).total_seconds(), 0.0), MAX_RETRY_AFTER)


def classify(status: int) -> bool:
    """Whether an HTTP status is a permanent failure."""
    return 300 <= status < 500 and status not in RETRYABLE_4XX


def post(url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> Outcome:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            return Outcome(ok=True, status=response.status)
    except urllib.error.HTTPError as exc:
        try:
            detail = exc.read(300).decode("utf-8", "replace").strip()
        except OSError:
            detail = ""
        error = f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
        return Outcome(ok=False, status=exc.code, error=error[:500], permanent=classify(exc.code),
                       retry_after=parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None))
    except urllib.error.URLError as exc:
        reason = exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else exc.reason
        return Outcome(ok=False, error=f"no answer: {reason}")
    except (TimeoutError, socket.timeout):
        return Outcome(ok=False, error=f"no answer: timed out after {timeout:g} s")
    except (ConnectionError, OSError) as exc:
        return Outcome(ok=False, error=f"no answer: {exc.strerror or type(exc).__name__}")
    except http.client.HTTPException as exc:  # a broken answer (bad status line, cut short): retried
        return Outcome(ok=False, error=f"bad answer: {type(exc).__name__}")


def backoff_delay(attempt: int, initial: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``attempt``-th failure: ``initial · 2^(attempt-1)`` capped at ``cap``, then a random
    half to all of it (jitter keeps failed deliveries from retrying in lockstep, and the wait still grows)."""
    base = min(cap, initial * 2 ** (attempt - 1))
    return base * (0.5 + 0.5 * rand())


def next_delay(outcome: Outcome, attempt: int, initial: float, cap: float,
               rand: Callable[[], float] = random.random) -> float:
    """The wait before the next attempt: the receiver's Retry-After when it sent one, else the backoff."""
    if outcome.retry_after is not None:
        return outcome.retry_after
    return backoff_delay(attempt, initial, cap, rand)
