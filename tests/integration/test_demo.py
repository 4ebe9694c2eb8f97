"""The demo's data path on the committed sample, checked against the scenario's ground truth.

`sample_events/expected.json` is computed by the generator from its world model (what it decided
happened), never from the pipeline's output, so these comparisons can fail.
"""

from __future__ import annotations

import json

import pytest

from click.testing import CliRunner

from pipelines.cli import main
from pipelines.demo import EXPECTED, SAMPLE_DIR
from tests.conftest import query


def test_demo_loads_the_sample_builds_and_exports(paths, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = json.loads(EXPECTED.read_text())
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--out", str(tmp_path / "reports")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "demo ready" in result.output

    events, quarantined = query(paths, "select (select count(*) from raw.events), (select count(*) from raw.quarantine)")[0]
    assert events == expected["events"]["distinct"]
    assert quarantined == 0
    duplicates = query(paths, "select sum(duplicates) from raw.loaded_files")[0][0]
    assert duplicates == expected["events"]["duplicates"]

    stages = dict(query(paths, "select stage, count(*) from marts.lifecycle_events where stage is not null group by stage"))
    assert stages == expected["stages"]  # `commit` counts the commits inside GitHub pushes
    assert (tmp_path / "reports" / "events_weekly.csv").exists()

    again = CliRunner().invoke(main, ["demo", "--no-serve", "--out", str(tmp_path / "reports")], catch_exceptions=False)
    assert again.exit_code == 0
    assert query(paths, "select count(*) from raw.events")[0][0] == events  # idempotent


def test_every_sample_file_is_an_input(paths):
    names = sorted(p.name for p in SAMPLE_DIR.iterdir())
    assert "expected.json" not in names  # the truth lives beside the data, so ingesting the folder loads only events
    assert {"cloudevents.ndjson", "github-push.ndjson", "duplicates.ndjson"} <= set(names)


@pytest.mark.slow
def test_demo_can_replay_the_sample_through_the_receiver(paths, tmp_path, monkeypatch):
    """The same events arrive whether the files are copied or posted through `lifecycle serve`."""
    monkeypatch.chdir(tmp_path)
    expected = json.loads(EXPECTED.read_text())
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--via-receiver", "--out", str(tmp_path / "reports")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    events, quarantined = query(paths, "select (select count(*) from raw.events), (select count(*) from raw.quarantine)")[0]
    assert (events, quarantined) == (expected["events"]["distinct"], 0)
    stages = dict(query(paths, "select stage, count(*) from marts.lifecycle_events where stage is not null group by stage"))
    assert stages == expected["stages"]
