"""Incidents & risk: which deployments caused incidents, how long recovery took, and which services are risky."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import data, filters, metrics, ui
from dashboards.metrics import MIN_N_P50

view = filters.current()
ui.header(
    "Incidents & risk — which deployments hurt, and how long did recovery take?",
    "Incidents opened in view with the deployment they are attributed to, the two recovery figures, and per "
    "service the failed changes, rollbacks, failed deployments and incidents.",
    "Attribution, strongest first: the incident names an artifact (explicit_artifact); else the latest successful "
    "production deployment of the service before it started (latest_production_deployment); else none. "
    "**Incident time to restore** = resolved − opened (plain incident time). **Deployment recovery** = the DORA "
    "failed deployment recovery time of the attributed deployment.",
    view,
)

incidents = data.incidents(view)
risk = data.risk_by_service(view)

cols = st.columns([1, 1, 1.6, 1])
cols[0].metric("Incidents opened", f"{incidents.height:,}", border=True)
attributed = int((incidents["attribution"] != "none").sum()) if incidents.height else 0
cols[1].metric("Attributed to a deployment", f"{attributed:,}",
               f"{attributed / incidents.height:.0%}" if incidents.height else None,
               delta_color="off", delta_arrow="off", border=True)
restore = [v * 3600 for v in incidents["incident_time_to_restore_hours"].drop_nulls().to_list()]
reason = metrics.not_enough(len(restore), MIN_N_P50)
cols[2].metric("Incident time to restore (p50)", "Not enough data" if reason else
               metrics.fmt_duration(metrics.percentile_cont(restore, 0.5)), border=True,
               help="Plain incident time: resolved − opened. Continuous median.")
cols[2].caption(reason or f"n = {len(restore)} resolved incidents")
open_now = int(incidents["resolved_at"].is_null().sum()) if incidents.height else 0
cols[3].metric("Still open", f"{open_now:,}", border=True)

st.subheader("Incidents on a timeline (opened → resolved), by service")
if incidents.height == 0:
    st.success("No incident opened in this view.", icon=":material/check_circle:")
else:
    frame = incidents.with_columns(
        pl.coalesce(pl.col("resolved_at"), pl.col("opened_at").max()).alias("until"),
        pl.col("incident_time_to_restore_hours").map_elements(
            lambda h: metrics.fmt_duration(h * 3600), return_dtype=pl.String).fill_null("open").alias("restore"),
    )
    timeline = px.timeline(
        frame.to_pandas(), x_start="opened_at", x_end="until", y="service", color="attribution",
        hover_data={"incident_id": True, "restore": True, "attributed_version": True, "until": False},
        color_discrete_map={"explicit_artifact": "#d62728", "latest_production_deployment": "#ff7f0e",
                            "none": "#bab0ac"},
    )
    # incidents last hours on a range of weeks: mark each start too, so short ones stay visible
    for attribution, rows in frame.group_by("attribution"):
        timeline.add_trace(go.Scatter(
            x=rows["opened_at"].to_list(), y=rows["service"].to_list(), mode="markers",
            marker={"symbol": "diamond", "size": 12, "color": "#333"}, showlegend=False,
            text=rows["incident_id"].to_list(), hovertemplate="%{text} opened %{x|%Y-%m-%d %H:%M}<extra></extra>",
        ))
    timeline.update_layout(height=120 + 40 * frame["service"].n_unique(), margin={"t": 10, "b": 10},
                           legend={"title": "attribution", "orientation": "h", "y": -0.25}, yaxis_title=None)
    st.plotly_chart(timeline, key="incidents_timeline")
    st.caption("Diamonds mark when each incident opened; bars run until it was resolved.")
    ui.table(incidents, "incidents.csv", column_config={
        "incident_time_to_restore_hours": st.column_config.NumberColumn("incident time to restore (h)",
                                                                        format="%.1f"),
        "deployment_recovery_hours": st.column_config.NumberColumn("deployment recovery (h)", format="%.1f"),
    })

st.subheader("Risk per service: what went wrong in production")
if risk.height == 0:
    ui.empty()
else:
    long = risk.unpivot(index="service", on=["failed_changes", "rollbacks", "failed_deployments", "incidents"],
                        variable_name="kind", value_name="count").filter(pl.col("count") > 0)
    if long.height:
        bars = px.bar(long.to_pandas(), y="service", x="count", color="kind", orientation="h",
                      color_discrete_map={"failed_changes": "#d62728", "rollbacks": "#9467bd",
                                          "failed_deployments": "#ff7f0e", "incidents": "#8c564b"})
        bars.update_layout(height=120 + 32 * long["service"].n_unique(), margin={"t": 10, "b": 10},
                           yaxis={"categoryorder": "total ascending", "title": None}, xaxis_title="count",
                           xaxis={"dtick": 1},
                           legend={"title": None, "orientation": "h", "y": -0.25})
        st.plotly_chart(bars, key="risk_by_service")
    else:
        st.success("Nothing went wrong in production in this view.", icon=":material/check_circle:")
    ui.table(risk, "risk_by_service.csv")

st.subheader("Vulnerable artifacts that reached production")
if data.missing("marts.artifact_risk") is None:
    scanned = data.vulnerable_artifacts_count(view)
    if scanned == 0:
        st.info("No scan results for the artifacts built in this view: the findings appear once scanner events "
                "(stage `artifact_scanned`, e.g. Harbor scan completed) with vulnerability counts are loaded.",
                icon=":material/shield:")
    else:
        vulnerable = data.vulnerable_artifacts(view, limit=ui.LISTED_ROWS)
        st.caption("Scanned artifacts built in view, with their latest scan's findings (marts.artifact_risk): "
                   "production artifacts first, then the most critical and high findings. "
                   + ui.listed(vulnerable.height, scanned))
        ui.table(vulnerable, "vulnerable_artifacts.csv", fetch=lambda: data.vulnerable_artifacts(view), rows=scanned)
else:
    scans = data.scanned_artifacts(view)
    if scans.height == 0:
        st.info(
            "No scan results for the artifacts built in this view: this section fills in once scanner events "
            "(stage `artifact_scanned`, e.g. Harbor scan completed) are loaded.", icon=":material/shield:",
        )
    else:
        st.caption("Scanned artifacts built in view, production ones first; vulnerability counts by severity "
                   "arrive with marts.artifact_risk. " + ui.listed(min(scans.height, ui.LISTED_ROWS), scans.height))
        ui.table(scans.head(ui.LISTED_ROWS), "scanned_artifacts.csv", fetch=lambda: scans, rows=scans.height)
