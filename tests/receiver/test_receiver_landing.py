"""The durable appender: group commit, rotation, crash recovery, failed writes."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

import pytest

from pipelines import loader
from pipelines.receiver import landing
from pipelines.receiver.landing import LandingUnavailable, LandingWriter, captured_line, recover


def line(i: int, pad: int = 0) -> bytes:
    return captured_line({"x-n": str(i)}, {"n": i, "pad": "x" * pad}, "2026-07-01T10:00:00.000000Z")


def files(root: Path, suffix: str) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.name.endswith(suffix))


def read_numbers(root: Path) -> list[int]:
    return [json.loads(raw)["body"]["n"] for p in sorted(root.rglob("*.ndjson*")) for raw in p.read_bytes().splitlines()]


def wait_until(condition, seconds: float = 5.0) -> bool:
    """Rotation happens on the writer thread just after the waiters are released: poll for it."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        threading.Event().wait(0.02)
    return condition()


class FakeClock:
    def __init__(self, now: float = 1_782_900_000.0):  # 2026-07-01
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_lines_are_durable_when_append_returns_and_closed_at_shutdown(tmp_path):
    writer = LandingWriter(tmp_path)
    writer.start()
    for i in range(3):
        writer.append_sync(line(i))
    (open_file,) = files(tmp_path, ".ndjson.open")
    assert open_file.parent.name.startswith("date=")
    assert open_file.name.startswith(f"{landing._safe_host()}-{os.getpid()}-")
    assert read_numbers(tmp_path) == [0, 1, 2]
    assert loader.discover([tmp_path]) == []  # the loader never sees a file being written
    writer.close()
    assert files(tmp_path, ".open") == [] and len(files(tmp_path, ".ndjson")) == 1
    assert len(loader.discover([tmp_path])) == 1


