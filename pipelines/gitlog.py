"""Read a local clone's history (commits with parents, tags) into landing-zone records.

Git history is the ground truth for ancestry: push webhooks only list the commits of one push, so a
deployment's lead times need the whole graph (DESIGN §5). Times come from epoch seconds (``%at``,
``%ct``): real histories carry invalid timezone offsets such as ``+518:00``, the epoch is always right.

What is read:

- commits reachable from ``branch``, or by default from every branch, remote-tracking branch and tag
  (not ``--all``: that would also walk stashes, notes and hosting refs such as ``refs/pull/*``);
- every tag, with the commit it points to after peeling annotated (and nested) tags; a tag of a tree
  or a blob names no commit and is skipped. ``tagged_at`` is the tagger date of an annotated tag, else
  the committer date of its commit (git's ``creatordate``).

The records are captured requests (``X-Lifecycle-Source: git``) written to the landing zone and then
loaded like any other file, so they are deduplicated, ledgered and replayable the same way. The
delivery id of a commit is ``<repository>@commit:<sha>`` and of a tag ``<repository>@tag:<name>``: re-reading
a history adds only new commits and tags (a tag moved to another commit keeps its first record).

Pure: subprocess calls to ``git`` only, no warehouse and no Dagster.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

FIELD = "\x1f"
RECORD = "\x1e"
LOG_FORMAT = FIELD.join(["%H", "%P", "%at", "%ct", "%an", "%ae", "%s"]) + RECORD
TAG_FORMAT = FIELD.join(["%(refname)", "%(creatordate:unix)"])
DEFAULT_REVS = ("--branches", "--remotes", "--tags")


class GitError(RuntimeError):
    """The path is not a readable git repository, or git failed."""


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False,
            text=True, encoding="utf-8", errors="replace",  # old histories hold latin-1 names
        )
    except FileNotFoundError:
        raise GitError("git is not installed (needed to read a repository's history)") from None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise GitError(f"git {args[0]} failed in {repo}: {reason}")
    return proc.stdout


def normalise_repository(url_or_name: str) -> str:
    """``https://github.com/Org/Repo.git``, ``git@github.com:Org/Repo.git`` and ``Org/Repo`` → ``org/repo``.

    The same rule is the SQL macro ``normalise_repository`` so every source names a repository alike.
    """
    text = url_or_name.strip().lower().removesuffix("/").removesuffix(".git")
    text = re.sub(r"^[a-z][a-z0-9+.-]*://(?:[^@/]+@)?[^/]+/", "", text)  # scheme://[user@]host/
    text = re.sub(r"^[^@/]+@[^:/]+:", "", text)  # user@host:
    return text.lstrip("/")  # a local path as origin: the macro drops leading slashes too


def check_repository(repo: Path) -> Path:
    """The repository's directory, or GitError with a message a person can act on."""
    if not Path(repo).exists():
        raise GitError(f"no such directory: {repo}")
    try:
        _git(repo, "rev-parse", "--git-dir")
    except GitError:
        raise GitError(f"not a git repository: {repo}") from None
    return Path(repo)


def repository_name(repo: Path, repo_url: str | None = None) -> str:
    if repo_url:
        return normalise_repository(repo_url)
    try:
        return normalise_repository(_git(repo, "remote", "get-url", "origin").strip())
    except GitError:
        top = Path(repo).resolve()
        return normalise_repository(top.name.removesuffix(".git") or str(top))


def _iso(epoch: str) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).isoformat().replace("+00:00", "Z")


def read_history(repo: Path, branch: str | None = None, repo_url: str | None = None) -> Iterator[dict]:
    """Yield a record per commit reachable from ``branch`` (default: all branches and tags) and per tag."""
    check_repository(repo)
    name = repository_name(repo, repo_url)
    revs = ["--end-of-options", branch] if branch else list(DEFAULT_REVS)
    out = _git(repo, "log", "--topo-order", f"--format={LOG_FORMAT}", *revs, "--")
    for raw in out.split(RECORD):
        raw = raw.strip("\n")
        if not raw:
            continue
        sha, parents, authored, committed, author, email, subject = raw.split(FIELD, 6)
        yield {"kind": "commit", "repository": name, "sha": sha, "parents": parents.split() if parents else [],
               "authored_at": _iso(authored), "committed_at": _iso(committed),
               "author": author, "author_email": email, "subject": subject}
    yield from _tags(repo, name)


def _tags(repo: Path, name: str) -> Iterator[dict]:
    refs = []
    for line in _git(repo, "for-each-ref", "refs/tags", f"--format={TAG_FORMAT}").splitlines():
        refname, created = line.split(FIELD)
        refs.append((refname, created))
    if not refs:
        return
    # one git process peels every tag to its commit, however deeply annotated tags are nested
    peeled = _git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                  stdin="".join(f"{refname}^{{commit}}\n" for refname, _ in refs)).splitlines()
    for (refname, created), answer in zip(refs, peeled, strict=True):
        sha, _, kind = answer.partition(" ")
        if kind != "commit":  # "<ref>^{commit} missing": a tag of a tree or a blob
            continue
        yield {"kind": "tag", "repository": name, "name": refname.removeprefix("refs/tags/"), "sha": sha,
               "tagged_at": _iso(created) if created else None}


def delivery_key(record: dict) -> str:
    return f"{record['repository']}@{record['kind']}:{record.get('name') or record['sha']}"


def write_landing_file(records: Iterable[dict], landing: Path, repository: str, head: str) -> Path:
    """Write the records as captured requests to ``landing/git/<repo>/<head>.ndjson`` (atomic rename)."""
    folder = re.sub(r"[^a-z0-9._-]+", "_", repository.replace("/", "__").lower()).lstrip(".") or "repository"
    target = Path(landing) / "git" / folder / f"{head}.ndjson"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")  # hidden and *.tmp: no loader picks it up half-written
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            envelope = {"headers": {"X-Lifecycle-Source": "git", "X-Lifecycle-Delivery": delivery_key(record)},
                        "body": record}
            fh.write(json.dumps(envelope, separators=(",", ":"), ensure_ascii=False) + "\n")
    tmp.replace(target)
    return target

