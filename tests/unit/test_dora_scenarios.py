"""Hand-worked scenarios for the journey marts (marts.deployments, marts.changes, marts.incidents).

Each test writes a tiny world of hand-written events — GitHub `push` captured requests for commits,
CDEvents v0.5.1 (as structured CloudEvents, binary-mode CloudEvents or bare) for artifacts,
deployments, failed deploy pipelines and incidents — ingests and builds it, and checks the marts
against figures derived BY HAND in the docstring from the definitions (DESIGN.md §5,
sample_events/SCENARIO.md §5). Times are offsets from t0 = 2026-07-01 08:00 UTC, written as clock
times ("10:00" = t0 + 2 h); every number in an assert comes from the docstring's arithmetic.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines import tasks, warehouse
from pipelines.cdevents import default_registry
from pipelines.config import Paths, resolve_paths

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# A small world builder: each call appends one event; times are hours after t0 (or a literal
# RFC 3339 string, to test timezone offsets).
# ---------------------------------------------------------------------------------------------


def at(hours: float) -> datetime:
    """t0 + hours, as an aware UTC datetime (what the marts should return)."""
    return T0 + timedelta(hours=hours)


def stamp(when: float | str) -> str:
    return when if isinstance(when, str) else at(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(name: str) -> str:
    """A stable 40-hex commit sha for a readable commit name."""
    return hashlib.sha1(name.encode()).hexdigest()


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@dataclass
class Item:
    """One event of the world: a CDEvent (wrapped when written) or a captured GitHub push request."""

    kind: str  # 'cdevent' | 'push'
    doc: dict

    def encode(self, mode: str = "structured") -> dict:
        """The line written to the file: structured / binary-mode CloudEvent or bare CDEvent."""
        if self.kind == "push" or mode == "bare":
            return self.doc
        ctx = self.doc["context"]
        if mode == "binary":
            return {"headers": {"ce-specversion": "1.0", "ce-id": ctx["id"], "ce-source": ctx["source"],
                                "ce-type": ctx["type"], "ce-time": ctx["timestamp"],
                                "Content-Type": "application/json"},
                    "body": self.doc}
        assert mode == "structured"
        return {"specversion": "1.0", "id": ctx["id"], "source": ctx["source"], "type": ctx["type"],
                "time": ctx["timestamp"], "datacontenttype": "application/json", "data": self.doc}


@dataclass
class World:
    service: str = "svc"
    repo: str = "org/svc"
    items: list[Item] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)  # repo → last pushed sha (the next push's `before`)

    # -- events ---------------------------------------------------------------------------------

    def _cdevent(self, event_id: str, type_: str, source: str, when: float | str, subject: dict,
                 custom: dict | None = None) -> None:
        doc = {"context": {"specversion": "0.5.1", "id": event_id, "source": source,
                           "type": f"dev.cdevents.{type_}.0.3.0", "timestamp": stamp(when)},
               "subject": subject}
        if custom is not None:
            doc["customData"] = custom
        self.items.append(Item("cdevent", doc))

    def push(self, delivery: str, commits: list[tuple[str, float | str]], repo: str | None = None,
             forced: bool = False) -> list[str]:
        """A push to main listing `commits` (name, commit time) oldest first; returns their shas."""
        repo = repo or self.repo
        shas = [sha(f"{repo}:{name}") for name, _ in commits]
        before = self.heads.get(repo, "0" * 40)
        self.heads[repo] = shas[-1]
        last_time = commits[-1][1]
        body = {
            "ref": "refs/heads/main", "before": before, "after": shas[-1], "repository": {"full_name": repo},
            "forced": forced,
            "commits": [{"id": s, "timestamp": stamp(t), "message": f"{name}\n\nbody of {name}",
                         "author": {"name": "Dev", "email": "dev@bank.example"}}
                        for s, (name, t) in zip(shas, commits, strict=True)],
        }
        received = stamp(last_time + 0.01) if not isinstance(last_time, str) else None
        request = {"headers": {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery}, "body": body}
        if received:
            request["received_at"] = received
        self.items.append(Item("push", request))
        return shas

    def package(self, event_id: str, when: float | str, commit: str, version: str,
                service: str | None = None, repo: str | None = None) -> str:
        """artifact.packaged built from `commit` (a sha); returns the artifact's purl."""
        service, repo = service or self.service, repo or self.repo
        purl = f"pkg:oci/{service}@sha256%3A{digest(service + ':' + version)}?tag={version}"
        self._cdevent(event_id, "artifact.packaged", "https://tekton.bank.example/ci", when,
                      {"id": purl, "content": {"change": {"id": commit, "source": repo}}})
        return purl

    def deploy(self, event_id: str, when: float | str, purl: str, env: str, predicate: str = "deployed",
               service: str | None = None) -> None:
        """service.deployed / service.upgraded / service.rolledback of `purl` to `env`."""
        self._cdevent(event_id, f"service.{predicate}", f"/argocd/{env}", when,
                      {"id": service or self.service,
                       "content": {"environment": {"id": env}, "artifactId": purl}})

    def failed_deploy(self, event_id: str, when: float | str, purl: str, env: str,
                      service: str | None = None) -> None:
        """A deploy pipeline run that finished with outcome failure."""
        self._cdevent(event_id, "pipelinerun.finished", "https://tekton.bank.example/deploy", when,
                      {"id": f"run-{event_id}",
                       "content": {"pipelineName": f"deploy-{env}", "uri": f"https://ci.bank.example/{event_id}",
                                   "outcome": "failure", "errors": "sync failed"}},
                      {"service": service or self.service, "environment": env, "artifactId": purl})

    def incident(self, incident_id: str, opened: float | str, env: str, resolved: float | str | None = None,
                 artifact: str | None = None, service: str | None = None) -> None:
        content = {"description": f"{incident_id}: errors", "environment": {"id": env},
                   "service": {"id": service or self.service}}
        if artifact is not None:
            content["artifactId"] = artifact
        self._cdevent(f"{incident_id}-detected", "incident.detected", "https://pagerduty.bank.example", opened,
                      {"id": incident_id, "content": content})
        if resolved is not None:
            self._cdevent(f"{incident_id}-resolved", "incident.resolved", "https://pagerduty.bank.example",
                          resolved, {"id": incident_id, "content": dict(content)})

    # -- files ----------------------------------------------------------------------------------

    def lines(self, mode: str = "structured") -> list[dict]:
        return [item.encode(mode) for item in self.items]

    def build(self, paths: Paths, directory: Path) -> None:
        """Write the world in order to one NDJSON file, ingest it and build every model."""
        tasks.ingest(paths, [write_ndjson(directory / "world.ndjson", self.lines())])
        tasks.build(paths)


