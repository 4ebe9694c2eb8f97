"""Load input files into ``raw.events`` / ``raw.quarantine`` with DuckDB's readers (no per-event Python).

Every record of a file ends up in exactly one place: ``raw.events`` (new), counted as a duplicate
(its key is already stored), or ``raw.quarantine`` with a reason a person can act on. A ledger
(``raw.loaded_files``) keyed by content hash makes re-loading a file a no-op.

File shapes, sniffed per file (gzip transparently): newline-delimited JSON (one event or captured
request per line), a JSON array (CloudEvents batch mode), or one or more pretty-printed JSON
documents. Per record: a structured CloudEvent, a bare CDEvent, a captured request
``{"headers": …, "body": …, "received_at": …}`` (binary-mode CloudEvent, structured or batch
body, or a vendor webhook), or a vendor webhook body when ``--source TOOL`` says whose it is.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import duckdb

from pipelines.cdevents import default_registry

INPUT_SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
FORMAT_SOURCES = ("cloudevents", "cdevents")
WEBHOOK_SOURCES = ("github", "gitlab", "harbor", "argocd", "flux", "pagerduty", "tekton", "jenkins", "keptn", "kubewatch", "k6",
                   "argo-rollouts", "flagger")
KNOWN_SOURCES = FORMAT_SOURCES + WEBHOOK_SOURCES
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


class InputError(ValueError):
    """An input path that cannot be read at all (the CLI prints it on one line and exits non-zero)."""


@dataclass
class FileResult:
    file: str
    status: str  # 'loaded' | 'skipped'
    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    note: str = ""


@dataclass
class LoadResult:
    files: list[FileResult] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(1 for f in self.files if f.status == "skipped")

    def as_metadata(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "files_skipped": self.skipped,
            "records": self.total("records"),
            "accepted": self.total("accepted"),
            "duplicates": self.total("duplicates"),
            "quarantined": self.total("quarantined"),
        }


def discover(inputs: Iterable[str | Path], since: date | None = None, until: date | None = None) -> list[Path]:
    """Expand files and directories (recursively, sorted) into input files.

    Hidden files and files still being written (``*.open``, ``*.tmp``) are skipped: the receiver
    only hands over closed files. A path that does not exist is an error, not an empty load.

    ``since``/``until`` (inclusive) prune hive-style ``date=YYYY-MM-DD`` directories — the receiver's
    partitions — by name, before listing them: a daily load never lists years of old partitions.
    They apply to every ``date=`` component, named or found; files outside any partition (git
    history, snapshots) and ``date=`` values that are not dates are read as usual, never dropped.
    """
    def in_range(name: str) -> bool:
        if not name.startswith("date="):
            return True
        try:
            day = date.fromisoformat(name[5:])
        except ValueError:
            return True
        return (since is None or day >= since) and (until is None or day <= until)

    found: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"no such file or directory: {path}")
        if not all(in_range(part) for part in path.parts):
            continue
        if path.is_file():
            found.append(path)
            continue
        children: list[Path] = []
        for parent, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".") and in_range(d)]  # pruned: never listed
            children += [Path(parent, n) for n in names if not n.startswith(".") and n.endswith(INPUT_SUFFIXES)]
        found += sorted(child for child in children if child.is_file())
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open(path: Path):
    """The file for reading bytes, gunzipped when it is gzip (by content, not name)."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _first_char(path: Path) -> str:
    """The first non-whitespace character (after gunzip), to tell a JSON array file from the rest."""
    with _open(path) as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1].decode("ascii", "replace")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _read_text(path: Path) -> str:
    with _open(path) as fh:
        return fh.read().decode("utf-8", "replace")


