"""Funnel: how many artifacts get from build to production, where the others stop, and which are stuck.

The figures come from SQL aggregates (``data.funnel_summary``, ``data.funnel_flows``); the tables show at most
``ui.LISTED_ROWS`` artifacts, their CSV downloads are built with every row only when clicked: a 4-week view holds ~180k
artifacts at 10M events, which the page no longer loads to draw itself.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import data, filters, ui

view = filters.current()
from_mart = data.funnel_uses_mart()
ui.header(
    "Funnel — how many artifacts reach production, and where do the others stop?",
    "Artifacts built in view by the furthest stage they reached, the flow between environments, and the "
    "artifacts that are stuck.",
    "From marts.artifact_journeys. An artifact *reached* a stage when it has that timestamp (every artifact in "
    "view counts as built: packaged or build finished, else first seen; environments by their tier). "
    + ("Not in production: **rejected** (failed a test, scan or deploy and nothing succeeded after), **never "
       "deployed** or **superseded** (a newer artifact of the service got as far), else **in flight** — "
       "**stuck** when in flight longer than its stage's historical p90 (the service's own, else all services')."
       if from_mart else
       "Not in production: **superseded** when a later artifact of the same service got at least as far (it will "
       "not be promoted), **stuck** when it has been in its furthest stage longer than that stage's p90 dwell "
       "time (over artifacts that moved on), else **in flight**.")
    + " *Now* is the snapshot's newest event.",
    view,
    filters_note="the environment filter does not apply here (the funnel is across environments)",
)

summary = data.funnel_summary(view)
built = int(summary["artifacts"].sum())
if built == 0:
    ui.empty("No artifact was built in this view.")
    st.stop()

reached = [(name, int(summary[f"reached_{name}"].sum())) for name, _ in data.FUNNEL_STAGES]
reached = [(name, n) for name, n in reached if n > 0]
status_counts = dict(summary.group_by("status").agg(pl.col("artifacts").sum()).iter_rows())
in_prod = status_counts.get("in production", 0)
stuck_n = status_counts.get("stuck", 0)

stopped = {"in flight": 0, "superseded": 0}
stopped.update({k: v for k, v in status_counts.items() if k not in ("in production", "stuck")})
cols = st.columns(3 + len(stopped))
cols[0].metric("Artifacts built", f"{built:,}", border=True)
cols[1].metric("In production", f"{in_prod:,}", f"{in_prod / built:.0%} of built",
               delta_color="off", delta_arrow="off", border=True)
cols[2].metric("Stuck", f"{stuck_n:,}", border=True, help="In flight for longer than its stage's historical p90.")
for col, (status, n) in zip(cols[3:], sorted(stopped.items()), strict=True):
    col.metric(status.capitalize(), f"{n:,}", border=True)

left, right = st.columns([2, 3])
with left:
    st.subheader("Artifacts reaching each stage")
    funnel_table = pl.DataFrame(reached, schema=["stage", "artifacts"], orient="row").with_columns(
        (pl.col("artifacts") / pl.col("artifacts").shift(1)).alias("yield_from_previous"),
        (pl.col("artifacts") / pl.col("artifacts").first()).alias("share_of_built"),
    )
    funnel = go.Figure(go.Funnel(y=funnel_table["stage"].to_list(), x=funnel_table["artifacts"].to_list(),
                                 texttemplate="%{value} · %{percentPrevious:.0%} of previous",
                                 textfont={"size": 13},
                                 marker={"color": "#4c78a8"}))
    funnel.update_layout(height=380, margin={"t": 10, "b": 10, "l": 10})
    st.plotly_chart(funnel, key="funnel_chart")
    st.caption("Each bar: artifacts that reached the stage, and the share of the previous stage's that did (the "
               "step's yield).")
    ui.download(funnel_table, "funnel_stages.csv")

with right:
    st.subheader("How artifacts flow between environments")
    order = data.environment_order()
    flows = data.funnel_flows(view, order=order)
    links = list(zip(flows["from"], flows["to"], flows["artifacts"], strict=True))
    nodes = list(dict.fromkeys([n for a, b, _ in links for n in (a, b)]))
    colours = {"superseded": "#bab0ac", "never deployed": "#d9d9d9", "stuck": "#d62728", "in flight": "#f2cf5b",
               "rejected": "#8c564b"}
    sankey = go.Figure(go.Sankey(
        arrangement="snap", textfont={"size": 13, "color": "#222"},
        node={"label": nodes, "pad": 22, "thickness": 18, "line": {"width": 0},
              "color": [colours.get(n, "#2ca02c" if order.get(n) == 4 else "#4c78a8") for n in nodes]},
        link={"source": [nodes.index(a) for a, _, _ in links], "target": [nodes.index(b) for _, b, _ in links],
              "value": [n for _, _, n in links]},
    ))
    sankey.update_layout(height=380, margin={"t": 10, "b": 10, "l": 10, "r": 10})
    st.plotly_chart(sankey, key="funnel_sankey")
    st.caption("Each artifact: built → published → its environments before production (by tier) → each "
               "production environment it reached (green); the last column: where artifacts that did not reach "
               "production stopped (grey superseded or never deployed, brown rejected, yellow in flight, red stuck).")
    ui.download(flows, "funnel_flows.csv")

st.subheader("Where the others stop: furthest stage × status")
ui.table(summary.select("furthest_stage", "status", "artifacts"), "funnel_status.csv")


def stuck_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("service", "version", "furthest_stage", "entered_at", pl.col("hours_in_stage").round(1),
                        pl.col("stage_p90_hours").round(1), "team", "commit_sha", "artifact_id")


st.subheader(f"Stuck artifacts ({stuck_n:,})")
st.caption("In flight, and in their stage longer than that stage's historical p90 — nothing newer of the same "
           "service got as far." + (f" Listed: the {ui.LISTED_ROWS:,} of {stuck_n:,} longest in their stage; the CSV "
                                    "download has them all." if stuck_n > ui.LISTED_ROWS else ""))
if stuck_n:
    ui.table(stuck_columns(data.funnel_artifacts(view, stuck=True, limit=ui.LISTED_ROWS)), "stuck_artifacts.csv",
             fetch=lambda: stuck_columns(data.funnel_artifacts(view, stuck=True)), rows=stuck_n)
else:
    st.success("No stuck artifact in this view.", icon=":material/check_circle:")

with st.expander("Every artifact in view"):
    st.caption(f"Listed: the newest {min(built, ui.LISTED_ROWS):,} of the {built:,} artifacts in view"
               + ("; the CSV download has them all." if built > ui.LISTED_ROWS else "."))
    ui.table(data.funnel_artifacts(view, limit=ui.LISTED_ROWS).drop("stage_rank"), "funnel_artifacts.csv", height=320,
             fetch=lambda: data.funnel_artifacts(view).drop("stage_rank"), rows=built)
