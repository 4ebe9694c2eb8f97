"""AppTest helpers: the known world in a tmp warehouse, an app runner, and the CSV behind a download button."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from pipelines.config import Paths, resolve_paths
from tests.dashboard.world import build_flow_world, build_scan_world, build_world

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
PAGES = ("dora", "deployments", "lead_time", "journeys", "bottlenecks", "funnel", "inventory", "incidents",
         "health", "definitions")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """The hand-derived world of tests/dashboard/world.py, ingested and built once (tests only read it)."""
    root = tmp_path_factory.mktemp("world")
    paths = resolve_paths(root / "data" / "warehouse.duckdb")
    build_world(paths, root)
    return paths


@pytest.fixture(scope="session")
def flow_world(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """The funnel world of tests/dashboard/world.py (``build_flow_world``): environments of every tier."""
    root = tmp_path_factory.mktemp("flow_world")
    return build_flow_world(resolve_paths(root / "data" / "warehouse.duckdb"), root)


@pytest.fixture(scope="session")
def scan_world(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """The scanned artifacts of tests/dashboard/world.py (``build_scan_world``)."""
    root = tmp_path_factory.mktemp("scan_world")
    return build_scan_world(resolve_paths(root / "data" / "warehouse.duckdb"), root)


def flow_marts_missing(paths: Paths) -> bool:
    """Whether the flow-analytics models (built by another model set) are absent from this warehouse."""
    from pipelines import warehouse

    with warehouse.snapshot_reader(paths) as conn:
        return conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' "
            "and table_name in ('stage_durations', 'release_inventory', 'release_history')"
        ).fetchone()[0] < 3


def point_at(monkeypatch: pytest.MonkeyPatch, paths: Paths) -> None:
    monkeypatch.setenv("LIFECYCLE_WAREHOUSE", str(paths.warehouse))
    monkeypatch.setenv("LIFECYCLE_SERVING", str(paths.serving))
    monkeypatch.setenv("LIFECYCLE_LANDING", str(paths.landing))


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes | Callable[[], bytes]]:
    """Every file the app hands to Streamlit's media storage (download buttons' data), by file id; a deferred
    download (``data`` given as a callable, run when clicked) by its placeholder id, as that callable."""
    files: dict[str, bytes | Callable[[], bytes]] = {}
    original = MemoryMediaFileStorage.load_and_get_id
    original_deferred = MediaFileManager.add_deferred

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        files[file_id] = self._files_by_id[file_id].content
        return file_id

    def deferring(self, data_callable, *args, **kwargs):
        file_id = original_deferred(self, data_callable, *args, **kwargs)
        files[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    monkeypatch.setattr(MediaFileManager, "add_deferred", deferring)
    return files


class Dashboard:
    """One simulated browser session on the app."""

    def __init__(self, media: dict[str, bytes | Callable[[], bytes]], query: dict | None = None) -> None:
        self.media = media
        self.at = AppTest.from_file(str(APP), default_timeout=60)
        if query:
            self.at.query_params.update(query)
        self.at.run()
        self.check()

    def check(self) -> None:
        assert not self.at.exception, [e.value for e in self.at.exception]

    def open(self, page: str) -> Dashboard:
        self.at.switch_page(f"views/{page}.py").run()
        self.check()
        return self

    def run(self) -> Dashboard:
        self.at.run()
        self.check()
        return self

    def set(self, key: str, value) -> Dashboard:
        """Set a widget by key (sidebar filters: f_dates, f_team, f_app, f_service, f_environment) and rerun."""
        for finder in (self.at.multiselect, self.at.date_input, self.at.selectbox, self.at.text_input,
                       self.at.segmented_control):
            try:
                finder(key=key).set_value(value)
                break
            except KeyError:
                continue
        else:
            raise KeyError(key)
        return self.run()

    def metric(self, label: str) -> str:
        found = [m for m in self.at.metric if m.label == label]
        assert found, f"no metric {label!r} in {[m.label for m in self.at.metric]}"
        return found[0].value

    def metric_delta(self, label: str) -> str:
        return [m for m in self.at.metric if m.label == label][0].proto.delta

    def text(self) -> str:
        """All markdown, captions, infos and titles on the page, for 'says so' checks."""
        parts = [m.value for m in self.at.markdown] + [c.value for c in self.at.caption]
        parts += [i.value for i in self.at.info] + [t.value for t in self.at.title]
        parts += [s.value for s in self.at.success]
        return "\n".join(parts)

    def csv(self, filename: str) -> pl.DataFrame:
        """The CSV a download button (ui.download keys them ``download-<filename>``) would give."""
        return pl.read_csv(io.BytesIO(self.csv_bytes(filename)), try_parse_dates=False)

    def csv_bytes(self, filename: str) -> bytes:
        button = self.at.download_button(key=f"download-{filename}")
        if button.proto.deferred_file_id:  # built when clicked: run its callable, as a click does
            data = self.media[button.proto.deferred_file_id]()
            return data.encode() if isinstance(data, str) else data
        file_id = os.path.splitext(button.proto.url.rsplit("/", 1)[-1])[0]
        return self.media[file_id]


@pytest.fixture
def dashboard(world: Paths, media, monkeypatch) -> Callable[..., Dashboard]:
    point_at(monkeypatch, world)

    def make(page: str | None = None, query: dict | None = None) -> Dashboard:
        d = Dashboard(media, query)
        return d.open(page) if page else d

    return make
