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
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from pipelines.cdevents import default_registry

INPUT_SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
FORMAT_SOURCES = ("cloudevents", "cdevents")
WEBHOOK_SOURCES = ("github", "gitlab", "harbor", "argocd", "flux", "pagerduty", "tekton", "jenkins", "keptn", "kubewatch")
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


def discover(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (recursively, sorted) into input files.

    Hidden files and files still being written (``*.open``, ``*.tmp``) are skipped: the receiver
    only hands over closed files. A path that does not exist is an error, not an empty load.
    """
    found: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"no such file or directory: {path}")
        if path.is_file():
            found.append(path)
            continue
        for child in sorted(path.rglob("*")):
            rel_parts = child.relative_to(path).parts
            if child.is_file() and not any(p.startswith(".") for p in rel_parts) and child.name.endswith(INPUT_SUFFIXES):
                found.append(child)
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _first_char(path: Path) -> str:
    """The first non-whitespace character (after gunzip), to tell a JSON array file from the rest."""
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1].decode("ascii", "replace")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _read_text(path: Path) -> str:
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


# The fields classification needs, parsed once per document (see classify.sql).
ENVELOPE_STRUCTURE = json.dumps({
    "specversion": "VARCHAR", "id": "VARCHAR", "source": "VARCHAR", "type": "VARCHAR", "time": "VARCHAR",
    "data": "JSON", "headers": "MAP(VARCHAR, VARCHAR)", "body": "JSON", "received_at": "VARCHAR",
    "context": {"id": "VARCHAR", "source": "VARCHAR", "type": "VARCHAR", "timestamp": "VARCHAR"},
    "subject": {"content": {"outcome": "VARCHAR", "severity": "VARCHAR"}},
    "object_kind": "VARCHAR", "event_type": "VARCHAR", "reason": "VARCHAR",
    "event": {"id": "VARCHAR", "event_type": "VARCHAR"},
})
# json_transform needs its structure as a constant, so it is inlined (our literal, never user input).
_CLASSIFY_SQL = (
    resources.files("pipelines").joinpath("sql/classify.sql").read_text()
    .replace("$envelope", "'" + ENVELOPE_STRUCTURE.replace("'", "''") + "'")
)

_READ_LINES = (
    "create or replace temp table _lines as "
    "select line, doc, case when doc is null and trim(text) <> '' then text end as bad from ("
    "  select line, text, try_cast(text as json) as doc from ("
    "    select row_number() over () as line, text "
    "    from read_csv(?, columns = {'text': 'VARCHAR'}, header = false, delim = chr(1), quote = '', "
    "    escape = '', auto_detect = false, strict_mode = false, max_line_size = ?)))"
)


def _stage_lines(conn: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Fill temp table ``_lines(line, doc, bad)``; return a file-level quarantine reason, if any.

    ``doc`` is the parsed JSON of a line, ``bad`` the text of a non-empty line that is not JSON.
    """
    name = str(path)
    if _first_char(path) == "[":
        try:
            conn.execute(
                "create or replace temp table _lines as "
                "select row_number() over () as line, json as doc, null::varchar as bad "
                "from read_json_objects(?, format = 'array', maximum_object_size = ?)",
                [name, MAX_DOCUMENT_BYTES],
            )
            return None
        except duckdb.Error as exc:
            return f"file is not a valid JSON array (batch mode): {_short(exc)}"
    conn.execute(_READ_LINES, [name, MAX_LINE_BYTES])
    if conn.execute("select count(*) > 0 from _lines where line = 1 and bad is not null").fetchone()[0]:
        # Not NDJSON: maybe pretty-printed JSON document(s). If that fails too, keep the lines
        # and let each bad one be quarantined on its own.
        try:
            conn.execute(
                "create or replace temp table _docs as "
                "select row_number() over () as line, json as doc, null::varchar as bad "
                "from read_json_objects(?, format = 'unstructured', maximum_object_size = ?)",
                [name, MAX_DOCUMENT_BYTES],
            )
            conn.execute("create or replace temp table _lines as select * from _docs")
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


def _quarantine_bad_json(conn: duckdb.DuckDBPyConnection, file: str, load_id: str, now: datetime) -> int:
    bad = conn.execute("select line, bad from _lines where bad is not null order by line").fetchall()
    if bad:
        conn.executemany(
            "insert into raw.quarantine values (?, ?, null, ?, ?, ?, ?)",
            [(file, line, _json_error(text), text, load_id, now) for line, text in bad],
        )
    return len(bad)


def _validate_cdevents(conn: duckdb.DuckDBPyConnection, strict: bool) -> str:
    """Validate the new CDEvents against the bundled schemas into ``_validation``; return the join key.

    Invalid events are kept, never dropped. Default: one representative per distinct shape (type,
    JSON structure, enum-valued fields) is checked for structural errors, which apply to every event
    of that shape — a handful of Python calls per file instead of one per event. ``strict``
    validates every event fully, value-level checks included (slower; for audits).
    """
    registry = default_registry()
    conn.execute("create or replace temp table _validation (k varchar, errors varchar[], schema_version varchar)")
    if strict:
        sql = ("select c.event_key, c.cdevent::varchar from _candidates c "
               "join _keep k on k.line = c.line and k.element = coalesce(c.element, 0) where c.cdevent is not null")
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


def load_file(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    forced_source: str | None = None,
    strict: bool = False,
) -> FileResult:
    """Load one file; idempotent through the ledger and the event keys."""
    if forced_source is not None and forced_source not in KNOWN_SOURCES:
        raise InputError(f"unknown --source {forced_source!r}; choose one of: {', '.join(KNOWN_SOURCES)}")
    file = str(path)
    try:
        sha = file_sha256(path)
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    # Keyed on content *and* --source: re-loading a quarantined file with --source is the remedy.
    seen = conn.execute(
        "select file from raw.loaded_files where sha256 = ? and forced_source is not distinct from ? limit 1",
        [sha, forced_source],
    ).fetchone()
    if seen:
        return FileResult(file, "skipped", note=f"already loaded (same content as {seen[0]})")

    load_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    try:
        # Staging into temp tables happens outside the transaction: a reader error there (a
        # malformed array) must not abort it; it becomes a quarantine row instead.
        file_reason = _stage_lines(conn, path)
        conn.execute("begin transaction")
        if file_reason:
            conn.execute(
                "insert into raw.quarantine values (?, null, null, ?, ?, ?, ?)",
                [file, file_reason, _read_text(path)[: 10 * 1024 * 1024], load_id, now],
            )
            result = FileResult(file, "loaded", records=1, quarantined=1, note=file_reason)
        else:
            result = _load_lines(conn, file, load_id, now, forced_source, strict)
        conn.execute(
            "insert into raw.loaded_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [file, sha, size, forced_source, load_id, now, result.records, result.accepted, result.duplicates, result.quarantined],
        )
        conn.execute("commit")
    except Exception:
        try:
            conn.execute("rollback")
        except duckdb.Error:
            pass  # the failure came before `begin`: nothing to roll back
        raise
    finally:
        for table in ("_lines", "_candidates", "_keep", "_validation"):
            conn.execute(f"drop table if exists {table}")
    return result


def _load_lines(
    conn: duckdb.DuckDBPyConnection, file: str, load_id: str, now: datetime, forced_source: str | None, strict: bool
) -> FileResult:
    bad_json = _quarantine_bad_json(conn, file, load_id, now)
    conn.execute(_CLASSIFY_SQL, {"forced_source": forced_source, "loaded_at": now})
    rejected = conn.execute(
        "insert into raw.quarantine select ?, line, element, reason, payload::varchar, ?, ? "
        "from _candidates where reason is not null",
        [file, load_id, now],
    ).fetchone()[0]
    candidates = conn.execute("select count(*) from _candidates").fetchone()[0]
    # New events: first occurrence in the file of a key not yet stored (small columns only).
    conn.execute(
        "create or replace temp table _keep as select line, coalesce(element, 0) as element from _candidates c "
        "where c.reason is null and not exists (select 1 from raw.events r where r.event_key = c.event_key) "
        "qualify row_number() over (partition by c.event_key order by c.line, c.element) = 1"
    )
    key = _validate_cdevents(conn, strict)
    accepted = conn.execute(
        "insert into raw.events select c.event_key, c.key_basis, c.event_id, c.event_source, c.event_type, "
        "c.event_format, c.transport, c.source_tool, c.spec_version, c.occurred_at, c.received_at, c.headers, "
        "c.payload, list_concat(c.envelope_errors, coalesce(v.errors, []::varchar[])), v.schema_version, "
        "?, c.line, c.element, ?, ? "
        "from _candidates c join _keep k on k.line = c.line and k.element = coalesce(c.element, 0) "
        f"left join _validation v on v.k = {key}",
        [file, load_id, now],
    ).fetchone()[0]
    return FileResult(
        file,
        "loaded",
        records=candidates + bad_json,
        accepted=accepted,
        duplicates=candidates - rejected - accepted,
        quarantined=rejected + bad_json,
    )


def load_files(
    conn: duckdb.DuckDBPyConnection,
    files: Iterable[Path],
    forced_source: str | None = None,
    strict: bool = False,
    on_file: Callable[[Path, FileResult], None] | None = None,
) -> LoadResult:
    """Load files one by one (each in its own transaction: a crash loses at most the file in flight)."""
    result = LoadResult()
    for path in files:
        outcome = load_file(conn, path, forced_source=forced_source, strict=strict)
        result.files.append(outcome)
        if on_file:
            on_file(path, outcome)
    return result