# The fields classification needs, parsed once per document (see classify.sql).
ENVELOPE_STRUCTURE = json.dumps({
    "specversion": "VARCHAR", "id": "VARCHAR", "source": "VARCHAR", "type": "VARCHAR", "time": "VARCHAR",
    "data": "JSON", "headers": "MAP(VARCHAR, VARCHAR)", "body": "JSON", "received_at": "VARCHAR",
    "context": {"id": "VARCHAR", "source": "VARCHAR", "type": "VARCHAR", "timestamp": "VARCHAR"},
    "subject": {"content": {"outcome": "VARCHAR", "severity": "VARCHAR"}},
    "object_kind": "VARCHAR", "event_type": "VARCHAR", "reason": "VARCHAR",
    "event": {"id": "VARCHAR", "event_type": "VARCHAR", "resource_type": "VARCHAR"},
    # vendor bodies recognised by their shape (classify.sql: `header_tool`)
    "app": {"apiVersion": "VARCHAR", "kind": "VARCHAR"}, "occur_at": "VARCHAR", "event_data": {"repository": "JSON"},
    "involvedObject": {"kind": "VARCHAR"}, "reportingController": "VARCHAR",
    "name": "VARCHAR", "build": {"phase": "VARCHAR"}, "metrics": "JSON", "root_group": "JSON",
    "rollout": {"apiVersion": "VARCHAR", "kind": "VARCHAR"}, "namespace": "VARCHAR", "phase": "VARCHAR",
    "metadata": {"eventMessage": "VARCHAR"},
})
# json_transform needs its structure as a constant, so it is inlined (our literal, never user input).
_CLASSIFY_SQL = (
    resources.files("pipelines").joinpath("sql/classify.sql").read_text()
    .replace("$envelope", "'" + ENVELOPE_STRUCTURE.replace("'", "''") + "'")
)

# Small files are loaded together (one classification pass, one transaction) up to these bounds.
BATCH_BYTES = 64 * 1024 * 1024
BATCH_FILES = 500
# A larger NDJSON file is loaded in line-aligned pieces of about this size, one transaction each: memory stays
# bounded whatever the file's size (a 10M-event file is 7 GB), and a crash loses at most the piece in flight.
PIECE_BYTES = 256 * 1024 * 1024

_READ_LINES = (
    "insert into _lines select ?, line + ?, doc, case when doc is null and trim(text) <> '' then text end from ("
    "  select line, text, try_cast(text as json) as doc from ("
    "    select row_number() over () as line, text "
    "    from read_csv(?, columns = {'text': 'VARCHAR'}, header = false, delim = chr(1), quote = '', "
    "    escape = '', auto_detect = false, strict_mode = false, max_line_size = ?)))"
)
_READ_DOCUMENTS = (
    "insert into _lines select ?, row_number() over (), json, null "
    "from read_json_objects(?, format = '{format}', maximum_object_size = ?)"
)


