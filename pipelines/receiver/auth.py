"""Per-source authentication: HMAC signatures over the raw body, shared tokens, bearer tokens.

| source | accepted credentials (secret) |
|---|---|
| cloudevents (``POST /``), tekton, jenkins, keptn, kubewatch, argo-rollouts, flagger, k6, generic | ``Authorization: Bearer <LIFECYCLE_INGEST_TOKEN>`` |
| github | ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` (LIFECYCLE_GITHUB_SECRET) |
| gitlab | ``X-Gitlab-Token: <LIFECYCLE_GITLAB_TOKEN>`` |
| pagerduty | ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256>[,v1=…]`` (LIFECYCLE_PAGERDUTY_SECRET) |
| harbor | ``Authorization: <LIFECYCLE_HARBOR_TOKEN>`` (Harbor's "auth header", verbatim or as ``Bearer``) |
| argocd | ``Authorization: Bearer <LIFECYCLE_ARGOCD_TOKEN>`` (or the bare token) |
| flux | ``Authorization: Bearer <LIFECYCLE_FLUX_TOKEN>``, or ``X-Signature: sha256=<hex HMAC>`` (generic-hmac provider) |

A vendor source without a secret of its own falls back to the ingest bearer token. A source with no
credentials configured at all is open only on a loopback listener. Every comparison is constant-time
(``hmac.compare_digest``) and checks every configured value (no early exit). Reasons name the header
that failed, never a secret or a signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipelines.receiver.settings import SECRET_ENV, Secrets


@dataclass(frozen=True)
class AuthOutcome:
    ok: bool
    method: str  # how the request was (or would have been) authenticated: hmac-sha256, token, bearer, open, none
    reason: str = ""
    challenge: str | None = None  # a WWW-Authenticate value for 401 answers


def _equal_any(given: str, candidates: tuple[str, ...]) -> bool:
    given_bytes = given.encode("utf-8", "surrogateescape")
    ok = False
    for candidate in candidates:
        ok |= hmac.compare_digest(given_bytes, candidate.encode("utf-8"))
    return ok


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _bearer(headers: Mapping[str, str], tokens: tuple[str, ...], allow_bare: bool = False) -> tuple[bool, str]:
    value = headers.get("authorization")
    if value is None:
        return False, "missing Authorization header (expected: Bearer <token>)"
    value = value.strip()
    scheme, _, token = value.partition(" ")
    is_bearer = scheme.lower() == "bearer" and bool(token.strip())
    ok = _equal_any(token.strip(), tokens) if is_bearer else False
    if allow_bare:
        ok |= _equal_any(value, tokens)
    if ok:
        return True, ""
    if not is_bearer and not allow_bare:
        return False, "the Authorization header is not a bearer token (expected: Bearer <token>)"
    return False, "the Authorization header does not match"


def _signature(header: str, prefix: str, headers: Mapping[str, str], body: bytes,
               secrets: tuple[str, ...]) -> tuple[bool, str]:
    """``<prefix><hex>`` values (comma-separated, any may match) against HMAC-SHA256 of the raw body."""
    value = headers.get(header)
    if value is None:
        return False, f"missing {header} header"
    given = [part.strip()[len(prefix):].lower() for part in value.split(",") if part.strip().startswith(prefix)]
    if not given:
        return False, f"{header} holds no {prefix}<hex> signature"
    expected = tuple(_hmac_hex(secret, body) for secret in secrets)
    ok = False
    for signature in given:
        ok |= _equal_any(signature, expected)
    return (True, "") if ok else (False, f"{header} does not match the body (wrong secret, or the body was altered)")


def _github(headers, body, secrets):
    return _signature("x-hub-signature-256", "sha256=", headers, body, secrets)


def _gitlab(headers, body, secrets):  # noqa: ARG001 - one signature for every scheme
    value = headers.get("x-gitlab-token")
    if value is None:
        return False, "missing X-Gitlab-Token header"
    return (True, "") if _equal_any(value.strip(), secrets) else (False, "X-Gitlab-Token does not match")


def _pagerduty(headers, body, secrets):
    return _signature("x-pagerduty-signature", "v1=", headers, body, secrets)


def _harbor(headers, body, secrets):  # noqa: ARG001
    return _bearer(headers, secrets, allow_bare=True)


def _argocd(headers, body, secrets):  # noqa: ARG001
    return _bearer(headers, secrets, allow_bare=True)


def _flux(headers, body, secrets):
    if "x-signature" in headers and "authorization" not in headers:
        return _signature("x-signature", "sha256=", headers, body, secrets)
    return _bearer(headers, secrets)


def _ingest(headers, body, secrets):  # noqa: ARG001
    return _bearer(headers, secrets)


Scheme = Callable[[Mapping[str, str], bytes, tuple[str, ...]], tuple[bool, str]]
SCHEMES: dict[str, tuple[Scheme, str]] = {
    "github": (_github, "hmac-sha256"),
    "gitlab": (_gitlab, "token"),
    "pagerduty": (_pagerduty, "hmac-sha256"),
    "harbor": (_harbor, "token"),
    "argocd": (_argocd, "bearer"),
    "flux": (_flux, "bearer"),
    "cloudevents": (_ingest, "bearer"),
}


def authenticate(source: str, headers: Mapping[str, str], body: bytes, secrets: Secrets,
                 open_access: bool) -> AuthOutcome:
    """Check a request's credentials for ``source`` (headers lower-cased, body as received)."""
    own = secrets.for_source(source) if source in SCHEMES else ()
    if own:
        scheme, method = SCHEMES[source]
        ok, reason = scheme(headers, body, own)
        if ok:
            return AuthOutcome(True, method)
        ingest = secrets.for_source("cloudevents")
        if source != "cloudevents" and ingest and "authorization" in headers and _bearer(headers, ingest)[0]:
            return AuthOutcome(True, "bearer")
        return AuthOutcome(False, method, reason, "Bearer" if method == "bearer" else None)
    ingest = secrets.for_source("cloudevents")
    if ingest:
        ok, reason = _bearer(headers, ingest)
        return AuthOutcome(True, "bearer") if ok else AuthOutcome(False, "bearer", reason, "Bearer")
    if open_access:
        return AuthOutcome(True, "open")
    variable = SECRET_ENV.get(source, SECRET_ENV["cloudevents"])
    return AuthOutcome(False, "none", f"no credentials are configured for {source}: set {variable} "
                                      f"or {SECRET_ENV['cloudevents']}", "Bearer")
