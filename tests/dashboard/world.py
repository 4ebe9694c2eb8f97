"""A small, known delivery history for the dashboard tests, with every figure derived by hand below.

t0 = Monday 2026-07-06 00:00 UTC; "day d hh:mm" = t0 + d days. Two services:

``pay`` (team payments, app core, repo org/pay) — ten releases k = 0…9 on days 0, 1, 2, 3, 4, 7, 8, 9, 10, 11:
commit at 08:00 (one GitHub push each), packaged 08:15, published 08:20, deployed to ``staging`` 08:30 and to
``prod`` at 08:00 + (k + 1) h, so **lead times are 1, 2, …, 10 h**. Release k = 4 (day 4, Friday, prod at
13:00) breaks: incident INC-1 opens 14:00, the k = 3 artifact is rolled back 16:00, the incident is resolved
17:00 (its **time to restore is 3 h**; the failed change's **recovery is 2 h**: from the incident's start to the
rollback, the earlier of the two). The next new release is day 7, more than 48 h after — not a hotfix. On day 12
a last commit is packaged at 08:15 and goes nowhere (furthest stage ``built``; the newest event of the world).

``cards`` (team cards, app plastic, repo org/cards) — five releases j = 0…4 on days 0, 2, 4, 7, 9: commit
08:00, packaged 08:15, published 08:20, staging 08:30, prod at 08:00 + (12 + 2j) h (**lead times 12, 14, 16,
18, 20 h**: day 0 20:00, day 2 22:00, day 5 00:00, day 8 02:00, day 10 04:00). A deploy of j = 4 to prod fails
on day 9 23:00 (a failed attempt). On day 11 a sixth artifact reaches staging (08:30) and stops.

One line of the input file is not JSON: one quarantined record.

Hand-derived figures (production = ``prod``):

- successful production deployments: pay 10 + 1 rollback = 11, cards 5 → **16**; failed attempts 1;
  deployment days {0,1,2,3,4,7,8,9,10,11} ∪ {0,2,5,8,10} = 11; the data range is 2026-07-06 → 2026-07-18
  (first deployment or build → last one: the day-12 build; 13 days, 2 ISO weeks with 6 and 5 deployment
  days: median 5.5 → on-demand); frequency 16 / 13 × 7 = **8.6 per week**;
- lead time, n = 15: sorted 1…10, 12, 14, 16, 18, 20 h → p50 (h = 7) = **8 h**, p90 (h = 12.6) =
  16 + 0.6 × 2 = **17.2 h**;
- change fail rate 1 / 16 = **6.25 %**, rework rate 1 / 16 = **6.25 %** (n = 16 ≥ 10); incl. failed attempts
  2 / 17; recovery time n = 1 and incident time to restore n = 1: **not enough data (n = 1 < 5)**;
- team payments: 11 deployments (5.9 per week), lead times 1…10 h → p50 **5.5 h**, p90 (h = 8.1) **9.1 h**, change fail rate
  1 / 11 = **9.1 %**; team cards: 5 deployments (2.7 per week) → change fail rate **not enough data (n = 5 < 10)**, lead p50
  **16 h**, p90 **not enough data (n = 5 < 10)**;
- second week only (2026-07-13 → 07-17): pay k = 5…9 + cards day 8 and day 10 = **7** deployments, lead times
  6, 7, 8, 9, 10, 18, 20 → p50 **9 h**; the previous 5 days (07-08 → 07-12): pay k = 2, 3, 4 + rollback, cards
  day 2 and day 5 = 6 deployments, lead times 3, 4, 5, 14, 16 → p50 5 h: trend **+4.0 h**, frequency
  9.8 vs 8.4 per week: **+1.4 per week**;
- deployments per ISO week: week of 07-06 — prod 9 (1 rollback), staging 8; week of 07-13 — prod 7 (1 failed
  attempt), staging 8;
- funnel: 17 artifacts built, 16 published, 16 in staging, 15 in production; the cards staging-only artifact
  has waited 23.75 h in staging (day 11 08:30 → day 12 08:15) against a staging p90 dwell of 16.7 h (sorted
  0.5…9.5, 11.5, 13.5, 15.5, 17.5, 19.5 h; h = 12.6) → **stuck**; the pay built-only artifact is **in flight**.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines import tasks
from pipelines.config import Paths

T0 = datetime(2026, 7, 6, tzinfo=UTC)
PAY_DAYS = (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)
CARDS_DAYS = (0, 2, 4, 7, 9)
TEAMS = {"pay": ("payments", "core", "org/pay"), "cards": ("cards", "plastic", "org/cards")}


def at(day: float, hours: float = 0.0) -> datetime:
    return T0 + timedelta(days=day, hours=hours)


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def purl(service: str, version: str) -> str:
    digest = hashlib.sha256(f"{service}:{version}".encode()).hexdigest()
    return f"pkg:oci/{service}@sha256%3A{digest}?tag={version}"


class World:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.heads: dict[str, str] = {}
        self.n = 0

    def _cdevent(self, type_: str, source: str, when: datetime, subject: dict, custom: dict | None = None) -> None:
        self.n += 1
        event_id = f"evt-{self.n}"
        doc = {"context": {"specversion": "0.5.1", "id": event_id, "source": source,
                           "type": f"dev.cdevents.{type_}.0.3.0", "timestamp": stamp(when)},
               "subject": subject}
        if custom:
            doc["customData"] = custom
            doc["customDataContentType"] = "application/json"
        self.lines.append(json.dumps({"specversion": "1.0", "id": event_id, "source": source,
                                      "type": doc["context"]["type"], "time": stamp(when),
                                      "datacontenttype": "application/json", "data": doc}))

    def custom(self, of: str, **extra) -> dict:
        team, app, _ = TEAMS[of]
        return {"team": team, "app": app, **extra}

    def push(self, service: str, name: str, when: datetime) -> str:
        repo = TEAMS[service][2]
        commit = sha(f"{repo}:{name}")
        before = self.heads.get(repo, "0" * 40)
        self.heads[repo] = commit
        body = {"ref": "refs/heads/main", "before": before, "after": commit, "repository": {"full_name": repo},
                "commits": [{"id": commit, "timestamp": stamp(when), "message": name,
                             "author": {"name": "Dev", "email": "dev@example.com"}}]}
        self.lines.append(json.dumps({"headers": {"X-GitHub-Event": "push", "X-GitHub-Delivery": f"push-{name}"},
                                      "body": body, "received_at": stamp(when + timedelta(seconds=30))}))
        return commit

    def package(self, service: str, version: str, commit: str, when: datetime) -> str:
        artifact = purl(service, version)
        self._cdevent("artifact.packaged", "https://tekton.example/ci", when,
                      {"id": artifact, "content": {"change": {"id": commit, "source": TEAMS[service][2]}}},
                      self.custom(service, service=service))
        return artifact

    def publish(self, service: str, artifact: str, when: datetime) -> None:
        self._cdevent("artifact.published", "https://harbor.example", when, {"id": artifact},
                      self.custom(service, service=service))

    def deploy(self, service: str, artifact: str, env: str, when: datetime, predicate: str = "deployed") -> None:
        self._cdevent(f"service.{predicate}", f"https://argocd.example/{env}", when,
                      {"id": service, "content": {"environment": {"id": env}, "artifactId": artifact}},
                      self.custom(service, environment=env, cluster=env))

    def failed_deploy(self, service: str, artifact: str, env: str, when: datetime) -> None:
        self._cdevent("pipelinerun.finished", "https://argocd.example/deploy", when,
                      {"id": f"run-{self.n}", "content": {"pipelineName": f"deploy-{service}-{env}",
                                                          "uri": "https://ci.example/run", "outcome": "failure",
                                                          "errors": "sync failed"}},
                      self.custom(service, service=service, environment=env, cluster=env, artifactId=artifact))

    def scan(self, service: str, version: str, when: datetime, found: dict[str, int]) -> None:
        """Harbor's CloudEvent for a finished scan of ``purl(service, version)``, ``found``: severity → count."""
        self.n += 1
        digest = "sha256:" + hashlib.sha256(f"{service}:{version}".encode()).hexdigest()
        team = TEAMS[service][0]
        report = {"scan_status": "Success", "severity": next((k for k, v in found.items() if v), "None"),
                  "summary": {"total": sum(found.values()), "fixable": 0, "summary": found},
                  "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50"}}
        mime = "application/vnd.security.vulnerability.report; version=1.1"
        self.lines.append(json.dumps({
            "specversion": "1.0", "id": f"scan-{self.n}", "source": "/projects/2/webhook/policies/11",
            "type": "harbor.scan.completed", "time": stamp(when), "datacontenttype": "application/json",
            "data": {"resources": [{"digest": digest, "tag": version,
                                    "resource_url": f"harbor.example/{team}/{service}:{version}",
                                    "scan_overview": {mime: report}}],
                     "repository": {"name": service, "namespace": team, "repo_full_name": f"{team}/{service}"}},
        }))

    def incident(self, incident_id: str, service: str, env: str, opened: datetime, resolved: datetime) -> None:
        content = {"description": f"{incident_id}: errors", "environment": {"id": env}, "service": {"id": service}}
        self._cdevent("incident.detected", "https://pagerduty.example", opened, {"id": incident_id, "content": content})
        self._cdevent("incident.resolved", "https://pagerduty.example", resolved,
                      {"id": incident_id, "content": dict(content)})


