"""The dashboard's pages, run by app.py through st.navigation (not a Streamlit ``pages/`` directory)."""
