"""The dashboard in a real browser: served headless on the committed sample, every page opened in Debian's
Chromium, no Streamlit exception box anywhere, a screenshot of each page kept as a test artifact.

Screenshots go to the pytest tmp dir (``…/pytest-of-$USER/pytest-current/dashboard-screenshots*/``); set
``LIFECYCLE_README_SCREENSHOT=1`` to also refresh the README's ``docs/img/overview.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from pipelines import serve_processes, tasks
from pipelines.config import resolve_paths
from tests.process_helpers import CHROMIUM_ARGS, chromium_path, free_port, wait_for_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_events" / "data"
README_SCREENSHOT = ROOT / "docs" / "img" / "overview.png"

# url path → (its name in the sidebar, the title's start, a text near the page's end: shown once it ran)
PAGES = {
    "": ("DORA overview", "DORA overview", "Who is where? The same figures per group"),
    "deployments": ("Deployments", "Deployments", "Every deployment in view"),
    "lead-time": ("Lead time", "Lead time", "The commits behind the chart"),
    "journeys": ("Journeys", "Journeys", "Commits it delivered to production"),
    "bottlenecks": ("Bottlenecks", "Bottlenecks", re.compile("Share of lead time per week|Not available yet")),
    "funnel": ("Funnel", "Funnel", "Every artifact in view"),
    "inventory": ("Release inventory", "Release inventory", re.compile("Every service × environment|Not available yet")),
    "incidents": ("Incidents & risk", "Incidents & risk", "Vulnerable artifacts that reached production"),
    "health": ("Warehouse health", "Warehouse health", "Latest loads"),
    "definitions": ("Definitions", "Definitions", "Link coverage"),
}
WIDTH = 1440


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The sample loaded and built once, and the dashboard serving it on a free loopback port."""
    paths = resolve_paths(tmp_path_factory.mktemp("browser") / "data" / "warehouse.duckdb")
    tasks.ingest(paths, [SAMPLE])
    tasks.build(paths)
    port = free_port()
    proc = serve_processes.start_dashboard(paths, port=port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", expect="ok", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        serve_processes.stop([proc])


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def settle(page, title: str, marker) -> None:
    """Wait until the page's title and its last section are shown, the script finished and every chart is drawn."""
    page.locator("[data-testid='stMain'] h1").filter(has_text=title).first.wait_for(timeout=60_000)
    # the page's last section, or an exception box (then the test reports it instead of timing out)
    page.get_by_text(marker).or_(page.locator("[data-testid='stException']")).first.wait_for(timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    wait_for_charts(page)


def wait_for_charts(page) -> None:
    """Plotly charts render lazily once on screen: wait until each chart container has drawn its SVG."""
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-testid=stPlotlyChart]'))"
        ".every(c => c.querySelector('.main-svg .plot') || c.querySelector('.main-svg .sankey') "
        "|| c.querySelector('.main-svg .funnellayer') || c.querySelector('.main-svg'))",
        timeout=60_000,
    )
    page.wait_for_timeout(300)


def full_page_screenshot(page, path: Path) -> None:
    """Streamlit scrolls inside its main section, so grow the viewport to the content, let the charts that came
    into view draw, then shoot."""
    height = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll("
        "'[data-testid=stMain], [data-testid=stAppScrollToBottomContainer], [data-testid=stMainBlockContainer], "
        "section')).map(e => e.scrollHeight), document.body.scrollHeight, 900)"
    )
    page.set_viewport_size({"width": WIDTH, "height": min(height + 40, 12_000)})
    page.wait_for_timeout(500)
    wait_for_charts(page)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stPlotlyChart] [data-testid=stSkeleton], "
        "[data-testid=stSkeleton]')", timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": 1000})


def test_every_page_opens_without_an_exception(served, browser, tmp_path_factory):
    """Open the app once, then go through the sidebar: each page runs in the same session, as a lead would click
    (and the browser parses Plotly once, which keeps this test fast). Each page is also reachable by its URL."""
    shots = tmp_path_factory.mktemp("dashboard-screenshots")
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    page.goto(served, wait_until="domcontentloaded")
    problems = []
    for path, (nav, title, marker) in PAGES.items():
        page.locator("[data-testid='stSidebarNav']").get_by_text(nav, exact=True).click()
        settle(page, title, marker)
        assert urlparse(page.url).path.strip("/") == path, page.url
        name = path or "overview"
        full_page_screenshot(page, shots / f"{name}.png")
        assert (shots / f"{name}.png").stat().st_size > 20_000, f"{name}: blank screenshot?"
        exceptions = page.locator("[data-testid='stException']")
        if exceptions.count():
            problems.append(f"{name}: {exceptions.first.inner_text()[:500]}")
    # a page's own URL opens it directly (what a shared link does)
    page.goto(f"{served}/journeys", wait_until="domcontentloaded")
    settle(page, "Journeys", "Every event behind this journey")
    if page.get_by_text("Page not found").count() or page.locator("[data-testid='stException']").count():
        problems.append("journeys: its URL does not open it cleanly")
    page.close()
    assert not problems, "\n".join(problems)
    if os.environ.get("LIFECYCLE_README_SCREENSHOT"):
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots / "overview.png", README_SCREENSHOT)


def test_overview_tiles_and_a_shared_view_across_pages(served, browser):
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    page.goto(f"{served}/?team=payments", wait_until="domcontentloaded")
    settle(page, "DORA overview", "Deployment frequency")
    tiles = page.locator("[data-testid='stMetric']")
    assert tiles.count() == 6
    assert "per week" in tiles.filter(has_text="Deployment frequency").first.inner_text()
    assert "team: payments" in page.locator("[data-testid='stMain']").inner_text()
    # the sidebar's page link keeps the view: filters live in the session and are written back to the URL
    page.locator("[data-testid='stSidebarNav']").get_by_text("Deployments", exact=True).click()
    settle(page, "Deployments", "Production deployment calendar")
    assert "team=payments" in page.url
    assert "team: payments" in page.locator("[data-testid='stMain']").inner_text()
    assert not page.locator("[data-testid='stException']").count()
    page.close()