def build_world(paths: Paths, directory: Path) -> None:
    w = World()
    pay_artifacts = []
    for k, day in enumerate(PAY_DAYS):
        commit = w.push("pay", f"p{k}", at(day, 8))
        artifact = w.package("pay", f"1.0.{k}", commit, at(day, 8.25))
        pay_artifacts.append(artifact)
        w.publish("pay", artifact, at(day, 8 + 1 / 3))
        w.deploy("pay", artifact, "staging", at(day, 8.5))
        w.deploy("pay", artifact, "prod", at(day, 8 + k + 1), predicate="upgraded")
        if k == 4:
            w.incident("INC-1", "pay", "prod", at(day, 14), at(day, 17))
            w.deploy("pay", pay_artifacts[3], "prod", at(day, 16), predicate="rolledback")
    commit = w.push("pay", "p10", at(12, 8))
    w.package("pay", "1.0.10", commit, at(12, 8.25))

    for j, day in enumerate(CARDS_DAYS):
        commit = w.push("cards", f"c{j}", at(day, 8))
        artifact = w.package("cards", f"2.0.{j}", commit, at(day, 8.25))
        w.publish("cards", artifact, at(day, 8 + 1 / 3))
        w.deploy("cards", artifact, "staging", at(day, 8.5))
        if j == 4:
            w.failed_deploy("cards", artifact, "prod", at(day, 23))
        w.deploy("cards", artifact, "prod", at(day, 8 + 12 + 2 * j), predicate="upgraded")
    commit = w.push("cards", "c5", at(11, 8))
    artifact = w.package("cards", "2.0.5", commit, at(11, 8.25))
    w.publish("cards", artifact, at(11, 8 + 1 / 3))
    w.deploy("cards", artifact, "staging", at(11, 8.5))

    w.lines.append("this line is not json")
    directory.mkdir(parents=True, exist_ok=True)
    events = directory / "world.ndjson"
    events.write_text("\n".join(w.lines) + "\n")
    tasks.ingest(paths, [events])
    tasks.build(paths)


