"""GitLab push and tag push webhooks → staging.gitlab_push_commits / gitlab_tags → intermediate.commits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipelines import tasks
from tests.conftest import FIXTURES, query, write_lines

GITLAB = FIXTURES / "gitlab-gitlab4j"
ZERO = "0" * 40


def captured(event: str, body: dict, uuid: str) -> dict:
    return {"headers": {"X-Gitlab-Event": event, "X-Gitlab-Event-UUID": uuid}, "body": body,
            "received_at": "2026-07-01T09:00:00Z"}


def fixture(name: str) -> dict:
    return json.loads((GITLAB / name).read_text())


def commits(paths) -> list[tuple]:
    return query(paths, "select repository, commit_sha, parent_sha, occurred_at, branch, position "
                        "from staging.gitlab_push_commits order by occurred_at, commit_sha")


def test_the_gitlab4j_push_yields_its_commits_with_inferred_parents(paths, tmp_path):
    tasks.ingest(paths, [write_lines(tmp_path / "push.ndjson", [captured("Push Hook", fixture("push-event.json"), "u-1")])])
    tasks.build(paths)

    # listed oldest first: the first commit's parent is `before`, the second's is the first
    assert commits(paths) == [
        ("mike/diaspora", "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "95790bf891e76fee5e1747ab589903a6a1f80f22",
         datetime(2011, 12, 12, 14, 27, 31, tzinfo=UTC), "master", 1),
        ("mike/diaspora", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
         datetime(2012, 1, 3, 23, 36, 29, tzinfo=UTC), "master", 2),
    ]
    assert query(paths, "select commit_sha, parent_shas, committed_at, time_source from intermediate.commits "
                        "order by committed_at") == [
        ("b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", ["95790bf891e76fee5e1747ab589903a6a1f80f22"],
         datetime(2011, 12, 12, 14, 27, 31, tzinfo=UTC), "gitlab_push"),
        ("da1560886d4f094c3e6c9ef40349f7d38b5d27d7", ["b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"],
         datetime(2012, 1, 3, 23, 36, 29, tzinfo=UTC), "gitlab_push"),
    ]
    # the push is mapped: two commit events in the public table, not an unknown webhook
    assert query(paths, "select source_tool, raw_type, stage, commit_sha, repository from marts.lifecycle_events "
                        "order by occurred_at") == [
        ("gitlab", "gitlab:Push Hook", "commit", "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "mike/diaspora"),
        ("gitlab", "gitlab:Push Hook", "commit", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "mike/diaspora"),
    ]
    assert query(paths, "select count(*) from staging.webhooks") == [(0,)]


def test_gitlab_timestamp_formats_all_become_utc(paths, tmp_path):
    body = fixture("push-event.json")
    body["before"] = ZERO  # a new branch: the first commit has no known parent
    template = body["commits"][0]
    stamps = {  # GitLab's formats → UTC, worked out by hand
        "2021-01-01 10:00:00 UTC": datetime(2021, 1, 1, 10, 0, tzinfo=UTC),
        "2021-01-01 10:00:00 +0200": datetime(2021, 1, 1, 8, 0, tzinfo=UTC),
        "2021-01-01T10:00:00+05:30": datetime(2021, 1, 1, 4, 30, tzinfo=UTC),
        "2021-01-01T23:30:00-0530": datetime(2021, 1, 2, 5, 0, tzinfo=UTC),
        "2021-01-01T10:00:00.250Z": datetime(2021, 1, 1, 10, 0, 0, 250000, tzinfo=UTC),
    }
    body["commits"] = [dict(template, id=f"{i:x}" * 40, timestamp=stamp) for i, stamp in enumerate(stamps, start=10)]
    body["ref"] = "refs/heads/feature/x"
    # the same body without headers, loaded with --source gitlab (its event type is then object_kind `push`)
    bare = write_lines(tmp_path / "bare.ndjson", [body])
    tasks.ingest(paths, [bare], source="gitlab")
    tasks.build(paths)

    rows = query(paths, "select commit_sha, parent_sha, occurred_at, branch from staging.gitlab_push_commits "
                        "order by position")
    shas = [f"{i:x}" * 40 for i in range(10, 15)]
    assert rows == [(sha, parent, utc, "feature/x")
                    for sha, parent, utc in zip(shas, [None, *shas[:-1]], stamps.values(), strict=True)]


def test_tag_push_yields_the_tag_and_deletions_are_kept_as_deletions(paths, tmp_path):
    tag = fixture("tag-push-event.json")
    deleted_branch = dict(fixture("push-event.json"), after=ZERO, checkout_sha=None, commits=[], total_commits_count=0)
    deleted_tag = dict(tag, before=tag["after"], after=ZERO, checkout_sha=None)
    tasks.ingest(paths, [write_lines(tmp_path / "tags.ndjson", [
        captured("Tag Push Hook", tag, "t-1"), captured("Push Hook", deleted_branch, "u-2"),
        captured("Tag Push Hook", deleted_tag, "t-2")])])
    tasks.build(paths)

    assert query(paths, "select repository, tag, commit_sha, occurred_at, stage from staging.gitlab_tags") == [
        ("jsmith/example", "v1.0.0", "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
         datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "tag_created")]
    assert query(paths, "select count(*) from staging.gitlab_push_commits") == [(0,)]
    # the deletions are kept as what they are (staging.gitlab_events, docs/sources.md), not lost
    assert sorted(query(paths, "select event_id, raw_type, stage from staging.gitlab_events")) == [
        ("t-2", "gitlab:tag_push", "tag_deleted"), ("u-2", "gitlab:push", "branch_deleted")]
    assert query(paths, "select count(*) from staging.webhooks") == [(0,)]
    assert query(paths, "select raw_type, stage, commit_sha from marts.lifecycle_events "
                        "order by raw_type, stage nulls first") == [
        ("gitlab:Tag Push Hook", "tag_created", "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"),
        ("gitlab:push", "branch_deleted", None),
        ("gitlab:tag_push", "tag_deleted", None),
    ]
