"""Deterministic, seeded generator of a bank's software-delivery lifecycle events.

The generator first *simulates* a world — developers merging pull requests, CI building artifacts, a GitOps
controller promoting them dev → qa → staging → prod-eu/prod-us, incidents, rollbacks and hotfixes — and
keeps what it decided happened in plain dataclasses (:class:`ServiceWorld`). Two independent things are then
derived from that world:

* the **events** the tools would have emitted (CloudEvents 1.0 carrying CDEvents v0.4.1/v0.5.1, GitHub push
  webhooks as captured requests), written to the files described in ``SCENARIO.md``; and
* the **ground truth** (``expected.json``): event counts, stage counts and the DORA figures, computed from
  the world model by the rules written in ``SCENARIO.md`` — never by reading the emitted events back.

Stdlib only. Same seed and options → byte-identical files. Services are simulated one at a time and written
through sorted runs (spilled to temporary files for big runs), so memory stays bounded for millions of events.

CLI::

    python -m sample_events.generate --out DIR [--seed 7] [--days 90] [--start 2026-07-01]
                                     [--scale 1.0] [--events N] [--services a,b] [--no-storylines]
                                     [--expected PATH]

The committed sample: ``python -m sample_events.generate --out sample_events/data
--expected sample_events/expected.json``.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time as _time
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable, Iterator

GENERATOR_VERSION = 1
DEFAULT_SEED = 7
DEFAULT_DAYS = 90
DEFAULT_START = "2026-07-01"

MINUTE, HOUR, DAY = 60, 3600, 86400
HOTFIX_WINDOW_S = 48 * HOUR  # a new artifact reaching the incident's cluster this long after resolution is a hotfix
DUPLICATE_SHARE = 0.02  # share of events re-delivered into duplicates.ndjson
SHUFFLE_SHARE = 0.03  # share of cloudevents.ndjson lines delivered late (out of order)
DETAILS_MAX_EVENTS = 200_000  # above this, expected.json carries aggregates only (unless details=True)

ORG = "bank-org"
NONPROD = ("dev", "qa", "staging")
PROD_CLUSTERS = ("prod-eu", "prod-us")
ENV_RANK = {"dev": 1, "qa": 2, "staging": 3, "prod-eu": 4, "prod-us": 4}
CLUSTER_OF = {"dev": "nonprod", "qa": "nonprod", "staging": "nonprod", "prod-eu": "prod-eu", "prod-us": "prod-us"}
FUNNEL_STAGES = ("built", "published", "scanned", "dev", "qa", "staging", "production")
# The deliberately slow tool (SCENARIO.md §2.4a): the registry's vulnerability scanner works through a backlog,
# so a pushed image waits this long in its queue before a 2–6 min scan; hotfixes are expedited (3–7 min).
SCAN_QUEUE_S = (40 * HOUR,  64 * HOUR)
SCAN_EXPEDITED_S = (3 * MINUTE, 7 * MINUTE)
SCAN_RUN_S = (2 * MINUTE, 6 * MINUTE)
SCANNER = {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50.1"}
SCAN_REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"

# Output files (relative to --out). Every event is in exactly one primary file; duplicates.ndjson holds
# re-deliveries of events that are also in a primary file.
FILES = {
    "structured": "cloudevents.ndjson",
    "binary": "cloudevents-binary.ndjson",
    "batch": "cloudevents-batch.json",
    "bare": "cdevents-bare.ndjson",
    "push": "github-push.ndjson",
    "dup": "duplicates.ndjson",
}
PRIMARY_CHANNELS = ("structured", "binary", "batch", "bare", "push")

# --- tools: CloudEvents source, CDEvents spec version, timestamp offset (minutes), delivery channel -------
GITHUB_HOOKSHOT_UA = "GitHub-Hookshot/7a3c2f1"
SOURCE_CI = "https://tekton.bank.example/ci"
SOURCE_REGISTRY = "https://harbor.bank.example"
SOURCE_GITOPS = {
    "nonprod": "https://argocd.nonprod.bank.example",
    "prod-eu": "https://argocd.prod-eu.bank.example",
    "prod-us": "https://argocd.prod-us.bank.example",
}
SOURCE_INCIDENTS = "https://bank.pagerduty.com"
REGISTRY_HOST = "registry.bank.example"

# tool -> (spec version, timestamp offset minutes, channel, sets chainId)
TOOLS: dict[str, tuple[str, int, str, bool]] = {
    "github": ("0.5.1", 0, "batch", False),  # GitHub -> CDEvents adapter, posts batches
    "ci": ("0.4.1", 0, "structured", True),  # Tekton; upgraded to 0.5.1 half-way (see ci_upgrade)
    "registry": ("0.5.1", 0, "bare", False),  # Harbor posts bare CDEvents (no CloudEvents envelope)
    "gitops:nonprod": ("0.5.1", 0, "structured", True),
    "gitops:prod-eu": ("0.5.1", 120, "binary", True),  # local time, +02:00
    "gitops:prod-us": ("0.4.1", 0, "binary", False),  # older controller: v0.4.1, no chainId
    "incident": ("0.4.1", -300, "binary", False),  # PagerDuty adapter, -05:00
}

# CDEvents type strings and v0.4.1 subject.type, per spec version (from the spec's schemas)
_TYPE_VERSIONS = {
    "change.created": ("0.3.0", "0.4.0"),
    "change.merged": ("0.2.0", "0.3.0"),
    "pipelinerun.queued": ("0.2.0", "0.3.0"),
    "pipelinerun.started": ("0.2.0", "0.3.0"),
    "pipelinerun.finished": ("0.2.0", "0.3.0"),
    "build.queued": ("0.2.0", "0.3.0"),
    "build.started": ("0.2.0", "0.3.0"),
    "build.finished": ("0.2.0", "0.3.0"),
    "testsuiterun.started": ("0.2.0", "0.3.0"),
    "testsuiterun.finished": ("0.2.0", "0.3.0"),
    "artifact.packaged": ("0.2.0", "0.3.0"),
    "artifact.published": ("0.2.0", "0.3.0"),
    "service.deployed": ("0.2.0", "0.3.0"),
    "service.upgraded": ("0.2.0", "0.3.0"),
    "service.rolledback": ("0.2.0", "0.3.0"),
    "incident.detected": ("0.2.0", "0.3.0"),
    "incident.reported": ("0.2.0", "0.3.0"),
    "incident.resolved": ("0.2.0", "0.3.0"),
}
_SUBJECT_TYPE = {
    "change": "change",
    "pipelinerun": "pipelineRun",
    "build": "build",
    "testsuiterun": "testSuiteRun",
    "artifact": "artifact",
    "service": "service",
    "incident": "incident",
}


def cdevent_type(kind: str, spec_version: str) -> str:
    """``dev.cdevents.<kind>.<type version>`` for spec ``0.4.1`` or ``0.5.1``."""
    v = _TYPE_VERSIONS[kind][0 if spec_version == "0.4.1" else 1]
    return f"dev.cdevents.{kind}.{v}"


GITHUB_PUSH_TYPE = "github:push"  # key used in counts for GitHub push deliveries (not a CloudEvent)

# ----------------------------------------------------------------------------------------------- people


@dataclass(slots=True, frozen=True)
class Person:
    name: str
    username: str
    email: str
    offset: int = 0  # minutes east of UTC, used for this person's commit timestamps


RENOVATE = Person("renovate[bot]", "renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com", 0)
WEB_FLOW = Person("GitHub", "web-flow", "noreply@github.com", 0)

TEAMS: dict[str, dict[str, Any]] = {
    # tz: the team's local offset, used for the release schedule; devs: (name, username, offset)
    "payments": {"tz": 120, "jira": "PAY", "devs": [
        ("Ana Sousa", "asousa", 60), ("Jonas Weber", "jweber", 120),
        ("Marta Kowalska", "mkowalska", 120), ("Luca Bianchi", "lbianchi", 120)]},
    "accounts": {"tz": -300, "jira": "ACC", "devs": [
        ("Emily Carter", "ecarter", -300), ("Marcus Johnson", "mjohnson", -300),
        ("Sofia Alvarez", "salvarez", -240), ("Daniel Kim", "dkim", -420)]},
    "cards": {"tz": 330, "jira": "CRD", "devs": [
        ("Arjun Mehta", "amehta", 330), ("Kavya Iyer", "kiyer", 330),
        ("Rahul Nair", "rnair", 330), ("Siobhan Byrne", "sbyrne", 60)]},
    "platform": {"tz": 60, "jira": "PLT", "devs": [
        ("Tom Hughes", "thughes", 60), ("Nadia Petrova", "npetrova", 180), ("Chris Lee", "clee", 0)]},
}
_FIRST = ("Alex", "Maria", "Kenji", "Fatima", "Olivia", "Noah", "Ines", "Mateo", "Chloe", "Ivan", "Zara",
          "Yusuf", "Elena", "Omar", "Hana", "Leo", "Aisha", "Pedro", "Mia", "Tariq")
_LAST = ("Novak", "Silva", "Tanaka", "Haddad", "Brown", "Fischer", "Rossi", "Costa", "Dubois", "Popescu",
         "Khan", "Larsen", "Moreau", "Sato", "Okafor", "Garcia", "Nilsen", "Ferreira", "Meyer", "Ali")

# --------------------------------------------------------------------------------------------- profiles
# merges: PR merges per working day at activity 1; direct: direct pushes to main per working day;
# bots: share of PRs opened by renovate[bot]; style: merge commit or squash; cadence: release train
# (weekdays 0=Mon, every N weeks with offset, steps (environment, day offset, local time));
# storylines: (name, fraction of the window, options) — the scripted messy cases, see SCENARIO.md.
PROFILES: tuple[dict[str, Any], ...] = (
    {"name": "fund-transfer", "team": "payments", "app": "payments-core", "merges": 1.0, "direct": 0.03,
     "bots": 0.1, "style": "merge", "mm": "3.14",
     "cadence": {"weekdays": (0, 1, 2, 3), "every": 1, "offset": 0,
                 "steps": (("qa", 0, "09:30"), ("staging", 0, "11:00"), ("prod-eu", 0, "13:30"),
                           ("prod-us", 0, "16:00"))},
     "files": ("src/main/java/bank/transfer/TransferService.java", "src/main/java/bank/transfer/LimitCheck.java",
               "src/main/resources/application.yaml", "pom.xml",
               "src/test/java/bank/transfer/TransferServiceTest.java"),
     "storylines": (("bad_release_rollback_hotfix", 0.35, {}),)},
    {"name": "payment-gateway", "team": "payments", "app": "payments-core", "merges": 0.6, "direct": 0.02,
     "bots": 0.15, "style": "merge", "mm": "2.7",
     "cadence": {"weekdays": (1, 3), "every": 1, "offset": 0,
                 "steps": (("qa", 0, "10:00"), ("staging", 0, "11:30"), ("prod-eu", 0, "14:00"),
                           ("prod-us", 0, "16:30"))},
     "files": ("gateway/iso20022/mapper.go", "gateway/sepa/client.go", "gateway/server.go", "go.mod",
               "deploy/values.yaml"),
     "storylines": (("skewed_commit_clock", 0.3, {}), ("rollback_without_incident", 0.45, {}),
                    ("redeploy_same_artifact", 0.7, {}))},
    {"name": "account-info", "team": "accounts", "app": "online-banking", "merges": 0.5, "direct": 0.0,
     "bots": 0.1, "style": "merge", "mm": "5.2",
     "cadence": {"weekdays": (1,), "every": 1, "offset": 0,
                 "steps": (("qa", 0, "10:00"), ("staging", 1, "10:00"), ("prod-eu", 2, "08:30"),
                           ("prod-us", 2, "13:00"))},
     "files": ("app/accounts/balance.py", "app/accounts/api.py", "app/db/queries.sql", "pyproject.toml",
               "tests/test_balance.py"),
     "storylines": (("old_commit", 0.15, {}), ("failed_production_deploy", 0.5, {}))},
    {"name": "statements", "team": "accounts", "app": "online-banking", "merges": 0.25, "direct": 0.05,
     "bots": 0.2, "style": "merge", "mm": "1.9", "clusters": ("prod-eu",),
     "cadence": {"weekdays": (2,), "every": 4, "offset": 2,
                 "steps": (("qa", 0, "10:00"), ("staging", 1, "10:00"), ("prod-eu", 5, "09:00"))},
     "files": ("statements/render/pdf.py", "statements/batch/monthly.py", "templates/statement.html",
               "requirements.txt"),
     "storylines": (("incident_before_first_production_deploy", 0.03, {}),)},
    {"name": "card-auth", "team": "cards", "app": "cards-platform", "merges": 0.7, "direct": 0.0,
     "bots": 0.1, "style": "merge", "mm": "4.1",
     "cadence": {"weekdays": (0, 2), "every": 1, "offset": 0,
                 "steps": (("qa", 0, "10:00"), ("staging", 0, "12:30"), ("prod-eu", 0, "15:00"),
                           ("prod-us", 0, "21:30"))},
     "files": ("src/auth/authorize.rs", "src/auth/risk.rs", "src/iso8583/codec.rs", "Cargo.toml",
               "config/limits.toml"),
     "storylines": (("qa_rejected", 0.2, {}), ("incident_fix_forward", 0.5, {"weekday": 0}))},
    {"name": "card-limits", "team": "cards", "app": "cards-platform", "merges": 0.5, "direct": 0.0,
     "bots": 0.0, "style": "merge", "mm": "0.1", "launch": 0.2,
     "cadence": {"weekdays": (2,), "every": 1, "offset": 0,
                 "steps": (("qa", 0, "10:30"), ("staging", 0, "13:00"), ("prod-eu", 0, "15:30"),
                           ("prod-us", 1, "10:30"))},
     "files": ("src/limits/service.ts", "src/limits/rules.ts", "package.json", "test/limits.test.ts"),
     "storylines": (("new_service", 0.2, {}),)},
    {"name": "notifications", "team": "platform", "app": "shared-services", "merges": 0.45, "direct": 0.05,
     "bots": 0.25, "style": "squash", "mm": "7.0",
     "cadence": {"weekdays": (0,), "every": 1, "offset": 0,
                 "steps": (("qa", 0, "09:00"), ("staging", 0, "10:30"), ("prod-eu", 0, "13:00"),
                           ("prod-us", 0, "17:00"))},
     "files": ("notifications/sms/provider.kt", "notifications/push/fcm.kt", "notifications/email/templates.kt",
               "build.gradle.kts"),
     "storylines": (("external_incident", 0.6, {}),)},
    {"name": "api-gateway", "team": "platform", "app": "shared-services", "merges": 0.35, "direct": 0.0,
     "bots": 0.3, "style": "squash", "mm": "1.22",
     "cadence": {"weekdays": (3,), "every": 2, "offset": 1,
                 "steps": (("qa", 0, "09:00"), ("staging", 0, "11:00"), ("prod-eu", 0, "14:00"),
                           ("prod-us", 0, "18:00"))},
     "files": ("envoy/routes.yaml", "envoy/filters/ratelimit.lua", "policies/oauth.rego", "Makefile"),
     "storylines": ()},
)
BASE_SERVICES = tuple(p["name"] for p in PROFILES)

_MESSAGES = (
    "Add idempotency key to {area} API", "Fix rounding in {area} amounts", "Refactor {area} client",
    "Add metrics for {area} latency", "Handle timeout from core banking in {area}",
    "Tighten input validation in {area}",
    "Log correlation id in {area}", "Remove dead code from {area}", "Add retries with backoff to {area}",
    "Update {area} OpenAPI spec", "Cache {area} lookups", "Fix flaky {area} test", "Improve {area} error messages",
    "Add feature flag for new {area} flow", "Split {area} handler", "Document {area} configuration",
)
_BOT_MESSAGES = (
    "Update dependency {dep} to v{v}", "Update {dep} digest to {h}", "Lock file maintenance",
)
_DEPS = ("jackson-databind", "spring-boot", "grpc", "postgresql", "opentelemetry-sdk", "logback", "axios",
         "tokio", "requests", "golang.org/x/net", "kotlinx-coroutines")
_DEPLOY_ERRORS = (
    "one or more objects failed to apply: admission webhook \"policy.bank.example\" denied the request",
    "ImagePullBackOff: registry.bank.example returned 503",
    "sync timed out waiting for healthy state of Deployment",
    "ComparisonError: failed to generate manifest: helm template exited 1",
)
_BUILD_ERRORS = ("compilation failed: 2 errors", "dependency resolution failed: 502 from proxy",
                 "lint: 3 violations")

# --------------------------------------------------------------------------------------------- world


@dataclass(slots=True)
class ServiceSpec:
    index: int
    name: str
    team: str
    app: str
    profile: str = ""
    clusters: tuple[str, ...] = PROD_CLUSTERS
    tz: int = 0
    merges_per_day: float = 0.5
    direct_per_day: float = 0.0
    bot_share: float = 0.0
    merge_style: str = "merge"
    cadence: dict[str, Any] | None = None
    devs: tuple[Person, ...] = ()
    jira: str = "DEV"
    launch_day: int = 0
    new_service: bool = False
    major_minor: str = "1.0"
    build_base: int = 100
    pr_base: int = 100
    files: tuple[str, ...] = ("README.md",)
    storylines: tuple[tuple[str, int, dict[str, Any]], ...] = ()

    @property
    def repo(self) -> str:
        return f"{ORG}/{self.name}"

    @property
    def envs(self) -> tuple[str, ...]:
        return NONPROD + self.clusters


@dataclass(slots=True, eq=False)
class Commit:
    sha: str
    ts: int  # the commit timestamp as recorded (what the push payload says), epoch seconds UTC
    offset: int = 0  # minutes; the offset printed in the payload
    author: Person = WEB_FLOW
    committer: Person = WEB_FLOW
    message: str = ""
    index: int = 0  # position on main's linear history inside the window, 1-based
    is_merge: bool = False
    pr: int | None = None
    distinct: bool = True
    files: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
    tree: str = ""
    skew_s: int = 0  # the author's clock was this far ahead (ts already includes it)


@dataclass(slots=True, eq=False)
class Push:
    delivery: str
    ts: int
    before: str
    after: str
    commits: list[Commit]
    pusher: Person
    created: bool = False


@dataclass(slots=True, eq=False)
class PullRequest:
    number: int
    title: str
    branch: str
    author: Person
    opened: int
    merged: int
    head_sha: str
    merge_sha: str


@dataclass(slots=True, eq=False)
class Artifact:
    purl: str
    version: str
    seq: int  # CI build number; higher = newer
    commit: Commit  # the commit it was built from (head of main at that push)
    digest: str = ""
    packaged: int = 0
    published: int | None = None
    chain_id: str = ""
    rejected: bool = False  # failed acceptance tests in qa (abandoned)
    hotfix_for: str | None = None
    scanned: int | None = None  # the vulnerability scan finished (None: not within the window)
    scan_started: int = 0
    vulnerabilities: dict[str, int] = field(default_factory=dict)  # severity → count found by the scan


@dataclass(slots=True, eq=False)
class Build:
    number: int
    run_id: str
    head: Commit
    chain_id: str
    queued: int
    started: int
    build_queued: int
    build_started: int
    build_finished: int
    finished: int
    outcome: str  # success | failure
    failed_step: str | None = None  # compile | test
    error: str = ""
    test_started: int | None = None
    test_finished: int | None = None
    artifact: Artifact | None = None


@dataclass(slots=True, eq=False)
class Deployment:
    env: str
    artifact: Artifact
    started: int
    finished: int | None  # None: still running at the end of the window
    outcome: str = "success"  # success | failure
    reason: str = "release"  # auto | release | hotfix | hotfix-rollout | rollback | redeploy
    kind: str = "upgraded"  # deployed | upgraded | rolledback (the CDEvent of a success)
    event_id: str = ""  # CloudEvent id of the outcome event (service.* on success, pipelinerun.finished on failure)
    run_id: str = ""  # the deploy pipelinerun's subject id
    error: str = ""


@dataclass(slots=True, eq=False)
class TestRun:
    run_id: str
    artifact: Artifact
    env: str
    started: int
    finished: int | None
    outcome: str  # success | failure


@dataclass(slots=True, eq=False)
class Incident:
    id: str
    env: str
    start: int
    resolved: int | None
    description: str = ""
    artifact: Artifact | None = None  # named explicitly by the incident events
    kind: str = "detected"  # detected | reported
    ticket: str = ""
    cause: str = ""  # what happened in the world: "deployment" or "external: ..."
    cause_deployment: Deployment | None = None


@dataclass(eq=False)
class ServiceWorld:
    spec: ServiceSpec
    start: int
    end: int
    commits: list[Commit] = field(default_factory=list)  # main, in history order
    pushes: list[Push] = field(default_factory=list)
    prs: list[PullRequest] = field(default_factory=list)
    builds: list[Build] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    tests: list[TestRun] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    storylines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Train:
    steps: list[tuple[str, int]]
    hotfix: Incident | None = None
    candidate: Artifact | None = None
    tag: str | None = None
    halted: str | None = None


# ------------------------------------------------------------------------------------------- helpers


def _uuid(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def _hex(rng: random.Random, n: int) -> str:
    return "%0*x" % (n, rng.getrandbits(4 * n))


_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(_B36[rng.randrange(36)] for _ in range(n))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation keeps big activity fast
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def fmt_time(t: int, offset_min: int = 0) -> str:
    """RFC 3339 with seconds; ``Z`` for UTC, else ``+HH:MM``/``-HH:MM`` local time."""
    tm = _time.gmtime(t + offset_min * 60)
    base = "%04d-%02d-%02dT%02d:%02d:%02d" % tm[:6]
    if offset_min == 0:
        return base + "Z"
    o = abs(offset_min)
    return "%s%s%02d:%02d" % (base, "+" if offset_min > 0 else "-", o // 60, o % 60)


def parse_start(value: str | int) -> int:
    if isinstance(value, int):
        return value
    d = date.fromisoformat(value[:10])
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())


def quantile_cont(values: Iterable[float], q: float) -> float | None:
    """Continuous percentile with linear interpolation (numpy's default, DuckDB ``quantile_cont``)."""
    v = sorted(values)
    if not v:
        return None
    h = (len(v) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


def _stats(values: list[float] | array) -> dict[str, Any]:
    n = len(values)
    return {
        "n": n,
        "p50_s": quantile_cont(values, 0.5),
        "p90_s": quantile_cont(values, 0.9),
        "mean_s": (sum(values) / n) if n else None,
    }


# ---------------------------------------------------------------------------------------------- org


def build_org(n_services: int | None = None, activity: float = 1.0, seed: int = DEFAULT_SEED,
              days: int = DEFAULT_DAYS, only: Iterable[str] | None = None,
              storylines: bool = True) -> list[ServiceSpec]:
    """The organisation: the 8 base services, then clones (``<name>-2``…) when scaled up."""
    n = n_services if n_services is not None else len(PROFILES)
    wanted = set(only) if only else None
    specs: list[ServiceSpec] = []
    for i in range(n):
        p = PROFILES[i % len(PROFILES)]
        k = i // len(PROFILES) + 1
        sfx = "" if k == 1 else f"-{k}"
        name = p["name"] + sfx
        if wanted is not None and name not in wanted:
            continue
        prng = random.Random(f"{seed}|{name}|plan")
        team_cfg = TEAMS[p["team"]]
        if k == 1:
            devs = tuple(Person(nm, un, f"{un}@bank.example", off) for nm, un, off in team_cfg["devs"])
        else:
            devs = tuple(_clone_dev(prng, team_cfg["tz"]) for _ in range(3 + prng.randrange(3)))
        jitter = 0 if k == 1 else prng.randint(-2, 2)
        launch = int(round(p.get("launch", 0.0) * days)) + (jitter if p.get("launch") else 0)
        launch = max(0, min(launch, days - 1))
        sl: list[tuple[str, int, dict[str, Any]]] = []
        if storylines:
            for sname, frac, opts in p["storylines"]:
                d = int(round(frac * days)) + (0 if k == 1 else prng.randint(-2, 2))
                sl.append((sname, max(0, min(d, days - 1)), dict(opts)))
        specs.append(ServiceSpec(
            index=i, name=name, team=p["team"] + sfx, app=p["app"] + sfx, profile=p["name"],
            clusters=tuple(p.get("clusters", PROD_CLUSTERS)), tz=team_cfg["tz"],
            merges_per_day=p["merges"] * activity, direct_per_day=p["direct"] * activity,
            bot_share=p["bots"], merge_style=p["style"], cadence=p["cadence"], devs=devs,
            jira=team_cfg["jira"], launch_day=launch, new_service=bool(p.get("launch")),
            major_minor=p["mm"], build_base=100 + prng.randrange(900), pr_base=20 + prng.randrange(400),
            files=p["files"], storylines=tuple(sl)))
    return specs


def _clone_dev(rng: random.Random, tz: int) -> Person:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    un = (first[0] + last).lower() + str(rng.randrange(10, 99))
    return Person(f"{first} {last}", un, f"{un}@bank.example", tz + rng.choice((0, 0, 0, 60, -60)))


# ------------------------------------------------------------------------------------------- simulation


class _Sim:
    """Simulates one service over the window with a time-ordered action queue."""

    def __init__(self, spec: ServiceSpec, start: int, days: int, seed: int) -> None:
        self.spec = spec
        self.start = start
        self.days = days
        self.end = start + days * DAY
        self.rng = random.Random(f"{seed}|{spec.name}|world")
        # scans draw from their own stream, so adding them left every other decision of the world unchanged
        self.scan_rng = random.Random(f"{seed}|{spec.name}|scan")
        self.w = ServiceWorld(spec, start, self.end)
        self.q: list[tuple[int, int, Any, tuple]] = []
        self.qseq = 0
        self.start_wd = datetime.fromtimestamp(start, timezone.utc).weekday()
        self.head = "0" * 40 if spec.new_service else _hex(self.rng, 40)
        self.idx = 0
        self.build_no = spec.build_base
        self.pr_no = spec.pr_base
        self.hist_t: dict[str, list[int]] = {e: [] for e in spec.envs}
        self.hist: dict[str, list[Deployment]] = {e: [] for e in spec.envs}
        self.target: dict[str, Artifact | None] = {e: None for e in spec.envs}
        self.ever: dict[str, bool] = {e: not spec.new_service for e in spec.envs}
        self.busy: dict[str, int] = {e: 0 for e in spec.envs}
        self.last_candidate = -1
        self.tags: list[list[Any]] = []  # [name, not_before, weekday]
        self.inc_no = 0
        self.humans = [d for d in spec.devs]
        self.launch = spec.launch_day
        while spec.new_service and self.weekday(self.launch) >= 5 and self.launch < days - 1:
            self.launch += 1  # nobody launches a service on a weekend

    # -- scheduling helpers
    def at(self, t: int, fn: Any, *args: Any) -> None:
        heapq.heappush(self.q, (t, self.qseq, fn, args))
        self.qseq += 1

    def weekday(self, d: int) -> int:
        return (self.start_wd + d) % 7

    def local(self, d: int, hhmm: str, tz: int) -> int:
        hh, mm = hhmm.split(":")
        return self.start + d * DAY + int(hh) * HOUR + int(mm) * MINUTE - tz * MINUTE

    def r(self, a: int, b: int) -> int:
        return self.rng.randint(a, b)

    def note(self, name: str, t: int, **detail: Any) -> None:
        self.w.storylines.append({"storyline": name, "service": self.spec.name, "at": fmt_time(t), **detail})

    # -- main loop
    def run(self) -> ServiceWorld:
        self._plan()
        while self.q:
            t, _, fn, args = heapq.heappop(self.q)
            if t >= self.end:
                break
            fn(t, *args)
        self.w.artifacts.sort(key=lambda a: a.seq)
        return self.w

    def _plan(self) -> None:
        spec, rng = self.spec, self.rng
        launch = self.launch
        first_ok = self.start
        if spec.new_service:
            t0 = self.local(launch, "09:05", spec.tz)
            self.at(t0, self._on_change, "initial", {})
            first_ok = t0 + HOUR
        for d in range(launch, self.days):
            wd = self.weekday(d)
            rate = spec.merges_per_day if wd < 5 else spec.merges_per_day * 0.04
            for _ in range(_poisson(rng, rate)):
                dev = rng.choice(self.humans)
                t = self.local(d, "09:15", dev.offset) + self.r(0, 8 * HOUR + 45 * MINUTE)
                if t >= first_ok:
                    self.at(t, self._on_change, "bot" if rng.random() < spec.bot_share else "pr", {})
            for _ in range(_poisson(rng, spec.direct_per_day if wd < 5 else 0.0)):
                dev = rng.choice(self.humans)
                t = self.local(d, "09:00", dev.offset) + self.r(0, 9 * HOUR)
                if t >= first_ok:
                    self.at(t, self._on_change, "direct", {"dev": dev})
        # release trains
        self.train_starts: list[int] = []
        cad = spec.cadence or {}
        for d in range(launch + (1 if spec.new_service else 0), self.days):
            week = (d + self.start_wd) // 7
            if self.weekday(d) not in cad.get("weekdays", ()) or (week - cad.get("offset", 0)) % cad.get("every", 1):
                continue
            steps = [(env, self.local(d + off, hhmm, spec.tz)) for env, off, hhmm in cad["steps"]
                     if env in spec.envs]
            self.train_starts.append(steps[0][1])
            self.at(steps[0][1], self._on_train, _Train(steps=steps), 0)
        for name, d, opts in spec.storylines:
            self._plan_storyline(name, d, opts)

    def _first_train_at_or_after(self, t: int) -> int | None:
        i = bisect.bisect_left(self.train_starts, t)
        return self.train_starts[i] if i < len(self.train_starts) else None

    def _plan_storyline(self, name: str, d: int, opts: dict[str, Any]) -> None:
        spec = self.spec
        day_t = self.start + d * DAY
        if name in ("bad_release_rollback_hotfix", "rollback_without_incident", "failed_production_deploy",
                    "qa_rejected", "incident_fix_forward"):
            self.tags.append([name, day_t, opts.get("weekday")])
        elif name == "skewed_commit_clock":
            t_train = self._first_train_at_or_after(day_t)
            if t_train is not None:
                self.at(t_train - self.r(2 * HOUR, 3 * HOUR), self._on_change, "skew", {})
                self.tags.append([name, t_train, None])
        elif name == "old_commit":
            self.at(self.local(d, "11:00", spec.tz) + self.r(0, 4 * HOUR), self._on_change, "old", {})
        elif name == "redeploy_same_artifact":
            self.at(day_t + 2 * HOUR + self.r(0, HOUR), self._on_redeploy, "prod-eu")
        elif name == "incident_before_first_production_deploy":
            self.at(day_t + 8 * HOUR + self.r(0, 3 * HOUR), self._on_external_incident, name,
                    spec.clusters[0], "Statement PDFs not generated: core-banking batch export late",
                    "external: upstream core-banking batch delayed", (2 * HOUR, 4 * HOUR))
        elif name == "external_incident":
            self.at(day_t + 13 * HOUR + self.r(0, 3 * HOUR), self._on_external_incident, name, None,
                    "SMS one-time passwords delayed > 5 min", "external: SMS provider outage", (HOUR, 2 * HOUR))
        elif name == "new_service":
            self.note(name, self.local(self.launch, "09:05", spec.tz), detail="first push creates main")

    # -- state queries
    def running(self, env: str, t: int) -> Artifact | None:
        i = bisect.bisect_right(self.hist_t[env], t)
        return self.hist[env][i - 1].artifact if i else None

    def previous_in(self, env: str, dep: Deployment) -> Artifact | None:
        """The artifact that was running in *env* before *dep* replaced it."""
        lst = self.hist[env]
        for i in range(len(lst) - 1, -1, -1):
            if lst[i] is dep:
                return lst[i - 1].artifact if i else None
        return None

    def frozen(self, t: int) -> bool:
        for inc in self.w.incidents:
            if inc.start <= t and (inc.resolved is None or t <= inc.resolved + HOTFIX_WINDOW_S):
                return True
        return False

    # -- people and commits
    def _new_commit(self, ts: int, author: Person, message: str, committer: Person | None = None,
                    is_merge: bool = False, pr: int | None = None, distinct: bool = True) -> Commit:
        rng = self.rng
        files = list(self.spec.files)
        if is_merge:
            fs: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
        else:
            mod = tuple(sorted(rng.sample(files, min(len(files), 1 + rng.randrange(3)))))
            added = (f"docs/adr/{rng.randrange(10, 99)}-{_suffix(rng, 4)}.md",) if rng.random() < 0.1 else ()
            fs = (added, (), mod)
        return Commit(sha=_hex(rng, 40), ts=ts, offset=author.offset, author=author,
                      committer=committer or author, message=message, is_merge=is_merge, pr=pr,
                      distinct=distinct, files=fs, tree=_hex(rng, 40))

    def _working_hours(self, t: int, offset: int) -> int:
        """Move *t* into 09:00-19:00 of the author's local day (people rarely commit at 3 am)."""
        if offset == 0 and self.rng.random() < 0.5:
            return t  # bots and UTC folk: leave as is
        local = (t + offset * MINUTE) % DAY
        if local < 9 * HOUR:
            return t + (9 * HOUR - local) + self.r(0, 2 * HOUR)
        if local > 19 * HOUR:
            return t - (local - 19 * HOUR) - self.r(0, 2 * HOUR)
        return t

    def _message(self) -> str:
        rng = self.rng
        area = self.spec.profile.replace("-", " ")
        msg = rng.choice(_MESSAGES).format(area=area)
        if rng.random() < 0.6:
            msg = f"{self.spec.jira}-{rng.randrange(100, 2000)}: {msg}"
        return msg

    def _bot_message(self) -> str:
        rng = self.rng
        return rng.choice(_BOT_MESSAGES).format(dep=rng.choice(_DEPS), v=f"{rng.randrange(1, 9)}.{rng.randrange(30)}."
                                                f"{rng.randrange(10)}", h=_hex(rng, 7))

    def _push(self, t: int, commits: list[Commit], pusher: Person, created: bool = False) -> Push:
        for c in commits:
            self.idx += 1
            c.index = self.idx
            self.w.commits.append(c)
        p = Push(delivery=_uuid(self.rng), ts=t, before=self.head, after=commits[-1].sha, commits=commits,
                 pusher=pusher, created=created)
        self.head = commits[-1].sha
        self.w.pushes.append(p)
        return p

    def _on_change(self, t: int, kind: str, opts: dict[str, Any]) -> None:
        spec, rng = self.spec, self.rng
        push_t = t + self.r(1, 3)
        if push_t >= self.end:
            return
        force = False
        hotfix: Incident | None = opts.get("incident")
        if kind == "initial":
            dev = rng.choice(self.humans)
            c = self._new_commit(t - self.r(5 * MINUTE, 40 * MINUTE), dev, "Initial commit")
            c.files = (tuple(spec.files), (), ())
            push = self._push(push_t, [c], dev, created=True)
        elif kind == "direct":
            dev = opts["dev"]
            n = 1 if rng.random() < 0.7 else 2
            ts = sorted(t - self.r(3 * MINUTE, 50 * MINUTE) for _ in range(n))
            push = self._push(push_t, [self._new_commit(x, dev, self._message()) for x in ts], dev)
        else:  # a pull request merged at t
            self.pr_no += 1
            number = self.pr_no
            author = RENOVATE if kind == "bot" else (rng.choice(self.humans))
            merger = rng.choice(self.humans)
            if kind == "bot":
                n, span = 1, self.r(2 * HOUR, 30 * HOUR)
            elif kind == "hotfix":
                n, span = (1 if rng.random() < 0.6 else 2), t - opts["first_ts"]
            elif kind == "old":
                n, span = 4, t - (self.start - 12 * DAY)
            else:
                n = rng.choices((1, 2, 3, 4), (45, 30, 15, 10))[0]
                span = int(20 * MINUTE + (rng.random() ** 2) * 72 * HOUR)
            first = t - span
            if kind == "old":  # a long-lived branch: one commit a day, starting 12 days before the window
                times = [self.start - (12 - i) * DAY + (9 * 60 - author.offset) * MINUTE + self.r(0, 8 * HOUR)
                         for i in range(n)]
            else:
                times = [first] + [first + self.r(0, max(1, span - 6 * MINUTE)) for _ in range(n - 1)]
                if kind != "hotfix":
                    times = [self._working_hours(x, author.offset) for x in times]
            times = sorted(min(x, t - 5 * MINUTE - 7 * (n - i)) for i, x in enumerate(times))
            if kind == "hotfix":
                title = f"Hotfix {hotfix.id if hotfix else ''}: revert risky change in {spec.profile.replace('-', ' ')}"
                msgs = [title] + [f"Add regression test for {hotfix.id if hotfix else 'incident'}"] * (n - 1)
            elif kind == "bot":
                title = self._bot_message()
                msgs = [title]
            else:
                msgs = [self._message() for _ in range(n)]
                title = msgs[0].split(": ", 1)[-1]
            branch = ("renovate/" + _suffix(rng, 6)) if kind == "bot" else (
                f"hotfix/{hotfix.id.lower() if hotfix else 'x'}" if kind == "hotfix"
                else f"feature/{spec.jira.lower()}-{rng.randrange(100, 2000)}-{_suffix(rng, 4)}")
            pr_commits = [self._new_commit(x, author, m, pr=number, distinct=False) for x, m in zip(times, msgs)]
            if kind == "skew":
                skew = 3 * DAY
                pr_commits[-1].ts += skew
                pr_commits[-1].skew_s = skew
            opened = min(times[0] + self.r(2 * MINUTE, HOUR), t - 3 * MINUTE)
            if kind == "old":
                opened = self.start - 12 * DAY + self.r(30 * MINUTE, 2 * HOUR)
            if spec.merge_style == "squash":
                main = [self._new_commit(t, author, f"{title} (#{number})", committer=WEB_FLOW, pr=number)]
                main[0].offset = merger.offset
            else:
                mc = self._new_commit(t, merger, f"Merge pull request #{number} from {ORG}/{branch}\n\n{title}",
                                      committer=WEB_FLOW, is_merge=True, pr=number)
                main = pr_commits + [mc]
            pr = PullRequest(number=number, title=title, branch=branch, author=author, opened=opened, merged=t,
                             head_sha=pr_commits[-1].sha, merge_sha=main[-1].sha)
            self.w.prs.append(pr)
            push = self._push(push_t, main, merger)
            force = kind in ("hotfix", "skew")
            if kind == "skew":
                self.note("skewed_commit_clock", t, commit=pr_commits[-1].sha, skew_s=3 * DAY)
            if kind == "old":
                self.note("old_commit", t, commit=pr_commits[0].sha, committed_at=fmt_time(times[0]),
                          pull_request=number)
        self.at(push_t + self.r(3, 25), self._on_build, push, force, hotfix)

    # -- CI
    def _on_build(self, t: int, push: Push, force: bool, hotfix: Incident | None) -> None:
        spec, rng = self.spec, self.rng
        self.build_no += 1
        number = self.build_no
        run_id = f"build-{spec.name}-{_suffix(rng)}"
        wait = self.r(10, 90) if rng.random() < 0.85 else self.r(3 * MINUTE, 20 * MINUTE)
        started = t + wait
        bq = started + self.r(2, 8)
        bs = bq + self.r(5, 40)
        bf = bs + self.r(3 * MINUTE, 9 * MINUTE)
        b = Build(number=number, run_id=run_id, head=push.commits[-1], chain_id=_uuid(rng), queued=t,
                  started=started, build_queued=bq, build_started=bs, build_finished=bf, finished=0,
                  outcome="success")
        if not force and rng.random() < 0.04:
            b.outcome, b.failed_step, b.error = "failure", "compile", rng.choice(_BUILD_ERRORS)
            b.finished = bf + self.r(5, 20)
        else:
            b.test_started = bf + self.r(5, 20)
            b.test_finished = b.test_started + self.r(2 * MINUTE, 7 * MINUTE)
            if not force and rng.random() < 0.07:
                b.outcome, b.failed_step = "failure", "test"
                b.error = f"{self.r(1, 4)} of {self.r(300, 900)} unit tests failed"
                b.finished = b.test_finished + self.r(5, 20)
            else:
                digest = _hex(rng, 64)
                version = f"{spec.major_minor}.{number}"
                purl = (f"pkg:oci/{spec.name}@sha256%3A{digest}?repository_url={REGISTRY_HOST}/"
                        f"{spec.team}/{spec.name}&tag={version}")
                packaged = b.test_finished + self.r(20, 60)
                published = packaged + self.r(10, 40)
                b.finished = published + self.r(5, 20)
                art = Artifact(purl=purl, version=version, seq=number, commit=b.head, digest=digest,
                               packaged=packaged, published=published if published < self.end else None,
                               chain_id=b.chain_id, hotfix_for=hotfix.id if hotfix else None)
                b.artifact = art
                self._scan(art, expedited=hotfix is not None)
                if packaged < self.end:
                    self.w.artifacts.append(art)
                if published < self.end:
                    self.at(published, self._on_published, art, hotfix)
        self.w.builds.append(b)

    def _scan(self, art: Artifact, expedited: bool) -> None:
        """The registry scans every pushed image, slowly (the scenario's bottleneck; hotfixes jump the queue)."""
        if art.published is None:
            return
        rng = self.scan_rng
        wait = rng.randint(*(SCAN_EXPEDITED_S if expedited else SCAN_QUEUE_S))
        art.scan_started = art.published + wait
        done = art.scan_started + rng.randint(*SCAN_RUN_S)
        art.scanned = done if done < self.end else None
        found = {"Critical": 1 if rng.random() < 0.03 else 0,
                 "High": rng.choice((0, 0, 0, 0, 1, 2)),
                 "Medium": rng.randint(0, 6), "Low": rng.randint(0, 12)}
        art.vulnerabilities = {k: v for k, v in found.items() if v}

    def promotable(self, env: str, t: int) -> Artifact | None:
        """The release train's candidate: the newest artifact deployed to *env* by *t* whose scan had
        finished by *t* (the scan gate — unscanned images are never promoted)."""
        i = bisect.bisect_right(self.hist_t[env], t)
        best = None
        for dep in self.hist[env][:i]:
            a = dep.artifact
            if a.scanned is not None and a.scanned <= t and (best is None or a.seq > best.seq):
                best = a
        return best

    # -- GitOps
    def _deploy(self, env: str, art: Artifact, t_req: int, reason: str, fail: bool = False,
                error: str = "") -> Deployment | None:
        rng = self.rng
        t0 = max(t_req, self.busy[env] + self.r(5, 30)) if self.busy[env] else t_req
        if t0 >= self.end:
            return None
        dur = self.r(60, 240) if env in NONPROD else self.r(150, 480)
        t1 = t0 + dur
        dep = Deployment(env=env, artifact=art, started=t0, finished=t1 if t1 < self.end else None,
                         outcome="failure" if fail else "success", reason=reason, event_id=_uuid(rng),
                         run_id=f"deploy-{self.spec.name}-{env}-{_suffix(rng)}",
                         error=(error or rng.choice(_DEPLOY_ERRORS)) if fail else "")
        self.busy[env] = t1
        if not fail:
            dep.kind = "rolledback" if reason == "rollback" else ("upgraded" if self.ever[env] else "deployed")
            self.ever[env] = True
            self.target[env] = art
            if dep.finished is not None:
                self.hist_t[env].append(t1)
                self.hist[env].append(dep)
        self.w.deployments.append(dep)
        return dep

    def _deploy_nonprod(self, env: str, art: Artifact, t: int, reason: str) -> Deployment | None:
        """Non-production deploys fail 3% of the time and are retried 10-30 minutes later."""
        if self.rng.random() < 0.03:
            bad = self._deploy(env, art, t, reason, fail=True)
            if bad is None or bad.finished is None:
                return bad
            return self._deploy(env, art, bad.finished + self.r(10 * MINUTE, 30 * MINUTE), reason)
        return self._deploy(env, art, t, reason)

    def _on_published(self, t: int, art: Artifact, hotfix: Incident | None) -> None:
        dep = None
        cur = self.target["dev"]
        if cur is None or art.seq > cur.seq:  # the image updater only moves dev forward
            dep = self._deploy_nonprod("dev", art, t + self.r(30, 240), "hotfix" if hotfix else "auto")
        if hotfix is not None:
            t0 = t + self.r(8 * MINUTE, 15 * MINUTE)
            if art.scanned is not None:  # the scan gate holds for hotfixes too (their scan is expedited)
                t0 = max(t0, art.scanned + MINUTE)
            if dep is not None and dep.finished is not None:
                t0 = max(t0, dep.finished + self.r(2 * MINUTE, 5 * MINUTE))
            order = [hotfix.env] + [c for c in self.spec.clusters if c != hotfix.env]
            steps = [("qa", 0), ("staging", 0)] + [(c, 0) for c in order]
            self.at(t0, self._on_train, _Train(steps=steps, hotfix=hotfix, candidate=art), 0)

    def _on_train(self, t: int, train: _Train, i: int) -> None:
        spec, rng = self.spec, self.rng
        env = train.steps[i][0]
        if i == 0:
            if train.candidate is None:
                cand = self.promotable("dev", t)
                if cand is None or cand.seq <= self.last_candidate:
                    return  # nothing new since the last release
                train.candidate = cand
                for tag in self.tags:
                    if tag[1] <= t and (tag[2] is None or tag[2] == self.weekday((t - self.start) // DAY)):
                        train.tag = tag[0]
                        self.tags.remove(tag)
                        break
            self.last_candidate = max(self.last_candidate, train.candidate.seq)
        art = train.candidate
        assert art is not None
        is_prod = env in PROD_CLUSTERS
        if is_prod and train.hotfix is None and self.frozen(t):
            train.halted = "freeze"
            return
        cur = self.target[env]
        if cur is not None and cur.seq >= art.seq:
            train.halted = "superseded"
            return
        if train.hotfix is not None:
            reason = "hotfix" if env == train.hotfix.env else ("hotfix-rollout" if is_prod else "hotfix")
        else:
            reason = "release"
        if is_prod and train.tag == "failed_production_deploy" and env == train.steps[-1][0]:
            bad = self._deploy(env, art, t, reason, fail=True, error=_DEPLOY_ERRORS[0])
            if bad is None or bad.finished is None:
                return
            dep = self._deploy(env, art, bad.finished + self.r(40 * MINUTE, 70 * MINUTE), reason)
            self.note("failed_production_deploy", bad.finished, environment=env, artifact=art.purl,
                      failed_deploy_run=bad.run_id)
        elif is_prod:
            dep = self._deploy(env, art, t, reason)
        else:
            dep = self._deploy_nonprod(env, art, t, reason)
        if dep is None or dep.finished is None:
            return
        done = dep.finished
        if env == "qa":
            ts = done + self.r(60, 300)
            if ts >= self.end:
                return
            tf = ts + self.r(8 * MINUTE, 25 * MINUTE)
            if train.tag == "qa_rejected":
                ok = False
            elif train.hotfix is not None or train.tag is not None:
                ok = True
            else:
                ok = rng.random() >= 0.08
            tr = TestRun(run_id=f"acceptance-{spec.name}-{_suffix(rng)}", artifact=art, env="qa", started=ts,
                         finished=tf if tf < self.end else None, outcome="success" if ok else "failure")
            self.w.tests.append(tr)
            if tr.finished is None:
                return
            if not ok:
                art.rejected = True
                train.halted = "qa"
                if train.tag == "qa_rejected":
                    self.note("qa_rejected", tf, artifact=art.purl)
                return
            done = tf
        if is_prod:
            last_prod = env == train.steps[-1][0]
            if train.tag == "bad_release_rollback_hotfix":
                self._story_bad_release(dep)
                return  # the rest of the train is cancelled
            if train.tag == "incident_fix_forward" and last_prod:
                self._story_fix_forward(dep)
            if train.tag == "rollback_without_incident" and last_prod:
                self._story_rollback(dep, train)
            if train.hotfix is not None and env == train.hotfix.env and train.hotfix.resolved is None:
                res = done + self.r(10 * MINUTE, 20 * MINUTE)
                train.hotfix.resolved = res if res < self.end else None
        if i + 1 < len(train.steps):
            gap = self.r(10 * MINUTE, 25 * MINUTE) if train.hotfix else self.r(2 * MINUTE, 10 * MINUTE)
            self.at(max(train.steps[i + 1][1], done + gap), self._on_train, train, i + 1)

    def _new_incident(self, env: str, start: int, **kw: Any) -> Incident:
        inc_id = f"PD-{1000 + 4 * self.spec.index + self.inc_no}"
        self.inc_no += 1
        inc = Incident(id=inc_id, env=env, start=start, resolved=None, **kw)
        self.w.incidents.append(inc)
        return inc

    # -- storylines
    def _story_bad_release(self, dep: Deployment) -> None:
        env, art = dep.env, dep.artifact
        assert dep.finished is not None
        prev = self.previous_in(env, dep)
        start = dep.finished + self.r(35 * MINUTE, 50 * MINUTE)
        if start >= self.end:
            return
        inc = self._new_incident(env, start, artifact=art, kind="detected", cause="deployment", cause_deployment=dep,
                                 description=f"{self.spec.name}: 5xx rate above 5% after {art.version} reached {env}")
        recovered = start + self.r(HOUR, 2 * HOUR)
        rb = None
        if prev is not None:
            rb = self._deploy(env, prev, start + self.r(15 * MINUTE, 30 * MINUTE), "rollback")
            if rb is not None and rb.finished is not None:
                recovered = rb.finished + self.r(5 * MINUTE, 15 * MINUTE)
        inc.resolved = recovered if recovered < self.end else None
        base = rb.finished if rb is not None and rb.finished is not None else start
        first = base + self.r(20 * MINUTE, 40 * MINUTE)
        self.at(first + self.r(30 * MINUTE, 50 * MINUTE), self._on_change, "hotfix",
                {"incident": inc, "first_ts": first})
        self.note("bad_release_rollback_hotfix", start, incident=inc.id, environment=env, artifact=art.purl,
                  rolled_back_to=prev.purl if prev else None)

    def _story_fix_forward(self, dep: Deployment) -> None:
        assert dep.finished is not None
        start = dep.finished + self.r(20 * HOUR, 22 * HOUR)
        if start >= self.end:
            return
        n = self.r(10000, 99999)
        inc = self._new_incident(dep.env, start, kind="reported", cause="deployment", cause_deployment=dep,
                                 ticket=f"https://support.bank.example/tickets/CS-{n}",
                                 description=f"{self.spec.name}: customers report declined payments in {dep.env}")
        first = start + self.r(20 * MINUTE, 40 * MINUTE)
        self.at(first + self.r(40 * MINUTE, 60 * MINUTE), self._on_change, "hotfix",
                {"incident": inc, "first_ts": first})
        self.note("incident_fix_forward", start, incident=inc.id, environment=dep.env,
                  deployment=dep.event_id)

    def _story_rollback(self, dep: Deployment, train: _Train) -> None:
        assert dep.finished is not None
        t = dep.finished + self.r(25 * MINUTE, 40 * MINUTE)
        done = []
        for env in reversed([e for e, _ in train.steps if e in PROD_CLUSTERS]):
            mine = next((d for d in reversed(self.hist[env]) if d.artifact is dep.artifact), None)
            prev = self.previous_in(env, mine) if mine is not None else None
            if prev is None:
                continue
            rb = self._deploy(env, prev, t, "rollback")
            if rb is None or rb.finished is None:
                break
            done.append(env)
            t = rb.finished + self.r(3 * MINUTE, 8 * MINUTE)
        if done:
            self.note("rollback_without_incident", dep.finished, environments=done, artifact=dep.artifact.purl)

    def _on_redeploy(self, t: int, env: str) -> None:
        if env not in self.spec.envs:
            return
        art = self.running(env, t)
        if art is None:
            return
        dep = self._deploy(env, art, t, "redeploy")
        if dep is not None and dep.finished is not None:
            self.note("redeploy_same_artifact", t, environment=env, artifact=art.purl)

    def _on_external_incident(self, t: int, name: str, env: str | None, desc: str, cause: str,
                              dur: tuple[int, int]) -> None:
        if env is None:  # the cluster that got the latest production deployment
            latest = max((d for c in self.spec.clusters for d in self.hist[c][-1:] if d.finished and d.finished < t),
                         key=lambda d: d.finished or 0, default=None)
            env = latest.env if latest is not None else self.spec.clusters[0]
        inc = self._new_incident(env, t, kind="detected", cause=cause, description=f"{self.spec.name}: {desc}")
        res = t + self.r(*dur)
        inc.resolved = res if res < self.end else None
        self.note(name, t, incident=inc.id, environment=env)


def simulate_service(spec: ServiceSpec, start: int, days: int, seed: int) -> ServiceWorld:
    """Run the world model for one service over ``[start, start + days)``."""
    return _Sim(spec, start, days, seed).run()


# ------------------------------------------------------------------------------------------- emission

_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


class _Emitter:
    """Turns one ServiceWorld into serialized lines ``KEY\\tCHANNEL\\tJSON`` plus counters."""

    def __init__(self, world: ServiceWorld, seed: int) -> None:
        self.w = world
        self.spec = world.spec
        self.rng = random.Random(f"{seed}|{world.spec.name}|emit")
        self.lines: list[str] = []
        self.seq = 0
        self.by_type: dict[str, int] = {}
        self.dup_by_type: dict[str, int] = {}
        self.stages: dict[str, int] = {}
        self.files: dict[str, int] = {c: 0 for c in FILES}
        half = max(1, (world.end - world.start) // DAY // 2)
        self.ci_upgrade = world.start + half * DAY + 6 * HOUR
        s = world.spec
        self.base_custom = {"team": s.team, "app": s.app, "service": s.name}

    # -- low level
    def _key(self, t: int) -> str:
        self.seq += 1
        return "%011d%06d%08d" % (t, self.spec.index, self.seq)

    def _count(self, d: dict[str, int], k: str, n: int = 1) -> None:
        d[k] = d.get(k, 0) + n

    def _ce(self, ev: dict[str, Any]) -> dict[str, Any]:
        c = ev["context"]
        return {"specversion": "1.0", "id": c["id"], "source": c["source"], "type": c["type"],
                "time": c["timestamp"], "datacontenttype": "application/json", "data": ev}

    def _binary(self, ev: dict[str, Any], received: int) -> dict[str, Any]:
        c = ev["context"]
        return {"headers": {"ce-specversion": "1.0", "ce-id": c["id"], "ce-source": c["source"],
                            "ce-type": c["type"], "ce-time": c["timestamp"], "Content-Type": "application/json"},
                "body": ev, "received_at": fmt_time(received)}

    def _render(self, channel: str, ev: dict[str, Any], t: int) -> str:
        if "specversion" in ev:  # already a CloudEvent (a tool's native format, not a CDEvent)
            return _ENCODE(ev)
        if channel in ("structured", "batch"):
            return _ENCODE(self._ce(ev))
        if channel == "binary":
            return _ENCODE(self._binary(ev, t + self.r(0, 4)))
        return _ENCODE(ev)  # bare

    def r(self, a: int, b: int) -> int:
        return self.rng.randint(a, b)

    def put(self, t: int, channel: str, ev: dict[str, Any], type_key: str, stage: str) -> None:
        self.lines.append(f"{self._key(t)}\t{channel}\t{self._render(channel, ev, t)}")
        self.files[channel] += 1
        self._count(self.by_type, type_key)
        self._count(self.stages, stage)
        rng = self.rng
        if rng.random() < DUPLICATE_SHARE:
            t2 = t + self.r(20, 2 * HOUR)
            alt = rng.random() < 0.3
            if channel in ("structured", "batch"):
                mode = "binary" if alt else "structured"
            elif channel == "binary":
                mode = "structured" if alt else "binary"
            else:
                mode = "structured" if alt else "bare"
            self.lines.append(f"{self._key(t2)}\tdup\t{self._render(mode, ev, t2)}")
            self.files["dup"] += 1
            self._count(self.dup_by_type, type_key)

    def cd(self, t: int | None, kind: str, tool: str, subject_id: str, content: dict[str, Any],
           custom: dict[str, Any] | None = None, chain: str | None = None, ce_id: str | None = None,
           stage: str | None = None) -> None:
        if t is None or t < self.w.start or t >= self.w.end:
            return
        ver, offset, channel, chains = TOOLS[tool]
        if tool == "ci" and t >= self.ci_upgrade:
            ver = "0.5.1"
        ctype = cdevent_type(kind, ver)
        ctx: dict[str, Any] = {("version" if ver == "0.4.1" else "specversion"): ver,
                               "id": ce_id or _uuid(self.rng), "source": self._source(tool, subject_id),
                               "type": ctype, "timestamp": fmt_time(t, offset)}
        if chain and chains:
            ctx["chainId"] = chain
        subj: dict[str, Any] = {"id": subject_id}
        if ver == "0.4.1":
            subj["type"] = _SUBJECT_TYPE[kind.split(".")[0]]
        if kind.startswith("pipelinerun.") and "url" in content and ver != "0.4.1":
            content = dict(content)
            content["uri"] = content.pop("url")
        if kind == "testsuiterun.finished" and ver == "0.4.1":  # v0.4.1 says pass/fail
            content = dict(content)
            content["outcome"] = {"success": "pass", "failure": "fail"}[content["outcome"]]
        subj["content"] = content
        ev: dict[str, Any] = {"context": ctx, "subject": subj}
        if custom:
            ev["customData"] = custom
            ev["customDataContentType"] = "application/json"
        self.put(t, channel, ev, ctype, stage or _STAGE[kind])

    def _source(self, tool: str, subject_id: str) -> str:
        if tool == "github":
            return f"https://github.com/{self.spec.repo}"
        if tool == "ci":
            return SOURCE_CI
        if tool == "registry":
            return SOURCE_REGISTRY
        if tool == "incident":
            return SOURCE_INCIDENTS
        return SOURCE_GITOPS[tool.split(":", 1)[1]]

    # -- entities
    def emit(self) -> None:
        w = self.w
        for p in w.pushes:
            self.push(p)
        for pr in w.prs:
            self.pull_request(pr)
        for b in w.builds:
            self.build(b)
        for d in w.deployments:
            self.deployment(d)
        for tr in w.tests:
            self.acceptance(tr)
        for inc in w.incidents:
            self.incident(inc)
        for a in w.artifacts:
            self.scan(a)

    def _custom(self, **extra: Any) -> dict[str, Any]:
        c = dict(self.base_custom)
        for k, v in extra.items():
            if v is not None:
                c[k] = v
        return c

    def push(self, p: Push) -> None:
        if p.ts < self.w.start or p.ts >= self.w.end:
            return
        s = self.spec
        html = f"https://github.com/{s.repo}"
        commits = [self._commit_json(c, html) for c in p.commits]
        body = {
            "ref": "refs/heads/main", "before": p.before, "after": p.after, "created": p.created,
            "deleted": False, "forced": False, "base_ref": None,
            "compare": (f"{html}/commit/{p.after}" if p.created
                        else f"{html}/compare/{p.before[:12]}...{p.after[:12]}"),
            "commits": commits, "head_commit": commits[-1],
            "repository": {"id": 700000000 + s.index, "name": s.name, "full_name": s.repo, "private": True,
                           "html_url": html, "default_branch": "main",
                           "owner": {"login": ORG, "name": ORG, "type": "Organization"}},
            "pusher": {"name": p.pusher.username, "email": p.pusher.email},
            "sender": {"login": p.pusher.username, "type": "User"},
        }
        req = {"headers": {"X-GitHub-Event": "push", "X-GitHub-Delivery": p.delivery,
                           "Content-Type": "application/json", "User-Agent": GITHUB_HOOKSHOT_UA},
               "body": body, "received_at": fmt_time(p.ts + self.r(0, 2))}
        line = _ENCODE(req)
        self.lines.append(f"{self._key(p.ts)}\tpush\t{line}")
        self.files["push"] += 1
        self._count(self.by_type, GITHUB_PUSH_TYPE)
        self._count(self.stages, "commit", len(p.commits))
        self._count(self.stages, "push")  # not a stage; kept so the push count is visible
        if self.rng.random() < DUPLICATE_SHARE:  # GitHub redelivery: same X-GitHub-Delivery, later receipt
            req2 = dict(req)
            t2 = p.ts + self.r(5 * MINUTE, 3 * HOUR)
            req2["received_at"] = fmt_time(t2)
            self.lines.append(f"{self._key(t2)}\tdup\t{_ENCODE(req2)}")
            self.files["dup"] += 1
            self._count(self.dup_by_type, GITHUB_PUSH_TYPE)

    @staticmethod
    def _person(p: Person) -> dict[str, Any]:
        return {"name": p.name, "email": p.email, "username": p.username}

    def _commit_json(self, c: Commit, html: str) -> dict[str, Any]:
        return {"id": c.sha, "tree_id": c.tree, "distinct": c.distinct, "message": c.message,
                "timestamp": fmt_time(c.ts, c.offset), "url": f"{html}/commit/{c.sha}",
                "author": self._person(c.author), "committer": self._person(c.committer),
                "added": list(c.files[0]), "removed": list(c.files[1]), "modified": list(c.files[2])}

    def pull_request(self, pr: PullRequest) -> None:
        s = self.spec
        subject = f"{s.repo}/pull/{pr.number}"
        repo = {"id": s.repo, "source": f"https://github.com/{s.repo}"}
        self.cd(pr.opened, "change.created", "github", subject, {"description": pr.title, "repository": repo},
                self._custom(repository=s.repo, commitSha=pr.head_sha))
        self.cd(pr.merged, "change.merged", "github", subject, {"repository": repo},
                self._custom(repository=s.repo, commitSha=pr.merge_sha))

    def build(self, b: Build) -> None:
        s = self.spec
        url = f"https://tekton.bank.example/#/namespaces/ci/pipelineruns/{b.run_id}"
        art = b.artifact
        base = self._custom(repository=s.repo, commitSha=b.head.sha)
        name = f"build-{s.name}"
        ch = b.chain_id
        self.cd(b.queued, "pipelinerun.queued", "ci", b.run_id, {"pipelineName": name, "url": url}, base, ch)
        self.cd(b.started, "pipelinerun.started", "ci", b.run_id, {"pipelineName": name, "url": url}, base, ch)
        bid = f"{b.run_id}-build"
        self.cd(b.build_queued, "build.queued", "ci", bid, {}, base, ch)
        self.cd(b.build_started, "build.started", "ci", bid, {}, base, ch)
        compiled = b.failed_step != "compile"
        if compiled and art is not None:
            self.cd(b.build_finished, "build.finished", "ci", bid, {"artifactId": art.purl},
                    self._custom(repository=s.repo, commitSha=b.head.sha, version=art.version, artifactId=art.purl,
                                 outcome="success"), ch)
        else:
            self.cd(b.build_finished, "build.finished", "ci", bid, {},
                    self._custom(repository=s.repo, commitSha=b.head.sha,
                                 outcome="success" if compiled else "failure"), ch)
        if compiled:
            tid = f"{b.run_id}-unit-tests"
            suite = {"id": f"{s.name}-unit", "name": "unit tests"}
            env = {"id": "ci", "source": SOURCE_CI}
            self.cd(b.test_started, "testsuiterun.started", "ci", tid,
                    {"environment": env, "testSuite": suite, "trigger": {"type": "pipeline", "uri": url}}, base, ch)
            fin: dict[str, Any] = {"environment": env, "testSuite": suite,
                                   "outcome": "failure" if b.failed_step == "test" else "success"}
            if b.failed_step == "test":
                fin["severity"] = "high"
                fin["reason"] = b.error
            self.cd(b.test_finished, "testsuiterun.finished", "ci", tid, fin, base, ch)
        if art is not None:
            self.cd(art.packaged, "artifact.packaged", "ci", art.purl,
                    {"change": {"id": b.head.sha, "source": s.repo},
                     "sbom": {"uri": f"https://{REGISTRY_HOST}/sbom/{s.name}/{art.version}.spdx.json"}},
                    self._custom(repository=s.repo, commitSha=b.head.sha, version=art.version), ch)
            self.cd(art.published, "artifact.published", "registry", art.purl, {"user": "robot$tekton-ci"},
                    self._custom(version=art.version))
        fin_content: dict[str, Any] = {"pipelineName": name, "url": url, "outcome": b.outcome}
        if b.outcome == "failure":
            fin_content["errors"] = b.error
        self.cd(b.finished, "pipelinerun.finished", "ci", b.run_id, fin_content,
                self._custom(repository=s.repo, commitSha=b.head.sha, outcome=b.outcome), ch)

    def deployment(self, d: Deployment) -> None:
        s = self.spec
        cluster = CLUSTER_OF[d.env]
        tool = f"gitops:{cluster}"
        art = d.artifact
        url = f"{SOURCE_GITOPS[cluster]}/applications/argocd/{s.name}-{d.env}"
        pname = f"deploy-{s.name}-{d.env}"
        custom = self._custom(environment=d.env, cluster=cluster, artifactId=art.purl, version=art.version)
        self.cd(d.started, "pipelinerun.started", tool, d.run_id, {"pipelineName": pname, "url": url}, custom,
                art.chain_id, stage="deploy_started")
        if d.finished is None:
            return
        if d.outcome == "failure":
            self.cd(d.finished, "pipelinerun.finished", tool, d.run_id,
                    {"pipelineName": pname, "url": url, "outcome": "failure", "errors": d.error},
                    self._custom(environment=d.env, cluster=cluster, artifactId=art.purl, version=art.version,
                                 outcome="failure"), art.chain_id, ce_id=d.event_id, stage="deploy_failed")
            return
        kind = {"deployed": "service.deployed", "upgraded": "service.upgraded",
                "rolledback": "service.rolledback"}[d.kind]
        self.cd(d.finished, kind, tool, s.name,
                {"environment": {"id": d.env, "source": SOURCE_GITOPS[cluster]}, "artifactId": art.purl},
                self._custom(environment=d.env, cluster=cluster, version=art.version), art.chain_id,
                ce_id=d.event_id)

    def acceptance(self, tr: TestRun) -> None:
        s = self.spec
        art = tr.artifact
        env = {"id": tr.env, "source": SOURCE_GITOPS["nonprod"]}
        suite = {"id": f"{s.name}-acceptance", "name": "acceptance tests", "version": art.version}
        custom = self._custom(repository=s.repo, commitSha=art.commit.sha, environment=tr.env, cluster="nonprod",
                              artifactId=art.purl, version=art.version)
        self.cd(tr.started, "testsuiterun.started", "ci", tr.run_id,
                {"environment": env, "testSuite": suite, "trigger": {"type": "event"}}, custom, art.chain_id)
        if tr.finished is not None:
            fin: dict[str, Any] = {"environment": env, "testSuite": suite, "outcome": tr.outcome}
            if tr.outcome == "failure":
                fin["severity"] = "critical"
                fin["reason"] = "checkout journey: expected HTTP 200, got 500"
            self.cd(tr.finished, "testsuiterun.finished", "ci", tr.run_id, fin, custom, art.chain_id)

    def scan(self, a: Artifact) -> None:
        """Harbor's own CloudEvents format (`harbor.scan.completed`), with Trivy's vulnerability summary."""
        if a.scanned is None or a.scanned < self.w.start:
            return
        s = self.spec
        found = a.vulnerabilities
        worst = next((k for k in ("Critical", "High", "Medium", "Low") if found.get(k)), "None")
        total = sum(found.values())
        report = {
            "report_id": _uuid(self.rng), "scan_status": "Success", "severity": worst,
            "duration": a.scanned - a.scan_started,
            "summary": {"total": total, "fixable": total - total // 3, "summary": found},
            "start_time": fmt_time(a.scan_started), "end_time": fmt_time(a.scanned),
            "scanner": SCANNER, "complete_percent": 100,
        }
        ce = {"specversion": "1.0", "id": _uuid(self.rng), "requestid": _uuid(self.rng),
              "source": f"/projects/{s.index + 2}/webhook/policies/{s.index + 11}", "type": "harbor.scan.completed",
              "datacontenttype": "application/json", "time": fmt_time(a.scanned),
              "data": {"resources": [{"digest": f"sha256:{a.digest}", "tag": a.version,
                                      "resource_url": f"{REGISTRY_HOST}/{s.team}/{s.name}:{a.version}",
                                      "scan_overview": {SCAN_REPORT_MIME: report}}],
                       "repository": {"name": s.name, "namespace": s.team, "repo_full_name": f"{s.team}/{s.name}",
                                      "repo_type": "private"}},
              "operator": "auto"}
        self.put(a.scanned, "structured", ce, "harbor.scan.completed", "artifact_scanned")

    def incident(self, inc: Incident) -> None:
        s = self.spec
        content: dict[str, Any] = {"description": inc.description,
                                   "environment": {"id": inc.env, "source": SOURCE_GITOPS[CLUSTER_OF[inc.env]]},
                                   "service": {"id": s.name}}
        if inc.artifact is not None:
            content["artifactId"] = inc.artifact.purl
        custom = self._custom(environment=inc.env, cluster=CLUSTER_OF[inc.env])
        if inc.kind == "reported":
            opened = dict(content)
            opened["ticketURI"] = inc.ticket
            self.cd(inc.start, "incident.reported", "incident", inc.id, opened, custom)
        else:
            self.cd(inc.start, "incident.detected", "incident", inc.id, content, custom)
        if inc.resolved is not None:
            res = dict(content)
            res["description"] = f"Resolved: {inc.description}"
            self.cd(inc.resolved, "incident.resolved", "incident", inc.id, res, custom)


_STAGE = {
    "change.created": "change_opened", "change.merged": "change_merged",
    "pipelinerun.queued": "pipeline_queued", "pipelinerun.started": "pipeline_started",
    "pipelinerun.finished": "pipeline_finished",
    "build.queued": "build_queued", "build.started": "build_started", "build.finished": "build_finished",
    "testsuiterun.started": "test_started", "testsuiterun.finished": "test_finished",
    "artifact.packaged": "artifact_packaged", "artifact.published": "artifact_published",
    "service.deployed": "deployed", "service.upgraded": "deployed", "service.rolledback": "rolled_back",
    "incident.detected": "incident_opened", "incident.reported": "incident_opened",
    "incident.resolved": "incident_resolved",
}


def emit_service(world: ServiceWorld, seed: int) -> _Emitter:
    e = _Emitter(world, seed)
    e.emit()
    return e


# ------------------------------------------------------------------------------------------- truth


def _iso(t: int | None) -> str | None:
    return None if t is None else fmt_time(t)


def service_truth(w: ServiceWorld, details: bool = True) -> dict[str, Any]:
    """Ground-truth figures for one service, by the rules in SCENARIO.md, from the world model."""
    spec, end = w.spec, w.end
    ok = [d for d in w.deployments if d.finished is not None and d.finished < end]
    prod = sorted((d for d in ok if d.env in PROD_CLUSTERS and d.outcome == "success"),
                  key=lambda d: (d.finished, d.env))
    prod_failed = sorted((d for d in ok if d.env in PROD_CLUSTERS and d.outcome == "failure"),
                         key=lambda d: (d.finished, d.env))
    checks: list[str] = []

    # classify each production deployment within its cluster
    by_cluster: dict[str, list[Deployment]] = {c: [] for c in PROD_CLUSTERS}
    info: dict[int, dict[str, Any]] = {}
    seen: dict[str, set[str]] = {c: set() for c in PROD_CLUSTERS}
    running: dict[str, str | None] = {c: None for c in PROD_CLUSTERS}
    for d in prod:
        c = d.env
        purl = d.artifact.purl
        is_rollback = d.kind == "rolledback"
        is_new = purl not in seen[c] and not is_rollback
        is_redeploy = (not is_rollback) and purl == running[c]
        if not is_rollback and not is_new and not is_redeploy:
            checks.append(f"{spec.name}: {purl} re-deployed to {c} without a rollback event")
        info[id(d)] = {"rollback": is_rollback, "new": is_new, "redeploy": is_redeploy, "hotfix": False,
                       "incidents": [], "failed": False, "failure_reasons": [], "recovered_at": None}
        seen[c].add(purl)
        running[c] = purl
        by_cluster[c].append(d)

    # incident attribution (explicit artifact, else latest successful production deployment before start)
    incidents_out = []
    attributed: dict[int, list[Incident]] = {}
    for inc in sorted(w.incidents, key=lambda i: i.start):
        dep, method = None, "none"
        if inc.artifact is not None:
            cands = [d for d in prod if d.artifact is inc.artifact and d.finished < inc.start]
            if cands:
                dep, method = max(cands, key=lambda d: (d.finished, d.env)), "explicit_artifact"
        if dep is None:
            cands = [d for d in prod if d.finished < inc.start]
            if cands:
                dep, method = max(cands, key=lambda d: (d.finished, d.env)), "latest_production_deployment"
            if inc.env in PROD_CLUSTERS:  # the same-cluster reading must agree (the world is built so)
                same = [d for d in cands if d.env == inc.env]
                alt = max(same, key=lambda d: d.finished) if same else None
                if alt is not dep and inc.artifact is None:
                    checks.append(f"{inc.id}: same-cluster attribution differs")
        if dep is not None:
            attributed.setdefault(id(dep), []).append(inc)
            info[id(dep)]["incidents"].append(inc.id)
        # hotfix rule: first new artifact deployed to the incident's cluster after it opened and no later
        # than 48 h after it was resolved
        hotfix = None
        for d in by_cluster.get(inc.env, []):
            if d.finished > inc.start and info[id(d)]["new"] and (
                    inc.resolved is None or d.finished <= inc.resolved + HOTFIX_WINDOW_S):
                hotfix = d
                break
        if hotfix is not None:
            info[id(hotfix)]["hotfix"] = True
        world_hotfixes = [d for d in prod if d.reason == "hotfix" and d.artifact.hotfix_for == inc.id]
        if [id(x) for x in world_hotfixes] != ([id(hotfix)] if hotfix is not None else []):
            checks.append(f"{inc.id}: hotfix rule disagrees with the world")
        incidents_out.append({
            "incident_id": inc.id, "service": spec.name, "team": spec.team, "app": spec.app,
            "environment": inc.env, "type": f"incident.{inc.kind}", "opened_at": _iso(inc.start),
            "resolved_at": _iso(inc.resolved),
            "time_to_restore_s": (inc.resolved - inc.start) if inc.resolved is not None else None,
            "explicit_artifact_id": inc.artifact.purl if inc.artifact else None,
            "attribution": method,
            "deployment_id": dep.event_id if dep else None,
            "deployment_environment": dep.env if dep else None,
            "deployment_artifact_id": dep.artifact.purl if dep else None,
            "deployed_at": _iso(dep.finished) if dep else None,
            "hotfix_deployment_id": hotfix.event_id if hotfix else None,
            "world_cause": inc.cause,
            "world_cause_deployment_id": inc.cause_deployment.event_id if inc.cause_deployment else None,
        })
    for d in prod:
        if (d.reason == "rollback") != info[id(d)]["rollback"]:
            checks.append(f"{spec.name}: rollback flag mismatch")

    # failed changes and recovery
    recovery: list[int] = []
    unrecovered = 0
    for c, seq in by_cluster.items():
        for i, d in enumerate(seq):
            inf = info[id(d)]
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            nxt_rework = nxt is not None and (info[id(nxt)]["rollback"] or info[id(nxt)]["hotfix"])
            incs = attributed.get(id(d), [])
            if incs:
                inf["failure_reasons"].append("incident")
            if not inf["rollback"] and nxt_rework:
                inf["failure_reasons"].append("rolled_back" if info[id(nxt)]["rollback"] else "hotfixed")
            if not inf["failure_reasons"]:
                continue
            inf["failed"] = True
            if incs:
                inc = min(incs, key=lambda x: x.start)
                ends = [inc.resolved] if inc.resolved is not None else []
                ends += [x.finished for x in seq if x.finished > inc.start
                         and (info[id(x)]["rollback"] or info[id(x)]["hotfix"])][:1]
                if ends:
                    inf["recovered_at"] = min(ends)
                    recovery.append(min(ends) - inc.start)
                else:
                    unrecovered += 1
            else:
                assert nxt is not None and nxt.finished is not None
                inf["recovered_at"] = nxt.finished
                recovery.append(nxt.finished - d.finished)
    attempt_recovery: list[int] = []
    for f in prod_failed:
        nxt = next((x for x in by_cluster[f.env] if x.finished > f.finished), None)
        if nxt is not None:
            attempt_recovery.append(nxt.finished - f.finished)

    # lead time: each commit -> first successful production deployment of an artifact built from a
    # commit at or after it on main's linear history
    commits = w.commits
    lead: list[int] = []
    nonpos = 0
    lead_month: dict[str, list[int]] = {}
    change_rows = []
    delivered: dict[int, tuple[Deployment, int]] = {}
    max_idx = 0
    for d in prod:
        idx = d.artifact.commit.index
        if idx > max_idx:
            for k in range(max_idx, idx):  # commits[k] has index k + 1
                delivered[k] = (d, d.finished - commits[k].ts)
            max_idx = idx
    for k, c in enumerate(commits):
        got = delivered.get(k)
        if got is not None:
            d, lt = got
            if lt > 0:
                lead.append(lt)
                lead_month.setdefault(fmt_time(d.finished)[:7], []).append(lt)
            else:
                nonpos += 1
        if details:
            change_rows.append({
                "commit_sha": c.sha, "repository": spec.repo, "service": spec.name,
                "committed_at": _iso(c.ts), "is_merge": c.is_merge,
                "deployment_id": got[0].event_id if got else None,
                "deployment_environment": got[0].env if got else None,
                "deployed_at": _iso(got[0].finished) if got else None,
                "lead_time_s": got[1] if got else None,
            })

    # deployments per environment, funnel
    env_counts: dict[str, dict[str, int]] = {}
    for d in ok:
        ec = env_counts.setdefault(d.env, {"success": 0, "failure": 0})
        ec[d.outcome] += 1
    last_in_env: dict[str, Artifact] = {}
    for d in sorted((d for d in ok if d.outcome == "success"), key=lambda d: d.finished):
        last_in_env[d.env] = d.artifact
    reach: dict[int, int] = {}
    for d in ok:
        if d.outcome == "success":
            reach[id(d.artifact)] = max(reach.get(id(d.artifact), 0), ENV_RANK[d.env])
    funnel = {k: 0 for k in FUNNEL_STAGES}
    fates = {k: 0 for k in ("production", "abandoned", "superseded", "in_flight", "never_deployed")}
    furthest_names = {1: "dev", 2: "qa", 3: "staging", 4: "production"}
    artifact_rows = []
    for a in w.artifacts:
        funnel["built"] += 1
        if a.published is not None:
            funnel["published"] += 1
        rank = reach.get(id(a), 0)
        scanned = a.scanned is not None
        if scanned or rank >= 1:  # cumulative: an artifact in dev passed "scanned" even before its scan ends
            funnel["scanned"] += 1
        for name, rk in (("dev", 1), ("qa", 2), ("staging", 3), ("production", 4)):
            if rank >= rk:
                funnel[name] += 1
        if rank >= 4:
            fate = "production"
        elif a.rejected:
            fate = "abandoned"
        elif rank == 0:
            fate = "never_deployed"
        else:
            env = {1: "dev", 2: "qa", 3: "staging"}[rank]
            fate = "in_flight" if last_in_env.get(env) is a else "superseded"
        fates[fate] += 1
        if details:
            artifact_rows.append({
                "artifact_id": a.purl, "service": spec.name, "version": a.version, "commit_sha": a.commit.sha,
                "packaged_at": _iso(a.packaged), "published_at": _iso(a.published),
                "scanned_at": _iso(a.scanned), "vulnerabilities": a.vulnerabilities,
                "furthest_stage": (furthest_names[rank] if rank else "scanned" if scanned
                                   else "published" if a.published is not None else "built"),
                "reached_production": rank >= 4, "fate": fate,
            })

    prod_rows = []
    if details:
        for d in sorted((d for d in ok if d.env in PROD_CLUSTERS), key=lambda d: (d.finished, d.env)):
            inf = info.get(id(d), {})
            prod_rows.append({
                "deployment_id": d.event_id, "pipeline_run_id": d.run_id,
                "service": spec.name, "team": spec.team, "app": spec.app, "environment": d.env,
                "artifact_id": d.artifact.purl, "version": d.artifact.version, "commit_sha": d.artifact.commit.sha,
                "deployed_at": _iso(d.finished), "outcome": d.outcome,
                "event": ("pipelinerun.finished" if d.outcome == "failure" else f"service.{d.kind}"),
                "is_rollback": inf.get("rollback", False), "is_hotfix": inf.get("hotfix", False),
                "is_rework": bool(inf.get("rollback") or inf.get("hotfix")),
                "is_redeploy": inf.get("redeploy", False), "caused_failure": inf.get("failed", False),
                "failure_reasons": inf.get("failure_reasons", []),
                "attributed_incidents": inf.get("incidents", []),
                "recovered_at": _iso(inf.get("recovered_at")),
            })

    flags = [info[id(d)] for d in prod]
    return {
        "service": spec.name, "team": spec.team, "app": spec.app,
        "prod_times": [(d.finished, d.env) for d in prod],
        "by_cluster": {c: len(v) for c, v in by_cluster.items() if c in spec.clusters},
        "new_artifact": sum(f["new"] for f in flags),
        "rollbacks": sum(f["rollback"] for f in flags),
        "redeploys": sum(f["redeploy"] for f in flags),
        "hotfixes": sum(f["hotfix"] for f in flags),
        "failed_changes": sum(f["failed"] for f in flags),
        "failed_attempts": len(prod_failed),
        "recovery": recovery, "unrecovered": unrecovered, "attempt_recovery": attempt_recovery,
        "lead": lead, "lead_nonpositive": nonpos, "lead_month": lead_month,
        "commits": len(commits), "commits_deployed": len(delivered),
        "ttr": [i["time_to_restore_s"] for i in incidents_out if i["time_to_restore_s"] is not None],
        "incidents": incidents_out, "env_counts": env_counts, "funnel": funnel, "fates": fates,
        "builds": len(w.builds), "builds_failed": sum(1 for b in w.builds if b.outcome == "failure"
                                                      and b.finished < end),
        "changes": change_rows, "artifacts": artifact_rows, "production_deployments": prod_rows,
        "storylines": list(w.storylines), "checks": checks,
    }


def _weekly_days(days: list[str], start: int | None, end: int | None) -> dict[str, int]:
    """Deployment days per ISO week (weeks start on Monday, UTC), every week the window touches."""
    if start is None or end is None:
        return {}
    first = datetime.fromtimestamp(start, timezone.utc).date()
    last = datetime.fromtimestamp(end - 1, timezone.utc).date()
    monday = first.toordinal() - first.weekday()
    weeks = {date.fromordinal(o).isoformat(): 0 for o in range(monday, last.toordinal() + 1, 7)}
    for d in days:
        o = date.fromisoformat(d).toordinal()
        key = date.fromordinal(o - date.fromordinal(o).weekday()).isoformat()
        weeks[key] += 1
    return weeks


def dora_block(parts: list[dict[str, Any]], start: int | None = None, end: int | None = None) -> dict[str, Any]:
    """DORA figures for a group of services (overall, a team, an app or one service).

    *start*/*end* (the window) are only needed for the per-week deployment days.
    """
    n_prod = sum(len(p["prod_times"]) for p in parts)
    days = sorted({fmt_time(t)[:10] for p in parts for t, _ in p["prod_times"]})
    weekly = _weekly_days(days, start, end)
    by_cluster: dict[str, int] = {}
    for p in parts:
        for c, n in p["by_cluster"].items():
            by_cluster[c] = by_cluster.get(c, 0) + n
    lead = array("q")
    for p in parts:
        lead.extend(p["lead"])
    failed = sum(p["failed_changes"] for p in parts)
    attempts = sum(p["failed_attempts"] for p in parts)
    rework = sum(p["rollbacks"] + p["hotfixes"] for p in parts)
    recovery = [x for p in parts for x in p["recovery"]]
    att_rec = [x for p in parts for x in p["attempt_recovery"]]
    ttr = [x for p in parts for x in p["ttr"]]
    return {
        "production_deployments": n_prod,
        "production_deployments_by_cluster": dict(sorted(by_cluster.items())),
        "new_artifact_deployments": sum(p["new_artifact"] for p in parts),
        "redeploys": sum(p["redeploys"] for p in parts),
        "rollbacks": sum(p["rollbacks"] for p in parts),
        "hotfix_deployments": sum(p["hotfixes"] for p in parts),
        "deployment_days": len(days),
        "deployment_days_per_week": weekly,
        "median_deployment_days_per_week": statistics.median(weekly.values()) if weekly else None,
        "changes": sum(p["commits"] for p in parts),
        "changes_deployed": sum(p["commits_deployed"] for p in parts),
        "lead_time": {**_stats(lead), "nonpositive_excluded": sum(p["lead_nonpositive"] for p in parts)},
        "failed_changes": failed,
        "change_fail_rate": (failed / n_prod) if n_prod else None,
        "failed_deployment_attempts": attempts,
        "change_fail_rate_incl_failed_attempts": ((failed + attempts) / (n_prod + attempts))
        if (n_prod + attempts) else None,
        "recovery_time": {**_stats(recovery), "unrecovered": sum(p["unrecovered"] for p in parts)},
        "failed_attempt_recovery_time": _stats(att_rec),
        "rework_deployments": rework,
        "rework_rate": (rework / n_prod) if n_prod else None,
        "incidents": sum(len(p["incidents"]) for p in parts),
        "incident_time_to_restore": _stats(ttr),
    }


def _by_month(parts: list[dict[str, Any]]) -> dict[str, Any]:
    months: dict[str, dict[str, Any]] = {}
    for p in parts:
        for t, _ in p["prod_times"]:
            m = months.setdefault(fmt_time(t)[:7], {"deployments": 0, "days": set(), "lead": []})
            m["deployments"] += 1
            m["days"].add(fmt_time(t)[:10])
        for month, lts in p["lead_month"].items():
            months.setdefault(month, {"deployments": 0, "days": set(), "lead": []})["lead"].extend(lts)
    return {k: {"production_deployments": v["deployments"], "deployment_days": len(v["days"]),
                "lead_time": _stats(v["lead"])} for k, v in sorted(months.items())}


# ------------------------------------------------------------------------------------------- writing


class _Writer:
    """Routes the merged, time-ordered stream of lines to the output files."""

    def __init__(self, out: str, seed: int) -> None:
        self.out = out
        self.rng = random.Random(f"{seed}|shuffle")
        self.fh = {ch: open(os.path.join(out, name), "w", encoding="utf-8", newline="\n")
                   for ch, name in FILES.items()}
        self.fh["batch"].write("[")
        self.batch_n = 0
        self.held: list[list[Any]] = []
        self.counts = {ch: 0 for ch in FILES}

    def write(self, line: str) -> None:
        _, ch, payload = line.split("\t", 2)
        if payload.endswith("\n"):
            payload = payload[:-1]
        self.counts[ch] += 1
        if ch == "batch":
            self.fh["batch"].write(("\n" if self.batch_n == 0 else ",\n") + payload)
            self.batch_n += 1
        elif ch == "structured":
            self._structured(payload)
        else:
            self.fh[ch].write(payload + "\n")

    def _structured(self, payload: str) -> None:
        f = self.fh["structured"]
        rng = self.rng
        if rng.random() < SHUFFLE_SHARE:  # delivered late: written 1-40 lines further down
            self.held.append([rng.randint(1, 40), payload])
            return
        f.write(payload + "\n")
        if self.held:
            keep = []
            for h in self.held:
                h[0] -= 1
                if h[0] <= 0:
                    f.write(h[1] + "\n")
                else:
                    keep.append(h)
            self.held = keep

    def close(self) -> None:
        for h in self.held:
            self.fh["structured"].write(h[1] + "\n")
        self.held = []
        self.fh["batch"].write("\n]\n" if self.batch_n else "]\n")
        for f in self.fh.values():
            f.close()


def _read_run(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        yield from f


def _auto_activity(events: int) -> float:
    return min(5.0, max(1.0, math.sqrt(events / 5000) / 2))


def plan_size(events: int, scale: float | None, seed: int, days: int, start: int) -> tuple[float, int, float]:
    """(activity, number of services, primary events per service) giving about *events* primary events.

    Calibrated by simulating the 8 base services at the chosen activity; clones cycle through the same 8
    profiles, so the total lands within a few percent of *events*.
    """
    activity = scale if scale is not None else _auto_activity(events)
    total = 0
    for spec in build_org(len(PROFILES), activity, seed, days):
        em = emit_service(simulate_service(spec, start, days, seed), seed)
        total += sum(em.files[c] for c in PRIMARY_CHANNELS)
    per_service = max(1.0, total / len(PROFILES))
    return activity, max(1, int(round(events / per_service))), per_service


_COUNTERS = ("by_type", "dup_by_type", "stages")


def _work(job: tuple[int, list[ServiceSpec], int, int, int, bool, str | None]) -> dict[str, Any]:
    """Simulate, emit and measure a chunk of services; spill the sorted lines to a run file when asked."""
    chunk, specs, start, days, seed, details, spill_dir = job
    res: dict[str, Any] = {"parts": [], "storylines": [], "checks": [], "lines": [], "path": None,
                           "details": {"changes": [], "artifacts": [], "production_deployments": [],
                                       "incidents": []}}
    for k in _COUNTERS:
        res[k] = {}
    lines: list[str] = []
    for spec in specs:
        world = simulate_service(spec, start, days, seed)
        em = emit_service(world, seed)
        part = service_truth(world, details=details)
        if details:
            for k in ("changes", "artifacts", "production_deployments", "incidents"):
                res["details"][k].extend(part[k])
        for k in ("changes", "artifacts", "production_deployments"):
            part[k] = []
        res["storylines"].extend(part.pop("storylines"))
        res["checks"].extend(part.pop("checks"))
        res["parts"].append(part)
        for k in _COUNTERS:
            dst = res[k]
            for key, v in getattr(em, k).items():
                dst[key] = dst.get(key, 0) + v
        lines.extend(em.lines)
        del world, em
    lines.sort()
    if spill_dir is None:
        res["lines"] = lines
    else:
        path = os.path.join(spill_dir, f"run-{chunk:05d}.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line)
                f.write("\n")
        res["path"] = path
    return res


def generate(out: str, seed: int = DEFAULT_SEED, days: int = DEFAULT_DAYS, start: str | int = DEFAULT_START,
             scale: float | None = None, events: int | None = None, services: Iterable[str] | None = None,
             storylines: bool = True, details: bool | None = None, run_events: int = 60_000,
             workers: int | None = None, progress: bool = False,
             expected_path: str | None = None) -> dict[str, Any]:
    """Simulate the world, write the event files into *out* and the ground truth to *expected_path*
    (default ``<out>/expected.json``); return the expected dict.

    Output depends only on (seed, days, start, scale/events, services, storylines): services are simulated
    independently (each with its own seeded RNGs), every line carries a sort key (time, service, sequence),
    and the runs are merged by that key, so chunking and the number of worker processes change nothing.
    """
    t_start = parse_start(start)
    if events:
        activity, n_services, per_service = plan_size(events, scale, seed, days, t_start)
    else:
        activity, n_services = (scale if scale is not None else 1.0), len(PROFILES)
        per_service = 650.0 * activity * days / DEFAULT_DAYS
    specs = build_org(n_services, activity, seed, days, only=services, storylines=storylines)
    if not specs:
        raise ValueError(f"no services selected (known: {', '.join(BASE_SERVICES)})")
    want_details = details if details is not None else not (events and events > DETAILS_MAX_EVENTS)
    per_chunk = max(1, int(run_events // max(1.0, per_service)))
    chunks = [specs[i:i + per_chunk] for i in range(0, len(specs), per_chunk)]
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".sample-events-", dir=out) if len(chunks) > 1 else None
    try:
        jobs = [(i, c, t_start, days, seed, want_details, tmp) for i, c in enumerate(chunks)]
        n_workers = min(workers or os.cpu_count() or 1, 2 if workers is None else workers, len(jobs))
        results: list[dict[str, Any]] = []
        if n_workers > 1:
            import multiprocessing as mp

            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(n_workers) as pool:
                step = max(1, len(jobs) // 10)
                for res in pool.imap(_work, jobs):
                    results.append(res)
                    if progress and (len(results) % step == 0 or len(results) == len(jobs)):
                        print(f"  simulated {min(len(specs), len(results) * per_chunk)}/{len(specs)} services",
                              file=sys.stderr)
        else:
            for job in jobs:
                results.append(_work(job))
        runs: list[Iterable[str]] = [_read_run(r["path"]) if r["path"] else r["lines"] for r in results]
        writer = _Writer(out, seed)
        for line in (heapq.merge(*runs) if len(runs) > 1 else runs[0]):
            writer.write(line)
        writer.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    parts = [p for r in results for p in r["parts"]]
    counters: dict[str, dict[str, int]] = {k: {} for k in _COUNTERS}
    for r in results:
        for k in _COUNTERS:
            for key, v in r[k].items():
                counters[k][key] = counters[k].get(key, 0) + v
    by_type, dup_by_type, stages = counters["by_type"], counters["dup_by_type"], counters["stages"]
    end_t = t_start + days * DAY
    primary = sum(writer.counts[c] for c in PRIMARY_CHANNELS)
    stage_order = ("commit", "change_opened", "change_merged", "pipeline_queued", "pipeline_started",
                   "build_queued", "build_started", "build_finished", "test_started", "test_finished",
                   "artifact_packaged", "artifact_published", "artifact_scanned", "pipeline_finished",
                   "deploy_started",
                   "deployed", "deploy_failed", "rolled_back", "incident_opened", "incident_resolved")
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {"team": {}, "app": {}}
    for p in parts:
        groups["team"].setdefault(p["team"], []).append(p)
        groups["app"].setdefault(p["app"], []).append(p)
    funnel = {k: sum(p["funnel"][k] for p in parts) for k in FUNNEL_STAGES}
    fates: dict[str, int] = {}
    for p in parts:
        for k, v in p["fates"].items():
            fates[k] = fates.get(k, 0) + v
    env_counts: dict[str, dict[str, int]] = {}
    for p in parts:
        for env, c in p["env_counts"].items():
            e = env_counts.setdefault(env, {"success": 0, "failure": 0})
            e["success"] += c["success"]
            e["failure"] += c["failure"]
    env_order = ("dev", "qa", "staging", "prod-eu", "prod-us")
    expected: dict[str, Any] = {
        "generator": {
            "name": "sample_events.generate", "version": GENERATOR_VERSION, "seed": seed, "days": days,
            "start": fmt_time(t_start), "end": fmt_time(end_t), "activity": activity,
            "services": len(specs), "teams": len({s.team for s in specs}), "apps": len({s.app for s in specs}),
            "storylines": storylines, "rules": "sample_events/SCENARIO.md",
        },
        "files": {FILES[ch]: writer.counts[ch] for ch in FILES},
        "events": {
            "primary": primary,
            "duplicates": writer.counts["dup"],
            "distinct": primary,
            "dedup_key": "CloudEvents/CDEvents source+id+type; GitHub push: X-GitHub-Delivery",
            "by_type": dict(sorted(by_type.items())),
            "duplicates_by_type": dict(sorted(dup_by_type.items())),
        },
        "stages": {k: stages.get(k, 0) for k in stage_order},
        "pushes": stages.get("push", 0),
        "builds": {"total": sum(p["builds"] for p in parts), "failed": sum(p["builds_failed"] for p in parts)},
        "deployments_by_environment": {e: env_counts[e] for e in env_order if e in env_counts},
        "funnel": {"artifacts": funnel, "fates": fates},
        "dora": {
            "period": {"start": fmt_time(t_start), "end": fmt_time(end_t), "days": days},
            "overall": dora_block(parts, t_start, end_t),
            "by_month": _by_month(parts),
            "by_team": {k: dora_block(v, t_start, end_t) for k, v in sorted(groups["team"].items())},
            "by_app": {k: dora_block(v, t_start, end_t) for k, v in sorted(groups["app"].items())},
            "by_service": {p["service"]: dora_block([p], t_start, end_t)
                           for p in sorted(parts, key=lambda p: p["service"])},
        },
        "storylines": [s for r in results for s in r["storylines"]],
        "self_check": [c for r in results for c in r["checks"]],
    }
    if want_details:
        for k in ("incidents", "production_deployments", "changes", "artifacts"):
            expected[k] = [row for r in results for row in r["details"][k]]
    with open(expected_path or os.path.join(out, "expected.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    return expected


# ------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sample_events.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory (created if missing)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--days", type=int, default=DEFAULT_DAYS)
    ap.add_argument("--start", default=DEFAULT_START, help="first day of the window (UTC), YYYY-MM-DD")
    ap.add_argument("--scale", type=float, default=None,
                    help="activity multiplier per service (commits, builds); default 1.0, or automatic with --events")
    ap.add_argument("--events", type=int, default=None,
                    help="scale the organisation (services, teams) until about N events are produced")
    ap.add_argument("--services", default=None, help="comma-separated service names to keep (default: all)")
    ap.add_argument("--no-storylines", action="store_true", help="leave out the scripted messy cases")
    ap.add_argument("--details", dest="details", action="store_true", default=None,
                    help="always write per-commit/deployment/artifact lists into expected.json")
    ap.add_argument("--no-details", dest="details", action="store_false")
    ap.add_argument("--expected", default=None, metavar="PATH",
                    help="where to write the ground truth (default OUT/expected.json); the committed sample keeps it "
                         "outside data/ so that ingesting data/ loads events only")
    args = ap.parse_args(argv)
    if args.days < 1:
        ap.error("--days must be at least 1")
    t0 = _time.monotonic()
    try:
        exp = generate(args.out, seed=args.seed, days=args.days, start=args.start, scale=args.scale,
                       events=args.events, storylines=not args.no_storylines, details=args.details,
                       services=[s.strip() for s in args.services.split(",")] if args.services else None,
                       progress=bool(args.events and args.events > 500_000), expected_path=args.expected)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    took = _time.monotonic() - t0
    g, ev, dora = exp["generator"], exp["events"], exp["dora"]["overall"]
    print(f"wrote {args.out}: {g['services']} services, {g['teams']} teams, {g['days']} days from {g['start']}"
          f" (seed {g['seed']}, activity {g['activity']:.2f}) in {took:.1f}s")
    for name, n in exp["files"].items():
        print(f"  {name:<28} {n:>10,}")
    print(f"  {'distinct events':<28} {ev['distinct']:>10,}   (+{ev['duplicates']:,} duplicate deliveries)")
    lt = dora["lead_time"]
    print(f"  production deployments {dora['production_deployments']:,} on {dora['deployment_days']} days;"
          f" lead time p50 {(lt['p50_s'] or 0) / 3600:.1f} h (n={lt['n']});"
          f" change fail rate {(dora['change_fail_rate'] or 0):.3f}; incidents {dora['incidents']}")
    if exp["self_check"]:
        print(f"  self-check warnings: {len(exp['self_check'])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
