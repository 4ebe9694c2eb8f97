"""A small world builder for the flow-analytics scenario tests (tests/unit/test_flow_*.py).

Each scenario writes hand-written events — GitHub `push` captured requests for commits and CDEvents
v0.5.1 structured CloudEvents for CI runs, builds, tests, packaging, publishing, deployments, removals and
incidents — ingests and builds them, and checks the flow marts against figures derived BY HAND in the
test's docstring. Times are minutes after t0 = 2026-07-01 08:00 UTC (a Wednesday; ISO week 2026-06-29),
written in the docstrings as clock times ("08:12" = t0 + 12 min).

Scans: `FlowWorld.scan` records a completed scan as a scanner's staging model puts it in
`intermediate.canonical_events` (stage `artifact_scanned`, the scanner as `source_tool`, the artifact, its
`findings`: a JSON object severity → count), and `build_warehouse` inserts those rows after the normal
build and re-runs every model downstream of `intermediate.canonical_events` (rows written outside the build: the
models that read canonical events' log of changes see its row count no longer add up and rebuild in full,
pipelines/changelog.py) — so these scenarios do not rest on one vendor's payload (Harbor's own
`SCANNING_COMPLETED` is tested in test_flow_risk.py).
This module's own test checks that every hand-written CDEvent is valid v0.5.1.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines import modeling, tasks, warehouse
from pipelines.cdevents import default_registry
from pipelines.config import Paths

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
CI = "https://tekton.bank.example/ci"
REGISTRY = "https://harbor.bank.example"
INCIDENTS = "https://pagerduty.bank.example"


def at(minutes: float) -> datetime:
    """t0 + minutes, as an aware UTC datetime (what the marts return)."""
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def normalised(purl: str) -> str:
    """The artifact id the marts use for a purl written by the builder (qualifiers dropped, %3A decoded)."""
    return purl.split("?")[0].replace("%3A", ":")


@dataclass
class Scan:
    event_id: str
    minutes: float
    purl: str
    tool: str
    findings: dict | None
    service: str
    outcome: str = "success"


@dataclass
class FlowWorld:
    service: str = "svc"
    repo: str = "org/svc"
    team: str | None = None
    app: str | None = None
    items: list[dict] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)

    # -- events ---------------------------------------------------------------------------------

    def _custom(self, service: str | None, **extra) -> dict:
        custom = {"service": service or self.service}
        if self.team:
            custom["team"] = self.team
        if self.app:
            custom["app"] = self.app
        custom.update({k: v for k, v in extra.items() if v is not None})
        return custom

    def cdevent(self, event_id: str, type_: str, source: str, minutes: float, subject: dict,
                custom: dict | None = None, chain: str | None = None) -> None:
        context = {"specversion": "0.5.1", "id": event_id, "source": source,
                   "type": f"dev.cdevents.{type_}.0.3.0", "timestamp": stamp(minutes)}
        if chain:
            context["chainId"] = chain
        doc = {"context": context, "subject": subject}
        if custom is not None:
            doc["customData"] = custom
            doc["customDataContentType"] = "application/json"
        self.items.append({"specversion": "1.0", "id": event_id, "source": source, "type": context["type"],
                           "time": context["timestamp"], "datacontenttype": "application/json", "data": doc})

    def push(self, delivery: str, commits: list[tuple[str, float]], repo: str | None = None) -> list[str]:
        """A push to main listing `commits` (name, minutes) oldest first; returns their shas."""
        repo = repo or self.repo
        shas = [sha(f"{repo}:{name}") for name, _ in commits]
        before = self.heads.get(repo, "0" * 40)
        self.heads[repo] = shas[-1]
        body = {"ref": "refs/heads/main", "before": before, "after": shas[-1], "repository": {"full_name": repo},
                "commits": [{"id": s, "timestamp": stamp(t), "message": name,
                             "author": {"name": "Dev", "email": "dev@bank.example"}}
                            for s, (name, t) in zip(shas, commits, strict=True)]}
        self.items.append({"headers": {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery}, "body": body,
                           "received_at": stamp(commits[-1][1] + 0.5)})
        return shas

    def purl(self, version: str, service: str | None = None) -> str:
        service = service or self.service
        return f"pkg:oci/{service}@sha256%3A{digest(service + ':' + version)}?tag={version}"

    def pipeline(self, event_id: str, predicate: str, minutes: float, chain: str, commit: str,
                 service: str | None = None, outcome: str | None = None) -> None:
        """A CI pipeline run event (queued / started / finished) of the build chain `chain`."""
        content = {"pipelineName": f"build-{service or self.service}", "uri": f"https://ci.bank.example/{chain}"}
        if outcome:
            content["outcome"] = outcome
        self.cdevent(event_id, f"pipelinerun.{predicate}", CI, minutes, {"id": f"run-{chain}", "content": content},
                     self._custom(service, commitSha=commit), chain)

    def build(self, event_id: str, predicate: str, minutes: float, chain: str, commit: str,
              purl: str | None = None, service: str | None = None) -> None:
        """build.queued / started / finished of the chain (finished names the artifact)."""
        content = {"artifactId": purl} if purl and predicate == "finished" else {}
        self.cdevent(event_id, f"build.{predicate}", CI, minutes, {"id": f"build-{chain}", "content": content},
                     self._custom(service, commitSha=commit), chain)

    def test(self, event_id: str, predicate: str, minutes: float, environment: str, chain: str | None = None,
             purl: str | None = None, outcome: str | None = None, service: str | None = None) -> None:
        """testsuiterun.started / finished in `environment` (outcome success / failure when finished)."""
        content = {"environment": {"id": environment}, "testSuite": {"id": f"{service or self.service}-suite"}}
        if outcome:
            content["outcome"] = outcome
        self.cdevent(event_id, f"testsuiterun.{predicate}", CI, minutes, {"id": f"tests-{event_id}", "content": content},
                     self._custom(service, artifactId=purl), chain)

    def package(self, event_id: str, minutes: float, commit: str, version: str, chain: str | None = None,
                service: str | None = None, repo: str | None = None) -> str:
        """artifact.packaged built from `commit`; returns the artifact's purl."""
        purl = self.purl(version, service)
        self.cdevent(event_id, "artifact.packaged", CI, minutes,
                     {"id": purl, "content": {"change": {"id": commit, "source": repo or self.repo}}},
                     self._custom(service), chain)
        return purl

    def publish(self, event_id: str, minutes: float, purl: str, service: str | None = None) -> None:
        self.cdevent(event_id, "artifact.published", REGISTRY, minutes, {"id": purl, "content": {}},
                     self._custom(service))

    def deploy_start(self, event_id: str, minutes: float, purl: str, env: str, service: str | None = None) -> None:
        """The GitOps tool starts syncing `purl` to `env` (a deployment pipeline run: stage deploy_started)."""
        self.cdevent(event_id, "pipelinerun.started", f"/argocd/{env}", minutes,
                     {"id": f"deploy-{event_id}", "content": {"pipelineName": f"deploy-{env}",
                                                              "uri": f"https://argocd.bank.example/{event_id}"}},
                     self._custom(service, environment=env, artifactId=purl))

    def deploy(self, event_id: str, minutes: float, purl: str, env: str, predicate: str = "upgraded",
               service: str | None = None) -> None:
        """service.deployed / upgraded / rolledback of `purl` to `env`."""
        self.cdevent(event_id, f"service.{predicate}", f"/argocd/{env}", minutes,
                     {"id": service or self.service, "content": {"environment": {"id": env}, "artifactId": purl}},
                     self._custom(service))

    def failed_deploy(self, event_id: str, minutes: float, purl: str, env: str, service: str | None = None) -> None:
        self.cdevent(event_id, "pipelinerun.finished", f"/argocd/{env}", minutes,
                     {"id": f"deploy-{event_id}", "content": {"pipelineName": f"deploy-{env}",
                                                              "uri": f"https://argocd.bank.example/{event_id}",
                                                              "outcome": "failure", "errors": "sync failed"}},
                     self._custom(service, environment=env, artifactId=purl))

    def remove(self, event_id: str, minutes: float, env: str, service: str | None = None) -> None:
        """service.removed from `env`."""
        self.cdevent(event_id, "service.removed", f"/argocd/{env}", minutes,
                     {"id": service or self.service, "content": {"environment": {"id": env}}}, self._custom(service))

    def incident(self, incident_id: str, opened: float, env: str, resolved: float | None = None,
                 service: str | None = None) -> None:
        content = {"description": f"{incident_id}: errors", "environment": {"id": env},
                   "service": {"id": service or self.service}}
        self.cdevent(f"{incident_id}-detected", "incident.detected", INCIDENTS, opened,
                     {"id": incident_id, "content": content})
        if resolved is not None:
            self.cdevent(f"{incident_id}-resolved", "incident.resolved", INCIDENTS, resolved,
                         {"id": incident_id, "content": dict(content)})

    def scan(self, event_id: str, minutes: float, purl: str, tool: str = "trivy",
             findings: dict | None = None, service: str | None = None, outcome: str = "success") -> None:
        """A completed scan as the scanner's staging model will emit it (see the module docstring)."""
        self.scans.append(Scan(event_id, minutes, purl, tool, findings, service or self.service, outcome))

    # -- build ----------------------------------------------------------------------------------

    def build_warehouse(self, paths: Paths, directory: Path) -> None:
        """Write the events to one NDJSON file, ingest, build every model, then add the scans."""
        path = directory / "world.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(item) + "\n" for item in self.items))
        tasks.ingest(paths, [path])
        tasks.build(paths)
        if self.scans:
            inject_scans(paths, self.scans)


