"""Dagster wiring: thin assets, checks, sensors and schedules over the pure-Python steps."""
