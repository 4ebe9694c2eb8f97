"""Definitions: docs/metrics.md, plus the dashboard's own display rules."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from dashboards import data, metrics


def demote_headings(markdown: str) -> str:
    """Headings one level down (outside code fences), so this page's title stays the largest."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,5} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


st.title("Definitions — what every figure means")
st.markdown(
    f"""
**The dashboard's display rules** (on top of the marts' definitions below):

- a median (p50) or mean needs **n ≥ {metrics.MIN_N_P50}** values, a p90 **n ≥ {metrics.MIN_N_P90}**, a rate
  (change fail rate, rework rate) **≥ {metrics.MIN_N_RATE}** production deployments; below that the figure reads
  *not enough data (n = … < …)* instead of a number;
- the dashboard opens on the data's last {data.DEFAULT_DAYS} days; trends compare with the previous period of
  the same length and are shown only when both have enough data (and the data covers that period);
- percentiles are continuous (linearly interpolated), the same as `quantile_cont` in the marts;
- dates are UTC; a date range includes both ends;
- the DORA tiles recompute the marts' definitions for the filtered view; with no filter over the whole data
  range they equal `marts.dora_metrics` (`period = 'all'`, `group_by = 'overall'`).
"""
)
st.divider()
docs = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
if docs.exists():
    st.markdown(demote_headings(docs.read_text(encoding="utf-8")))
else:
    st.info("docs/metrics.md is not installed with this copy of the dashboard; see the project repository.")
