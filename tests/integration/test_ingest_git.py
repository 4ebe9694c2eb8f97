"""`lifecycle ingest-git` on a small repository built here, and lead times checked against git itself."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import query

ROOT = Path(__file__).resolve().parents[2]
REPO_URL = "https://git.example.com/Acme/Shop.git"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def git(repo: Path, *args: str, date: str | None = None, author_date: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_EMAIL="ada@example.com", GIT_COMMITTER_NAME="Bob",
               GIT_COMMITTER_EMAIL="bob@example.com", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    if date:
        env.update(GIT_COMMITTER_DATE=date, GIT_AUTHOR_DATE=author_date or date)
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, message: str, date: str, author_date: str | None = None) -> str:
    (repo / f"{message}.txt").write_text(message + "\n")  # a file per commit: the merge has no conflict
    git(repo, "add", f"{message}.txt")
    git(repo, "commit", "-q", "-m", message, date=date, author_date=author_date)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> dict:
    """main: c1 ─ c2 ─ c3 ─ m ─ c4, feature: c2 ─ f1 merged by m (--no-ff); tags on c2, f1, m and a nested one."""
    path = tmp_path / "shop"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shas = {"c1": commit(path, "c1", "2026-03-01 09:00:00 +0000"),
            "c2": commit(path, "c2", "2026-03-02 10:00:00 +0530")}
    git(path, "tag", "-a", "v1.0", "-m", "v1.0", date="2026-03-03 12:00:00 +0000")
    git(path, "checkout", "-q", "-b", "feature")
    # authored on one day in one zone, committed (rebased) the next in another
    shas["f1"] = commit(path, "f1", "2026-03-05 09:00:00 +0200", author_date="2026-03-04 08:00:00 -0700")
    git(path, "tag", "-a", "preview", "-m", "preview", date="2026-03-05 20:00:00 +0000")
    git(path, "checkout", "-q", "main")
    shas["c3"] = commit(path, "c3", "2026-03-05 12:00:00 +0000")
    git(path, "merge", "-q", "--no-ff", "feature", "-m", "merge feature", date="2026-03-06 10:00:00 -0300")
    shas["m"] = git(path, "rev-parse", "HEAD")
    git(path, "tag", "v1.1")  # lightweight: its time is m's committer time
    git(path, "tag", "-a", "release-1", "-m", "tag of a tag", "v1.0", date="2026-03-08 00:00:00 +0000")
    blob = git(path, "hash-object", "-w", "c1.txt")
    git(path, "tag", "a-blob", blob)  # names no commit
    shas["c4"] = commit(path, "c4", "2026-03-09 09:00:00 +0000")
    return {"path": path, "shas": shas}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_ingest_git_reads_commits_parents_times_and_tags(paths, repo):
    shas = repo["shas"]
    result = run("ingest-git", str(repo["path"]), "--repo-url", REPO_URL)
    assert result.exit_code == 0, result.output
    assert "acme/shop: 6 commits and 4 tags read" in result.output
    assert "10 accepted, 0 duplicate, 0 quarantined" in result.output
    assert run("build").exit_code == 0

    rows = query(paths, "select commit_sha, parent_shas, occurred_at, authored_at, repository "
                        "from staging.git_history where record_kind = 'commit'")
    got = {sha: (parents, committed, authored, repo_name) for sha, parents, committed, authored, repo_name in rows}
    assert got == {
        shas["c1"]: ([], utc(2026, 3, 1, 9), utc(2026, 3, 1, 9), "acme/shop"),
        shas["c2"]: ([shas["c1"]], utc(2026, 3, 2, 4, 30), utc(2026, 3, 2, 4, 30), "acme/shop"),  # +0530
        shas["f1"]: ([shas["c2"]], utc(2026, 3, 5, 7), utc(2026, 3, 4, 15), "acme/shop"),  # committer ≠ author
        shas["c3"]: ([shas["c2"]], utc(2026, 3, 5, 12), utc(2026, 3, 5, 12), "acme/shop"),
        shas["m"]: ([shas["c3"], shas["f1"]], utc(2026, 3, 6, 13), utc(2026, 3, 6, 13), "acme/shop"),
        shas["c4"]: ([shas["m"]], utc(2026, 3, 9, 9), utc(2026, 3, 9, 9), "acme/shop"),
    }
    tags = query(paths, "select tag, commit_sha, occurred_at from staging.git_history where record_kind = 'tag' "
                        "order by tag")
    assert tags == [  # annotated tags peeled to their commit, the nested one too; the blob's tag skipped
        ("preview", shas["f1"], utc(2026, 3, 5, 20)),
        ("release-1", shas["c2"], utc(2026, 3, 8)),
        ("v1.0", shas["c2"], utc(2026, 3, 3, 12)),
        ("v1.1", shas["m"], utc(2026, 3, 6, 13)),
    ]
    assert query(paths, "select count(*), count(distinct commit_sha) from intermediate.commits "
                        "where time_source = 'git'") == [(6, 6)]

    again = run("ingest-git", str(repo["path"]), "--repo-url", REPO_URL)
    assert again.exit_code == 0 and "0 accepted" in again.output
    # a new commit: only it is new, the rest of the re-read history is duplicate
    commit(repo["path"], "c5", "2026-03-10 09:00:00 +0000")
    grown = run("ingest-git", str(repo["path"]), "--repo-url", REPO_URL)
    assert "7 commits and 4 tags read" in grown.output and "1 accepted, 10 duplicate" in grown.output
    assert query(paths, "select count(*) from raw.events where source_tool = 'git'") == [(11,)]


def test_branch_option_reads_only_that_branch(paths, repo):
    git(repo["path"], "checkout", "-q", "-b", "spike", repo["shas"]["c1"])
    commit(repo["path"], "spike", "2026-03-02 00:00:00 +0000")
    result = run("ingest-git", str(repo["path"]), "--branch", "feature")
    assert result.exit_code == 0, result.output
    assert "shop: 3 commits and 4 tags read" in result.output  # c1, c2, f1; no --repo-url: the directory name


def test_a_path_that_is_not_a_repository_is_a_one_line_error(paths, tmp_path):
    (tmp_path / "plain").mkdir()
    for path in (tmp_path / "plain", tmp_path / "missing"):
        result = run("ingest-git", str(path))
        assert result.exit_code == 1
        assert result.output.strip().count("\n") == 0 and "lifecycle: error:" in result.output
        assert "Traceback" not in result.output
    assert "not a git repository" in run("ingest-git", str(tmp_path / "plain")).output


def git_lead_times(path: Path) -> dict[str, int | None]:
    """Per commit, from git alone: time of the first tag (by tag time) containing it − its committer time."""
    tag_time = {}
    for line in git(path, "for-each-ref", "refs/tags", "--format=%(refname:lstrip=2) %(creatordate:unix)").splitlines():
        name, _, created = line.partition(" ")
        if created:  # the blob's tag has no date (and contains no commit)
            tag_time[name] = int(created)
    expected = {}
    for line in git(path, "log", "--branches", "--tags", "--format=%H %ct").splitlines():
        sha, committed = line.split()
        containing = git(path, "tag", "--contains", sha).split()
        first = min((tag_time[t] for t in containing), default=None)
        expected[sha] = None if first is None else first - int(committed)
    return expected


def test_lead_times_from_tag_deployments_match_git(paths, repo, tmp_path):
    path = repo["path"]
    cdevents = tmp_path / "tag-deployments.ndjson"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "tag_deployments.py"), str(path), "--out", str(cdevents),
                    "--repo-url", REPO_URL], check=True, capture_output=True)
    assert len(cdevents.read_text().splitlines()) == 8  # 4 tags naming a commit × (packaged + deployed)
    assert run("ingest-git", str(path), "--repo-url", REPO_URL).exit_code == 0
    loaded = run("ingest", str(cdevents))
    assert "8 accepted, 0 duplicate, 0 quarantined" in loaded.output
    assert run("build").exit_code == 0

    expected = git_lead_times(path)
    shas = repo["shas"]
    # the same figures by hand: v1.0 (03-03 12:00) ships c1, c2; preview (03-05 20:00) f1; v1.1 (03-06 13:00) c3, m
    assert expected == {
        shas["c1"]: 2 * 86400 + 3 * 3600, shas["c2"]: 86400 + 7 * 3600 + 1800, shas["f1"]: 13 * 3600,
        shas["c3"]: 86400 + 3600, shas["m"]: 0, shas["c4"]: None}
    got = dict(query(paths, "select commit_sha, lead_time_s from marts.changes where repository = 'acme/shop'"))
    assert {sha: None if v is None else int(v) for sha, v in got.items()} == expected
    assert all(v is None or v == int(v) for v in got.values())


def test_an_artifact_with_no_build_link_takes_the_commit_of_the_tag_equal_to_its_version(paths, repo, tmp_path):
    """intermediate.artifacts' `version_tag` link: a tag equal to the version, or to `v` + the version."""
    from tests.unit.test_flow_world import FlowWorld

    assert run("ingest-git", str(repo["path"]), "--repo-url", REPO_URL).exit_code == 0
    world = FlowWorld(service="shop")
    for n, version in enumerate(("1.0", "v1.1", "preview", "2.0", "release")):
        world.publish(f"pub-{n}", n, world.purl(version))  # a registry push: no build, no commit
    world.build_warehouse(paths, tmp_path / "events")
    shas = repo["shas"]
    assert sorted(query(paths, "select version, commit_sha, commit_link from intermediate.artifacts")) == [
        ("1.0", shas["c2"], "version_tag"),       # tag v1.0
        ("2.0", None, None),                       # no such tag
        ("preview", shas["f1"], "version_tag"),   # tag preview, equal to the version
        ("release", None, None),                   # `release-1` is not `release`
        ("v1.1", shas["m"], "version_tag"),       # tag v1.1, equal to the version (not `vv1.1`)
    ]
