"""Shared page furniture: headers that say what a page answers, CSV downloads, notices, tiles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import polars as pl
import streamlit as st

from dashboards import metrics
from dashboards.data import Filters

DEFINITIONS_PAGE = "views/definitions.py"
LISTED_ROWS = 5000  # the most rows a page's table lists; its CSV download (built when clicked) has them all


def header(title: str, answers: str, definition: str, view: Filters | None = None,
           filters_note: str | None = None) -> None:
    """Title = the question the page answers; caption = the definition, the view, and where the rules live."""
    st.title(title)
    st.markdown(answers)
    lines = [definition]
    if view is not None:
        lines.append(f"View: {view.describe()}" + (f" — {filters_note}" if filters_note else ""))
    st.caption("  \n".join(lines))
    st.page_link(DEFINITIONS_PAGE, label="How each figure is defined (docs/metrics.md)", icon=":material/menu_book:")


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV as the project's reports write it: header row, ISO 8601 UTC timestamps, lists joined by ';'."""
    out = frame.with_columns(
        pl.col(name).cast(pl.List(pl.String)).list.join(";")
        for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)
    ).with_columns(
        pl.col(name).dt.convert_time_zone("UTC")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    )
    return out.write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ", date_format="%Y-%m-%d").encode()


def download(frame: pl.DataFrame, filename: str, label: str = "Download CSV", key: str | None = None) -> None:
    st.download_button(
        f"{label} ({frame.height} rows)", csv_bytes(frame), file_name=filename, mime="text/csv",
        key=key or f"download-{filename}", icon=":material/download:", on_click="ignore",
    )


def download_on_click(fetch: Callable[[], pl.DataFrame], rows: int, filename: str, label: str = "Download CSV",
                      key: str | None = None) -> None:
    """A download of ``rows`` rows whose CSV is built only when it is clicked (``fetch`` runs then): a page
    offering every row of a large view need not load them to draw itself (st.download_button takes a callable)."""
    st.download_button(
        f"{label} ({rows} rows)", lambda: csv_bytes(fetch()), file_name=filename, mime="text/csv",
        key=key or f"download-{filename}", icon=":material/download:", on_click="ignore",
    )


def listed(shown: int, total: int) -> str:
    """The caption's "Listed: 5,000 of 170,020; the CSV download has them all." for a table cut at LISTED_ROWS."""
    return f"Listed: {shown:,} of {total:,}" + ("; the CSV download has them all." if total > shown else ".")


def table(frame: pl.DataFrame, filename: str, *, label: str = "Download CSV", height: int | None = None,
          column_config: dict | None = None, key: str | None = None,
          fetch: Callable[[], pl.DataFrame] | None = None, rows: int | None = None) -> None:
    """A table with its CSV download just below; timestamps shown as ``YYYY-MM-DD HH:mm`` UTC.

    ``fetch`` and ``rows``: the table shows part of a larger view; its download then has all ``rows`` rows,
    fetched only when clicked (``download_on_click``), not the rows shown."""
    config = {
        name: st.column_config.DatetimeColumn(f"{name} (UTC)", format="YYYY-MM-DD HH:mm")
        for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)
    }
    config.update(column_config or {})
    if frame.height:
        st.dataframe(frame, hide_index=True, height=height or "auto", column_config=config, placeholder="—")
    if fetch is None:
        download(frame, filename, label=label, key=key)
    else:
        download_on_click(fetch, frame.height if rows is None else rows, filename, label=label, key=key)


def empty(message: str = "Nothing in this view: widen the date range or clear a filter.") -> None:
    st.info(message, icon=":material/filter_alt_off:")


def missing_mart(table_name: str, what: str) -> None:
    st.info(
        f"**Not available yet:** this page needs `{table_name}` ({what}), built by `lifecycle build` once the "
        "flow-analytics models land. It lights up by itself on the first snapshot that has it.",
        icon=":material/construction:",
    )


def tier_badge(tier: metrics.Tier | None, none_text: str = "no tier") -> str:
    if tier is None:
        return f":gray-badge[{none_text}]"
    colour = metrics.TIER_COLOURS.get(tier.tier, "gray")
    return f":{colour}-badge[{tier.tier.capitalize()}]"


def sparkline_values(values: Sequence[float | None]) -> list[float] | None:
    """st.metric sparklines need numbers: gaps become 0 only for counts; None when nothing to draw."""
    clean = [None if metrics.is_missing(v) else float(v) for v in values]
    if sum(v is not None for v in clean) < 2:
        return None
    # carry the last known value over gaps (a week without a figure draws flat, not as a zero)
    out, last = [], next(v for v in clean if v is not None)
    for v in clean:
        last = v if v is not None else last
        out.append(last)
    return out


# one colour per tool and per environment on every page
TOOL_COLOURS = {
    "github": "#9467bd", "gitlab": "#ff7f0e", "git": "#8c564b", "tekton": "#1f77b4", "jenkins": "#aec7e8",
    "harbor": "#17becf", "argocd": "#2ca02c", "flux": "#98df8a", "pagerduty": "#d62728",
}
_SPARE = ("#bcbd22", "#e377c2", "#7f7f7f", "#ffbb78", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
TIER_PALETTES = {
    1: ("#c6dbef", "#deebf7"),             # development
    2: ("#9ecae1", "#b3cde3"),             # testing
    3: ("#6baed6", "#4292c6"),             # staging
    4: ("#238b45", "#74c476", "#005a32", "#a1d99b", "#41ab5d"),  # production clusters
}


def tool_colours(tools: Iterable[str]) -> dict[str, str]:
    out, spare = {}, iter(_SPARE)
    for tool in sorted(set(tools)):
        out[tool] = TOOL_COLOURS.get(tool) or next(spare, "#7f7f7f")
    return out


def environment_colours(environments: Iterable[str], order: dict[str, int]) -> dict[str, str]:
    """Non-production environments in blues (lighter = earlier), production clusters in greens."""
    out: dict[str, str] = {}
    used: dict[int, int] = {}
    for env in sorted(set(environments), key=lambda e: (order.get(e, 99), e)):
        tier = order.get(env, 99)
        palette = TIER_PALETTES.get(tier, ("#bab0ac",))
        out[env] = palette[used.get(tier, 0) % len(palette)]
        used[tier] = used.get(tier, 0) + 1
    return out


def fmt_age(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago, for freshness tiles: "just now", "12 min ago", "3.5 h ago", "2 days ago"."""
    if when is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"
