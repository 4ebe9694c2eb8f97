"""Warehouse health: is the data fresh and complete enough to trust the other pages?"""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboards import data, ui
from pipelines.quality import MIN_LINK_COVERAGE

ui.header(
    "Warehouse health — is the data fresh and complete enough to trust?",
    "When data was last loaded and published, what each tool sends, what was rejected and why, and how many "
    "production deployments could be traced back to a commit.",
    "The whole snapshot: the sidebar filters do not apply here. Quarantined records are inputs the loader "
    "rejected, kept with a reason to act on; link coverage is the share of successful production deployments "
    f"traced to a commit (their lead times count), wanted ≥ {MIN_LINK_COVERAGE:.0%}.",
)

totals = data.health_totals()
coverage = data.link_coverage()
linked = coverage.filter(pl.col("link_method") != "unlinked")["production_deployments"].sum()
total_prod = coverage["production_deployments"].sum()
share = linked / total_prod if total_prod else None
published = data.snapshot_published_at()

cols = st.columns(5)
cols[0].metric("Snapshot published", ui.fmt_age(published), border=True,
               help="When `lifecycle build` last published serving.duckdb. The dashboard reads only this.")
cols[0].caption(f"{published:%Y-%m-%d %H:%M} UTC" if published else "never")
cols[1].metric("Last load", ui.fmt_age(totals["last_load_at"]), border=True,
               help="When the last file was loaded into raw.events.")
cols[1].caption(f"{totals['last_load_at']:%Y-%m-%d %H:%M} UTC" if totals["last_load_at"] else "never")
cols[2].metric("Events", f"{totals['events']:,}", border=True,
               help="Canonical events (deduplicated) in marts.lifecycle_events.")
cols[2].caption(f"from {totals['tools']} tools · {totals['unmapped']:,} without a stage")
cols[3].metric("Quarantined", f"{totals['quarantined']:,}", border=True,
               help="Records rejected at load (raw.quarantine), listed below with their reasons.")
cols[3].caption(f"{totals['files_loaded']} files loaded")
cols[4].metric("Link coverage", f"{share:.1%}" if share is not None else "–",
               ("below target" if share is not None and share < MIN_LINK_COVERAGE else None),
               delta_color="inverse", border=True,
               help="Successful production deployments traced back to a commit.")
cols[4].caption(f"{linked} of {total_prod} production deployments")
if totals["first_occurred_at"] is not None:
    st.caption(
        f"Events occurred {totals['first_occurred_at']:%Y-%m-%d %H:%M} → {totals['last_occurred_at']:%Y-%m-%d %H:%M}"
        f" UTC; last one received {totals['last_received_at']:%Y-%m-%d %H:%M} UTC · {totals['files_loaded']} files "
        f"loaded · {totals['unmapped']:,} events without a stage."
    )

st.subheader("Events by tool and stage")
by_stage = data.events_by_tool_and_stage()
if by_stage.height:
    chart = px.bar(by_stage.to_pandas(), y="stage", x="events", color="source_tool", orientation="h",
                   color_discrete_map=ui.tool_colours(by_stage["source_tool"].to_list()))
    chart.update_layout(height=140 + 22 * by_stage["stage"].n_unique(), margin={"t": 10, "b": 10},
                        yaxis={"categoryorder": "total ascending", "title": None},
                        legend={"title": "tool", "orientation": "h", "y": -0.1})
    st.plotly_chart(chart, key="health_events_by_stage")
ui.download(by_stage, "events_by_tool_and_stage.csv")

st.subheader("Events per day, by tool")
per_day = data.events_per_day()
if per_day.height:
    line = px.bar(per_day.to_pandas(), x="day", y="events", color="source_tool",
                  color_discrete_map=ui.tool_colours(per_day["source_tool"].to_list()))
    line.update_layout(height=280, margin={"t": 10, "b": 10}, xaxis_title="day the event occurred (UTC)",
                       legend={"title": "tool", "orientation": "h", "y": -0.3})
    st.plotly_chart(line, key="health_events_per_day")
ui.download(per_day, "events_per_day.csv")

left, right = st.columns(2)
with left:
    st.subheader("Quarantine: why records were rejected")
    reasons = data.quarantine_reasons()
    if reasons.height == 0:
        st.success("Nothing quarantined.", icon=":material/check_circle:")
    ui.table(reasons, "quarantine_reasons.csv")
with right:
    st.subheader("Link coverage: production deployments traced to a commit")
    ui.table(coverage.with_columns((pl.col("share") * 100).round(1).alias("share_pct")).drop("share"),
             "link_coverage.csv")

st.subheader("Latest loads")
ui.table(data.recent_loads(), "recent_loads.csv")