def _stage_file(conn: duckdb.DuckDBPyConnection, file_no: int, path: Path, lines_before: int = 0) -> str | None:
    """Append one file's records to ``_lines(file_no, line, doc, bad)``; return a file-level reason to reject it.

    ``doc`` is the parsed JSON of a line, ``bad`` the text of a non-empty line that is not JSON.
    ``lines_before``: the lines of the file before this piece of it (``_pieces``), so line numbers are the file's.
    """
    name = str(path)
    if lines_before:  # a later piece of an NDJSON file (_pieces): its first line is not the file's
        conn.execute(_READ_LINES, [file_no, lines_before, name, MAX_LINE_BYTES])
        return None
    if _first_char(path) == "[":
        try:
            conn.execute(_READ_DOCUMENTS.format(format="array"), [file_no, name, MAX_DOCUMENT_BYTES])
            return None
        except duckdb.Error as exc:
            return f"file is not a valid JSON array (batch mode): {_short(exc)}"
    conn.execute(_READ_LINES, [file_no, 0, name, MAX_LINE_BYTES])
    first_line_bad = conn.execute(
        "select count(*) > 0 from _lines where file_no = ? and line = 1 and bad is not null", [file_no]
    ).fetchone()[0]
    if first_line_bad:
        # Not NDJSON: maybe pretty-printed JSON document(s). If that fails too, keep the lines
        # and let each bad one be quarantined on its own.
        conn.execute("create or replace temp table _docs as select * from _lines limit 0")
        try:
            conn.execute(_READ_DOCUMENTS.format(format="unstructured").replace("into _lines", "into _docs"),
                         [file_no, name, MAX_DOCUMENT_BYTES])
            conn.execute("delete from _lines where file_no = ?", [file_no])
            conn.execute("insert into _lines select * from _docs")
        except duckdb.Error:
            pass
        finally:
            conn.execute("drop table if exists _docs")
    return None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _json_error(text: str) -> str:
    """Why a line is not JSON, in words (only ever run on the bad lines, never the bulk)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated")
        hint = " — the line looks truncated" if truncated else ""
        return f"not valid JSON: {exc.msg} (column {exc.colno}){hint}"
    except RecursionError:
        return "not valid JSON: nested too deeply"
    return "not valid JSON (rejected by DuckDB's JSON parser)"


def _validate_cdevents(conn: duckdb.DuckDBPyConnection, strict: bool) -> str:
    """Validate the new CDEvents against the bundled schemas into ``_validation``; return the join key.

    Invalid events are kept, never dropped. Default: one representative per distinct shape (type,
    JSON structure, enum-valued fields) is checked for structural errors, which apply to every event
    of that shape — a handful of Python calls per batch instead of one per event. ``strict``
    validates every event fully, value-level checks included (slower; for audits).
    """
    registry = default_registry()
    conn.execute("create or replace temp table _validation (k varchar, errors varchar[], schema_version varchar)")
    if strict:
        sql = ("select c.event_key, c.cdevent::varchar from _candidates c join _keep k using (file_no, line, element) "
               "where c.cdevent is not null")
        check = registry.validate
    else:
        sql = ("select shape, any_value(cdevent)::varchar from _candidates "
               "where reason is null and cdevent is not null group by shape")
        check = registry.structural_errors
    rows = []
    for key, doc in conn.execute(sql).fetchall():
        event = json.loads(doc)
        match = registry.schema_for(event)
        rows.append((key, check(event) if match else [], match.schema_version if match else None))
    if rows:
        conn.executemany("insert into _validation values (?, ?, ?)", rows)
    return "c.event_key" if strict else "c.shape"


def _unvalidated_note(count: int, types: list[str]) -> str:
    shown = ", ".join(types[:3]) + (f" and {len(types) - 3} more type(s)" if len(types) > 3 else "")
    return f"{count} CDEvent(s) not validated, no bundled schema for their type ({shown}); loaded and mapped"


@dataclass
class _Pending:
    index: int  # position in the caller's list, so results come back in input order
    path: Path
    sha256: str
    size: int
    piece: Path | None = None  # the piece of ``path`` to read (_pieces); its ledger row is written by the caller
    lines_before: int = 0


def _splittable(path: Path, size: int) -> bool:
    """A file worth loading in pieces: large, and NDJSON (its first line is a JSON document on its own)."""
    if size <= PIECE_BYTES:
        return False
    with _open(path) as fh:
        first = fh.readline(MAX_LINE_BYTES)
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def _pieces(path: Path, directory: Path) -> Iterator[tuple[Path, int, int]]:
    """Line-aligned pieces of about PIECE_BYTES of an NDJSON file (gunzipped), each written to ``directory`` and
    removed once the caller has loaded it; with each, its number of lines (blank ones too, as the reader counts
    them) and the bytes of ``path`` read so far (for progress)."""
    with open(path, "rb") as raw:
        fh = gzip.GzipFile(fileobj=raw) if _is_gzip(path) else raw
        for number in range(1 << 30):
            data = fh.read(PIECE_BYTES)
            if not data:
                return
            data += fh.readline()  # up to the end of the line the read stopped in
            piece = directory / f"piece-{number:05d}.ndjson"
            piece.write_bytes(data)
            lines = data.count(b"\n") + (not data.endswith(b"\n"))
            del data
            try:
                yield piece, lines, raw.tell()
            finally:
                piece.unlink(missing_ok=True)


def _load_batch(
    conn: duckdb.DuckDBPyConnection, batch: list[_Pending], forced_source: str | None, strict: bool
) -> list[FileResult]:
    """Load several files in one classification pass and one transaction (all or nothing)."""
    load_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    files = [str(p.path) for p in batch]
    conn.execute("create or replace temp table _lines (file_no integer, line bigint, doc json, bad varchar)")
    conn.execute("create or replace temp table _files (file_no integer, file varchar)")
    conn.executemany("insert into _files values (?, ?)", list(enumerate(files)))
    # Staging happens outside the transaction: a reader error there (a malformed array) must not
    # abort it; it becomes a quarantine row instead.
    file_reasons = {no: reason for no, p in enumerate(batch)
                    if (reason := _stage_file(conn, no, p.piece or p.path, p.lines_before))}
    try:
        conn.execute("begin transaction")
        for no, reason in file_reasons.items():
            conn.execute("insert into raw.quarantine values (?, null, null, ?, ?, ?, ?)",
                         [files[no], reason, _read_text(batch[no].path)[: 10 * 1024 * 1024], load_id, now])
        bad = conn.execute("select file_no, line, bad from _lines where bad is not null order by file_no, line").fetchall()
        if bad:
            conn.executemany("insert into raw.quarantine values (?, ?, null, ?, ?, ?, ?)",
                             [(files[no], line, _json_error(text), text, load_id, now) for no, line, text in bad])
        conn.execute(_CLASSIFY_SQL, {"forced_source": forced_source, "loaded_at": now})
        conn.execute(
            "insert into raw.quarantine select f.file, c.line, c.element, c.reason, c.payload::varchar, ?, ? "
            "from _candidates c join _files f using (file_no) where c.reason is not null",
            [load_id, now],
        )
        # New events: the first occurrence in the batch of a key not yet stored (small columns only).
        conn.execute(
            "create or replace temp table _keep as select file_no, line, coalesce(element, 0) as element "
            "from _candidates c where c.reason is null "
            "and not exists (select 1 from raw.events r where r.event_key = c.event_key) "
            "qualify row_number() over (partition by c.event_key order by c.file_no, c.line, c.element) = 1"
        )
        conn.execute("update _candidates set element = 0 where element is null")
        key = _validate_cdevents(conn, strict)
        conn.execute(
            "insert into raw.events select c.event_key, c.key_basis, c.event_id, c.event_source, c.event_type, "
            "c.event_format, c.transport, c.source_tool, c.spec_version, c.occurred_at, c.received_at, c.headers, "
            "c.payload, list_concat(c.envelope_errors, coalesce(v.errors, []::varchar[])), v.schema_version, "
            "f.file, c.line, nullif(c.element, 0), ?, ? "
            "from _candidates c join _keep k using (file_no, line, element) join _files f using (file_no) "
            f"left join _validation v on v.k = {key}",
            [load_id, now],
        )
        counts = {no: (records, rejected) for no, records, rejected in conn.execute(
            "select file_no, count(*), count(*) filter (where reason is not null) from _candidates group by file_no"
        ).fetchall()}
        accepted = dict(conn.execute("select file_no, count(*) from _keep group by file_no").fetchall())
        # CDEvents whose type has no bundled schema (v0.3 and older types, e.g. the Jenkins plugin's 0.1.0): loaded,
        # mapped to stages by subject and predicate, but not validated — said so per file, not hidden
        unvalidated = {no: (n, types) for no, n, types in conn.execute(
            "select c.file_no, count(*), list(distinct c.event_type order by c.event_type) "
            "from _candidates c join _keep k using (file_no, line, element) "
            f"left join _validation v on v.k = {key} "
            "where c.cdevent is not null and v.schema_version is null group by c.file_no").fetchall()}
        bad_per_file: dict[int, int] = {}
        for no, _line, _text in bad:
            bad_per_file[no] = bad_per_file.get(no, 0) + 1
        results = []
        for no, pending in enumerate(batch):
            if no in file_reasons:
                result = FileResult(files[no], "loaded", records=1, quarantined=1, note=file_reasons[no])
            else:
                records, rejected = counts.get(no, (0, 0))
                ok = accepted.get(no, 0)
                result = FileResult(files[no], "loaded", records=records + bad_per_file.get(no, 0), accepted=ok,
                                    duplicates=records - rejected - ok, quarantined=rejected + bad_per_file.get(no, 0),
                                    note=_unvalidated_note(*unvalidated[no]) if no in unvalidated else "")
            if pending.piece is None:
                _record_file(conn, pending, forced_source, load_id, now, result)
            results.append(result)
        conn.execute("commit")
        return results
    except Exception:
        conn.execute("rollback")
        raise
    finally:
        for table in ("_lines", "_files", "_candidates", "_keep", "_validation"):
            conn.execute(f"drop table if exists {table}")


def _record_file(conn: duckdb.DuckDBPyConnection, pending: _Pending, forced_source: str | None, load_id: str,
                 loaded_at: datetime, result: FileResult) -> None:
    """The file's row in the ledger (``raw.loaded_files``): what makes loading it again a no-op."""
    conn.execute(
        "insert into raw.loaded_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [str(pending.path), pending.sha256, pending.size, forced_source, load_id, loaded_at,
         result.records, result.accepted, result.duplicates, result.quarantined],
    )


