"""One writer, atomic snapshots, and readers that never see a half-built warehouse."""

from __future__ import annotations

import os
import threading

import duckdb
import pytest

from pipelines import modeling, tasks, warehouse
from tests.conftest import cloudevent, write_lines


def test_a_second_writer_waits_then_fails_with_an_actionable_message(paths):
    with warehouse.warehouse_lock(paths):
        with pytest.raises(warehouse.WarehouseBusy, match="another writer"):
            with warehouse.warehouse_lock(paths, timeout=0.2):
                pass
    with warehouse.warehouse_lock(paths, timeout=0.2):  # released: free again
        pass


def test_the_lock_serialises_writers_across_threads(paths):
    order: list[str] = []

    def writer(name: str) -> None:
        with warehouse.warehouse_lock(paths, timeout=10):
            order.append(f"{name}-in")
            order.append(f"{name}-out")

    threads = [threading.Thread(target=writer, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])


def test_snapshot_is_read_only_and_missing_snapshot_says_what_to_do(paths, tmp_path):
    with pytest.raises(warehouse.NoSnapshot, match="lifecycle build"):
        with warehouse.snapshot_reader(paths):
            pass
    tasks.ingest(paths, [write_lines(tmp_path / "a.ndjson", [cloudevent(1)])])
    tasks.build(paths)
    with warehouse.snapshot_reader(paths) as conn:
        assert conn.execute("select count(*) from marts.lifecycle_events").fetchone()[0] == 1
        with pytest.raises(duckdb.Error, match="read-only"):
            conn.execute("delete from raw.events")


def test_a_reader_holding_the_old_snapshot_keeps_it_while_a_new_one_is_published(paths, tmp_path):
    tasks.ingest(paths, [write_lines(tmp_path / "a.ndjson", [cloudevent(1)])])
    tasks.build(paths)
    with warehouse.snapshot_reader(paths) as old:
        tasks.ingest(paths, [write_lines(tmp_path / "b.ndjson", [cloudevent(2)])])
        tasks.build(paths)  # publishes while `old` is open: must neither block nor break it
        assert old.execute("select count(*) from marts.lifecycle_events").fetchone()[0] == 1
    with warehouse.snapshot_reader(paths) as new:
        assert new.execute("select count(*) from marts.lifecycle_events").fetchone()[0] == 2
    assert not list(paths.serving.parent.glob(".*.tmp"))


def test_a_failing_model_rolls_back_and_publishes_nothing(paths, tmp_path, monkeypatch):
    tasks.ingest(paths, [write_lines(tmp_path / "a.ndjson", [cloudevent(1)])])
    tasks.build(paths)
    before = paths.serving.stat().st_mtime_ns
    tasks.ingest(paths, [write_lines(tmp_path / "b.ndjson", [cloudevent(2)])])

    def broken(conn, model, full_refresh):
        if model.layer == "marts":
            raise duckdb.BinderException("boom")
        return original(conn, model, full_refresh)

    original = modeling._run
    monkeypatch.setattr(modeling, "_run", broken)
    with pytest.raises(duckdb.Error, match="boom"):
        tasks.build(paths)
    assert paths.serving.stat().st_mtime_ns == before
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        assert conn.execute("select count(*) from marts.lifecycle_events").fetchone()[0] == 1


def test_every_connection_gets_the_configured_memory_limit(monkeypatch, tmp_path):
    """LIFECYCLE_MEMORY_LIMIT bounds DuckDB (it spills beyond it); a malformed value is a clear error."""
    from pipelines import config

    monkeypatch.setenv("LIFECYCLE_MEMORY_LIMIT", "1GiB")
    conn = warehouse.connect(tmp_path / "w.duckdb")
    assert conn.execute("select current_setting('memory_limit')").fetchone()[0] == "1.0 GiB"
    monkeypatch.delenv("LIFECYCLE_MEMORY_LIMIT")
    assert config.memory_limit() == config.DEFAULT_MEMORY_LIMIT == "3GB"
    monkeypatch.setenv("LIFECYCLE_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="LIFECYCLE_MEMORY_LIMIT='lots': expected a size"):
        warehouse.connect(tmp_path / "w.duckdb")


def test_publishing_clones_where_the_filesystem_can_and_copies_where_it_cannot(tmp_path, monkeypatch):
    import fcntl

    source = tmp_path / "warehouse.duckdb"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    how = warehouse.clone_or_copy(source, tmp_path / "a")  # "clone" on XFS/Btrfs, "copy" on ext4 or tmpfs
    assert how in ("clone", "copy") and (tmp_path / "a").read_bytes() == source.read_bytes()

    def refuse(*_):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(fcntl, "ioctl", refuse)
    assert warehouse.clone_or_copy(source, tmp_path / "b") == "copy"
    assert (tmp_path / "b").read_bytes() == source.read_bytes()