def write_and_build(w: World, paths: Paths, directory: Path) -> Paths:
    directory.mkdir(parents=True, exist_ok=True)
    events = directory / "events.ndjson"
    events.write_text("\n".join(w.lines) + "\n")
    tasks.ingest(paths, [events])
    tasks.build(paths)
    return paths


def build_flow_world(paths: Paths, directory: Path) -> Paths:
    """Six artifacts whose funnel, statuses and Sankey links are derived by hand (tests/dashboard/test_data.py).

    Environments and their tiers (the default rule): dev, sandbox → development; uat → testing; stage →
    staging; prod-eu, prod-us → production; perf → unknown (left out of the Sankey). By name alone stage < uat
    and dev < sandbox; by tier uat comes before stage. Each artifact: commit 08:00, packaged 08:15, published
    08:20 (unless said), then the deployments listed (day d = 2026-07-06 + d).

    - pay 1.0.0, day 0: dev 09:00, uat 10:00, stage 11:00, prod-eu 12:00, prod-us 13:00 — in production;
    - pay 1.0.1, day 1: dev 09:00, sandbox 10:00, perf 10:30, uat 11:00 — superseded (1.0.2, newer, reached
      uat after it and went further);
    - pay 1.0.2, day 2: dev 09:00, uat 10:00, stage 11:00, prod-eu 12:00 — in production;
    - pay 1.0.3, day 3: commit 11:45, packaged 12:00 (the world's newest event: "now"), not published — in
      flight (0 h in its stage);
    - cards 2.0.0, day 0: prod-us 09:00 (no environment before) — in production;
    - cards 2.0.1, day 1: not published, dev 09:00 — stuck: 51 h in dev (to day 3 12:00) against a p90 of 1 h
      after dev (the mart's: pay's three exits of 1 h) or 1.8 h in development (the fallback's: 1, 1, 2 h).
    """
    w = World()
    pay = [(0, ["dev", "uat", "stage", "prod-eu", "prod-us"], [9, 10, 11, 12, 13]),
           (1, ["dev", "sandbox", "perf", "uat"], [9, 10, 10.5, 11]),
           (2, ["dev", "uat", "stage", "prod-eu"], [9, 10, 11, 12])]
    for k, (day, envs, hours) in enumerate(pay):
        artifact = w.package("pay", f"1.0.{k}", w.push("pay", f"p{k}", at(day, 8)), at(day, 8.25))
        w.publish("pay", artifact, at(day, 8 + 1 / 3))
        for env, hour in zip(envs, hours, strict=True):
            w.deploy("pay", artifact, env, at(day, hour))
    artifact = w.package("cards", "2.0.0", w.push("cards", "c0", at(0, 8)), at(0, 8.25))
    w.publish("cards", artifact, at(0, 8 + 1 / 3))
    w.deploy("cards", artifact, "prod-us", at(0, 9))
    artifact = w.package("cards", "2.0.1", w.push("cards", "c1", at(1, 8)), at(1, 8.25))
    w.deploy("cards", artifact, "dev", at(1, 9))
    w.package("pay", "1.0.3", w.push("pay", "p3", at(3, 11.75)), at(3, 12))
    return write_and_build(w, paths, directory)


