"""Tests for sample_events.generate: determinism, event shapes, schema validity, the committed sample and
the ground truth in expected.json.

The ground truth is computed by the generator from its world model. The tests check it three ways:
* against an independent re-computation from the *emitted events* (``_Reader`` below: a small reference
  implementation of the rules in sample_events/SCENARIO.md), so the events and the truth cannot disagree;
* against figures derived by hand for a tiny hand-built world (``test_hand_built_world_figures``);
* against hand-checkable properties of a tiny generated world (one service, one week).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pipelines.cdevents import default_registry
from sample_events import generate as gen

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "sample_events" / "data"  # the committed events
EXPECTED = ROOT / "sample_events" / "expected.json"  # their ground truth, kept outside data/ (data/ is ingested)
SCENARIO = ROOT / "sample_events" / "SCENARIO.md"
EVENT_FILES = [gen.FILES[c] for c in gen.FILES]
PROD = {"prod-eu", "prod-us"}
ALLOWED_CUSTOM = {"team", "app", "service", "repository", "commitSha", "version", "environment", "cluster",
                  "artifactId", "outcome"}
HOUR = 3600


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh generation with the defaults (what sample_events/data must equal)."""
    out = tmp_path_factory.mktemp("sample")
    gen.generate(str(out))
    return out


@pytest.fixture(scope="module")
def expected(sample: Path) -> dict[str, Any]:
    return json.loads((sample / "expected.json").read_text())


@pytest.fixture(scope="module")
def reader(sample: Path) -> "_Reader":
    return _Reader(sample)


