"""The durable appender: captured requests → date-partitioned NDJSON files, fsync'd before the answer.

Layout: ``<landing>/receiver/date=YYYY-MM-DD/<host>-<pid>-<seq>.ndjson.open`` while a file is being written,
renamed to ``….ndjson`` when it is rotated (by size, by age, at the UTC date change) or at shutdown.
The loader and the Dagster sensor skip ``*.open`` files, so they only ever read closed, complete files.

**Group commit.** One writer thread owns the file. Request handlers hand it a line and wait; the thread
takes every line queued so far, writes them with one ``write`` and one ``fdatasync``, then releases all
their waiters at once. Under load, requests that arrive while an fsync is running share the next one.

**Crash safety.** A request is acknowledged only after its line is on disk. The writer holds an exclusive
``flock`` on its open file; at start-up, ``.open`` files whose lock can be taken belong to a dead writer:
a torn last line (no newline — never acknowledged) is truncated, and the file is closed (renamed). A
failed write is truncated back to the last complete line; if that fails too the file is abandoned and a
new one started, so an acknowledged line is never glued to a torn one.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("lifecycle.receiver")

OPEN_SUFFIX = ".ndjson.open"
CLOSED_SUFFIX = ".ndjson"
MAX_GROUP_BYTES = 8 * 1024 * 1024  # one commit writes at most this much (plus one request)


class LandingUnavailable(Exception):
    """The landing zone cannot take this request now (disk full, unwritable, overloaded): answer 503."""

    def __init__(self, reason: str, retry_after: int = 5):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class UnstorableBody(ValueError):
    """A parsed body that cannot be written as UTF-8 JSON (an unpaired surrogate, nesting too deep)."""


def captured_line(headers: dict[str, str], body: Any, received_at: str) -> bytes:
    """One captured request as an NDJSON line (compact UTF-8; json escapes every newline in values)."""
    record = {"headers": headers, "body": body, "received_at": received_at}
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        raise UnstorableBody("the body is not valid JSON: it holds an unpaired UTF-16 surrogate escape") from None
    except RecursionError:
        raise UnstorableBody("the body is not valid JSON: nested too deeply") from None


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _safe_host() -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname()) or "host"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fdatasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def truncate_torn_tail(fd: int) -> int:
    """Cut everything after the last newline (a torn, never-acknowledged line); return the new size."""
    size = os.fstat(fd).st_size
    pos = size
    chunk = 64 * 1024
    while pos > 0:
        start = max(0, pos - chunk)
        data = os.pread(fd, pos - start, start)
        newline = data.rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
        pos = start
    else:
        keep = 0
    if keep != size:
        os.ftruncate(fd, keep)
        _fdatasync(fd)
    return keep


@dataclass
class RecoveredFile:
    path: Path  # the closed file (None-like empty path when an empty file was removed)
    kept_bytes: int
    torn_bytes: int
    removed: bool = False


def recover(root: Path) -> list[RecoveredFile]:
    """Close the ``.open`` files that dead writers left under ``root`` (live writers hold a lock: skipped)."""
    results: list[RecoveredFile] = []
    if not root.is_dir():
        return results
    for path in sorted(root.rglob("*" + OPEN_SUFFIX)):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("cannot open %s for recovery: %s", path, exc.strerror)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer (this or another process) owns it
            size = os.fstat(fd).st_size
            kept = truncate_torn_tail(fd)
            if kept == 0:
                path.unlink()
                results.append(RecoveredFile(path, 0, size, removed=True))
            else:
                target = _unique_closed_name(path)
                os.rename(path, target)
                results.append(RecoveredFile(target, kept, size - kept))
            fsync_dir(path.parent)
        except OSError as exc:
            log.warning("cannot recover %s: %s", path, exc.strerror)
        finally:
            os.close(fd)
    for item in results:
        log.info(json.dumps({"event": "recovered", "file": str(item.path), "kept_bytes": item.kept_bytes,
                             "torn_bytes": item.torn_bytes, "removed": item.removed}))
    return results


def _unique_closed_name(open_path: Path) -> Path:
    base = open_path.name[: -len(OPEN_SUFFIX)]
    target = open_path.with_name(base + CLOSED_SUFFIX)
    n = 1
    while target.exists():
        target = open_path.with_name(f"{base}.{n}{CLOSED_SUFFIX}")
        n += 1
    return target


@dataclass
class WriterStats:
    commits: int = 0
    lines: int = 0
    bytes: int = 0
    files_closed: int = 0
    write_errors: int = 0
    last_error: str = ""
    recovered: int = 0
    torn_bytes_truncated: int = 0


@dataclass
class _Item:
    line: bytes
    done: Callable[[BaseException | None], None]


class _Stop:
    pass


class LandingWriter:
    """Append captured requests to the landing zone, durably, with group commit and rotation."""

    def __init__(
        self,
        root: Path,
        rotate_bytes: int = 16 * 1024 * 1024,
        rotate_seconds: float = 60.0,
        min_free_bytes: int = 64 * 1024 * 1024,
        max_pending_bytes: int = 64 * 1024 * 1024,
        retry_after: int = 5,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[int, int, float], None] | None = None,
    ):
        self.root = Path(root)
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.min_free_bytes = min_free_bytes
        self.max_pending_bytes = max_pending_bytes
        self.retry_after = retry_after
        self.clock = clock
        self.on_commit = on_commit  # (requests, bytes, seconds) after each durable commit: metrics
        self.stats = WriterStats()
        self._host = _safe_host()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False
        # state owned by the writer thread
        self._fd: int | None = None
        self._path: Path | None = None
        self._date: str | None = None
        self._opened_at = 0.0
        self._first_line_at: float | None = None
        self._size = 0
        self._seq = 0
        self._free_checked_at = 0.0
        self._free_bytes: int | None = None
        self._unwritable: str | None = None
        self._last_start = 0.0
        self._write_failing: str | None = None  # the last commit failed (cleared by the next success)
        self._needs_recovery = False

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> list[RecoveredFile]:
        """Recover files left by dead writers, then start the writer thread (idempotent)."""
        recovered: list[RecoveredFile] = []
        self._last_start = time.monotonic()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            recovered = self._recover()
            self._unwritable = None
        except OSError as exc:
            self._unwritable = f"landing zone {self.root} is not writable: {exc.strerror or exc}"
            log.error(json.dumps({"event": "landing_unwritable", "error": self._unwritable}))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run, name="landing-writer", daemon=True)
                self._thread.start()
        return recovered

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._closing

    def ensure_started(self) -> None:
        """Start on first use when no lifespan did (never restarts a writer that is shutting down)."""
        if not self._closing and not self.running:
            self.start()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, close (rename) the open file and stop the thread."""
        with self._lock:
            thread = self._thread
            self._closing = True
        if thread is None:
            return
        self._queue.put(_Stop())
        thread.join(timeout)
        with self._lock:
            self._thread = None

    # -- submitting ----------------------------------------------------------------------------------------

    def submit(self, line: bytes, done: Callable[[BaseException | None], None]) -> None:
        """Queue a line; ``done(None)`` runs (on the writer thread) once it is durable, ``done(exc)`` if not.

        Raises ``LandingUnavailable`` at once when the landing zone cannot take it (nothing is queued).
        """
        if not line.endswith(b"\n") or b"\n" in line[:-1]:
            raise ValueError("a landing line must be exactly one line ending in a newline")
        if self._closing:
            raise LandingUnavailable("the receiver is shutting down", self.retry_after)
        if self._unwritable:
            if time.monotonic() - self._last_start > 1.0:
                self.start()  # maybe fixed since: retry (at most once a second) before refusing
            if self._unwritable:
                raise LandingUnavailable(self._unwritable, self.retry_after)
        free = self.free_bytes()
        if free is not None and free - len(line) < self.min_free_bytes:
            raise LandingUnavailable(f"the landing zone's disk is full ({free} bytes free, "
                                     f"{self.min_free_bytes} kept in reserve)", self.retry_after)
        with self._lock:
            if self._pending_bytes and self._pending_bytes + len(line) > self.max_pending_bytes:
                raise LandingUnavailable("too many requests waiting for the disk; retry later", 1)
            self._pending_bytes += len(line)
            if self._thread is None or not self._thread.is_alive():
                self._pending_bytes -= len(line)
                raise LandingUnavailable("the landing writer is not running", self.retry_after)
        self._queue.put(_Item(line, done))

    async def append(self, line: bytes) -> None:
        """Append one line and return once it is durable (raises ``LandingUnavailable`` otherwise)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(exc: BaseException | None) -> None:
            def settle() -> None:
                if future.done():
                    return
                if exc is None:
                    future.set_result(None)
                else:
                    future.set_exception(exc)
            loop.call_soon_threadsafe(settle)

        self.submit(line, done)
        await asyncio.shield(future)  # a cancelled request still lets its line finish committing

    def append_sync(self, line: bytes, timeout: float = 30.0) -> None:
        future: Future = Future()
        self.submit(line, lambda exc: future.set_exception(exc) if exc else future.set_result(None))
        future.result(timeout)

    # -- status ------------------------------------------------------------------------------------------

    def free_bytes(self) -> int | None:
        now = time.monotonic()
        if self._free_bytes is None or now - self._free_checked_at > 1.0:
            try:
                st = os.statvfs(self.root if self.root.exists() else self.root.parent)
                self._free_bytes = st.f_bavail * st.f_frsize
            except OSError:
                self._free_bytes = None
            self._free_checked_at = now
        return self._free_bytes

    def status(self) -> dict:
        free = self.free_bytes()
        problems = []
        if self._unwritable:
            problems.append(self._unwritable)
        if self._write_failing:
            problems.append(self._write_failing)
        if free is not None and free < self.min_free_bytes:
            problems.append(f"disk full: {free} bytes free, {self.min_free_bytes} kept in reserve")
        if self._thread is None or not self._thread.is_alive():
            problems.append("the landing writer is not running")
        if self._pending_bytes > self.max_pending_bytes:
            problems.append("too many requests waiting for the disk")
        return {
            "ready": not problems,
            "problems": problems,
            "landing": str(self.root),
            "free_bytes": free,
            "open_file": str(self._path) if self._path else None,
            "open_file_bytes": self._size,
            "pending_bytes": self._pending_bytes,
        }

    def unpublished_age(self) -> float:
        """Seconds since the oldest acknowledged line still in an ``.open`` file was written (0: none)."""
        first = self._first_line_at
        return max(0.0, self.clock() - first) if first is not None else 0.0

    # -- the writer thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=self._wait_seconds())
            except queue.Empty:
                self._rotate_if_due()
                continue
            batch: list[_Item] = []
            size = 0
            while True:
                if isinstance(item, _Stop):
                    stop = True
                else:
                    batch.append(item)
                    size += len(item.line)
                if size >= MAX_GROUP_BYTES:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch, size)
            self._rotate_if_due()
        # drain what raced with the stop (refused: the answer is 503, the client retries)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Item):
                self._finish([item], LandingUnavailable("the receiver is shutting down", self.retry_after))
        self._close_file("shutdown")

    def _wait_seconds(self) -> float:
        if self._fd is None:
            return 1.0
        return min(1.0, max(0.01, self._opened_at + self.rotate_seconds - self.clock()))

    def _commit(self, batch: list[_Item], size: int) -> None:
        data = b"".join(item.line for item in batch)
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            self._rotate_if_due(date_only=True)
            if self._fd is None:
                self._open_file()
            assert self._fd is not None
            before = self._size
            try:
                view = memoryview(data)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
                _fdatasync(self._fd)
            except OSError:
                self._undo(before)
                raise
            self._size += len(data)
            if self._first_line_at is None:
                self._first_line_at = self.clock()
            self.stats.commits += 1
            self.stats.lines += len(batch)
            self.stats.bytes += len(data)
            self._write_failing = None
            if self.on_commit is not None:
                self.on_commit(len(batch), len(data), time.perf_counter() - started)
        except OSError as exc:
            self.stats.write_errors += 1
            self.stats.last_error = exc.strerror or str(exc)
            reason = f"cannot write to the landing zone: {exc.strerror or exc}"
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                reason = "the landing zone's disk is full"
            log.error(json.dumps({"event": "write_failed", "error": reason, "requests": len(batch)}))
            error = LandingUnavailable(reason, self.retry_after)
            self._write_failing = reason
        except Exception as exc:  # noqa: BLE001 - never leave a waiter hanging
            log.exception("landing writer failed")
            error = LandingUnavailable(f"the landing writer failed: {type(exc).__name__}", self.retry_after)
        finally:
            with self._lock:
                self._pending_bytes -= size
        self._finish(batch, error)
        if error is None and self._size >= self.rotate_bytes:
            self._close_file("size")

    def _finish(self, batch: list[_Item], error: BaseException | None) -> None:
        for item in batch:
            try:
                item.done(error)
            except Exception:  # noqa: BLE001 - a waiter's loop may be gone (client disconnected, loop closed)
                pass

    def _undo(self, good_size: int) -> None:
        """After a failed write/fsync: cut the file back to its last complete line, or abandon it."""
        try:
            os.ftruncate(self._fd, good_size)
            _fdatasync(self._fd)
        except OSError:
            # Left as .open with a torn tail: recovered (tail cut, then closed) before the next file opens.
            log.error(json.dumps({"event": "file_abandoned", "file": str(self._path)}))
            fd = self._fd
            self._fd, self._path, self._first_line_at, self._size = None, None, None, 0
            os.close(fd)
            self._needs_recovery = True
            return
        # An fsync error may have dropped earlier pages from the cache: do not trust this file further.
        self._close_file("error", fsync=False)

    def _rotate_if_due(self, date_only: bool = False) -> None:
        if self._fd is None:
            return
        if self._date != _utc_date(self.clock()):
            self._close_file("date")
        elif not date_only and self.clock() - self._opened_at >= self.rotate_seconds:
            self._close_file("age")

    def _recover(self) -> list[RecoveredFile]:
        recovered = recover(self.root)
        self.stats.recovered += sum(1 for r in recovered if not r.removed)
        self.stats.torn_bytes_truncated += sum(r.torn_bytes for r in recovered)
        self._needs_recovery = False
        return recovered

    def _open_file(self) -> None:
        if self._needs_recovery:
            self._recover()
        now = self.clock()
        date = _utc_date(now)
        directory = self.root / f"date={date}"
        directory.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        while True:
            self._seq += 1
            base = f"{self._host}-{pid}-{self._seq:06d}"
            path = directory / (base + OPEN_SUFFIX)
            if (directory / (base + CLOSED_SUFFIX)).exists():
                continue  # a previous process with the same pid (containers: pid 1) used this name
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
                break
            except FileExistsError:
                continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fsync_dir(directory)  # the new name is durable before any line in it is acknowledged
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd, self._path, self._date, self._opened_at, self._size = fd, path, date, now, 0
        self._first_line_at = None

    def _close_file(self, reason: str, fsync: bool = True) -> None:
        fd, path = self._fd, self._path
        if fd is None or path is None:
            return
        self._fd, self._path, self._first_line_at = None, None, None
        size = self._size
        self._size = 0
        try:
            if size == 0:
                path.unlink(missing_ok=True)
            else:
                if fsync:
                    _fdatasync(fd)
                target = _unique_closed_name(path)
                os.rename(path, target)
                fsync_dir(path.parent)
                self.stats.files_closed += 1
                log.info(json.dumps({"event": "rotated", "file": str(target), "bytes": size, "reason": reason}))
        except OSError as exc:
            # left as .open: the next start-up recovers it (its lock dies with this descriptor)
            log.error(json.dumps({"event": "close_failed", "file": str(path), "error": exc.strerror or str(exc)}))
        finally:
            os.close(fd)


def _utc_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
