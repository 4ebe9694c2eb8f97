"""The journey page's events (data.journey_events): index lookups in two steps, the same rows as the definition.

The definition, written as one plain query with ``or`` (how the page read it before the lookups): an
artifact's own events, every event of a CI/CD chain one of them belongs to, the commit / change events of its
commits (its own commit and the commits it first delivered, marts.changes), and the events of the incidents
attributed to its deployments.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboards import data
from pipelines import tasks, warehouse
from pipelines.config import resolve_paths
from pipelines.demo import SAMPLE_DIR
from tests.dashboard.conftest import point_at
from tests.dashboard.world import World

COLUMNS = data._JOURNEY_EVENT_COLUMNS

DEFINITION = f"""
with own as (select event_key, chain_id from marts.lifecycle_events where artifact_id = $a),
commits as (
    select commit_sha from marts.artifact_journeys where artifact_id = $a
    union select commit_sha from marts.changes where deployed_artifact_id = $a
),
incidents as (
    select i.incident_id from marts.incidents i join marts.deployments d using (deployment_id)
    where d.artifact_id = $a
)
select {COLUMNS} from marts.lifecycle_events e
where e.artifact_id = $a
   or e.chain_id in (select chain_id from own)
   or (e.stage in ('commit', 'change_opened', 'change_merged') and e.commit_sha in (select commit_sha from commits))
   or e.incident_id in (select incident_id from incidents)
order by occurred_at, event_key
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample, plus a rebuild of one of its commits into an artifact of another service: that build's
    event carries the commit but is not the first artifact's (the commit branch reads commit stages only)."""
    root = tmp_path_factory.mktemp("journey-sample")
    paths = resolve_paths(root / "data" / "warehouse.duckdb")
    tasks.ingest(paths, [SAMPLE_DIR])
    tasks.build(paths)
    with warehouse.snapshot_reader(paths) as conn:
        commit, built = conn.execute("select commit_sha, packaged_at from marts.artifact_journeys "
                                     "where commit_sha is not null order by artifact_id limit 1").fetchone()
    rebuild = World()
    rebuild.package("pay", "9.9.9", commit, built + timedelta(hours=1))
    (root / "rebuild.ndjson").write_text("\n".join(rebuild.lines) + "\n")
    tasks.ingest(paths, [root / "rebuild.ndjson"])
    tasks.build(paths)
    return paths


def test_every_journey_has_the_events_of_its_definition(sample, monkeypatch):
    point_at(monkeypatch, sample)
    with warehouse.snapshot_reader(sample) as conn:
        artifacts = [a for (a,) in conn.execute(
            "select artifact_id from marts.artifact_journeys order by artifact_id").fetchall()]
        expected = {a: conn.execute(DEFINITION, {"a": a}).fetchall() for a in artifacts}
        # the branches a journey can take are all exercised by the sample
        chain_only = conn.execute(
            "select count(*) from marts.lifecycle_events where artifact_id is null and chain_id in "
            "(select chain_id from marts.lifecycle_events where artifact_id is not null)").fetchone()[0]
        other_stage_same_commit = conn.execute(
            "select count(*) from marts.lifecycle_events e join marts.artifact_journeys j using (commit_sha) "
            "where e.stage not in ('commit', 'change_opened', 'change_merged') "
            "and e.artifact_id is distinct from j.artifact_id and e.chain_id is null").fetchone()[0]
        incident_events = conn.execute(
            "select count(*) from marts.lifecycle_events where incident_id in (select incident_id from "
            "marts.incidents where deployment_id is not null)").fetchone()[0]
    assert len(artifacts) > 50 and chain_only > 0 and incident_events > 0 and other_stage_same_commit > 0
    got = {a: data.journey_events(a).rows() for a in artifacts}
    assert got == expected
    assert sum(len(rows) for rows in got.values()) > 10 * len(artifacts)

