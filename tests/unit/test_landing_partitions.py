"""`lifecycle ingest --since/--until`: the receiver's date=YYYY-MM-DD partitions pruned by name.

The layout is the receiver's (`<landing>/receiver/date=YYYY-MM-DD/*.ndjson`, docs/receiver.md) beside
unpartitioned landing files (`git/<repo>/<sha>.ndjson`, docs/ingestion.md).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines import loader
from pipelines.cli import main
from tests.conftest import cloudevent, query, write_lines

DAYS = ("2026-06-29", "2026-06-30", "2026-07-01", "2026-07-02")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """One closed file per day (event ids evt-1..evt-4 in day order), one still open, a git file, a non-date partition."""
    root = tmp_path / "landing"
    for i, day in enumerate(DAYS, start=1):
        write_lines(root / "receiver" / f"date={day}" / f"host-1-{i}.ndjson", [cloudevent(i)])
    write_lines(root / "receiver" / "date=2026-07-02" / "host-1-5.ndjson.open", [cloudevent(5)])
    write_lines(root / "receiver" / "date=latest" / "host-1-6.ndjson", [cloudevent(6)])
    write_lines(root / "git" / "org-repo" / "abc123.ndjson", [cloudevent(7)])
    return root


def names(files: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in files]


def test_without_bounds_every_closed_file_is_found_in_name_order(landing):
    """No bounds: the 4 daily files + date=latest + git = 6; the .open file is never read."""
    assert names(loader.discover([landing])) == [
        "org-repo/abc123.ndjson",
        "date=2026-06-29/host-1-1.ndjson", "date=2026-06-30/host-1-2.ndjson",
        "date=2026-07-01/host-1-3.ndjson", "date=2026-07-02/host-1-4.ndjson",
        "date=latest/host-1-6.ndjson",
    ]


@pytest.mark.parametrize(("since", "until", "days"), [
    # both bounds inclusive: 06-30 and 07-01 of the four days
    (date(2026, 6, 30), date(2026, 7, 1), ["2026-06-30", "2026-07-01"]),
    # since alone: 07-01 and 07-02
    (date(2026, 7, 1), None, ["2026-07-01", "2026-07-02"]),
    # until alone: 06-29 only
    (None, date(2026, 6, 29), ["2026-06-29"]),
    # a day with no partition: nothing dated
    (date(2026, 8, 1), None, []),
])
def test_bounds_keep_only_partitions_in_range_and_everything_unpartitioned(landing, since, until, days):
    """Dated files kept = the days listed; git/ (not partitioned) and date=latest (not a date) are always kept."""
    found = names(loader.discover([landing], since=since, until=until))
    assert [n.split("/")[0][5:] for n in found if n.startswith("date=20")] == days
    assert "org-repo/abc123.ndjson" in found and "date=latest/host-1-6.ndjson" in found
    assert len(found) == len(days) + 2


def test_pruned_partitions_are_never_listed(landing, monkeypatch):
    """--since 2026-07-02: of the 6 receiver directories only date=2026-07-02 and date=latest are opened."""
    listed: list[str] = []
    real_scandir = os.scandir

    def spy(path="."):
        listed.append(Path(path).name)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    found = loader.discover([landing], since=date(2026, 7, 2))
    assert names(found) == ["org-repo/abc123.ndjson", "date=2026-07-02/host-1-4.ndjson", "date=latest/host-1-6.ndjson"]
    assert {n for n in listed if n.startswith("date=")} == {"date=2026-07-02", "date=latest"}


def test_bounds_apply_to_named_partitions_and_files_too(landing):
    """A shell glob `receiver/date=*` with --since 2026-07-01 reads 07-01 and 07-02 (+ date=latest), not the rest."""
    partitions = sorted((landing / "receiver").glob("date=*"))
    assert len(partitions) == 5
    found = names(loader.discover(partitions, since=date(2026, 7, 1)))
    assert found == ["date=2026-07-01/host-1-3.ndjson", "date=2026-07-02/host-1-4.ndjson", "date=latest/host-1-6.ndjson"]
    old_file = landing / "receiver" / "date=2026-06-29" / "host-1-1.ndjson"
    assert loader.discover([old_file], since=date(2026, 7, 1)) == []
    assert loader.discover([old_file]) == [old_file]


def test_cli_daily_load_reads_only_its_partition(paths, landing):
    """`ingest --since 2026-07-02 --until 2026-07-02`: evt-4 (that day) + evt-6 (date=latest) + evt-7 (git) = 3 events.

    A second run for 2026-07-01 adds evt-3 only: 4 events, none of 06-29/06-30 (evt-1, evt-2).
    """
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", str(landing), "--since", "2026-07-02", "--until", "2026-07-02"])
    assert first.exit_code == 0, first.output
    assert "3 files (0 already loaded): 3 records, 3 accepted" in first.output
    second = runner.invoke(main, ["ingest", str(landing), "--since", "2026-07-01", "--until", "2026-07-01"])
    assert "3 files (2 already loaded): 1 records, 1 accepted" in second.output
    ids = [row[0] for row in query(paths, "select event_id from raw.events order by event_id")]
    assert ids == ["evt-3", "evt-4", "evt-6", "evt-7"]


def test_cli_rejects_inverted_and_malformed_bounds(paths, landing):
    runner = CliRunner()
    inverted = runner.invoke(main, ["ingest", str(landing), "--since", "2026-07-02", "--until", "2026-07-01"])
    assert inverted.exit_code == 1
    assert "--since 2026-07-02 is after --until 2026-07-01" in inverted.output
    malformed = runner.invoke(main, ["ingest", str(landing), "--since", "1 July"])
    assert malformed.exit_code == 2 and "'1 July' does not match the format '%Y-%m-%d'" in malformed.output
