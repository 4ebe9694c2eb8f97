"""Bottlenecks: in which stage and tool commit-to-production time goes, and how much of it is waiting."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import data, filters, metrics, ui
from dashboards.metrics import MIN_N_P50, MIN_N_P90

view = filters.current()
ui.header(
    "Bottlenecks — in which stage and tool do changes wait?",
    "Where the time from commit to production goes, step by step, and how much of each step is waiting "
    "rather than work; the trend per week or month.",
    "Each step of a journey (from the previous milestone to this one) is attributed to the tool that performs "
    "it, split into active (that tool's started → finished) and waiting (queued or idle). Over the journeys that "
    "reached production in the date range (by their first production arrival); journeys with clock skew left "
    f"out. Percentiles are continuous; a p50 needs n ≥ {MIN_N_P50} journeys, a p90 n ≥ {MIN_N_P90}. "
    "Same rule as marts.bottlenecks, recomputed for the filters.",
    view,
    filters_note="the environment filter does not apply (a journey crosses environments)",
)

problem = data.missing("marts.stage_durations")
if problem == "missing":
    ui.missing_mart("marts.stage_durations", "artifact × stage: tool, duration, active and waiting time")
    st.stop()
if problem:
    st.warning(f"marts.stage_durations {problem}: this dashboard needs them.", icon=":material/construction:")
    st.stop()

overall = data.bottlenecks(view, "all")
if overall.height == 0:
    ui.empty("No journey reached production in this view.")
    st.stop()


def label(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        (pl.col("stage") + pl.when(pl.col("environment").is_not_null())
         .then(pl.lit(" (") + pl.col("environment") + pl.lit(")")).otherwise(pl.lit(""))
         + pl.lit(" · ") + pl.col("tool").fill_null("?")).alias("step"),
    )


overall = label(overall)
journeys = int(overall["period_journeys"][0])
top = overall.sort("share_of_lead_time", descending=True).row(0, named=True)
slowest = data.slowest_step_tools(view)

cols = st.columns(4)
cols[0].metric("Journeys to production", f"{journeys:,}", border=True,
               help="Artifacts whose first production arrival is in the date range.")
cols[0].caption(f"{int(overall['clock_skew_journeys_excluded'][0])} left out for clock skew")
cols[1].metric("Biggest step's share", f"{top['share_of_lead_time']:.0%}", border=True,
               help="Of the summed commit-to-production time of the journeys in view.")
cols[1].caption(f"of lead time: {top['step']}")
cols[2].metric("…of which waiting", metrics.fmt_pct(top["waiting_share"], 0), border=True,
               help="Queued or idle, not the tool's own work.")
cols[2].caption(f"p50 {metrics.fmt_duration(top['p50_s'])} per journey (n = {top['journeys']})")
if slowest.height:
    s0 = slowest.row(0, named=True)
    cols[3].metric("Most often the slowest step", s0["tool"], border=True,
                   help="The tool that performed the longest step of the most journeys.")
    cols[3].caption(f"in {s0['slowest_step_journeys']} of {journeys} journeys ({s0['slowest_step_share']:.0%})")

st.subheader("Where commit-to-production time goes (whole range)")
ranked = overall.sort("share_of_lead_time", descending=True).with_columns(
    (pl.col("share_of_lead_time") * (1 - pl.col("waiting_share").fill_null(0)) * 100).alias("active_pct"),
    (pl.col("share_of_lead_time") * pl.col("waiting_share").fill_null(0) * 100).alias("waiting_pct"),
)
bar = go.Figure()
bar.add_bar(y=ranked["step"].to_list(), x=ranked["waiting_pct"].to_list(), orientation="h", name="waiting",
            marker_color="#d62728", hovertemplate="%{y}: %{x:.1f} % of lead time waiting<extra></extra>")
bar.add_bar(y=ranked["step"].to_list(), x=ranked["active_pct"].to_list(), orientation="h", name="active (work)",
            marker_color="#4c78a8", hovertemplate="%{y}: %{x:.1f} % of lead time working<extra></extra>")
bar.update_layout(barmode="stack", height=140 + 26 * ranked.height, margin={"t": 10, "b": 10},
                  yaxis={"autorange": "reversed", "title": None}, xaxis_title="% of commit-to-production time",
                  legend={"orientation": "h", "y": -0.12})
st.plotly_chart(bar, key="bottlenecks_share")
st.caption("Each bar is one step's share of the summed commit-to-production time of the journeys (the bars add "
           "up to 100 %): red the part spent waiting, blue the tool's own work.")
table = ranked.select(
    "step", "tool", "stage", "environment", "journeys",
    (pl.col("share_of_lead_time") * 100).round(1).alias("share_of_lead_time_pct"),
    (pl.col("waiting_share") * 100).round(1).alias("waiting_pct_of_step"),
    pl.when(pl.col("journeys") >= MIN_N_P50).then(pl.col("p50_s") / 3600).round(2).alias("p50_hours"),
    pl.when(pl.col("journeys") >= MIN_N_P90).then(pl.col("p90_s") / 3600).round(2).alias("p90_hours"),
)
ui.table(table, "bottlenecks.csv", column_config={
    "step": None, "share_of_lead_time_pct": st.column_config.NumberColumn("% of lead time", format="%.1f"),
    "waiting_pct_of_step": st.column_config.NumberColumn("% waiting", format="%.1f"),
    "p50_hours": st.column_config.NumberColumn("p50 (h)", format="%.2f"),
    "p90_hours": st.column_config.NumberColumn("p90 (h)", format="%.2f"),
})
st.caption("— in p50/p90: too few journeys for that step.")

grain = st.segmented_control("Trend per", ["week", "month"], default="week", key="bottlenecks_grain") or "week"
per_period = label(data.bottlenecks(view, grain))
top_steps = ranked.filter(pl.col("share_of_lead_time") >= 0.02)["step"].to_list()[:6]
left, right = st.columns(2)
with left:
    st.subheader(f"Share of lead time per {grain}")
    shares = (per_period.with_columns(
        pl.when(pl.col("step").is_in(top_steps)).then(pl.col("step")).otherwise(pl.lit("other steps")).alias("step"))
        .group_by("period_start", "step").agg((pl.col("share_of_lead_time").sum() * 100).alias("share_pct"))
        .sort("period_start", "step"))
    share = px.bar(shares.to_pandas(), x="period_start", y="share_pct", color="step",
                   category_orders={"step": [*top_steps, "other steps"]},
                   labels={"share_pct": "% of lead time", "period_start": f"{grain} (first production arrival)"})
    share.update_layout(barmode="stack", height=380, margin={"t": 10, "b": 10},
                        legend={"orientation": "h", "y": -0.3, "title": None})
    st.plotly_chart(share, key="bottlenecks_share_trend")
    st.caption("Steps under 2 % of the whole range's lead time are grouped as *other steps*.")
with right:
    st.subheader(f"Are the biggest steps getting faster? p50 per {grain}")
    trend = (per_period.filter(pl.col("step").is_in(top_steps[:3]) & (pl.col("journeys") >= MIN_N_P50))
             .select("period_start", "step", (pl.col("p50_s") / 3600).alias("p50_hours"), "journeys")
             .sort("period_start", "step"))
    if trend.height:
        lines = px.line(trend.to_pandas(), x="period_start", y="p50_hours", color="step", markers=True,
                        labels={"p50_hours": "p50 per journey (hours, continuous)", "period_start": grain},
                        hover_data={"journeys": True})
        lines.update_layout(height=380, margin={"t": 10, "b": 10}, legend={"orientation": "h", "y": -0.3,
                                                                            "title": None})
        st.plotly_chart(lines, key="bottlenecks_p50_trend")
        st.caption(f"The three biggest steps; a {grain} is drawn when it has n ≥ {MIN_N_P50} journeys.")
    else:
        st.info(f"No {grain} has n ≥ {MIN_N_P50} journeys for the biggest steps: not enough data for a trend.")
ui.download(per_period.drop("step"), f"bottlenecks_per_{grain}.csv")