def _ts(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# ------------------------------------------------------------------------------------ reference reader


class _Reader:
    """Loads every file of a generated directory and re-derives the figures from the events alone."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.primary: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}  # key -> (file, CDEvent or push)
        self.duplicates: list[tuple[tuple[str, ...], dict[str, Any]]] = []  # (key, CDEvent or push request)
        self.duplicate_modes: list[str] = []
        self.structured_times: list[int] = []
        self.scans: list[dict[str, Any]] = []  # Harbor's own CloudEvents (harbor.scan.completed), not CDEvents
        for line in (directory / "cloudevents.ndjson").read_text().splitlines():
            ce = json.loads(line)
            self.structured_times.append(_ts(ce["time"]))
            if ce["type"].startswith("harbor."):
                self._add_native("cloudevents.ndjson", ce)
                continue
            self._add("cloudevents.ndjson", ce["data"], ce=ce)
        for line in (directory / "cloudevents-binary.ndjson").read_text().splitlines():
            req = json.loads(line)
            self._add("cloudevents-binary.ndjson", req["body"], headers=req["headers"])
        for ce in json.loads((directory / "cloudevents-batch.json").read_text()):
            self._add("cloudevents-batch.json", ce["data"], ce=ce)
        for line in (directory / "cdevents-bare.ndjson").read_text().splitlines():
            self._add("cdevents-bare.ndjson", json.loads(line))
        for line in (directory / "github-push.ndjson").read_text().splitlines():
            req = json.loads(line)
            key = ("github", req["headers"]["X-GitHub-Delivery"])
            assert key not in self.primary, key
            self.primary[key] = ("github-push.ndjson", req)
        for line in (directory / "duplicates.ndjson").read_text().splitlines():
            obj = json.loads(line)
            mode = "binary" if "headers" in obj else "structured" if "data" in obj else "bare"
            if "headers" in obj and "X-GitHub-Delivery" in obj["headers"]:
                self.duplicates.append((("github", obj["headers"]["X-GitHub-Delivery"]), obj))
                self.duplicate_modes.append("github")
            elif obj.get("type", "").startswith("harbor."):
                self.duplicate_modes.append("native")
                self.duplicates.append(((obj["source"], obj["id"], obj["type"]), obj))
            else:
                self.duplicate_modes.append(mode)
                ev = obj.get("data") or obj.get("body") or obj
                c = ev["context"]
                self.duplicates.append(((c["source"], c["id"], c["type"]), ev))

    def _add(self, file: str, ev: dict[str, Any], ce: dict[str, Any] | None = None,
             headers: dict[str, Any] | None = None) -> None:
        c = ev["context"]
        if ce is not None:  # the CDEvents CloudEvents binding
            assert (ce["specversion"], ce["id"], ce["source"], ce["type"], ce["time"]) == (
                "1.0", c["id"], c["source"], c["type"], c["timestamp"])
        if headers is not None:
            assert headers == {"ce-specversion": "1.0", "ce-id": c["id"], "ce-source": c["source"],
                               "ce-type": c["type"], "ce-time": c["timestamp"], "Content-Type": "application/json"}
        key = (c["source"], c["id"], c["type"])
        assert key not in self.primary, f"{key} in two primary files"
        self.primary[key] = (file, ev)

    def _add_native(self, file: str, ce: dict[str, Any]) -> None:
        key = (ce["source"], ce["id"], ce["type"])
        assert key not in self.primary, f"{key} in two primary files"
        self.primary[key] = (file, ce)
        self.scans.append(ce)

    # -- views
    def cdevents(self) -> list[dict[str, Any]]:
        return [ev for f, ev in self.primary.values() if f != "github-push.ndjson" and "context" in ev]

    def pushes(self) -> list[dict[str, Any]]:
        return [req["body"] for f, req in self.primary.values() if f == "github-push.ndjson"]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [ev for ev in self.cdevents() if ev["context"]["type"].startswith(f"dev.cdevents.{kind}.")]

    # -- re-derived truth
    def history(self) -> dict[str, list[tuple[str, int]]]:
        """Per repository: main's commits in order (sha, timestamp), by chaining before -> after."""
        out: dict[str, list[tuple[str, int]]] = {}
        by_repo: dict[str, dict[str, dict[str, Any]]] = {}
        for p in self.pushes():
            by_repo.setdefault(p["repository"]["full_name"], {})[p["before"]] = p
        for repo, by_before in by_repo.items():
            afters = {p["after"] for p in by_before.values()}
            first = [b for b in by_before if b not in afters]
            assert len(first) == 1, f"{repo}: main is not one linear history"
            seq: list[tuple[str, int]] = []
            cur = first[0]
            while cur in by_before:
                p = by_before[cur]
                seq += [(c["id"], _ts(c["timestamp"])) for c in p["commits"]]
                cur = p["after"]
            assert len(seq) == sum(len(p["commits"]) for p in by_before.values())
            out[repo] = seq
        return out

    def prod_deployments(self) -> list[dict[str, Any]]:
        rows = []
        for ev in self.of("service"):
            kind = ev["context"]["type"].split(".")[3]
            content = ev["subject"]["content"]
            if kind in ("deployed", "upgraded", "rolledback") and content["environment"]["id"] in PROD:
                rows.append({"id": ev["context"]["id"], "service": ev["subject"]["id"],
                             "env": content["environment"]["id"], "artifact": content["artifactId"],
                             "t": _ts(ev["context"]["timestamp"]), "rollback": kind == "rolledback"})
        return sorted(rows, key=lambda r: (r["t"], r["env"]))

    def failed_prod_attempts(self) -> list[dict[str, Any]]:
        rows = []
        for ev in self.of("pipelinerun.finished"):
            cd = ev.get("customData", {})
            if ev["subject"]["content"].get("outcome") == "failure" and cd.get("environment") in PROD:
                rows.append({"service": cd["service"], "env": cd["environment"], "t": _ts(ev["context"]["timestamp"])})
        return rows

    def incidents(self) -> list[dict[str, Any]]:
        opened: dict[str, dict[str, Any]] = {}
        resolved: dict[str, int] = {}
        for ev in self.of("incident"):
            kind = ev["context"]["type"].split(".")[3]
            c = ev["subject"]["content"]
            if kind in ("detected", "reported"):
                opened[ev["subject"]["id"]] = {"id": ev["subject"]["id"], "service": c["service"]["id"],
                                               "env": c["environment"]["id"], "artifact": c.get("artifactId"),
                                               "start": _ts(ev["context"]["timestamp"])}
            else:
                resolved[ev["subject"]["id"]] = _ts(ev["context"]["timestamp"])
        for i in opened.values():
            i["resolved"] = resolved.get(i["id"])
        return sorted(opened.values(), key=lambda i: i["start"])

    def truth(self) -> dict[str, Any]:
        """The DORA figures by the rules in SCENARIO.md, from the events only."""
        built_from = {ev["subject"]["id"]: ev["subject"]["content"]["change"]["id"]
                      for ev in self.of("artifact.packaged")}
        deps = self.prod_deployments()
        per_service: dict[str, dict[str, Any]] = {}
        for d in deps:
            per_service.setdefault(d["service"], {"deps": []})["deps"].append(d)
        for svc in per_service.values():
            seen: dict[str, set[str]] = {c: set() for c in PROD}
            running: dict[str, str | None] = {c: None for c in PROD}
            for d in svc["deps"]:
                d["new"] = not d["rollback"] and d["artifact"] not in seen[d["env"]]
                d["redeploy"] = not d["rollback"] and d["artifact"] == running[d["env"]]
                d["hotfix"] = False
                d["incidents"] = []
                seen[d["env"]].add(d["artifact"])
                running[d["env"]] = d["artifact"]
        incidents = self.incidents()
        for inc in incidents:
            svc_deps = per_service.get(inc["service"], {"deps": []})["deps"]
            dep, method = None, "none"
            if inc["artifact"]:
                c = [d for d in svc_deps if d["artifact"] == inc["artifact"] and d["t"] < inc["start"]]
                if c:
                    dep, method = c[-1], "explicit_artifact"
            if dep is None:
                c = [d for d in svc_deps if d["t"] < inc["start"]]
                if c:
                    dep, method = c[-1], "latest_production_deployment"
            inc["deployment"], inc["method"] = (dep["id"] if dep else None), method
            if dep is not None:
                dep["incidents"].append(inc)
            for d in svc_deps:  # hotfix: first new artifact in the incident's cluster within the window
                limit = inc["resolved"] + 48 * HOUR if inc["resolved"] is not None else float("inf")
                if d["env"] == inc["env"] and d["new"] and inc["start"] < d["t"] <= limit:
                    d["hotfix"] = True
                    break
        failed, recovery = 0, []
        for svc in per_service.values():
            for env in PROD:
                seq = [d for d in svc["deps"] if d["env"] == env]
                for i, d in enumerate(seq):
                    nxt = seq[i + 1] if i + 1 < len(seq) else None
                    reworked = nxt is not None and (nxt["rollback"] or nxt["hotfix"])
                    if not (d["incidents"] or (not d["rollback"] and reworked)):
                        continue
                    failed += 1
                    if d["incidents"]:
                        inc = min(d["incidents"], key=lambda x: x["start"])
                        ends = [inc["resolved"]] if inc["resolved"] is not None else []
                        ends += [x["t"] for x in seq if x["t"] > inc["start"] and (x["rollback"] or x["hotfix"])][:1]
                        recovery.append(min(ends) - inc["start"])
                    else:
                        recovery.append(nxt["t"] - d["t"])
        # lead time per commit
        lead: dict[str, int] = {}
        for repo, seq in self.history().items():
            pos = {sha: i for i, (sha, _) in enumerate(seq)}
            done = -1
            for d in per_service.get(repo.split("/", 1)[1], {"deps": []})["deps"]:
                i = pos[built_from[d["artifact"]]]
                for k in range(done + 1, i + 1):
                    lead[seq[k][0]] = d["t"] - seq[k][1]
                done = max(done, i)
        rework = sum(d["rollback"] or d["hotfix"] for d in deps)
        return {"deployments": deps, "incidents": incidents, "failed_changes": failed, "recovery": recovery,
                "lead": lead, "rework": rework, "failed_attempts": self.failed_prod_attempts()}


def _pcts(values: list[int]) -> tuple[float, float]:
    """p50/p90 with linear interpolation, via the stdlib (independent of gen.quantile_cont)."""
    if len(values) == 1:
        return float(values[0]), float(values[0])
    q = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), q[8]


