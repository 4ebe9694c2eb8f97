"""Shared test helpers: a throw-away warehouse per test and small file writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import loader, warehouse
from pipelines.config import Paths, resolve_paths

FIXTURES = Path(__file__).parent / "fixtures"
CONFORMANCE = FIXTURES / "cdevents-spec"


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A fresh warehouse, snapshot and landing zone under tmp_path; env points there too."""
    resolved = resolve_paths(tmp_path / "data" / "warehouse.duckdb")
    monkeypatch.setenv("LIFECYCLE_WAREHOUSE", str(resolved.warehouse))
    monkeypatch.setenv("LIFECYCLE_SERVING", str(resolved.serving))
    monkeypatch.setenv("LIFECYCLE_LANDING", str(resolved.landing))
    return resolved


def load(paths: Paths, *files: Path, source: str | None = None, strict: bool = False) -> loader.LoadResult:
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        return loader.load_files(conn, [Path(f) for f in files], forced_source=source, strict=strict)


def query(paths: Paths, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.warehouse_lock(paths), warehouse.writer(paths) as conn:
        return conn.execute(sql, params or []).fetchall()


def write_lines(path: Path, lines: list[object]) -> Path:
    """Write NDJSON: dicts are dumped, strings written verbatim (to craft broken lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def cloudevent(i: int = 1, **overrides) -> dict:
    """A minimal valid structured CloudEvent carrying a v0.5.1 service.deployed CDEvent."""
    event_id = f"evt-{i}"
    cdevent = {
        "context": {
            "specversion": "0.5.1", "id": event_id, "source": "/argocd/prod-eu",
            "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": "2026-07-01T10:00:00+02:00",
        },
        "subject": {
            "id": "fund-transfer", "source": "/argocd/prod-eu",
            "content": {"environment": {"id": "prod-eu"}, "artifactId": "pkg:oci/fund-transfer@sha256%3A" + "a" * 64},
        },
    }
    event = {
        "specversion": "1.0", "id": event_id, "source": "/argocd/prod-eu",
        "type": "dev.cdevents.service.deployed.0.3.0", "time": "2026-07-01T10:00:00+02:00",
        "datacontenttype": "application/json", "data": cdevent,
    }
    event.update(overrides)
    return event
