"""Lifecycle analytics dashboard — entry point (``lifecycle dashboard`` runs it).

For now one overview page: what has been loaded, per stage and tool, from the published snapshot.
The DORA, journeys, bottleneck and inventory pages land with their marts.
"""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards.data import query
from pipelines import warehouse


def overview() -> None:
    st.title("Lifecycle analytics")
    try:
        totals = query(
            "select count(*) as events, count(distinct source_tool) as tools, "
            "count(*) filter (where stage is null) as unmapped, min(occurred_at) as first, max(occurred_at) as last "
            "from marts.lifecycle_events"
        ).row(0, named=True)
        quarantined = query("select count(*) as n from raw.quarantine").item()
    except warehouse.NoSnapshot as exc:
        st.info(f"Nothing to show yet: {exc}")
        return
    cols = st.columns(4)
    cols[0].metric("Events", f"{totals['events']:,}")
    cols[1].metric("Tools", totals["tools"])
    cols[2].metric("Without a stage", f"{totals['unmapped']:,}")
    cols[3].metric("Quarantined", f"{quarantined:,}")
    if totals["events"]:
        st.caption(f"From {totals['first']:%Y-%m-%d %H:%M} to {totals['last']:%Y-%m-%d %H:%M} UTC")
    by_stage = query(
        "select coalesce(stage, '(unmapped)') as stage, source_tool, count(*) as events "
        "from marts.lifecycle_events group by all order by events desc"
    )
    st.subheader("Events per stage and tool")
    st.plotly_chart(px.bar(by_stage.to_pandas(), x="stage", y="events", color="source_tool"), width="stretch")
    st.dataframe(by_stage, hide_index=True)
    st.download_button("Download CSV", by_stage.write_csv(), "events_per_stage.csv", "text/csv")


page = st.navigation([st.Page(overview, title="Overview", url_path="overview", default=True)])
st.set_page_config(page_title="Lifecycle analytics", layout="wide")
page.run()