def test_concurrent_appends_share_fsyncs(tmp_path, monkeypatch):
    syncs = []
    real = landing._fdatasync
    monkeypatch.setattr(landing, "_fdatasync", lambda fd: (syncs.append(fd), real(fd)))
    writer = LandingWriter(tmp_path)
    writer.start()
    threads = [threading.Thread(target=lambda k=k: [writer.append_sync(line(k * 100 + j)) for j in range(25)])
               for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert sorted(read_numbers(tmp_path)) == sorted(k * 100 + j for k in range(8) for j in range(25))
    assert writer.stats.lines == 200
    assert writer.stats.commits < 200 and len(syncs) < 200  # group commit: fewer fsyncs than requests


def test_rotation_by_size_age_and_date(tmp_path):
    clock = FakeClock()
    writer = LandingWriter(tmp_path, rotate_bytes=500, rotate_seconds=60, clock=clock)
    writer.start()
    writer.append_sync(line(1, pad=600))  # over the size: closed right after the commit
    assert wait_until(lambda: len(files(tmp_path, ".ndjson")) == 1 and files(tmp_path, ".open") == [])
    writer.append_sync(line(2))
    clock.now += 61
    writer.append_sync(line(3))  # the age check runs before writing too
    assert wait_until(lambda: len(files(tmp_path, ".ndjson")) >= 2)
    clock.now += 86400
    writer.append_sync(line(4))
    writer.close()
    dates = sorted({p.parent.name for p in files(tmp_path, ".ndjson")})
    assert dates == ["date=2026-07-01", "date=2026-07-02"]
    assert sorted(read_numbers(tmp_path)) == [1, 2, 3, 4]


def test_idle_open_file_is_rotated_by_age_without_new_requests(tmp_path):
    writer = LandingWriter(tmp_path, rotate_seconds=0.2)
    writer.start()
    writer.append_sync(line(1))
    assert wait_until(lambda: files(tmp_path, ".ndjson") and not files(tmp_path, ".open"))
    assert writer.unpublished_age() == 0
    writer.close()


def test_recovery_truncates_torn_lines_and_closes_dead_writers_files(tmp_path):
    day = tmp_path / "date=2026-07-01"
    day.mkdir(parents=True)
    torn = day / "host-1-000001.ndjson.open"
    torn.write_bytes(line(1) + line(2) + b'{"headers":{"x":"y"},"bo')
    only_torn = day / "host-1-000002.ndjson.open"
    only_torn.write_bytes(b'{"headers"')
    clean = day / "host-1-000003.ndjson.open"
    clean.write_bytes(line(3))
    (day / "host-1-000003.ndjson").write_bytes(line(99))  # a name already taken: recovery must not overwrite it
    live = day / "host-2-000001.ndjson.open"
    live.write_bytes(line(4) + b"{")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live writer holds its file
    try:
        recovered = recover(tmp_path)
    finally:
        os.close(fd)
    assert {r.path.name for r in recovered} == {"host-1-000001.ndjson", "host-1-000002.ndjson.open",
                                                "host-1-000003.1.ndjson"}
    assert (day / "host-1-000001.ndjson").read_bytes() == line(1) + line(2)
    assert not only_torn.exists()
    assert (day / "host-1-000003.ndjson").read_bytes() == line(99)
    assert (day / "host-1-000003.1.ndjson").read_bytes() == line(3)
    assert live.exists()  # untouched: its writer is alive
    # the writer's own start-up does the same
    writer = LandingWriter(tmp_path)
    assert [r.path.name for r in writer.start()] == ["host-2-000001.ndjson"]
    writer.close()
    assert (day / "host-2-000001.ndjson").read_bytes() == line(4)


def test_a_new_writer_never_reuses_a_closed_file_name(tmp_path, monkeypatch):
    clock = FakeClock()
    day = tmp_path / "date=2026-07-01"
    day.mkdir(parents=True)
    taken = day / f"{landing._safe_host()}-{os.getpid()}-000001.ndjson"
    taken.write_bytes(line(0))
    writer = LandingWriter(tmp_path, clock=clock)
    writer.start()
    writer.append_sync(line(1))
    writer.close()
    assert taken.read_bytes() == line(0)
    assert sorted(read_numbers(tmp_path)) == [0, 1]


def test_failed_write_is_cut_back_and_an_unrecoverable_file_is_abandoned_then_recovered(tmp_path, monkeypatch):
    writer = LandingWriter(tmp_path)
    writer.start()
    writer.append_sync(line(1))
    real_write, real_truncate = landing.os.write, landing.os.ftruncate

    def torn_write(fd, data):
        real_write(fd, bytes(data[:10]))
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(landing.os, "write", torn_write)
    monkeypatch.setattr(landing.os, "ftruncate", lambda fd, n: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(LandingUnavailable, match="cannot write"):
        writer.append_sync(line(2))
    assert writer.status()["ready"] is False
    monkeypatch.setattr(landing.os, "write", real_write)
    monkeypatch.setattr(landing.os, "ftruncate", real_truncate)
    writer.append_sync(line(3))  # a new file; the abandoned one is recovered first (torn tail cut)
    assert writer.status()["ready"] is True
    writer.close()
    assert sorted(read_numbers(tmp_path)) == [1, 3]
    assert files(tmp_path, ".open") == []


def test_backpressure_when_too_much_is_queued(tmp_path):
    writer = LandingWriter(tmp_path, max_pending_bytes=1)
    gate = threading.Event()
    real_commit = writer._commit
    writer._commit = lambda batch, size: (gate.wait(5), real_commit(batch, size))
    writer.start()
    first = threading.Thread(target=writer.append_sync, args=(line(1),))
    first.start()
    threading.Event().wait(0.1)
    with pytest.raises(LandingUnavailable, match="too many"):
        writer.append_sync(line(2))
    gate.set()
    first.join()
    writer.close()
    assert read_numbers(tmp_path) == [1]


def test_lines_must_be_single_lines(tmp_path):
    writer = LandingWriter(tmp_path)
    with pytest.raises(ValueError):
        writer.submit(b'{"a":1}\n{"b":2}\n', lambda exc: None)
    assert b"\n" not in captured_line({"h": "a\nb"}, {"s": "x\ny\u2028"}, "t")[:-1]
