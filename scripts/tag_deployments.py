"""Derive production deployments from a git repository's tags, as CDEvents NDJSON.

Many repositories have no deployment events, but their tags say when a version was released. This script
turns every tag into the two CDEvents the warehouse needs to compute change lead time from git alone —
useful to try the project on a real history, and to check its lead times against git's own answer:

- ``artifact.packaged`` (v0.5.1): subject id ``pkg:oci/<name>@<tag>`` (the tag percent-encoded), with
  ``content.change.id`` = the commit the tag points to (annotated and nested tags peeled) and
  ``content.change.source`` = the repository name ``lifecycle ingest-git`` gives it;
- ``service.deployed`` (v0.5.1): service ``<name>``, environment ``prod`` (``--environment``), that artifact.

Both are timestamped at the tag's time: the tagger date of an annotated tag, else (lightweight tags, or
annotated tags without a tagger) the committer date of its commit — git's ``creatordate``, in UTC. Tags of
trees or blobs name no commit and are skipped. Events are written oldest first, one per line, with ids
derived from the repository and tag, so re-running the script and re-loading the file adds nothing.

With the history loaded too, ``marts.changes.lead_time_s`` of a commit is then: the time of the first tag
(by tag time) whose commit contains it, minus the commit's committer time — null when no tag contains it::

    lifecycle ingest-git /path/to/clone --warehouse /tmp/wh/warehouse.duckdb
    python scripts/tag_deployments.py /path/to/clone --out /tmp/tags.ndjson
    lifecycle ingest /tmp/tags.ndjson --warehouse /tmp/wh/warehouse.duckdb
    lifecycle build --warehouse /tmp/wh/warehouse.duckdb

Usage: ``python scripts/tag_deployments.py REPO [--out FILE] [--name NAME] [--repo-url URL]
[--environment ENV]``; without ``--out`` the NDJSON goes to stdout. ``--repo-url`` must match the one
given to ``lifecycle ingest-git`` (default for both: the ``origin`` remote, else the directory's name).
Reads tags with git itself (``for-each-ref``, ``cat-file``), not with the project's own reader.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from pipelines.gitlog import repository_name

SPEC = "0.5.1"
PACKAGED = "dev.cdevents.artifact.packaged.0.3.0"
DEPLOYED = "dev.cdevents.service.deployed.0.3.0"


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", check=False)
    if proc.returncode != 0:
        sys.exit(f"tag_deployments: git {args[0]} failed in {repo}: {proc.stderr.strip()}")
    return proc.stdout


def tags(repo: Path) -> list[tuple[str, str, int]]:
    """(tag, commit sha, tag time as epoch seconds) for every tag naming a commit, oldest first."""
    listed = [line.split("\x1f") for line in git(
        repo, "for-each-ref", "refs/tags", "--format=%(refname)\x1f%(creatordate:unix)").splitlines()]
    if not listed:
        return []
    answers = git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                  stdin="".join(f"{ref}^{{commit}}\n" for ref, _ in listed)).splitlines()
    found = []
    for (ref, created), answer in zip(listed, answers, strict=True):
        sha, _, kind = answer.partition(" ")
        if kind != "commit":
            continue
        when = int(created) if created else int(git(repo, "show", "-s", "--format=%ct", sha).strip())
        found.append((ref.removeprefix("refs/tags/"), sha, when))
    return sorted(found, key=lambda t: (t[2], t[0]))


def events(repo: Path, name: str, repository: str, environment: str = "prod") -> Iterator[dict]:
    source = f"/tag-deployments/{repository}"
    for tag, sha, when in tags(repo):
        ts = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
        purl = f"pkg:oci/{name}@{quote(tag, safe='')}"
        yield {"context": {"specversion": SPEC, "id": f"{repository}@{tag}/packaged", "source": source,
                           "type": PACKAGED, "timestamp": ts},
               "subject": {"id": purl, "source": source,
                           "content": {"change": {"id": sha, "source": repository}}}}
        yield {"context": {"specversion": SPEC, "id": f"{repository}@{tag}/deployed/{environment}", "source": source,
                           "type": DEPLOYED, "timestamp": ts},
               "subject": {"id": name, "source": source,
                           "content": {"environment": {"id": environment}, "artifactId": purl}}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path, help="a local clone")
    parser.add_argument("--out", type=Path, default=None, help="NDJSON file to write (default: stdout)")
    parser.add_argument("--name", default=None, help="service and image name (default: the repository's last part)")
    parser.add_argument("--repo-url", default=None, help="as given to `lifecycle ingest-git --repo-url`")
    parser.add_argument("--environment", default="prod", help="environment deployed to (default: prod)")
    args = parser.parse_args(argv)

    repository = repository_name(args.repo, args.repo_url)
    name = args.name or repository.rsplit("/", 1)[-1]
    lines = [json.dumps(e, separators=(",", ":")) + "\n" for e in events(args.repo, name, repository, args.environment)]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(lines))
    else:
        sys.stdout.writelines(lines)
    print(f"{len(lines) // 2} tags of {repository} → {len(lines)} CDEvents", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
