"""The Streamlit dashboard (``app.py``); it reads only the published snapshot."""
