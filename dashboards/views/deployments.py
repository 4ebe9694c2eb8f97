"""Deployments: how often we deploy, to which environment, and which deployments went wrong."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import data, filters, ui

view = filters.current()
ui.header(
    "Deployments — how often do we deploy, where, and what went wrong?",
    "Successful deployments per day or week in every environment, with rollbacks and failed deployments "
    "marked; the calendar shows which days production changed.",
    "A deployment is a successful deploy of an artifact to one environment/cluster (two production clusters = "
    "two deployments). A failed deployment is an attempt that did not finish (the previous version kept running). "
    "A rollback redeploys an older artifact.",
    view,
)

grain = st.segmented_control("Per", ["day", "week"], default="week", key="deployments_grain",
                             format_func=lambda g: "day" if g == "day" else "ISO week") or "week"
per_period = data.deployments_per_period(view, grain)
summary = data.deployments_summary(view)

if summary["attempts"] == 0:
    ui.empty()
    st.stop()

cols = st.columns(4)
cols[0].metric("Deployments (all environments)", f"{summary['deployments']:,}", border=True)
cols[1].metric("to production", f"{summary['production']:,}", border=True,
               help="What DORA deployment frequency counts.")
cols[2].metric("Rollbacks", f"{summary['rollbacks']:,}", border=True,
               help="Deployments of an artifact that ran there before but not just now (or reported as rollbacks).")
cols[3].metric("Failed deployments", f"{summary['failed']:,}", border=True,
               help="Deploy attempts that failed; not counted as deployments.")

# -- frequency by environment ------------------------------------------------------------------------
st.subheader(f"Deployments per {'day' if grain == 'day' else 'week'}, by environment")
order = data.environment_order()
environments = sorted(per_period["environment"].unique().to_list(), key=lambda e: (order.get(e, 99), e))
colours = ui.environment_colours(environments, order)
fig = go.Figure()
for env in environments:
    rows = per_period.filter(pl.col("environment") == env)
    fig.add_bar(x=rows["period_start"].to_list(), y=rows["deployments"].to_list(), name=env,
                marker_color=colours[env],
                hovertemplate=f"{env}: %{{y}} deployments<br>%{{x|%Y-%m-%d}}<extra></extra>")
totals = per_period.group_by("period_start").agg(
    pl.col("deployments").sum().alias("deployments"), pl.col("rollbacks").sum(), pl.col("failed_deployments").sum()
).sort("period_start")
marks = totals.filter(pl.col("rollbacks") > 0)
if marks.height:
    fig.add_scatter(x=marks["period_start"].to_list(), y=(marks["deployments"] + 0.5).to_list(), mode="markers+text",
                    name="rollbacks", marker={"symbol": "triangle-down", "size": 13, "color": "#d62728"},
                    text=[f"{n} rollback{'s' if n > 1 else ''}" for n in marks["rollbacks"].to_list()],
                    textposition="top center", textfont={"color": "#d62728"},
                    hovertemplate="%{text}<extra></extra>")
failed = totals.filter(pl.col("failed_deployments") > 0)
if failed.height:
    fig.add_scatter(x=failed["period_start"].to_list(), y=[0] * failed.height, mode="markers",
                    name="failed deployments", marker={"symbol": "x", "size": 12, "color": "#ff7f0e"},
                    customdata=failed["failed_deployments"].to_list(),
                    hovertemplate="%{customdata} failed deployment(s)<extra></extra>")
fig.update_layout(barmode="stack", height=380, margin={"t": 10, "b": 10}, yaxis_title="deployments",
                  legend={"orientation": "h", "y": -0.15}, bargap=0.15)
if grain == "week":
    fig.update_xaxes(tickformat="%b %d", title="week starting (Monday, UTC)")
st.plotly_chart(fig, key="deployments_per_period")
ui.download(per_period, f"deployments_per_{grain}.csv")

# -- calendar --------------------------------------------------------------------------------------
st.subheader("Production deployment calendar")
st.caption("One square per day: how many successful production deployments (all production clusters). "
           "A red outline marks a day with a rollback. Blues in the chart above are pre-production environments, "
           "greens production clusters.")
days = data.production_deployment_days(view)
first_monday = view.start - timedelta(days=view.start.weekday())
calendar = pl.DataFrame({"day": pl.date_range(view.start, view.end, "1d", eager=True)}).join(
    days, on="day", how="left").with_columns(pl.col(c).fill_null(0) for c in days.columns if c != "day")
calendar = calendar.with_columns(
    pl.col("day").dt.weekday().alias("weekday"),  # 1 = Monday
    ((pl.col("day") - pl.lit(first_monday)).dt.total_days() // 7).alias("week_index"),
)
weeks = calendar.group_by("week_index").agg(pl.col("day").min().alias("first")).sort("week_index")
week_start = {r["week_index"]: first_monday + timedelta(weeks=r["week_index"]) for r in weeks.iter_rows(named=True)}
weekday_names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
z = [[None] * len(week_start) for _ in range(7)]
text = [[""] * len(week_start) for _ in range(7)]
for r in calendar.iter_rows(named=True):
    z[r["weekday"] - 1][r["week_index"]] = r["production_deployments"]
    text[r["weekday"] - 1][r["week_index"]] = (
        f"{r['day']:%a %Y-%m-%d}: {r['production_deployments']} production deployments"
        + (f", {r['rollbacks']} rollback(s)" if r["rollbacks"] else "")
    )
heat = go.Figure(go.Heatmap(
    z=z, x=[f"{d:%b %d}" for d in week_start.values()], y=weekday_names, text=text,
    hovertemplate="%{text}<extra></extra>", colorscale="Greens", xgap=3, ygap=3,
    colorbar={"title": "deploys"}, zmin=0,
))
rollback_days = calendar.filter(pl.col("rollbacks") > 0)
if rollback_days.height:
    heat.add_scatter(
        x=[f"{week_start[w]:%b %d}" for w in rollback_days["week_index"].to_list()],
        y=[weekday_names[d - 1] for d in rollback_days["weekday"].to_list()],
        mode="markers", name="rollback", marker={"symbol": "square-open", "size": 22, "color": "#d62728",
                                                 "line": {"width": 3}},
        hoverinfo="skip", showlegend=True,
    )
heat.update_layout(height=300, margin={"t": 10, "b": 10}, yaxis={"autorange": "reversed"},
                   xaxis_title="week starting", legend={"orientation": "h", "y": -0.3})
st.plotly_chart(heat, key="deployments_calendar")
ui.download(calendar.drop("week_index"), "production_deployment_calendar.csv")

# -- list ------------------------------------------------------------------------------------------
st.subheader("Every deployment in view")
listing = data.deployments(view, limit=ui.LISTED_ROWS)
st.caption("Newest first. Failed attempts have outcome = failure; caused_failure marks a production deployment "
           "that needed a rollback, a hotfix or had an incident attributed. " + ui.listed(listing.height,
                                                                                         summary["attempts"]))
ui.table(listing, "deployments.csv", height=360, fetch=lambda: data.deployments(view), rows=summary["attempts"],
         column_config={
    "deployed_at": st.column_config.DatetimeColumn("deployed at (UTC)", format="YYYY-MM-DD HH:mm"),
    "recovery_time_hours": st.column_config.NumberColumn("recovery (h)", format="%.1f"),
})