# ------------------------------------------------------------------------------------------ determinism


def test_same_seed_gives_byte_identical_files(sample: Path, tmp_path: Path) -> None:
    gen.generate(str(tmp_path))
    assert _files(tmp_path) == _files(sample)


def test_different_seed_gives_different_files(sample: Path, tmp_path: Path) -> None:
    gen.generate(str(tmp_path), seed=8)
    other, base = _files(tmp_path), _files(sample)
    assert set(other) == set(base)
    assert all(other[name] != base[name] for name in base)


def test_chunking_and_worker_processes_do_not_change_output(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    gen.generate(str(a), events=20_000, days=30, workers=1, run_events=10**9)
    # The worker pool forks, and a fork of a multi-threaded process (this xdist worker) can copy a lock another
    # thread holds and hang: the pooled run gets a fresh single-threaded process, as the CLI has.
    pooled = f"from sample_events import generate as g; g.generate({str(b)!r}, events=20_000, days=30, " \
             "workers=2, run_events=3_000)"  # several spilled runs
    subprocess.run([sys.executable, "-c", pooled], cwd=ROOT, check=True, timeout=300)
    assert _files(a) == _files(b)
    exp = json.loads((a / "expected.json").read_text())
    assert exp["generator"]["services"] > 8  # scaled up with clones
    assert 16_000 <= exp["events"]["distinct"] <= 24_000  # "about N"


def test_committed_sample_equals_a_fresh_generation(sample: Path) -> None:
    regenerate = ("regenerate: python -m sample_events.generate --out sample_events/data "
                  "--expected sample_events/expected.json")
    committed = _files(DATA)
    assert set(committed) == set(EVENT_FILES), regenerate  # events only: ingesting data/ must load no truth
    committed["expected.json"] = EXPECTED.read_bytes()
    fresh = _files(sample)
    for name in committed:
        assert committed[name] == fresh[name], f"{name} drifted; {regenerate}"


def test_committed_sample_is_small(expected: dict[str, Any]) -> None:
    assert expected["generator"]["days"] == 90 and expected["generator"]["seed"] == 7
    assert 2_000 <= expected["events"]["distinct"] <= 8_000
    for name in ("cloudevents-binary.ndjson", "cloudevents-batch.json", "cdevents-bare.ndjson"):
        assert 100 <= expected["files"][name] <= 1_000, name


# ------------------------------------------------------------------------------------------ event shapes


def test_every_line_is_json_of_the_documented_shape(sample: Path) -> None:
    for line in (sample / "cloudevents.ndjson").read_text().splitlines():
        ce = json.loads(line)
        native = {"requestid", "operator"} if ce["type"] == "harbor.scan.completed" else set()  # Harbor's format
        assert set(ce) == {"specversion", "id", "source", "type", "time", "datacontenttype", "data"} | native
        assert ce["datacontenttype"] == "application/json"
    for name in ("cloudevents-binary.ndjson",):
        for line in (sample / name).read_text().splitlines():
            req = json.loads(line)
            assert set(req) == {"headers", "body", "received_at"} and req["received_at"].endswith("Z")
    batch = json.loads((sample / "cloudevents-batch.json").read_text())
    assert isinstance(batch, list) and batch
    assert all(set(ce) == {"specversion", "id", "source", "type", "time", "datacontenttype", "data"} for ce in batch)
    for line in (sample / "cdevents-bare.ndjson").read_text().splitlines():
        ev = json.loads(line)
        assert {"context", "subject"} <= set(ev) and "specversion" not in ev
    for line in (sample / "github-push.ndjson").read_text().splitlines():
        req = json.loads(line)
        assert set(req) == {"headers", "body", "received_at"}
        assert set(req["headers"]) == {"X-GitHub-Event", "X-GitHub-Delivery", "Content-Type", "User-Agent"}
        assert req["headers"]["X-GitHub-Event"] == "push"
        assert req["headers"]["User-Agent"].startswith("GitHub-Hookshot/")
        body = req["body"]
        assert body["ref"] == "refs/heads/main" and body["forced"] is False
        assert re.fullmatch(r"[0-9a-f]{40}", body["before"]) and body["after"] == body["commits"][-1]["id"]
        assert body["head_commit"] == body["commits"][-1]
        assert {"full_name", "name", "html_url", "owner"} <= set(body["repository"])
        assert body["repository"]["full_name"].startswith("bank-org/")
        for c in body["commits"]:
            assert re.fullmatch(r"[0-9a-f]{40}", c["id"]) and re.fullmatch(r"[0-9a-f]{40}", c["tree_id"])
            assert {"distinct", "message", "timestamp", "url", "author", "committer", "added", "removed",
                    "modified"} <= set(c)
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", c["timestamp"])
            assert {"name", "email", "username"} <= set(c["author"])


def test_every_cdevent_validates_against_the_bundled_schema(reader: _Reader) -> None:
    registry = default_registry()
    events = reader.cdevents() + [ev for _, ev in reader.duplicates if "context" in ev]
    assert len(events) > 3000
    versions = set()
    for ev in events:
        match = registry.schema_for(ev)
        assert match is not None, ev["context"]["type"]
        assert registry.validate(ev) == [], (ev["context"]["type"], registry.validate(ev))
        versions.add(match.schema_version)
    assert versions == {"0.4.1", "0.5.1"}


def test_custom_data_holds_only_the_documented_keys(reader: _Reader) -> None:
    for ev in reader.cdevents():
        cd = ev.get("customData", {})
        assert set(cd) <= ALLOWED_CUSTOM, set(cd) - ALLOWED_CUSTOM
        assert all(isinstance(v, str) and v for v in cd.values())
        assert cd.get("service"), ev["context"]["type"]


def test_identifiers_follow_the_conventions(reader: _Reader) -> None:
    purl = re.compile(r"pkg:oci/[a-z0-9-]+@sha256%3A[0-9a-f]{64}\?repository_url=registry\.bank\.example/"
                      r"[a-z0-9-]+/[a-z0-9-]+&tag=\d+\.\d+\.\d+")
    for ev in reader.of("artifact.packaged"):
        assert purl.fullmatch(ev["subject"]["id"])
        assert re.fullmatch(r"[0-9a-f]{40}", ev["subject"]["content"]["change"]["id"])
        assert ev["subject"]["content"]["change"]["source"] == ev["customData"]["repository"]
    for ev in reader.of("change"):
        assert re.fullmatch(r"bank-org/[a-z0-9-]+/pull/\d+", ev["subject"]["id"])
    for ev in reader.of("service"):
        assert ev["subject"]["id"] == ev["customData"]["service"]
        assert ev["subject"]["content"]["environment"]["id"] in {"dev", "qa", "staging", "prod-eu", "prod-us"}
        assert purl.fullmatch(ev["subject"]["content"]["artifactId"])
    for ev in reader.of("pipelinerun"):
        name = ev["subject"]["content"]["pipelineName"]
        assert re.fullmatch(r"(build-[a-z0-9-]+|deploy-[a-z0-9-]+-(dev|qa|staging|prod-eu|prod-us))", name)
    for ev in reader.of("incident"):
        assert re.fullmatch(r"PD-\d+", ev["subject"]["id"])


def test_chain_id_ties_one_artifacts_journey(reader: _Reader) -> None:
    chain_of: dict[str, str] = {}
    for ev in reader.of("artifact.packaged"):
        chain_of[ev["subject"]["id"]] = ev["context"]["chainId"]
    checked = 0
    for ev in reader.of("service"):
        art = ev["subject"]["content"]["artifactId"]
        if "chainId" in ev["context"]:
            assert ev["context"]["chainId"] == chain_of[art]
            checked += 1
        else:  # the older prod-us controller does not propagate chainId
            assert ev["context"]["source"] == gen.SOURCE_GITOPS["prod-us"]
    assert checked > 100


def test_files_and_types_are_counted_as_expected(reader: _Reader, expected: dict[str, Any], sample: Path) -> None:
    for name, n in expected["files"].items():
        if name == "cloudevents-batch.json":
            assert len(json.loads((sample / name).read_text())) == n
        else:
            assert len((sample / name).read_text().splitlines()) == n, name
    by_type: dict[str, int] = {}
    for key, (_, obj) in reader.primary.items():
        t = gen.GITHUB_PUSH_TYPE if key[0] == "github" else key[2]
        by_type[t] = by_type.get(t, 0) + 1
    assert by_type == expected["events"]["by_type"]
    assert len(reader.primary) == expected["events"]["distinct"] == expected["events"]["primary"]
    assert sum(len(p["commits"]) for p in reader.pushes()) == expected["stages"]["commit"]
    assert len({c["id"] for p in reader.pushes() for c in p["commits"]}) == expected["dora"]["overall"]["changes"]


def test_duplicates_are_exact_redeliveries(reader: _Reader, expected: dict[str, Any]) -> None:
    assert len(reader.duplicates) == expected["events"]["duplicates"]
    assert 0.01 <= len(reader.duplicates) / len(reader.primary) <= 0.03
    for key, obj in reader.duplicates:
        file, original = reader.primary[key]
        if key[0] == "github":
            assert {k: obj[k] for k in ("headers", "body")} == {k: original[k] for k in ("headers", "body")}
        else:
            assert obj == original
    assert {"binary", "structured", "bare", "github"} <= set(reader.duplicate_modes) <= {
        "binary", "structured", "bare", "github", "native"}


def test_messy_delivery_details_are_present(reader: _Reader) -> None:
    times = reader.structured_times
    inversions = sum(1 for a, b in zip(times, times[1:]) if b < a)
    assert 0 < inversions < len(times) * 0.1  # mostly in order, some late lines
    stamps = [ev["context"]["timestamp"] for ev in reader.cdevents()]
    assert any(s.endswith("+02:00") for s in stamps) and any(s.endswith("-05:00") for s in stamps)
    commit_stamps = [c["timestamp"] for p in reader.pushes() for c in p["commits"]]
    assert {s[-6:] for s in commit_stamps if not s.endswith("Z")} >= {"+02:00", "-05:00", "+05:30"}
    assert any(p["created"] and p["before"] == "0" * 40 for p in reader.pushes())  # new repository
    assert any(not c["distinct"] for p in reader.pushes() for c in p["commits"])  # PR commits
    assert any(c["message"].startswith("Merge pull request #") for p in reader.pushes() for c in p["commits"])
    outcomes = {ev["subject"]["content"]["outcome"] for ev in reader.of("testsuiterun.finished")}
    assert outcomes == {"pass", "fail", "success", "failure"}  # v0.4.1 and v0.5.1 spellings


# ------------------------------------------------------------------------------------------ ground truth


def test_storylines_all_happen_and_self_check_is_clean(expected: dict[str, Any]) -> None:
    names = {s["storyline"] for s in expected["storylines"]}
    assert names == {name for p in gen.PROFILES for name, _, _ in p["storylines"]}
    assert expected["self_check"] == []


def test_stage_counts_match_the_events(reader: _Reader, expected: dict[str, Any]) -> None:
    st = expected["stages"]
    n = lambda kind: len(reader.of(kind))  # noqa: E731
    assert st["deployed"] == n("service.deployed") + n("service.upgraded")
    assert st["rolled_back"] == n("service.rolledback")
    assert st["incident_opened"] == n("incident.detected") + n("incident.reported")
    assert st["artifact_published"] == n("artifact.published")
    deploy_started = [ev for ev in reader.of("pipelinerun.started")
                      if ev["subject"]["content"]["pipelineName"].startswith("deploy-")]
    assert st["deploy_started"] == len(deploy_started)
    assert st["pipeline_started"] == n("pipelinerun.started") - len(deploy_started)
    assert st["deploy_failed"] == sum(1 for ev in reader.of("pipelinerun.finished")
                                      if ev["subject"]["content"]["pipelineName"].startswith("deploy-"))
    assert st["artifact_scanned"] == len(reader.scans)


def test_the_slow_scanner_gates_every_promotion(reader: _Reader) -> None:
    """SCENARIO §2.4a: nothing reaches qa before its scan finished, and the scan queue is the documented
    40–64 h (3–7 min for hotfixes) plus a 2–6 min scan."""
    scanned: dict[str, tuple[int, int]] = {}  # digest -> (scan start, scan end)
    for ce in reader.scans:
        res = ce["data"]["resources"][0]
        report = res["scan_overview"][gen.SCAN_REPORT_MIME]
        assert report["scanner"]["name"] == "Trivy" and report["scan_status"] == "Success"
        scanned[res["digest"].removeprefix("sha256:")] = (_ts(report["start_time"]), _ts(report["end_time"]))
    published = {ev["subject"]["id"].split("@sha256%3A")[1].split("?")[0]: _ts(ev["context"]["timestamp"])
                 for ev in reader.of("artifact.published")}
    for digest, (start, end) in scanned.items():
        assert 2 * 60 <= end - start <= 6 * 60
        queued = start - published[digest]
        assert 3 * 60 <= queued <= 7 * 60 or 40 * 3600 <= queued <= 64 * 3600, queued
    promoted = 0
    for kind in ("service.deployed", "service.upgraded"):
        for ev in reader.of(kind):
            if ev["customData"]["environment"] != "qa":
                continue
            digest = ev["subject"]["content"]["artifactId"].split("@sha256%3A")[1].split("?")[0]
            assert scanned[digest][1] <= _ts(ev["context"]["timestamp"]), digest
            promoted += 1
    assert promoted > 50


def test_dora_truth_matches_an_independent_recount_from_the_events(reader: _Reader,
                                                                   expected: dict[str, Any]) -> None:
    t = reader.truth()
    overall = expected["dora"]["overall"]
    deps = t["deployments"]
    assert overall["production_deployments"] == len(deps)
    assert overall["production_deployments_by_cluster"] == {
        c: sum(d["env"] == c for d in deps) for c in sorted(PROD)}
    days = {datetime.fromtimestamp(d["t"], timezone.utc).date() for d in deps}
    assert overall["deployment_days"] == len(days) == sum(overall["deployment_days_per_week"].values())
    assert overall["rollbacks"] == sum(d["rollback"] for d in deps)
    assert overall["redeploys"] == sum(d["redeploy"] for d in deps) >= 1
    assert overall["hotfix_deployments"] == sum(d["hotfix"] for d in deps) >= 2
    assert overall["rework_deployments"] == t["rework"]
    assert overall["failed_changes"] == t["failed_changes"]
    assert overall["change_fail_rate"] == pytest.approx(t["failed_changes"] / len(deps))
    assert overall["failed_deployment_attempts"] == len(t["failed_attempts"]) >= 1
    assert overall["recovery_time"]["p50_s"] == pytest.approx(statistics.median(t["recovery"]))
    assert overall["recovery_time"]["n"] == len(t["recovery"])
    # incidents: attribution and method
    rows = {i["incident_id"]: i for i in expected["incidents"]}
    assert set(rows) == {i["id"] for i in t["incidents"]}
    for inc in t["incidents"]:
        assert rows[inc["id"]]["attribution"] == inc["method"]
        assert rows[inc["id"]]["deployment_id"] == inc["deployment"]
    assert {i["method"] for i in t["incidents"]} == {"explicit_artifact", "latest_production_deployment", "none"}
    # lead time per commit, and the percentiles
    changes = {c["commit_sha"]: c for c in expected["changes"]}
    assert set(changes) == {sha for seq in reader.history().values() for sha, _ in seq}
    for sha, c in changes.items():
        assert c["lead_time_s"] == t["lead"].get(sha), sha
    positive = [v for v in t["lead"].values() if v > 0]
    p50, p90 = _pcts(positive)
    assert overall["lead_time"]["n"] == len(positive)
    assert overall["lead_time"]["nonpositive_excluded"] == len(t["lead"]) - len(positive) == 1
    assert overall["lead_time"]["p50_s"] == pytest.approx(p50)
    assert overall["lead_time"]["p90_s"] == pytest.approx(p90)
    assert overall["changes_deployed"] == len(t["lead"])
    # per service deployments
    for svc, block in expected["dora"]["by_service"].items():
        assert block["production_deployments"] == sum(d["service"] == svc for d in deps), svc


def test_expected_details_are_consistent(expected: dict[str, Any]) -> None:
    overall = expected["dora"]["overall"]
    prod = [d for d in expected["production_deployments"] if d["outcome"] == "success"]
    assert len(prod) == overall["production_deployments"]
    assert sum(d["caused_failure"] for d in prod) == overall["failed_changes"]
    assert sum(d["is_rework"] for d in prod) == overall["rework_deployments"]
    for c in expected["changes"]:
        if c["deployed_at"] is not None:
            assert c["lead_time_s"] == _ts(c["deployed_at"]) - _ts(c["committed_at"])
    assert sum(b["production_deployments"] for b in expected["dora"]["by_team"].values()) == overall[
        "production_deployments"]
    assert expected["funnel"]["artifacts"]["production"] == sum(a["reached_production"] for a in expected["artifacts"])
    assert sum(expected["funnel"]["fates"].values()) == expected["funnel"]["artifacts"]["built"]
    incidents = {i["attribution"]: i for i in expected["incidents"]}
    assert incidents["none"]["world_cause"].startswith("external")
    assert incidents["explicit_artifact"]["deployment_artifact_id"] == incidents["explicit_artifact"][
        "explicit_artifact_id"]


def test_scenario_md_quotes_the_committed_figures() -> None:
    """SCENARIO.md's table of the committed sample's figures must match sample_events/expected.json."""
    exp = json.loads(EXPECTED.read_text())
    text = SCENARIO.read_text()
    block = text.split("<!-- figures:begin -->", 1)[1].split("<!-- figures:end -->", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", block, flags=re.M)
    assert len(rows) >= 10
    for path, shown in rows:
        value: Any = exp
        for part in path.split("/"):
            value = value[part]
        shown = shown.strip()
        if isinstance(value, float):
            assert float(shown) == pytest.approx(value, abs=0.0005), path
        else:
            assert shown == str(value), path


# ----------------------------------------------------------------------------------- hand-checked worlds


def _hand_world() -> gen.ServiceWorld:
    """One service, six commits, three artifacts, seven production deployments, one incident.

    Times are hours after S = 2026-07-01T00:00Z.

    commits (index: timestamp)   c1: 1h   c2: 2h   c3: 10h   c4: 11h   c5: 33h (clock ahead)   c6: 40h
    artifacts                    A1 built from c2, A2 from c4, A3 from c5
    production, successful       D1 prod-eu A1 @4h      D2 prod-us A1 @6h      D3 prod-eu A2 @12h
                                 R1 prod-eu rollback to A1 @13.5h           H1 prod-eu A3 @32h (hotfix)
                                 D5 prod-us A3 @34h     X1 prod-eu A3 again @50h (redeploy)
    production, failed attempt   F1 prod-us A3 @33h
    incident                     I1 prod-eu, no artifact named, opened 13h, resolved 14h

    By hand (SCENARIO.md rules):
    * production deployments = 7 (prod-eu 5: D1 D3 R1 H1 X1; prod-us 2: D2 D5); deployment days = 3
      (day 0: D1 D2 D3 R1; day 1: H1 D5; day 2: X1); new-artifact 5, rollbacks 1, redeploys 1.
    * I1 is attributed to D3 (latest successful production deployment before 13h), method
      latest_production_deployment.
    * hotfix: first new artifact in I1's cluster (prod-eu) after 13h and by 14h + 48h -> H1 (R1 is a
      rollback, not new). D5 is in prod-us, so it is not a hotfix.
    * rework = R1 + H1 = 2 -> rework rate 2/7.
    * failed changes: D3 (incident attributed; also followed by the rollback R1). R1 is itself a rollback,
      so being followed by the hotfix does not count; D1 is followed by D3 (not rework); D2 by D5 (not
      rework). -> 1, change fail rate 1/7; with the failed attempt F1: (1 + 1) / (7 + 1) = 0.25.
    * recovery of D3: from I1's start (13h) to the earlier of R1 (13.5h) and I1's resolution (14h) =
      1800 s. F1 recovers at D5: 3600 s. I1's time to restore: 3600 s.
    * lead times: D1 delivers c1 (3h) and c2 (2h); D3 delivers c3 (2h) and c4 (1h); H1 delivers c5 at 32h,
      but c5 says 33h -> -1h: excluded and counted; c6 is never deployed.
      Positive: [3600, 7200, 7200, 10800] -> p50 7200; p90 = 7200 + 0.7 * 3600 = 9720; mean 7200.
    """
    s = gen.parse_start("2026-07-01")
    h = lambda x: s + int(x * HOUR)  # noqa: E731
    spec = gen.ServiceSpec(index=0, name="demo", team="team-a", app="app-a")
    commits = [gen.Commit(sha=f"{i:040x}", ts=h(x), index=i) for i, x in enumerate((1, 2, 10, 11, 33, 40), 1)]
    a1, a2, a3 = (gen.Artifact(purl=f"pkg:oci/demo@sha256%3A{i:064x}", version=f"1.0.{i}", seq=i, commit=commits[c])
                  for i, c in ((1, 1), (2, 3), (3, 4)))
    inc = gen.Incident(id="PD-1", env="prod-eu", start=h(13), resolved=h(14), cause="deployment")
    a3.hotfix_for = "PD-1"

    def dep(env: str, art: gen.Artifact, at: float, **kw: Any) -> gen.Deployment:
        return gen.Deployment(env=env, artifact=art, started=h(at) - 60, finished=h(at), event_id=f"{env}@{at}", **kw)

    deployments = [
        dep("prod-eu", a1, 4), dep("prod-us", a1, 6), dep("prod-eu", a2, 12),
        dep("prod-eu", a1, 13.5, kind="rolledback", reason="rollback"),
        dep("prod-eu", a3, 32, reason="hotfix"), dep("prod-us", a3, 33, outcome="failure"),
        dep("prod-us", a3, 34, reason="hotfix-rollout"), dep("prod-eu", a3, 50, reason="redeploy"),
    ]
    return gen.ServiceWorld(spec=spec, start=s, end=s + 7 * 86400, commits=commits, artifacts=[a1, a2, a3],
                            deployments=deployments, incidents=[inc])


def test_hand_built_world_figures() -> None:
    part = gen.service_truth(_hand_world())
    assert part["checks"] == []
    w = _hand_world()
    b = gen.dora_block([part], w.start, w.end)
    assert b["production_deployments"] == 7
    assert b["production_deployments_by_cluster"] == {"prod-eu": 5, "prod-us": 2}
    assert b["deployment_days"] == 3
    # window Wed 1 - Tue 7 July: ISO weeks of Mon 29 June (days 1, 2, 3 July) and Mon 6 July (none)
    assert b["deployment_days_per_week"] == {"2026-06-29": 3, "2026-07-06": 0}
    assert b["median_deployment_days_per_week"] == 1.5
    assert (b["new_artifact_deployments"], b["rollbacks"], b["redeploys"], b["hotfix_deployments"]) == (5, 1, 1, 1)
    assert b["rework_deployments"] == 2 and b["rework_rate"] == pytest.approx(2 / 7)
    assert b["failed_changes"] == 1 and b["change_fail_rate"] == pytest.approx(1 / 7)
    assert b["failed_deployment_attempts"] == 1 and b["change_fail_rate_incl_failed_attempts"] == pytest.approx(0.25)
    assert b["recovery_time"]["n"] == 1 and b["recovery_time"]["p50_s"] == 1800
    assert b["failed_attempt_recovery_time"]["p50_s"] == 3600
    assert b["incident_time_to_restore"]["p50_s"] == 3600
    assert (b["changes"], b["changes_deployed"]) == (6, 5)
    lt = b["lead_time"]
    assert (lt["n"], lt["nonpositive_excluded"]) == (4, 1)
    assert (lt["p50_s"], lt["p90_s"], lt["mean_s"]) == (7200, pytest.approx(9720), 7200)
    (inc,) = part["incidents"]
    assert (inc["attribution"], inc["deployment_id"], inc["hotfix_deployment_id"]) == (
        "latest_production_deployment", "prod-eu@12", "prod-eu@32")
    rows = {r["deployment_id"]: r for r in part["production_deployments"]}
    assert rows["prod-eu@12"]["failure_reasons"] == ["incident", "rolled_back"]
    assert rows["prod-eu@13.5"]["is_rollback"] and not rows["prod-eu@13.5"]["caused_failure"]
    assert rows["prod-eu@50"]["is_redeploy"] and not rows["prod-eu@50"]["is_rework"]
    assert not rows["prod-us@34"]["is_hotfix"]


def test_incident_without_earlier_production_deployment_is_unattributed() -> None:
    w = _hand_world()
    w.incidents = [gen.Incident(id="PD-2", env="prod-us", start=w.start + 1800, resolved=w.start + 3600,
                                cause="external: upstream")]
    (inc,) = gen.service_truth(w)["incidents"]
    assert (inc["attribution"], inc["deployment_id"]) == ("none", None)


def test_quantile_cont_interpolates_like_numpy() -> None:
    assert gen.quantile_cont([1, 2, 3, 4], 0.5) == 2.5
    assert gen.quantile_cont([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert gen.quantile_cont([5], 0.9) == 5
    assert gen.quantile_cont([], 0.5) is None


def test_tiny_generated_world(tmp_path: Path) -> None:
    """fund-transfer alone for one week (Wed 1 - Tue 7 July 2026), no storylines.

    Its release train runs Mon-Thu: qa 09:30, staging 11:00, prod-eu 13:30, prod-us 16:00 local (+02:00), so
    prod-eu deploys start at or after 11:30Z and prod-us ones at or after 14:00Z, on at most 4 days (Wed, Thu,
    Mon, Tue), each train taking the same artifact to both clusters. Nothing fails in production without a
    storyline, so change fail rate and rework are 0; every delivered commit's lead time is deploy time minus
    commit time, and the commits delivered are exactly those up to the newest artifact in production.
    """
    exp = gen.generate(str(tmp_path), days=7, services=["fund-transfer"], storylines=False)
    assert exp["generator"]["services"] == 1 and exp["storylines"] == [] and exp["self_check"] == []
    rows = [d for d in exp["production_deployments"] if d["outcome"] == "success"]
    b = exp["dora"]["overall"]
    assert b == exp["dora"]["by_service"]["fund-transfer"]
    assert b["production_deployments"] == len(rows) > 0
    assert b["incidents"] == b["failed_changes"] == b["rework_deployments"] == b["failed_deployment_attempts"] == 0
    assert b["change_fail_rate"] == 0
    days = set()
    for r in rows:
        t = datetime.fromisoformat(r["deployed_at"].replace("Z", "+00:00"))
        assert t.weekday() in (0, 1, 2, 3)
        assert (t.hour, t.minute) >= ((11, 30) if r["environment"] == "prod-eu" else (14, 0))
        days.add(t.date())
    assert b["deployment_days"] == len(days) <= 4
    eu = [r["artifact_id"] for r in rows if r["environment"] == "prod-eu"]
    us = [r["artifact_id"] for r in rows if r["environment"] == "prod-us"]
    assert us == eu[: len(us)]
    delivered = [c for c in exp["changes"] if c["deployed_at"] is not None]
    for c in delivered:
        assert c["lead_time_s"] == _ts(c["deployed_at"]) - _ts(c["committed_at"]) > 0
    assert b["changes_deployed"] == len(delivered) and b["changes"] == len(exp["changes"])
    p50, p90 = _pcts([c["lead_time_s"] for c in delivered])
    assert b["lead_time"]["p50_s"] == pytest.approx(p50) and b["lead_time"]["p90_s"] == pytest.approx(p90)
    newest = max((a for a in exp["artifacts"] if a["reached_production"]),
                 key=lambda a: int(a["version"].rsplit(".", 1)[1]))
    order = [c["commit_sha"] for c in exp["changes"]]
    assert {c["commit_sha"] for c in delivered} == set(order[: order.index(newest["commit_sha"]) + 1])


def test_cli_writes_files_and_prints_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = gen.main(["--out", str(tmp_path), "--days", "5", "--services", "card-auth", "--seed", "3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "cloudevents.ndjson" in out and "distinct events" in out
    assert {p.name for p in tmp_path.iterdir()} == set(EVENT_FILES) | {"expected.json"}
    truth = tmp_path / "elsewhere" / "truth.json"
    truth.parent.mkdir()
    assert gen.main(["--out", str(tmp_path / "events"), "--days", "3", "--services", "statements",
                     "--expected", str(truth)]) == 0
    assert {p.name for p in (tmp_path / "events").iterdir()} == set(EVENT_FILES)
    assert json.loads(truth.read_text())["generator"]["services"] == 1
    assert gen.main(["--out", str(tmp_path), "--services", "nope"]) == 2