def write_ndjson(path: Path, lines: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def select(paths: Paths, sql: str, params: list | None = None) -> list[dict]:
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        cursor = conn.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def deployments(paths: Paths) -> dict[str, dict]:
    return {r["deployment_id"]: r for r in select(paths, "select * from marts.deployments")}


def changes(paths: Paths) -> dict[str, dict]:
    return {r["commit_sha"]: r for r in select(paths, "select * from marts.changes")}


def incidents(paths: Paths) -> dict[str, dict]:
    return {r["incident_id"]: r for r in select(paths, "select * from marts.incidents")}


def lead(changes_by_sha: dict[str, dict], commit: str) -> tuple[str | None, float | None]:
    row = changes_by_sha[commit]
    return row["deployment_id"], row["lead_time_s"]


def flags(row: dict) -> dict:
    keys = ("outcome", "is_production", "is_rollback", "is_redeploy", "is_hotfix", "is_rework", "caused_failure")
    return {k: row[k] for k in keys}


def ok(**overrides) -> dict:
    """The flags of a plain successful production deployment, with overrides."""
    base = {"outcome": "success", "is_production": True, "is_rollback": False, "is_redeploy": False,
            "is_hotfix": False, "is_rework": False, "caused_failure": False}
    base.update(overrides)
    return base


# ---------------------------------------------------------------------------------------------
# Stories shared by several tests (the in-order test and the shuffled/duplicated one).
# ---------------------------------------------------------------------------------------------


def rollback_story(w: World, predicate: str, service: str = "svc", repo: str = "org/svc") -> dict[str, str]:
    """1.0.0 at 09:00, 1.1.0 at 11:00, back to 1.0.0 at 11:45 (by `predicate`), 1.2.0 at 13:00, all prod-eu."""
    c1, = w.push(f"{service}-p1", [("c1", 0)], repo=repo)                # 08:00
    a1 = w.package(f"{service}-pkg1", 0.5, c1, "1.0.0", service, repo)   # 08:30
    w.deploy(f"{service}-d1", 1, a1, "prod-eu", "deployed", service)     # 09:00
    c2, = w.push(f"{service}-p2", [("c2", 2)], repo=repo)                # 10:00
    a2 = w.package(f"{service}-pkg2", 2.5, c2, "1.1.0", service, repo)   # 10:30
    w.deploy(f"{service}-d2", 3, a2, "prod-eu", "upgraded", service)     # 11:00
    w.deploy(f"{service}-d3", 3.75, a1, "prod-eu", predicate, service)   # 11:45 rollback to 1.0.0
    c3, = w.push(f"{service}-p3", [("c3", 4)], repo=repo)                # 12:00
    a3 = w.package(f"{service}-pkg3", 4.5, c3, "1.2.0", service, repo)   # 12:30
    w.deploy(f"{service}-d4", 5, a3, "prod-eu", "upgraded", service)     # 13:00
    return {"c1": c1, "c2": c2, "c3": c3, "a1": a1}


def check_rollback_story(paths: Paths, ids: dict[str, str], service: str = "svc") -> None:
    """The figures derived in test_rollback_to_an_older_version."""
    d = deployments(paths)
    d1, d2, d3, d4 = (d[f"{service}-d{i}"] for i in (1, 2, 3, 4))
    assert flags(d1) == ok()
    assert flags(d2) == ok(caused_failure=True)
    assert flags(d3) == ok(is_rollback=True, is_rework=True)
    assert flags(d4) == ok()
    assert d3["artifact_id"] == ids["a1"].split("?")[0].replace("%3A", ":")
    assert (d2["failure_started_at"], d2["recovered_at"], d2["recovery_time_s"]) == (at(3), at(3.75), 2700)
    assert d1["recovered_at"] is None and d3["recovered_at"] is None and d4["recovered_at"] is None
    ch = changes(paths)
    assert lead(ch, ids["c1"]) == (f"{service}-d1", 3600)
    assert lead(ch, ids["c2"]) == (f"{service}-d2", 3600)
    assert lead(ch, ids["c3"]) == (f"{service}-d4", 3600)
    assert not [c for c in ch.values() if c["deployment_id"] == f"{service}-d3"]


def incident_story(w: World) -> dict[str, str]:
    """Service svc in prod-eu and prod-us with incidents I0 (before anything), I1 (names 1.0.0), I2, and a hotfix."""
    w.incident("I0", -72, "prod-eu", resolved=-71)                       # 06-28 08:00 → 09:00
    c1, = w.push("p1", [("c1", 0)])                                      # 08:00
    a1 = w.package("pkg1", 0.5, c1, "1.0.0")                             # 08:30
    w.deploy("d1-eu", 2, a1, "prod-eu")                                  # 10:00
    w.deploy("d1-us", 2.5, a1, "prod-us")                                # 10:30
    c2, = w.push("p2", [("c2", 3)])                                      # 11:00
    a2 = w.package("pkg2", 3.5, c2, "1.1.0")                             # 11:30
    w.deploy("d2-eu", 4, a2, "prod-eu", "upgraded")                      # 12:00
    w.incident("I1", 5, "prod-us", resolved=6, artifact=a1)              # 13:00 → 14:00, names 1.0.0
    w.failed_deploy("f-us", 6.25, a2, "prod-us")                         # 14:15 failed attempt
    w.incident("I2", 6.5, "prod-eu", resolved=9)                         # 14:30 → 17:00
    c3, = w.push("p3", [("c3", 7.5)])                                    # 15:30
    a3 = w.package("pkg3", 7.75, c3, "1.1.1")                            # 15:45
    w.deploy("h-eu", 8, a3, "prod-eu", "upgraded")                       # 16:00 the hotfix
    return {"c1": c1, "c2": c2, "c3": c3}


def check_incident_story(paths: Paths, ids: dict[str, str]) -> None:
    """The figures derived in test_incident_attribution_and_hotfix."""
    inc = incidents(paths)
    assert (inc["I0"]["attribution"], inc["I0"]["deployment_id"], inc["I0"]["hotfix_deployment_id"]) == (
        "none", None, None)
    assert (inc["I1"]["attribution"], inc["I1"]["deployment_id"], inc["I1"]["hotfix_deployment_id"]) == (
        "explicit_artifact", "d1-us", None)
    assert (inc["I2"]["attribution"], inc["I2"]["deployment_id"], inc["I2"]["hotfix_deployment_id"]) == (
        "latest_production_deployment", "d2-eu", "h-eu")
    assert (inc["I0"]["opened_at"], inc["I0"]["resolved_at"], inc["I0"]["time_to_restore_s"]) == (at(-72), at(-71), 3600)
    assert (inc["I1"]["opened_at"], inc["I1"]["resolved_at"], inc["I1"]["time_to_restore_s"]) == (at(5), at(6), 3600)
    assert (inc["I2"]["opened_at"], inc["I2"]["resolved_at"], inc["I2"]["time_to_restore_s"]) == (at(6.5), at(9), 9000)

    d = deployments(paths)
    assert flags(d["d1-eu"]) == ok()
    assert flags(d["d1-us"]) == ok(caused_failure=True)
    assert flags(d["d2-eu"]) == ok(caused_failure=True)
    assert flags(d["h-eu"]) == ok(is_hotfix=True, is_rework=True)
    assert flags(d["f-us"]) == ok(outcome="failure")
    assert d["f-us"]["recovered_at"] is None
    assert (d["d1-us"]["attributed_incidents"], d["d2-eu"]["attributed_incidents"]) == (1, 1)
    assert (d["d1-us"]["failure_started_at"], d["d1-us"]["recovered_at"], d["d1-us"]["recovery_time_s"]) == (
        at(5), at(6), 3600)
    assert (d["d2-eu"]["failure_started_at"], d["d2-eu"]["recovered_at"], d["d2-eu"]["recovery_time_s"]) == (
        at(6.5), at(8), 5400)

    ch = changes(paths)
    assert lead(ch, ids["c1"]) == ("d1-eu", 7200)
    assert lead(ch, ids["c2"]) == ("d2-eu", 3600)
    assert lead(ch, ids["c3"]) == ("h-eu", 1800)


# ---------------------------------------------------------------------------------------------
# The scenarios
# ---------------------------------------------------------------------------------------------


def test_commits_of_several_pushes_go_to_the_next_production_deployment(paths, tmp_path):
    """Every commit between two production deployments is delivered by the next one, whichever push carried it.

    Story (prod-eu; staging does not count as production):
      push p1: c1 08:00, c2 09:00;  artifact 1.0.0 from c2;  d1 → prod-eu 10:00
      push p2: c3 11:00, c4 12:00  (before = c2)
      push p3: c5 13:00            (before = c4);  artifact 1.1.0 from c5
      s1: 1.1.0 → staging 14:00 (not production: delivers nothing);  d2: 1.1.0 → prod-eu 16:00
    d1 ships c2 and its ancestor c1; d2 ships c5 and its ancestors not yet shipped: c4, c3 (p2's commits,
    reached through c5's parent = p3's `before` = c4), stopping at c2.
      c1 → d1: 10:00 − 08:00 = 7200 s      c3 → d2: 16:00 − 11:00 = 18000 s
      c2 → d1: 10:00 − 09:00 = 3600 s      c4 → d2: 16:00 − 12:00 = 14400 s
                                           c5 → d2: 16:00 − 13:00 = 10800 s
    5 commits, all deployed; d1, d2 production, s1 not.
    """
    w = World()
    c1, c2 = w.push("p1", [("c1", 0), ("c2", 1)])
    a1 = w.package("pkg1", 1.5, c2, "1.0.0")
    w.deploy("d1", 2, a1, "prod-eu")
    c3, c4 = w.push("p2", [("c3", 3), ("c4", 4)])
    c5, = w.push("p3", [("c5", 5)])
    a2 = w.package("pkg2", 5.5, c5, "1.1.0")
    w.deploy("s1", 6, a2, "staging")
    w.deploy("d2", 8, a2, "prod-eu", "upgraded")
    w.build(paths, tmp_path)

    ch = changes(paths)
    assert len(ch) == 5
    assert lead(ch, c1) == ("d1", 7200)
    assert lead(ch, c2) == ("d1", 3600)
    assert lead(ch, c3) == ("d2", 18000)
    assert lead(ch, c4) == ("d2", 14400)
    assert lead(ch, c5) == ("d2", 10800)
    assert ch[c3]["committed_at"] == at(3) and ch[c3]["deployed_at"] == at(8)
    assert {c["lead_time_basis"] for c in ch.values()} == {"commit_time"}

    d = deployments(paths)
    assert (d["d1"]["is_production"], d["d2"]["is_production"], d["s1"]["is_production"]) == (True, True, False)
    assert d["s1"]["environment_tier"] == "staging"
    assert (d["d1"]["commit_sha"], d["d2"]["commit_sha"]) == (c2, c5)


def test_a_commit_reaches_production_only_through_a_later_deployment(paths, tmp_path):
    """A commit made before a deployment but not contained by its artifact waits for the next one.

    Story (prod-eu):
      push p1: c1 08:00;  artifact 1.0.0 from c1 packaged 08:30
      push p2: c2 09:00 (after 1.0.0 was cut)
      d1: 1.0.0 → prod-eu 10:00   — ships c1 only: 1.0.0 was built from c1, which does not contain c2
      artifact 1.1.0 from c2 packaged 10:30;  d2: 1.1.0 → prod-eu 12:00 — ships c2
      push p3: c3 13:00, never deployed
      c1 → d1: 10:00 − 08:00 = 7200 s
      c2 → d2: 12:00 − 09:00 = 10800 s   (not d1's 10:00 − 09:00 = 3600 s)
      c3: deployment_id, deployed_at, lead_time_s all null (not yet in production)
    """
    w = World()
    c1, = w.push("p1", [("c1", 0)])
    a1 = w.package("pkg1", 0.5, c1, "1.0.0")
    c2, = w.push("p2", [("c2", 1)])
    w.deploy("d1", 2, a1, "prod-eu")
    a2 = w.package("pkg2", 2.5, c2, "1.1.0")
    w.deploy("d2", 4, a2, "prod-eu", "upgraded")
    c3, = w.push("p3", [("c3", 5)])
    w.build(paths, tmp_path)

    ch = changes(paths)
    assert lead(ch, c1) == ("d1", 7200)
    assert lead(ch, c2) == ("d2", 10800)
    assert (ch[c3]["deployment_id"], ch[c3]["deployed_at"], ch[c3]["lead_time_s"]) == (None, None, None)


def test_redeploy_of_the_running_artifact(paths, tmp_path):
    """Deploying the artifact already running is a redeploy: not a rollback, not rework, no new change.

    Story (prod-eu):
      push p1: c1 08:00;  artifact 1.0.0 from c1 08:30
      d1: 1.0.0 → prod-eu 09:00 (service.deployed)
      d2: 1.0.0 → prod-eu 11:00 (service.upgraded, same artifact) — the running artifact again
    d2: is_redeploy, not is_rollback (rollback = an older artifact that ran before but not just now),
    not is_rework; d1's next deployment is not a rollback/hotfix → d1.caused_failure false.
      c1 → d1 (first arrival): 09:00 − 08:00 = 3600 s;  d2 delivers nothing (0 changes).
    Both are production deployments (2 rows, both successes).
    """
    w = World()
    c1, = w.push("p1", [("c1", 0)])
    a1 = w.package("pkg1", 0.5, c1, "1.0.0")
    w.deploy("d1", 1, a1, "prod-eu")
    w.deploy("d2", 3, a1, "prod-eu", "upgraded")
    w.build(paths, tmp_path)

    d = deployments(paths)
    assert set(d) == {"d1", "d2"}
    assert flags(d["d1"]) == ok()
    assert flags(d["d2"]) == ok(is_redeploy=True)
    assert d["d1"]["artifact_id"] == d["d2"]["artifact_id"]
    ch = changes(paths)
    assert lead(ch, c1) == ("d1", 3600)
    assert [c for c in ch.values() if c["deployment_id"] == "d2"] == []


@pytest.mark.parametrize("predicate", ["upgraded", "rolledback"])
def test_rollback_to_an_older_version(paths, tmp_path, predicate):
    """Going back to an artifact that ran before is a rollback, whether announced or a plain upgrade.

    Story (prod-eu), d3 sent as service.upgraded or as service.rolledback:
      c1 08:00 → 1.0.0 (08:30);  d1: 1.0.0 → prod-eu 09:00
      c2 10:00 → 1.1.0 (10:30);  d2: 1.1.0 → prod-eu 11:00
      d3: 1.0.0 → prod-eu 11:45   — 1.0.0 ran here before (d1) and is not the running one (1.1.0)
      c3 12:00 → 1.2.0 (12:30);  d4: 1.2.0 → prod-eu 13:00 (roll forward)
    Flags:
      d3: is_rollback, is_rework (rework = rollbacks + hotfixes), not a redeploy
      d2: caused_failure — not a rollback and the next successful deployment in prod-eu (d3) is a rollback;
          no incident, so recovery runs from d2 to the next deployment in the cluster:
          11:45 − 11:00 = 2700 s, recovered_at 11:45
      d1: next is d2 (not rework) → not failed;  d3: a rollback itself → not failed;  d4: nothing after it
    Lead times (rollbacks never deliver; a commit counts from its first arrival even if rolled back later):
      c1 → d1: 09:00 − 08:00 = 3600 s;  c2 → d2: 11:00 − 10:00 = 3600 s;  c3 → d4: 13:00 − 12:00 = 3600 s
      d3 delivers nothing.
    """
    w = World()
    ids = rollback_story(w, predicate)
    w.build(paths, tmp_path)
    check_rollback_story(paths, ids)


def test_failed_deployment_then_fix(paths, tmp_path):
    """A failed deploy attempt is kept as outcome failure, changes nothing, and recovers at the next success.

    Story:
      c1 08:00 → 1.0.0 (08:30);  d1: 1.0.0 → prod-eu 09:00
      c2 10:00 → 1.1.0 (10:30);  f1: deploy pipeline of 1.1.0 to prod-eu finishes with failure 11:00
      u1: 1.0.0 → prod-us 11:30  (another cluster: not the recovery of a prod-eu attempt)
      c3 11:30 → 1.1.1 (11:45);  d2: 1.1.1 → prod-eu 12:00 (the fix)
    f1: outcome failure, production, not a rollback / rework / failed change; recovered_at = next
        successful deployment of svc in prod-eu = d2 12:00 → 12:00 − 11:00 = 3600 s.
    d1: the failed attempt after it changes nothing that runs → caused_failure false (next success in
        prod-eu is d2, a plain new artifact).  d2: not a rollback, not a hotfix (no incident) → not rework.
    Lead times (f1 delivers nothing; u1 ships 1.0.0 whose c1 was already delivered):
      c1 → d1: 09:00 − 08:00 = 3600 s;  c2 → d2: 12:00 − 10:00 = 7200 s;  c3 → d2: 12:00 − 11:30 = 1800 s
    """
    w = World()
    c1, = w.push("p1", [("c1", 0)])
    a1 = w.package("pkg1", 0.5, c1, "1.0.0")
    w.deploy("d1", 1, a1, "prod-eu")
    c2, = w.push("p2", [("c2", 2)])
    a2 = w.package("pkg2", 2.5, c2, "1.1.0")
    w.failed_deploy("f1", 3, a2, "prod-eu")
    w.deploy("u1", 3.5, a1, "prod-us")
    c3, = w.push("p3", [("c3", 3.5)])
    a3 = w.package("pkg3", 3.75, c3, "1.1.1")
    w.deploy("d2", 4, a3, "prod-eu", "upgraded")
    w.build(paths, tmp_path)

    d = deployments(paths)
    assert flags(d["f1"]) == ok(outcome="failure")
    assert d["f1"]["outcome"] != "success"
    assert (d["f1"]["environment"], d["f1"]["commit_sha"]) == ("prod-eu", c2)
    assert (d["f1"]["deployed_at"], d["f1"]["recovered_at"], d["f1"]["recovery_time_s"]) == (at(3), at(4), 3600)
    assert flags(d["d1"]) == ok()
    assert flags(d["d2"]) == ok()
    assert flags(d["u1"]) == ok()
    ch = changes(paths)
    assert lead(ch, c1) == ("d1", 3600)
    assert lead(ch, c2) == ("d2", 7200)
    assert lead(ch, c3) == ("d2", 1800)
    assert [c for c in ch.values() if c["deployment_id"] in ("f1", "u1")] == []


def test_incident_attribution_and_hotfix(paths, tmp_path):
    """Explicit artifact first, then the latest production deployment of the service, else none; hotfix.

    Story (svc in prod-eu and prod-us):
      I0 prod-eu opened 06-28 08:00 (t0 − 72 h), resolved 09:00 (t0 − 71 h) — before any deployment
      c1 08:00 → 1.0.0 (08:30);  d1-eu: 1.0.0 → prod-eu 10:00;  d1-us: 1.0.0 → prod-us 10:30
      c2 11:00 → 1.1.0 (11:30);  d2-eu: 1.1.0 → prod-eu 12:00
      I1 prod-us opened 13:00, names artifact 1.0.0, resolved 14:00
      f-us: deploy pipeline of 1.1.0 to prod-us fails 14:15
      I2 prod-eu opened 14:30, names nothing, resolved 17:00
      c3 15:30 → 1.1.1 (15:45);  h-eu: 1.1.1 → prod-eu 16:00
    Attribution:
      I0: no production deployment before 06-28 08:00 → none, deployment_id null.
      I1: names 1.0.0 → latest successful prod deployment of 1.0.0 before 13:00: d1-eu 10:00, d1-us 10:30
          → d1-us, explicit_artifact (the by-time rule would have said d2-eu 12:00).
      I2: latest successful prod deployment of svc before 14:30: d2-eu 12:00 → latest_production_deployment
          (f-us 14:15 is later but failed, so it is no candidate).
    Hotfix (first new-artifact prod deployment to the incident's environment after its start, ≤ 48 h after
    its resolution):
      I2 (prod-eu, 14:30 … 17:00 + 48 h): h-eu 16:00 → is_hotfix, is_rework.
      I1 (prod-us): no prod-us deployment after 13:00 → none.
      I0 (prod-eu, until 06-28 09:00 + 48 h = 06-30 09:00): d1-eu is 07-01 10:00, later → none.
    Failed changes and recovery (incident start → earlier of resolution and first rework in the cluster):
      d1-us: I1 → caused_failure; no rework in prod-us → recovered at I1's resolution 14:00: 13:00→14:00 = 3600 s
      d2-eu: I2 → caused_failure (also: next in prod-eu is a hotfix); min(17:00, h-eu 16:00) = 16:00:
             14:30→16:00 = 5400 s
      d1-eu: next in prod-eu is d2-eu (not rework), no incident → not failed;  h-eu: not failed.
      f-us: outcome failure, not rework; no successful prod-us deployment after 14:15 → recovered_at null.
    Incident time to restore: I0 3600 s, I1 3600 s, I2 17:00 − 14:30 = 9000 s.
    Lead times: c1 → d1-eu (first arrival, not d1-us): 10:00 − 08:00 = 7200 s;  c2 → d2-eu 12:00 − 11:00 = 3600 s;
      c3 → h-eu 16:00 − 15:30 = 1800 s.
    """
    w = World()
    ids = incident_story(w)
    w.build(paths, tmp_path)
    check_incident_story(paths, ids)


def test_one_artifact_to_two_production_clusters(paths, tmp_path):
    """An artifact rolled out to two production clusters: two deployments, one change at its first arrival.

    Story:
      push p1: c1 08:00, c2 09:00;  artifact 1.0.0 from c2 (09:30)
      deploy-2-eu: 1.0.0 → prod-eu 10:00;  deploy-1-us: 1.0.0 → prod-us 11:00
      (ids chosen so that the later deployment sorts first by id: time, not id, decides)
    Deployments: 2 production rows (one per cluster), neither a redeploy nor a rollback (the artifact never
    ran in the other cluster before).
    Lead times from the first arrival (prod-eu 10:00):
      c1: 10:00 − 08:00 = 7200 s;  c2: 10:00 − 09:00 = 3600 s;  deploy-1-us delivers nothing.
    """
    w = World()
    c1, c2 = w.push("p1", [("c1", 0), ("c2", 1)])
    a1 = w.package("pkg1", 1.5, c2, "1.0.0")
    w.deploy("deploy-2-eu", 2, a1, "prod-eu")
    w.deploy("deploy-1-us", 3, a1, "prod-us")
    w.build(paths, tmp_path)

    d = deployments(paths)
    assert set(d) == {"deploy-2-eu", "deploy-1-us"}
    assert flags(d["deploy-2-eu"]) == ok()
    assert flags(d["deploy-1-us"]) == ok()
    assert (d["deploy-2-eu"]["environment"], d["deploy-1-us"]["environment"]) == ("prod-eu", "prod-us")
    ch = changes(paths)
    assert lead(ch, c1) == ("deploy-2-eu", 7200)
    assert lead(ch, c2) == ("deploy-2-eu", 3600)
    assert ch[c1]["deployed_environment"] == "prod-eu"
    assert [c for c in ch.values() if c["deployment_id"] == "deploy-1-us"] == []


def test_out_of_order_and_duplicated_events_give_the_same_marts(paths, tmp_path):
    """Shuffled lines and re-deliveries (binary mode, bare, same file, another file) change nothing.

    World: the incident story (service svc, test_incident_attribution_and_hotfix) plus the rollback story
    for service api (repo org/api, test_rollback_to_an_older_version, rollback by a plain upgrade).
    Warehouse A ingests it in order. Warehouse B ingests, first, a file of re-deliveries of every third
    event (binary-mode CloudEvents; bare CDEvents for the rest of the CDEvents picked; the push requests
    again with the same X-GitHub-Delivery), then the whole world with its lines shuffled and the first
    five shuffled lines written twice, then the shuffled file once more (a no-op).
    Dedup keys are source+id+type (CloudEvents/CDEvents) and the delivery id (GitHub), so B holds
    exactly the events of A: n distinct events in raw.events for both, where n = events in the world.
    Expected marts: identical rows in A and B for marts.deployments, marts.changes and marts.incidents,
    and in B the hand-derived figures of both stories (see those tests' docstrings).
    """
    w = World()
    incident_ids = incident_story(w)
    rollback_ids = rollback_story(w, "upgraded", service="api", repo="org/api")
    n = len(w.items)

    in_order = resolve_paths(tmp_path / "a" / "warehouse.duckdb")
    w.build(in_order, tmp_path / "a-in")

    redelivered = []
    cdevents_seen = 0
    for i, item in enumerate(w.items):
        if i % 3:
            continue
        if item.kind == "push":
            redelivered.append(item.encode())
        else:
            redelivered.append(item.encode("binary" if cdevents_seen % 2 == 0 else "bare"))
            cdevents_seen += 1
    lines = w.lines()
    random.Random(20260701).shuffle(lines)
    shuffled = lines + lines[:5]
    dup_file = write_ndjson(tmp_path / "b-in" / "redeliveries.ndjson", redelivered)
    shuffled_file = write_ndjson(tmp_path / "b-in" / "shuffled.ndjson", shuffled)
    tasks.ingest(paths, [dup_file])
    tasks.ingest(paths, [shuffled_file])
    tasks.ingest(paths, [shuffled_file])
    tasks.build(paths)

    assert select(in_order, "select count(*) as n from raw.events")[0]["n"] == n
    assert select(paths, "select count(*) as n from raw.events")[0]["n"] == n
    assert select(paths, "select count(*) as n from raw.events where transport = 'binary'")[0]["n"] > 0
    for table in ("marts.deployments", "marts.changes", "marts.incidents"):
        sql = f"select * from {table} order by all"
        assert select(paths, sql) == select(in_order, sql), table
    check_incident_story(paths, incident_ids)
    check_rollback_story(paths, rollback_ids, service="api")


def test_non_positive_lead_time_is_kept(paths, tmp_path):
    """A commit whose clock runs ahead of the deployment keeps its row with lead_time_s ≤ 0.

    Story: push p1: c1 08:00, c2 10:00, c3 11:00 (c2, c3 from a skewed clock); artifact 1.0.0 from c3
    (packaged 09:30); d1: 1.0.0 → prod-eu 10:00.
      c1: 10:00 − 08:00 = 7200 s;  c2: 10:00 − 10:00 = 0 s;  c3: 10:00 − 11:00 = −3600 s
    All three are delivered by d1 and kept in marts.changes with these values (basis commit_time); their
    exclusion from the percentiles (and the count of excluded ones) belongs to marts.dora_metrics and is
    tested there, not here.
    """
    w = World()
    c1, c2, c3 = w.push("p1", [("c1", 0), ("c2", 2), ("c3", 3)])
    a1 = w.package("pkg1", 1.5, c3, "1.0.0")
    w.deploy("d1", 2, a1, "prod-eu")
    w.build(paths, tmp_path)

    ch = changes(paths)
    assert lead(ch, c1) == ("d1", 7200)
    assert lead(ch, c2) == ("d1", 0)
    assert lead(ch, c3) == ("d1", -3600)
    assert ch[c3]["lead_time_basis"] == "commit_time"
    assert ch[c3]["committed_at"] == at(3)


def test_timezone_offsets_become_utc(paths, tmp_path):
    """Timestamps with offsets are instants: compared and stored in UTC.

    Story, as written (local clock strings) → UTC:
      c1 committed 2026-07-01T10:00:00+02:00 → 08:00Z
      artifact 1.0.0 from c1 packaged 2026-07-01T03:30:00-05:00 → 08:30Z
      d1: 1.0.0 → prod-eu 2026-07-01T12:00:00+02:00 → 10:00Z
      I1 prod-eu opened 2026-07-01T07:00:00-05:00 → 12:00Z, resolved 2026-07-01T14:30:00+02:00 → 12:30Z
    (as strings, I1's "07:00" sorts before d1's "12:00"; as instants it is two hours after.)
      c1 lead time: 10:00Z − 08:00Z = 7200 s
      I1: latest prod deployment of svc before 12:00Z = d1 → latest_production_deployment;
          time to restore 12:30Z − 12:00Z = 1800 s;  d1 caused_failure, recovered at 12:30Z (1800 s).
    """
    w = World()
    c1, = w.push("p1", [("c1", "2026-07-01T10:00:00+02:00")])
    a1 = w.package("pkg1", "2026-07-01T03:30:00-05:00", c1, "1.0.0")
    w.deploy("d1", "2026-07-01T12:00:00+02:00", a1, "prod-eu")
    w.incident("I1", "2026-07-01T07:00:00-05:00", "prod-eu", resolved="2026-07-01T14:30:00+02:00")
    w.build(paths, tmp_path)

    ch = changes(paths)
    assert ch[c1]["committed_at"] == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert ch[c1]["deployed_at"] == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert lead(ch, c1) == ("d1", 7200)
    inc = incidents(paths)["I1"]
    assert (inc["opened_at"], inc["resolved_at"]) == (datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
                                                       datetime(2026, 7, 1, 12, 30, tzinfo=UTC))
    assert (inc["attribution"], inc["deployment_id"], inc["time_to_restore_s"]) == (
        "latest_production_deployment", "d1", 1800)
    d1 = deployments(paths)["d1"]
    assert (d1["caused_failure"], d1["recovered_at"], d1["recovery_time_s"]) == (
        True, datetime(2026, 7, 1, 12, 30, tzinfo=UTC), 1800)
    utc_text = select(paths, "select strftime(timezone('UTC', deployed_at), '%Y-%m-%d %H:%M:%S') as t "
                             "from marts.deployments where deployment_id = 'd1'")[0]["t"]
    assert utc_text == "2026-07-01 10:00:00"


def test_the_hand_written_events_are_valid_cdevents_v0_5_1():
    """The builder writes events the bundled v0.5.1 schemas accept, so no scenario rests on a malformed event."""
    w = World()
    incident_story(w)
    rollback_story(w, "rolledback", service="api", repo="org/api")
    a = w.package("pkg-x", 0, sha("x"), "9.9.9", service="other")
    w.failed_deploy("f-x", 1, a, "prod-eu", service="other")
    registry = default_registry()
    checked = 0
    for item in w.items:
        if item.kind != "cdevent":
            continue
        match = registry.schema_for(item.doc)
        assert match is not None and match.schema_version == "0.5.1", item.doc["context"]["type"]
        assert registry.validate(item.doc) == [], item.doc
        checked += 1
    assert checked > 10


def test_a_force_push_does_not_make_the_discarded_head_an_ancestor(paths, tmp_path):
    """After a force push, `before` is the discarded head: the new commit does not contain it.

    Story: push p1: c1 08:00, c2 09:00. Force push p2 (before = c2, forced): c3 10:00 — history rewritten,
    c2 thrown away (c3's real parent is c1, which the payload does not say). Artifact from c3, d1 → prod-eu
    11:00. Without git history the first commit of a forced push has an unknown parent, so d1 delivers c3
    only: c3 → 11:00 − 10:00 = 3600 s. c2 never shipped (null). c1 stays undelivered — an under-count that
    loading the clone's history with `lifecycle ingest-git` removes — rather than c2 counted as shipped.
    """
    w = World()
    c1, c2 = w.push("p1", [("c1", 0), ("c2", 1)])
    c3, = w.push("p2", [("c3", 2)], forced=True)
    a1 = w.package("pkg1", 2.5, c3, "2.0.0")
    w.deploy("d1", 3, a1, "prod-eu")
    w.build(paths, tmp_path)

    ch = changes(paths)
    assert lead(ch, c3) == ("d1", 3600)
    assert lead(ch, c2) == (None, None)
    assert lead(ch, c1) == (None, None)
