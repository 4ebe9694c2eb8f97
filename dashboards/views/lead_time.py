"""Lead time: how long a commit takes to reach production, its spread, its trend, and the commits behind it."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import data, filters, metrics, ui
from dashboards.metrics import MIN_N_P50, MIN_N_P90

POINTS = 5000  # the most changes drawn and listed: a browser draws a few thousand markers, not 500,000
SERVICE_TRACES = 12  # up to this many services, one coloured trace (and legend entry) each


def rolling_band(points: pl.DataFrame, window: str) -> pl.DataFrame:
    """The trailing-``window`` p50 and p90 of lead time at each deployment time, from the changes drawn.

    Why from the drawn rows, not SQL over every change: a windowed percentile per change over the whole view is
    seconds of DuckDB at 10M events, a per-day one still most of a second. When the view holds more than
    ``POINTS`` changes, the drawn ones are a hash sample, independent of lead time, so the band is an estimate
    from thousands of changes (a 14-day window of a 28-day view holds about half of them); with fewer it is exact.
    """
    return (
        points.sort("deployed_at").select("deployed_at", "lead_time_s")
        .rolling(index_column="deployed_at", period=window)
        .agg(pl.col("lead_time_s").quantile(0.5, interpolation="linear").alias("p50_s"),
             pl.col("lead_time_s").quantile(0.9, interpolation="linear").alias("p90_s"),
             pl.len().alias("n"))
        .unique("deployed_at", keep="last").sort("deployed_at")
    )


view = filters.current()
ui.header(
    "Lead time — how long does a commit take to reach production?",
    "Every change delivered to production in view: the distribution with its p50 and p90, and each change over "
    "time with a rolling percentile band. Select points (click, box or lasso) to list the commits behind them.",
    "Change lead time, per commit: from its timestamp to the first successful production deployment of an "
    "artifact built from a commit that contains it; a change counts in the period of that deployment. "
    "Percentiles are continuous (linearly interpolated) over positive lead times; non-positive ones (clock skew) "
    f"are excluded and counted. p50 needs n ≥ {MIN_N_P50}, p90 n ≥ {MIN_N_P90}.",
    view,
)

summary = data.changes_summary(view)
if summary["total"] == 0:
    ui.empty("No change reached production in this view: widen the date range or clear a filter.")
    st.stop()

n, p50, p90, mean = summary["n"], summary["p50_s"], summary["p90_s"], summary["mean_s"]
unit, div = metrics.duration_unit([p50])  # days when the median is ≥ 2 days, else hours

cols = st.columns(4)


def percentile_tile(col, label: str, value: float | None, need: int, help_text: str) -> None:
    reason = metrics.not_enough(n, need)
    col.metric(label, "Not enough data" if reason else metrics.fmt_duration(value), border=True, help=help_text)
    col.caption(reason or f"n = {n} changes")


percentile_tile(cols[0], "p50 (median)", p50, MIN_N_P50, "Half of the changes reached production faster.")
percentile_tile(cols[1], "p90", p90, MIN_N_P90, "Nine changes in ten reached production faster.")
percentile_tile(cols[2], "mean", mean, MIN_N_P50, "Average of the positive lead times.")
cols[3].metric("Changes delivered", f"{summary['total']:,}", border=True,
               help="Commits delivered to production by deployments in view.")
excluded = summary["excluded"]
cols[3].caption(f"{excluded} non-positive lead time(s) excluded (clock skew)" if excluded
                else "none excluded for clock skew")

# -- distribution ----------------------------------------------------------------------------------
st.subheader(f"Distribution (lead time in {unit})")
if n:
    bin_s = metrics.bin_width(summary["min_s"], summary["max_s"], div)
    bins = data.changes_histogram(view, bin_s)
    starts = (bins["bin_start_s"] / div).to_list()
    hist = go.Figure(go.Bar(
        x=[s + bin_s / div / 2 for s in starts], y=bins["changes"].to_list(), width=bin_s / div,
        customdata=[[s, s + bin_s / div] for s in starts], marker_color="#4c78a8",
        hovertemplate=f"%{{customdata[0]:.4~g}}–%{{customdata[1]:.4~g}} {unit}: %{{y}} changes<extra></extra>",
    ))
    for label, value, need, dash in (("p50", p50, MIN_N_P50, "solid"), ("p90", p90, MIN_N_P90, "dash")):
        if value is not None and n >= need:
            hist.add_vline(x=value / div, line_dash=dash, line_color="#d62728",
                           annotation_text=f"{label} {metrics.fmt_duration(value)}", annotation_position="top right")
    hist.update_layout(height=340, margin={"t": 30, "b": 10}, xaxis_title=f"lead time ({unit})",
                       yaxis_title="changes", bargap=0.05)
    st.plotly_chart(hist, key="lead_time_histogram")
else:
    st.caption("No positive lead time to draw.")
ui.download_on_click(lambda: data.changes(view), summary["total"], "changes_lead_time.csv")

# -- over time -------------------------------------------------------------------------------------
points = data.changes(view, limit=POINTS)
sampled = summary["total"] > points.height
positive = points.filter(pl.col("in_percentiles"))
window = "14d" if view.days >= 28 else "7d"
st.subheader(f"Each change over time, with the rolling p50–p90 band (trailing {window.replace('d', ' days')})")
if sampled:
    st.caption(f"Drawn: a fixed sample of {points.height:,} of the {summary['total']:,} changes (the same on every "
               "visit); the band is estimated from it. The figures above and the CSV download count every change.")
band = rolling_band(positive, window)
scatter = go.Figure()
enough = band.filter(pl.col("n") >= MIN_N_P50)
if enough.height:
    scatter.add_scatter(x=enough["deployed_at"].to_list(), y=(enough["p90_s"] / div).to_list(), mode="lines",
                        line={"width": 0}, showlegend=False, hoverinfo="skip")
    scatter.add_scatter(x=enough["deployed_at"].to_list(), y=(enough["p50_s"] / div).to_list(), mode="lines",
                        line={"width": 0}, fill="tonexty", fillcolor="rgba(214,39,40,0.12)", name="p50–p90 band",
                        hoverinfo="skip")
    scatter.add_scatter(x=enough["deployed_at"].to_list(), y=(enough["p50_s"] / div).to_list(), mode="lines",
                        line={"color": "#d62728", "width": 2}, name=f"rolling p50 ({window})",
                        hovertemplate=f"rolling p50 %{{y:.1f}} {unit}<extra></extra>")
services = sorted(positive["service"].drop_nulls().unique().to_list())
groups = ([(s, positive.filter(pl.col("service") == s)) for s in services] if len(services) <= SERVICE_TRACES
          else [(f"changes ({len(services)} services)", positive)])
for name, rows in groups:
    scatter.add_scatter(
        x=rows["deployed_at"].to_list(), y=(rows["lead_time_s"] / div).to_list(), mode="markers", name=name,
        marker={"size": 7, "opacity": 0.75}, customdata=rows.select("commit_sha", "service").rows(),
        hovertemplate=(f"%{{customdata[1]}}<br>commit %{{customdata[0]:.10}}<br>%{{y:.1f}} {unit}"
                       "<br>deployed %{x|%Y-%m-%d %H:%M}<extra></extra>"),
    )
scatter.update_layout(height=420, margin={"t": 10, "b": 10}, yaxis_title=f"lead time ({unit})",
                      xaxis_title="deployed to production (UTC)", legend={"orientation": "h", "y": -0.2},
                      dragmode="select")
event = st.plotly_chart(scatter, key="lead_time_scatter", on_select="rerun", selection_mode=("points", "box", "lasso"))
ui.download(band.with_columns((pl.col("p50_s") / 3600).alias("p50_hours"), (pl.col("p90_s") / 3600).alias("p90_hours")),
            "lead_time_rolling_band.csv", label="Download the rolling band")

selected = []
selection = getattr(event, "selection", None) or {}
for point in selection.get("points", []) if isinstance(selection, dict) else []:
    sha = point.get("customdata")
    if isinstance(sha, list):
        sha = sha[0] if sha else None
    if sha:
        selected.append(sha)

if selected:
    st.subheader(f"The {len(set(selected))} selected commit(s)")
    behind = points.filter(pl.col("commit_sha").is_in(selected))
else:
    st.subheader("The commits behind the chart")
    st.caption("Select points above to narrow this list."
               + (f" Listed: the {points.height:,} changes drawn; the CSV download above has all "
                  f"{summary['total']:,}." if sampled else ""))
    behind = points
ui.table(behind.sort("lead_time_s", descending=True, nulls_last=True), "lead_time_commits.csv", height=320,
         column_config={"lead_time_hours": st.column_config.NumberColumn("lead time (h)", format="%.1f")})
