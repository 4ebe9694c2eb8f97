"""The `lifecycle` command line, end to end on a temporary warehouse."""

from __future__ import annotations

import csv
import json
import re

from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import CONFORMANCE, cloudevent, write_lines


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_ingest_build_sql_export(paths, tmp_path):
    broken = write_lines(tmp_path / "in" / "broken.ndjson", [cloudevent(1), "nope"])
    result = run("ingest", str(CONFORMANCE), str(broken))
    assert result.exit_code == 0, result.output
    assert "92 records, 91 accepted, 0 duplicate, 1 quarantined" in result.output

    again = run("ingest", str(CONFORMANCE))
    assert "90 files (90 already loaded): 0 records, 0 accepted" in again.output

    built = run("build")
    assert built.exit_code == 0 and "marts.lifecycle_events" in built.output and "published" in built.output
    # the transaction's commit has its own line: at scale it is one of a build's largest steps
    assert re.search(r"^  commit +\d+\.\d\ds$", built.output, re.M), built.output

    out = run("sql", "select stage, count(*) as n from marts.lifecycle_events where stage = 'deployed' group by stage",
              "--format", "json")
    assert json.loads(out.output) == [{"stage": "deployed", "n": 5}]  # 2 deployed + 2 upgraded conformance + ours

    out = run("sql", "select event_id, occurred_at from raw.events where event_id = 'evt-1'", "--format", "csv")
    assert out.output.splitlines() == ["event_id,occurred_at", "evt-1,2026-07-01T08:00:00Z"]

    reports = tmp_path / "reports"
    exported = run("export", "--out", str(reports))
    assert exported.exit_code == 0
    with open(reports / "quarantine.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["line"] == "2" and rows[0]["reason"].startswith("not valid JSON")
    header = (reports / "events_weekly.csv").read_text().splitlines()[0]
    assert header == "week_start,source_tool,stage,events"


def test_errors_are_one_line_with_a_non_zero_exit(paths, tmp_path):
    missing = run("ingest", str(tmp_path / "nope.ndjson"))
    assert missing.exit_code == 1 and "no such file or directory" in missing.output
    no_snapshot = run("sql", "select 1")
    assert no_snapshot.exit_code == 1 and "lifecycle build" in no_snapshot.output
    run("ingest", str(write_lines(tmp_path / "a.ndjson", [cloudevent(1)])))
    run("build")
    write = run("sql", "delete from raw.events")
    assert write.exit_code == 1 and "read-only" in write.output
    bad_sql = run("sql", "select nope")
    assert bad_sql.exit_code == 1 and "nope" in bad_sql.output
    assert "Traceback" not in bad_sql.output
