"""Release inventory: which version of each service runs in which environment/cluster, now or at a past date."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import polars as pl
import streamlit as st

from dashboards import data, filters, ui

view = filters.current()
ui.header(
    "Release inventory — what runs where?",
    "The version of every service in every environment/cluster, with its owner, app and how long it has run; "
    "versions behind production are highlighted. Pick a past date to see what ran then.",
    "The latest successful deployment per service × environment × cluster (rollbacks included; a removed service "
    "drops out). Drift: production's reference is the newest artifact running in any production cluster; "
    "**behind** = newer versions have reached production since, **ahead** = newer than production (usual for "
    "pre-production).",
    view,
    filters_note="the date range does not apply; use the as-of date",
)

for table, what in (("marts.release_inventory", "service × environment × cluster: version, owner, drift"),
                    ("marts.release_history", "what ran where and when, for the as-of date")):
    problem = data.missing(table)
    if problem == "missing":
        ui.missing_mart(table, what)
        st.stop()
    if problem:
        st.warning(f"{table} {problem}: this dashboard needs them.", icon=":material/construction:")
        st.stop()

now = data.release_inventory(view)
snapshot_as_of = now["as_of"].max() if now.height else None
latest_day = (snapshot_as_of.date() if snapshot_as_of else data.filter_options().last)
as_of_day = st.date_input("As of (end of day, UTC)", value=latest_day, max_value=latest_day,
                          key="inventory_as_of", format="YYYY-MM-DD",
                          help="The last day shows marts.release_inventory; an earlier day is what ran at its end.")
if as_of_day >= latest_day:
    inventory = now
    as_of = snapshot_as_of or datetime.now(UTC)
    st.caption(f"As of {as_of:%Y-%m-%d %H:%M} UTC, the snapshot's newest event (marts.release_inventory).")
else:
    as_of = datetime.combine(as_of_day + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)
    inventory = data.release_inventory_as_of(view, as_of)
    st.caption(f"As of the end of {as_of_day} (UTC), from marts.release_history.")

if inventory.height == 0:
    ui.empty("Nothing ran (in this view) at that time.")
    st.stop()

order = data.environment_order()
inventory = inventory.with_columns(
    ((pl.lit(as_of) - pl.col("running_since")).dt.total_hours() / 24).round(1).alias("running_days"),
    pl.when(pl.col("versions_behind_production") > 0).then(pl.lit("behind production"))
    .when(pl.col("is_ahead_of_production")).then(pl.lit("ahead of production"))
    .when(pl.col("production_version").is_null()).then(pl.lit("not in production"))
    .otherwise(pl.lit("level")).alias("drift"),
    pl.when(pl.col("cluster").is_not_null() & (pl.col("cluster") != pl.col("environment")))
    .then(pl.col("environment") + "/" + pl.col("cluster")).otherwise(pl.col("environment")).alias("where"),
)
behind = inventory.filter(pl.col("drift") == "behind production")
cols = st.columns(4)
cols[0].metric("Services", f"{inventory['service'].n_unique():,}", border=True)
cols[1].metric("Environments/clusters", f"{inventory['where'].n_unique():,}", border=True)
cols[2].metric("Behind production", f"{behind.height:,}", border=True,
               help="Service × environment/cluster running a version older than versions already in production.")
cols[3].metric("Oldest running release", f"{inventory['running_days'].max():.0f} days", border=True)

st.subheader("Version matrix")
where_order = {w: (order.get(e, 99), w) for w, e in zip(inventory["where"], inventory["environment"], strict=True)}
columns = sorted(inventory["where"].unique().to_list(), key=lambda w: where_order[w])
matrix = inventory.pivot(on="where", index="service", values="version", aggregate_function="first")
matrix = matrix.select("service", *[c for c in columns if c in matrix.columns])
meta = inventory.group_by("service").agg(pl.col("team").first(), pl.col("app").first(),
                                         pl.col("production_version").first())
matrix = matrix.join(meta, on="service", how="left").sort("service")
STYLE = {"behind production": "background-color: #fde2e1; color: #a4000f",
         "ahead of production": "background-color: #e3f0fb; color: #0b4f8a"}
# one CSS string per cell, laid out like the matrix (vectorised: the matrix can have hundreds of services)
css = (inventory.with_columns(pl.col("drift").replace_strict(STYLE, default=""))
       .pivot(on="where", index="service", values="drift", aggregate_function="first"))
css = matrix.select("service").join(css, on="service", how="left").with_columns(
    pl.col(c).fill_null("") for c in css.columns if c != "service")


def highlight(frame):
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for where in columns:
        if where in css.columns and where in styles.columns:
            styles[where] = css[where].to_list()
    return styles


shown = matrix.with_columns(pl.col(c).fill_null("—") for c in columns if c in matrix.columns)
st.dataframe(shown.to_pandas().style.apply(highlight, axis=None), hide_index=True)
st.caption("Red: behind production (newer versions already reached production). Blue: ahead of production "
           "(a candidate on its way). —: the service does not run there.")
ui.download(matrix, "release_matrix.csv")

st.subheader("Every service × environment/cluster")
ui.table(inventory.drop("where").sort("service", "environment", "cluster"), "release_inventory.csv",
         column_config={"running_days": st.column_config.NumberColumn("running (days)", format="%.1f")})
