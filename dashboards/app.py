"""Lifecycle analytics dashboard — entry point (``lifecycle dashboard`` runs it).

A multipage app (``st.navigation``): this script draws the shared sidebar filters, then runs the chosen
page from ``dashboards/views/`` — deliberately not ``pages/``, which Streamlit would also serve as pages of
their own, without this script and its filters. Data comes only from the published snapshot, through
``dashboards.data``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import data, filters
from pipelines import warehouse

PAGES = Path(__file__).with_name("views")

st.set_page_config(page_title="Lifecycle analytics", page_icon=":material/rocket_launch:", layout="wide")

navigation = st.navigation(
    {
        "Delivery performance": [
            st.Page(PAGES / "dora.py", title="DORA overview", icon=":material/speed:", url_path="dora",
                    default=True),
            st.Page(PAGES / "deployments.py", title="Deployments", icon=":material/rocket_launch:",
                    url_path="deployments"),
            st.Page(PAGES / "lead_time.py", title="Lead time", icon=":material/timer:", url_path="lead-time"),
        ],
        "Flow": [
            st.Page(PAGES / "journeys.py", title="Journeys", icon=":material/route:", url_path="journeys"),
            st.Page(PAGES / "bottlenecks.py", title="Bottlenecks", icon=":material/hourglass_bottom:",
                    url_path="bottlenecks"),
            st.Page(PAGES / "funnel.py", title="Funnel", icon=":material/filter_alt:", url_path="funnel"),
            st.Page(PAGES / "inventory.py", title="Release inventory", icon=":material/inventory_2:",
                    url_path="inventory"),
        ],
        "Risk": [
            st.Page(PAGES / "incidents.py", title="Incidents & risk", icon=":material/emergency:",
                    url_path="incidents"),
        ],
        "Data": [
            st.Page(PAGES / "health.py", title="Warehouse health", icon=":material/monitor_heart:",
                    url_path="health"),
            st.Page(PAGES / "definitions.py", title="Definitions", icon=":material/menu_book:",
                    url_path="definitions"),
        ],
    }
)

try:
    options = data.filter_options()
except warehouse.NoSnapshot as exc:
    if navigation.url_path == "definitions":
        navigation.run()
    else:
        st.title("Lifecycle analytics")
        st.info(f"Nothing to show yet: {exc}", icon=":material/hourglass_empty:")
    st.stop()

filters.sidebar(options)
if navigation.url_path != "journeys" and "artifact" in st.query_params:
    del st.query_params["artifact"]  # the journey picked on that page is not part of other pages' views
with st.sidebar:
    published = data.snapshot_published_at()
    if published is not None:
        st.caption(f"Snapshot published {published:%Y-%m-%d %H:%M} UTC · data {options.first} → {options.last}")
navigation.run()