def _load_in_pieces(conn: duckdb.DuckDBPyConnection, pending: _Pending, forced_source: str | None, strict: bool,
                    on_bytes: Callable[[int], None] | None) -> FileResult:
    """Load a large NDJSON file piece by piece (one transaction each), then write its ledger row.

    A crash part-way leaves the pieces already loaded and no ledger row: loading the file again counts their
    events as duplicates and loads the rest — nothing lost, nothing twice.
    """
    total = FileResult(str(pending.path), "loaded")
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lifecycle-pieces-") as directory:
        done = lines_before = 0
        for piece, lines, read in _pieces(pending.path, Path(directory)):
            part = _load_batch(conn, [_Pending(pending.index, pending.path, pending.sha256, pending.size, piece,
                                               lines_before)], forced_source, strict)[0]
            lines_before += lines
            for name in ("records", "accepted", "duplicates", "quarantined"):
                setattr(total, name, getattr(total, name) + getattr(part, name))
            if part.note and part.note not in notes:
                notes.append(part.note)
            if on_bytes:
                on_bytes(read - done)
            done = read
    total.note = "; ".join(notes)
    _record_file(conn, pending, forced_source, uuid.uuid4().hex, datetime.now(UTC), total)
    return total


def load_files(
    conn: duckdb.DuckDBPyConnection,
    files: Iterable[Path],
    forced_source: str | None = None,
    strict: bool = False,
    on_file: Callable[[Path, FileResult], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load files, idempotently: the ledger skips content already loaded with the same ``--source``.

    Small files are grouped into batches (one pass, one transaction); a large file is a batch of
    its own, and an NDJSON file over PIECE_BYTES is loaded in pieces, so a crash loses at most the batch
    or piece in flight and a re-run redoes exactly that. ``on_bytes(n)`` reports progress in input bytes.
    """
    if forced_source is not None and forced_source not in KNOWN_SOURCES:
        raise InputError(f"unknown --source {forced_source!r}; choose one of: {', '.join(KNOWN_SOURCES)}")
    outcomes: dict[int, FileResult] = {}
    batch: list[_Pending] = []
    batch_bytes = 0

    def report(index: int, path: Path, outcome: FileResult) -> None:
        outcomes[index] = outcome
        if on_file:
            on_file(path, outcome)

    def flush() -> None:
        nonlocal batch, batch_bytes
        if batch:
            for pending, outcome in zip(batch, _load_batch(conn, batch, forced_source, strict), strict=True):
                report(pending.index, pending.path, outcome)
            if on_bytes:
                on_bytes(batch_bytes)
        batch, batch_bytes = [], 0

    for index, path in enumerate(files):
        try:
            sha, size = file_sha256(path), path.stat().st_size
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        # Keyed on content *and* --source: re-loading a quarantined file with --source is the remedy.
        seen = conn.execute(
            "select file from raw.loaded_files where sha256 = ? and forced_source is not distinct from ? limit 1",
            [sha, forced_source],
        ).fetchone()
        twin = next((p for p in batch if p.sha256 == sha), None)
        if seen or twin:
            report(index, path, FileResult(str(path), "skipped",
                                    note=f"already loaded (same content as {seen[0] if seen else twin.path})"))
            if on_bytes:
                on_bytes(size)
            continue
        if _splittable(path, size):
            flush()
            report(index, path, _load_in_pieces(conn, _Pending(index, path, sha, size), forced_source, strict,
                                                on_bytes))
            continue
        if batch and (batch_bytes + size > BATCH_BYTES or len(batch) >= BATCH_FILES):
            flush()
        batch.append(_Pending(index, path, sha, size))
        batch_bytes += size
    flush()
    return LoadResult([outcomes[i] for i in sorted(outcomes)])