def inject_scans(paths: Paths, scans: list[Scan]) -> None:
    """Add scan events to intermediate.canonical_events and rebuild what depends on it."""
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        for s in scans:
            conn.execute(
                "insert into intermediate.canonical_events (event_key, event_id, source_tool, raw_type, stage, "
                "occurred_at, received_at, outcome, artifact_id, service, findings) "
                "values (?, ?, ?, ?, 'artifact_scanned', ?, ?, ?, normalise_purl(?), ?, ?)",
                [f"scan:{s.event_id}", s.event_id, s.tool, f"{s.tool}:scan_completed", at(s.minutes), at(s.minutes),
                 s.outcome, s.purl, s.service, None if s.findings is None else json.dumps(s.findings)],
            )
        downstream = [m.qualified for m in modeling.build_order()
                      if m.layer != "staging" and m.qualified != "intermediate.canonical_events"]
        modeling.build_models(conn, select=downstream)


def rows(paths: Paths, sql: str, params: list | None = None) -> list[dict]:
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        cursor = conn.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def test_the_hand_written_events_are_valid_cdevents_v0_5_1():
    """Every CDEvent the builder writes is accepted by the bundled v0.5.1 schemas."""
    w = FlowWorld(team="payments", app="core")
    c1, = w.push("p1", [("c1", 0)])
    w.pipeline("q", "queued", 1, "K1", c1)
    w.pipeline("s", "started", 2, "K1", c1)
    w.build("bq", "queued", 3, "K1", c1)
    w.build("bs", "started", 4, "K1", c1)
    a1 = w.purl("1.0.0")
    w.build("bf", "finished", 5, "K1", c1, a1)
    w.test("ts", "started", 6, "ci", chain="K1")
    w.test("tf", "finished", 7, "ci", chain="K1", outcome="success")
    w.package("pkg", 8, c1, "1.0.0", chain="K1")
    w.publish("pub", 9, a1)
    w.pipeline("f", "finished", 10, "K1", c1, outcome="success")
    w.deploy_start("ds", 11, a1, "dev")
    w.deploy("d", 12, a1, "dev", "deployed")
    w.failed_deploy("fd", 13, a1, "qa")
    w.deploy("rb", 14, a1, "qa", "rolledback")
    w.remove("rm", 15, "qa")
    w.incident("I1", 16, "prod-eu", resolved=17)
    registry = default_registry()
    checked = 0
    for item in w.items:
        if "data" not in item:
            continue
        doc = item["data"]
        match = registry.schema_for(doc)
        assert match is not None and match.schema_version == "0.5.1", doc["context"]["type"]
        assert registry.validate(doc) == [], doc
        checked += 1
    assert checked == 17
