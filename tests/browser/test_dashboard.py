"""The dashboard in a real browser: it starts, reads the published snapshot, and shows what was loaded."""

from __future__ import annotations

import pytest

from pipelines import serve_processes, tasks
from tests.conftest import CONFORMANCE
from tests.process_helpers import CHROMIUM_ARGS, chromium_path, free_port, wait_for_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def dashboard_url(paths):
    tasks.ingest(paths, [CONFORMANCE])
    tasks.build(paths)
    port = free_port()
    proc = serve_processes.start_dashboard(paths, port=port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", expect="ok", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        serve_processes.stop([proc])


def test_overview_shows_the_loaded_events(dashboard_url, tmp_path):
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(dashboard_url, wait_until="domcontentloaded")
            page.get_by_text("Lifecycle analytics").first.wait_for(timeout=60_000)
            events_metric = page.locator('[data-testid="stMetric"]').filter(has_text="Events")
            events_metric.first.wait_for(timeout=60_000)
            assert "90" in events_metric.first.inner_text()
            page.get_by_text("Events per stage and tool").wait_for(timeout=30_000)
            page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(timeout=60_000)
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
            assert page.get_by_text("Download CSV").count() == 1
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
            assert (tmp_path / "overview.png").stat().st_size > 10_000
        finally:
            browser.close()
