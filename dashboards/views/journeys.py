"""Journeys: one artifact's way from its first commit to production, stage by stage, with every event."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboards import data, filters, metrics, ui

view = filters.current()
ui.header(
    "Journeys — where did this artifact spend its time between commit and production?",
    "Pick an artifact (search by service, version or commit): its timeline from the first commit it delivered "
    "to production, one bar per step coloured by the tool that performed it, and every event behind it.",
    "A step is the time between two consecutive milestones; it is attributed to the tool that performs the later "
    "one (e.g. build queued → build started is the CI's waiting time). Artifacts in the list were built in the "
    "date range.",
    view,
)

search = st.text_input("Search", key="journey_search", placeholder="service, version or commit sha prefix")
found = data.find_artifacts(view, search)
if found.height == 0:
    ui.empty("No artifact matches this search in the current view.")
    st.stop()

labels = {
    r["artifact_id"]: (f"{r['service']} {r['version'] or '?'} · {(r['commit_sha'] or '')[:8]} · "
                       f"{r['furthest_stage']}" + (f" · built {r['built_at']:%Y-%m-%d}" if r["built_at"] else ""))
    for r in found.iter_rows(named=True)
}
ids = list(labels)
wanted = st.query_params.get("artifact")
if wanted in labels and st.session_state.get("journey_artifact") not in labels:
    st.session_state["journey_artifact"] = wanted
if st.session_state.get("journey_artifact") not in labels:
    st.session_state["journey_artifact"] = ids[0]
artifact_id = st.selectbox(f"Artifact ({len(ids)} in view; production first, newest first)", ids,
                           key="journey_artifact", format_func=labels.get)
st.query_params["artifact"] = artifact_id

journey = data.journey(artifact_id)
events = data.journey_events(artifact_id)
deploys = data.journey_deployments(artifact_id)
commits = data.journey_commits(artifact_id)


def first_event(stage: str, environment: str | None = None) -> dict | None:
    rows = events.filter(pl.col("stage") == stage)
    if environment is not None:
        rows = rows.filter(pl.col("environment") == environment)
    return rows.row(0, named=True) if rows.height else None


def tool_of(stage: str, environment: str | None = None, default: str = "?") -> str:
    row = first_event(stage, environment)
    return (row or {}).get("source_tool") or default


# milestones: (name, time, tool that performs it)
milestones: list[tuple[str, object, str]] = []
if journey["first_commit_at"] is not None:
    milestones.append(("first commit", journey["first_commit_at"], tool_of("commit", default="git")))
merged = first_event("change_merged")
if merged is not None:
    milestones.append(("merged", merged["occurred_at"], merged["source_tool"] or "?"))
for name, column, stage in (
    ("build queued", "build_queued_at", "build_queued"),
    ("build started", "build_started_at", "build_started"),
    ("build finished", "build_finished_at", "build_finished"),
    ("packaged", "packaged_at", "artifact_packaged"),
    ("published", "published_at", "artifact_published"),
    ("scanned", "scanned_at", "artifact_scanned"),
):
    if journey[column] is not None:
        milestones.append((name, journey[column], tool_of(stage)))
arrivals = (deploys.filter(pl.col("outcome") == "success").group_by("environment")
            .agg(pl.col("deployed_at").min(), pl.col("source_tool").first()).sort("deployed_at"))
for r in arrivals.iter_rows(named=True):
    milestones.append((f"in {r['environment']}", r["deployed_at"], r["source_tool"] or "?"))
if journey["rolled_back_at"] is not None:
    rollbacks = data.journey_rollbacks(artifact_id)
    tool = rollbacks["source_tool"][0] if rollbacks.height else tool_of("deployed")
    milestones.append(("rolled back", journey["rolled_back_at"], tool or "?"))
if journey["first_incident_at"] is not None:
    milestones.append(("incident opened", journey["first_incident_at"], tool_of("incident_opened", default="?")))
milestones.sort(key=lambda m: m[1])

# -- summary -----------------------------------------------------------------------------------------
top = st.columns(4)
top[0].metric("Service", journey["service"] or "?", border=True)
top[1].metric("Version", journey["version"] or "?", border=True)
top[2].metric("Furthest stage", journey["furthest_stage"], border=True)
if journey["first_commit_at"] is not None and journey["first_production_at"] is not None:
    total = (journey["first_production_at"] - journey["first_commit_at"]).total_seconds()
    top[3].metric("First commit → production", metrics.fmt_duration(total), border=True)
else:
    top[3].metric("First commit → production", "not in production", border=True)
st.caption(
    f"Team {journey['team'] or '?'} · app {journey['app'] or '?'} · commit `{journey['commit_sha'] or '?'}` "
    f"(linked by {journey['commit_link'] or '?'}) · {journey['changes_delivered']} change(s) delivered · "
    f"{journey['incidents']} incident(s) attributed · artifact `{artifact_id}`"
)

# -- timeline ----------------------------------------------------------------------------------------
st.subheader("Timeline: one bar per step, coloured by the tool that performed it")
steps = [
    {"step": f"{a[0]} → {b[0]}", "tool": b[2], "from": a[1], "to": b[1],
     "duration_hours": (b[1] - a[1]).total_seconds() / 3600,
     "duration": metrics.fmt_duration((b[1] - a[1]).total_seconds())}
    for a, b in zip(milestones, milestones[1:], strict=False)
]
if not steps:
    st.info("Only one milestone is known for this artifact: nothing to draw yet.")
else:
    frame = pl.DataFrame(steps)
    longest = max(steps, key=lambda r: r["duration_hours"])
    span = (milestones[-1][1] - milestones[0][1]).total_seconds() / 3600
    st.markdown(
        f"Longest step: **{longest['step']}** — {longest['duration']}"
        + (f" ({longest['duration_hours'] / span:.0%} of the {metrics.fmt_duration(span * 3600)} shown)" if span else "")
        + f", performed by **{longest['tool']}**."
    )
    gantt = px.timeline(frame.to_pandas(), x_start="from", x_end="to", y="step", color="tool", text="duration",
                        color_discrete_map=ui.tool_colours(frame["tool"].to_list()),
                        hover_data={"duration": True, "from": "|%Y-%m-%d %H:%M", "to": "|%Y-%m-%d %H:%M"})
    gantt.update_yaxes(autorange="reversed", title=None)
    gantt.update_traces(textposition="outside", cliponaxis=False)
    gantt.update_layout(height=90 + 34 * len(steps), margin={"t": 10, "b": 10}, xaxis_title="UTC",
                        legend={"title": "tool", "orientation": "h", "y": -0.15})
    st.plotly_chart(gantt, key="journey_gantt")
    st.caption("Bars are to scale: minutes-long CI steps look thin next to days of waiting — the duration is "
               "written beside each bar.")
    ui.download(frame, "journey_steps.csv")

# -- events, deployments, commits ---------------------------------------------------------------------
st.subheader(f"Every event behind this journey ({events.height})")
st.caption("The artifact's own events, its CI/CD chain's, and the commit and pull-request events of the commits "
           "it delivered.")
ui.table(events, "journey_events.csv", height=320)
left, right = st.columns(2)
with left:
    st.markdown(f"**Deployments of this artifact** ({deploys.height})")
    ui.table(deploys, "journey_deployments.csv")
with right:
    st.markdown(f"**Commits it delivered to production** ({commits.height})")
    ui.table(commits, "journey_commits.csv",
             column_config={"lead_time_hours": st.column_config.NumberColumn("lead time (h)", format="%.1f")})
