"""Read a local clone's history (commits with parents, tags) into landing-zone records.

Git history is the ground truth for ancestry: push webhooks only list the commits of one push, so a
deployment's lead times need the whole graph (DESIGN §5). Times come from epoch seconds (``%at``,
``%ct``): real histories carry invalid timezone offsets such as ``+518:00``, the epoch is always right.

The records are captured requests (``X-Lifecycle-Source: git``) written to the landing zone and then
loaded like any other file, so they are deduplicated, ledgered and replayable the same way.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

FIELD = "\x1f"
RECORD = "\x1e"
LOG_FORMAT = FIELD.join(["%H", "%P", "%at", "%ct", "%an", "%ae", "%s"]) + RECORD
TAG_FORMAT = FIELD.join(["%(refname:short)", "%(objectname)", "%(*objectname)", "%(creatordate:unix)"])


class GitError(RuntimeError):
    """The path is not a readable git repository, or git failed."""


def _git(repo: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])} failed in {repo}: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


def normalise_repository(url_or_name: str) -> str:
    """``https://github.com/Org/Repo.git``, ``git@github.com:Org/Repo.git`` and ``Org/Repo`` → ``org/repo``.

    The same rule is the SQL macro ``normalise_repository`` so every source names a repository alike.
    """
    text = url_or_name.strip().lower().removesuffix("/").removesuffix(".git")
    text = re.sub(r"^[a-z][a-z0-9+.-]*://(?:[^@/]+@)?[^/]+/", "", text)  # scheme://[user@]host/
    text = re.sub(r"^[^@/]+@[^:/]+:", "", text)  # user@host:
    return text


def repository_name(repo: Path, repo_url: str | None = None) -> str:
    if repo_url:
        return normalise_repository(repo_url)
    try:
        return normalise_repository(_git(repo, "remote", "get-url", "origin").strip())
    except GitError:
        return normalise_repository(repo.resolve().name)


def _iso(epoch: str) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).isoformat().replace("+00:00", "Z")


def read_history(repo: Path, branch: str | None = None, repo_url: str | None = None) -> Iterator[dict]:
    """Yield a record per commit reachable from ``branch`` (default: all refs) and per tag."""
    name = repository_name(repo, repo_url)
    rev = [branch] if branch else ["--all"]
    out = _git(repo, "log", "--topo-order", f"--format={LOG_FORMAT}", *rev)
    for raw in out.split(RECORD):
        raw = raw.strip("\n")
        if not raw:
            continue
        sha, parents, authored, committed, author, email, subject = raw.split(FIELD, 6)
        yield {"kind": "commit", "repository": name, "sha": sha, "parents": parents.split() if parents else [],
               "authored_at": _iso(authored), "committed_at": _iso(committed),
               "author": author, "author_email": email, "subject": subject}
    for line in _git(repo, "for-each-ref", "refs/tags", f"--format={TAG_FORMAT}").splitlines():
        tag, obj, peeled, created = line.split(FIELD)
        yield {"kind": "tag", "repository": name, "name": tag, "sha": peeled or obj,
               "tagged_at": _iso(created) if created else None}


def write_landing_file(records: Iterator[dict], landing: Path, repository: str, head: str) -> Path:
    """Write the records as captured requests to ``landing/git/<repo>/<head>.ndjson`` (atomic rename)."""
    target = landing / "git" / repository.replace("/", "__") / f"{head}.ndjson"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w") as fh:
        for record in records:
            key = f"{record['repository']}@{record['kind']}:{record.get('name') or record['sha']}"
            envelope = {"headers": {"X-Lifecycle-Source": "git", "X-Lifecycle-Delivery": key}, "body": record}
            fh.write(json.dumps(envelope, separators=(",", ":")) + "\n")
    tmp.replace(target)
    return target


def head_sha(repo: Path, branch: str | None = None) -> str:
    return _git(repo, "rev-parse", branch or "HEAD").strip()