def build_scan_world(paths: Paths, directory: Path) -> Paths:
    """Four artifacts, three scanned by Harbor (tests of the vulnerable-artifacts table; day d = 2026-07-06 + d):

    - pay 1.0.0: packaged day 0, prod day 0 12:00; scanned day 0 10:00 (1 critical, 2 high) and again day 3
      10:00 (0 critical, 1 high): its figures are the latest scan's, and it is in view when day 3 is;
    - pay 1.0.1: packaged day 1, staging only; scanned day 1 10:00 (2 critical);
    - cards 2.0.0: packaged day 1, prod day 2 12:00; scanned day 2 10:00 (3 high);
    - cards 2.0.1: packaged day 2, never scanned.
    """
    w = World()

    def release(service: str, version: str, day: int, env: str | None) -> None:
        artifact = w.package(service, version, w.push(service, version, at(day, 8)), at(day, 8.25))
        if env:
            w.deploy(service, artifact, env, at(day + (service == "cards"), 12))

    release("pay", "1.0.0", 0, "prod")
    release("pay", "1.0.1", 1, "staging")
    release("cards", "2.0.0", 1, "prod")
    release("cards", "2.0.1", 2, None)
    w.scan("pay", "1.0.0", at(0, 10), {"Critical": 1, "High": 2})
    w.scan("pay", "1.0.1", at(1, 10), {"Critical": 2, "High": 0})
    w.scan("cards", "2.0.0", at(2, 10), {"Critical": 0, "High": 3})
    w.scan("pay", "1.0.0", at(3, 10), {"Critical": 0, "High": 1})
    return write_and_build(w, paths, directory)
