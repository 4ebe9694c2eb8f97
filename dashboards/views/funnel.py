"""Funnel: how many artifacts get from build to production, where the others stop, and which are stuck."""

from __future__ import annotations

from collections import Counter

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
    "From marts.artifact_journeys. An artifact *reached* a stage when it has that timestamp (built = packaged or "
    "build finished; environments by their tier). "
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

artifacts = data.funnel_artifacts(view)
if artifacts.height == 0:
    ui.empty("No artifact was built in this view.")
    st.stop()

reached = [(name, int(artifacts[f"{name}_at"].is_not_null().sum())) for name, _ in data.FUNNEL_STAGES]
reached = [(name, n) for name, n in reached if n > 0]
in_prod = int((artifacts["status"] == "in production").sum())
status_counts = Counter(artifacts["status"].to_list())

stopped = {"in flight": 0, "superseded": 0}
stopped.update({k: v for k, v in status_counts.items() if k not in ("in production", "stuck")})
cols = st.columns(3 + len(stopped))
cols[0].metric("Artifacts built", f"{artifacts.height:,}", border=True)
cols[1].metric("In production", f"{in_prod:,}", f"{in_prod / artifacts.height:.0%} of built",
               delta_color="off", delta_arrow="off", border=True)
cols[2].metric("Stuck", f"{status_counts.get('stuck', 0):,}", border=True,
               help="In flight for longer than its stage's historical p90.")
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
    links: Counter = Counter()
    for r in artifacts.iter_rows(named=True):
        path = []
        if r["built_at"] is not None or r["published_at"] is not None:
            path.append("built")
        if r["published_at"] is not None:
            path.append("published")
        envs = sorted(r["environments_reached"] or [], key=lambda e: (order.get(e, 99), e))
        non_prod = [e for e in envs if order.get(e, 99) < 4]
        prod = [e for e in envs if order.get(e, 99) == 4]
        path.extend(non_prod)
        for a, b in zip(path, path[1:], strict=False):
            links[(a, b)] += 1
        last = path[-1] if path else None
        for e in prod:
            if last is not None:
                links[(last, e)] += 1
        if r["status"] != "in production" and last is not None:
            links[(last, r["status"])] += 1
    nodes = list(dict.fromkeys([n for pair in links for n in pair]))
    colours = {"superseded": "#bab0ac", "never deployed": "#d9d9d9", "stuck": "#d62728", "in flight": "#f2cf5b",
               "rejected": "#8c564b"}
    sankey = go.Figure(go.Sankey(
        arrangement="snap", textfont={"size": 13, "color": "#222"},
        node={"label": nodes, "pad": 22, "thickness": 18, "line": {"width": 0},
              "color": [colours.get(n, "#2ca02c" if order.get(n) == 4 else "#4c78a8") for n in nodes]},
        link={"source": [nodes.index(a) for a, _ in links], "target": [nodes.index(b) for _, b in links],
              "value": list(links.values())},
    ))
    sankey.update_layout(height=380, margin={"t": 10, "b": 10, "l": 10, "r": 10})
    st.plotly_chart(sankey, key="funnel_sankey")
    st.caption("Green: production clusters. The last column: where artifacts that did not reach production "
               "stopped (grey superseded or never deployed, brown rejected, yellow in flight, red stuck).")
    ui.download(pl.DataFrame([{"from": a, "to": b, "artifacts": n} for (a, b), n in links.items()]),
                "funnel_flows.csv")

st.subheader("Where the others stop: furthest stage × status")
by_stage = (artifacts.group_by("furthest_stage", "stage_rank", "status").agg(pl.len().alias("artifacts"))
            .sort("stage_rank", "status").drop("stage_rank"))
ui.table(by_stage, "funnel_status.csv")

st.subheader(f"Stuck artifacts ({status_counts.get('stuck', 0)})")
st.caption("In flight, and in their stage longer than that stage's historical p90 — nothing newer of the same "
           "service got as far.")
stuck = artifacts.filter(pl.col("status") == "stuck").select(
    "service", "version", "furthest_stage", "entered_at", pl.col("hours_in_stage").round(1),
    pl.col("stage_p90_hours").round(1), "team", "commit_sha", "artifact_id",
).sort("hours_in_stage", descending=True)
if stuck.height:
    ui.table(stuck, "stuck_artifacts.csv")
else:
    st.success("No stuck artifact in this view.", icon=":material/check_circle:")

with st.expander("Every artifact in view"):
    ui.table(artifacts.drop("stage_rank"), "funnel_artifacts.csv", height=320)
