"""lifecycle-analytics: lifecycle events in, artifact journeys and DORA metrics out.

The package holds the pure-Python ingestion, modelling and publishing code (no Dagster import
outside `pipelines.definitions` and `pipelines.orchestration`), so the CLI and the Dagster assets
call the same functions.
"""

__version__ = "0.1.0"
