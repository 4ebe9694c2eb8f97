"""The raw layer: every record lands in raw.events, counts as a duplicate, or is quarantined with a reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipelines import loader, warehouse
from pipelines.config import resolve_paths
from tests.conftest import CONFORMANCE, FIXTURES, cloudevent, load, query, write_lines

# The canonical stage of each CDEvents subject.predicate, written from the spec's meaning
# (DESIGN §4 names, extended where the vocabulary had no stage), independently of the SQL.
EXPECTED_STAGE = {
    "artifact.deleted": "artifact_deleted", "artifact.downloaded": "artifact_downloaded",
    "artifact.packaged": "artifact_packaged", "artifact.published": "artifact_published",
    "artifact.signed": "artifact_signed", "branch.created": "branch_created", "branch.deleted": "branch_deleted",
    "build.finished": "build_finished", "build.queued": "build_queued", "build.started": "build_started",
    "change.abandoned": "change_abandoned", "change.created": "change_opened", "change.merged": "change_merged",
    "change.reviewed": "change_reviewed", "change.updated": "change_updated",
    "environment.created": "environment_created", "environment.deleted": "environment_deleted",
    "environment.modified": "environment_modified", "incident.detected": "incident_opened",
    "incident.reported": "incident_opened", "incident.resolved": "incident_resolved",
    "pipelinerun.finished": "pipeline_finished", "pipelinerun.queued": "pipeline_queued",
    "pipelinerun.started": "pipeline_started", "repository.created": "repository_created",
    "repository.deleted": "repository_deleted", "repository.modified": "repository_modified",
    "service.deployed": "deployed", "service.published": "service_published", "service.removed": "service_removed",
    "service.rolledback": "rolled_back", "service.upgraded": "deployed", "taskrun.finished": "task_finished",
    "taskrun.started": "task_started", "testcaserun.finished": "test_finished", "testcaserun.queued": "test_queued",
    "testcaserun.skipped": "test_skipped", "testcaserun.started": "test_started",
    "testoutput.published": "test_output_published", "testsuiterun.finished": "test_finished",
    "testsuiterun.queued": "test_queued", "testsuiterun.started": "test_started", "ticket.closed": "ticket_closed",
    "ticket.created": "ticket_opened", "ticket.updated": "ticket_updated",
}


def build(paths):
    from pipelines import tasks

    return tasks.build(paths)


def test_every_conformance_event_loads_with_its_stage_and_reloading_adds_nothing(paths):
    files = loader.discover([CONFORMANCE])
    assert len(files) == 90
    first = load(paths, *files)
    assert (first.total("accepted"), first.total("quarantined"), first.total("duplicates")) == (90, 0, 0)
    build(paths)
    rows = query(paths, "select raw_type, stage, validation_errors from marts.lifecycle_events")
    assert len(rows) == 90
    for raw_type, stage, errors in rows:
        subject, predicate = raw_type.split(".")[2:4]
        assert stage == EXPECTED_STAGE[f"{subject}.{predicate}"], raw_type
        assert errors == [], (raw_type, errors)
    again = load(paths, *files)
    assert again.skipped == 90 and again.total("accepted") == 0
    assert query(paths, "select count(*) from raw.events")[0][0] == 90


def test_bad_lines_are_quarantined_with_reasons_and_the_rest_loads(paths, tmp_path):
    missing_type = cloudevent(3)
    del missing_type["type"]
    path = write_lines(tmp_path / "mixed.ndjson", [
        cloudevent(1),
        '{"specversion": "1.0", "id": "evt-2", "source": "/x", "ty',  # truncated
        cloudevent(2),
        "this is not json",
        missing_type,
        cloudevent(4),
    ])
    result = load(paths, path)
    assert (result.total("records"), result.total("accepted"), result.total("quarantined")) == (6, 3, 3)
    reasons = dict(query(paths, "select line, reason from raw.quarantine order by line"))
    assert set(reasons) == {2, 4, 5}
    assert "not valid JSON" in reasons[2] and "truncated" in reasons[2]
    assert "not valid JSON" in reasons[4]
    assert reasons[5].startswith("CloudEvent is missing required attribute(s): type")
    payloads = [p for (p,) in query(paths, "select payload from raw.quarantine order by line")]
    assert payloads[1] == "this is not json"  # kept verbatim, nothing lost
    assert sorted(i for (i,) in query(paths, "select event_id from raw.events")) == ["evt-1", "evt-2", "evt-4"]


def test_the_same_event_in_structured_binary_and_batch_mode_is_stored_once(paths, tmp_path):
    event = cloudevent(7)
    structured = write_lines(tmp_path / "structured.ndjson", [event])
    headers = {f"ce-{k}": event[k] for k in ("id", "source", "type", "time", "specversion")}
    binary = write_lines(tmp_path / "binary.ndjson", [
        {"headers": {**headers, "Content-Type": "application/json"}, "body": event["data"]}])
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([event, cloudevent(8)]))
    result = load(paths, structured, binary, batch)
    assert [f.accepted for f in result.files] == [1, 0, 1]
    assert [f.duplicates for f in result.files] == [0, 1, 1]
    assert query(paths, "select count(*) from raw.events where event_id = 'evt-7'")[0][0] == 1


def test_a_batch_inside_a_captured_request_expands_per_event_and_bad_elements_are_quarantined(paths, tmp_path):
    broken = cloudevent(3)
    del broken["id"], broken["source"]
    request = {"headers": {"Content-Type": "application/cloudevents-batch+json"},
               "body": [cloudevent(1), cloudevent(2), broken]}
    result = load(paths, write_lines(tmp_path / "req.ndjson", [request, {"headers": {}, "body": []}]))
    assert (result.total("accepted"), result.total("quarantined")) == (2, 2)
    rows = query(paths, "select line, element, reason from raw.quarantine order by line, element")
    assert rows[0][:2] == (1, 3) and "id, source" in rows[0][2]
    assert rows[1][0] == 2 and rows[1][2].startswith("empty batch")
    assert query(paths, "select distinct transport from raw.events") == [("batch",)]


def test_bare_cdevent_and_cloudevent_with_the_same_identity_deduplicate(paths, tmp_path):
    event = cloudevent(9)
    result = load(paths, write_lines(tmp_path / "a.ndjson", [event["data"], event]))
    assert (result.total("accepted"), result.total("duplicates")) == (1, 1)


def test_gzip_and_pretty_printed_documents_load(paths, tmp_path):
    gz = tmp_path / "events.ndjson.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(json.dumps(cloudevent(1)) + "\n" + json.dumps(cloudevent(2)) + "\n")
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(cloudevent(3), indent=2))
    result = load(paths, gz, pretty)
    assert [f.accepted for f in result.files] == [2, 1]
    assert query(paths, "select line from raw.events where event_id = 'evt-3'") == [(1,)]


def test_a_malformed_json_array_file_is_quarantined_whole(paths, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"specversion": "1.0", "id": "x"}, {oops}]')
    result = load(paths, bad)
    assert result.total("quarantined") == 1 and result.total("accepted") == 0
    (reason, payload), = query(paths, "select reason, payload from raw.quarantine")
    assert reason.startswith("file is not a valid JSON array") and payload == bad.read_text()


def test_github_webhook_with_headers_is_keyed_on_its_delivery_id_and_secrets_are_stripped(paths, tmp_path):
    base = FIXTURES / "captured" / "github_events" / "check_run"
    headers = json.loads((base / "completed.headers.json").read_text())
    headers["Authorization"] = "Bearer s3cr3t"
    request = {"headers": headers, "body": json.loads((base / "completed.json").read_text())}
    result = load(paths, write_lines(tmp_path / "gh.ndjson", [request, request]))
    assert (result.total("accepted"), result.total("duplicates")) == (1, 1)
    (tool, key_basis, event_id, event_type, stored), = query(
        paths, "select source_tool, key_basis, event_id, event_type, headers::varchar from raw.events")
    assert (tool, key_basis, event_id, event_type) == ("github", "delivery-id", headers["X-GitHub-Delivery"], "check_run")
    assert "s3cr3t" not in stored and "sha256=" not in stored and "x-github-event" in stored


def test_unrecognised_json_is_quarantined_unless_the_source_is_given(paths, tmp_path):
    body = json.loads((FIXTURES / "captured" / "github_events" / "pull_request" / "closed.01.json").read_text())
    first = load(paths, write_lines(tmp_path / "pr.ndjson", [body]))
    assert first.total("quarantined") == 1
    assert "--source" in query(paths, "select reason from raw.quarantine")[0][0]
    forced = load(paths, write_lines(tmp_path / "pr-forced.ndjson", [body]), source="github")
    assert forced.total("accepted") == 1
    assert query(paths, "select source_tool, key_basis from raw.events") == [("github", "content-hash")]


def test_invalid_but_readable_cdevents_are_kept_with_their_errors(paths, tmp_path):
    extra = cloudevent(1)
    extra["data"]["context"]["foo"] = "bar"
    empty_subject = cloudevent(2)
    empty_subject["data"]["subject"]["id"] = ""
    load(paths, write_lines(tmp_path / "a.ndjson", [extra, empty_subject]))
    errors = dict(query(paths, "select event_id, validation_errors from raw.events"))
    assert any("'foo' was unexpected" in e for e in errors["evt-1"])
    assert errors["evt-2"] == []  # value-level (minLength): only --strict looks at every value
    load(paths, write_lines(tmp_path / "b.ndjson", [cloudevent(3, id="evt-3s") | {"data": empty_subject["data"] | {
        "context": empty_subject["data"]["context"] | {"id": "evt-3s"}}}]), strict=True)
    strict_errors = query(paths, "select validation_errors from raw.events where event_id = 'evt-3s'")[0][0]
    assert any("subject.id" in e for e in strict_errors)


def test_the_same_content_under_another_name_is_skipped_by_the_ledger(paths, tmp_path):
    a = write_lines(tmp_path / "a.ndjson", [cloudevent(1)])
    b = tmp_path / "copy.ndjson"
    b.write_bytes(a.read_bytes())
    result = load(paths, a, b)
    assert [f.status for f in result.files] == ["loaded", "skipped"]
    assert "a.ndjson" in result.files[1].note


def test_discover_skips_hidden_and_open_files_and_rejects_missing_paths(tmp_path):
    write_lines(tmp_path / "d" / "ok.ndjson", [cloudevent(1)])
    write_lines(tmp_path / "d" / ".hidden.ndjson", [cloudevent(2)])
    write_lines(tmp_path / "d" / "writing.ndjson.open", [cloudevent(3)])
    assert [p.name for p in loader.discover([tmp_path / "d"])] == ["ok.ndjson"]
    with pytest.raises(loader.InputError, match="no such file"):
        loader.discover([tmp_path / "missing"])


def test_unknown_source_is_refused(paths, tmp_path):
    with pytest.raises(loader.InputError, match="unknown --source"):
        load(paths, write_lines(tmp_path / "a.ndjson", [cloudevent(1)]), source="nonsense")


def _stored(paths) -> tuple[list, list]:
    events = query(paths, "select event_key, event_id, file, line, payload::varchar from raw.events order by line")
    quarantined = query(paths, "select file, line, reason, payload from raw.quarantine order by line")
    return events, quarantined


@pytest.mark.parametrize("compress", [False, True])
def test_a_large_file_loaded_in_pieces_stores_what_one_piece_stores(paths, tmp_path, monkeypatch, compress):
    """Pieces of about a line: 30 lines (a blank one, a broken one, a duplicate) over several transactions keep the
    file's own line numbers, lose nothing, and write one ledger row with the file's totals."""
    lines: list[object] = [cloudevent(i) for i in range(1, 31)]
    lines[9] = ""                                        # line 10: blank, neither an event nor quarantined
    lines[16] = '{"specversion": "1.0", "id": "evt-x'    # line 17: truncated → quarantined
    lines[24] = cloudevent(3)                            # line 25: a re-delivery of line 3
    path = write_lines(tmp_path / "big.ndjson", lines)
    if compress:
        path = tmp_path / "big.ndjson.gz"
        path.write_bytes(gzip.compress((tmp_path / "big.ndjson").read_bytes()))
        (tmp_path / "big.ndjson").unlink()

    whole = load(paths, path)
    expected = _stored(paths)
    assert (whole.total("records"), whole.total("accepted"), whole.total("duplicates"),
            whole.total("quarantined")) == (29, 27, 1, 1)

    pieces_paths = resolve_paths(tmp_path / "pieces" / "warehouse.duckdb")
    monkeypatch.setattr(loader, "PIECE_BYTES", 400)  # about a line (the gzip file is only ~500 bytes)
    assert 400 < path.stat().st_size
    staged = []
    real_stage = loader._stage_file
    monkeypatch.setattr(loader, "_stage_file", lambda conn, no, p, before=0: staged.append(before)
                        or real_stage(conn, no, p, before))
    progress = []
    with warehouse.warehouse_lock(pieces_paths), warehouse.writer(pieces_paths) as conn:
        result = loader.load_files(conn, [path], on_bytes=progress.append)
    assert len(staged) > 3 and staged[0] == 0 and staged == sorted(staged)  # really in pieces, in order
    assert sum(progress) == path.stat().st_size
    assert [(f.records, f.accepted, f.duplicates, f.quarantined) for f in result.files] == [(29, 27, 1, 1)]
    assert _stored(pieces_paths) == expected
    assert query(pieces_paths, "select records, accepted, duplicates, quarantined from raw.loaded_files") == [
        (29, 27, 1, 1)]
    assert load(pieces_paths, path).skipped == 1  # the ledger makes loading it again a no-op

