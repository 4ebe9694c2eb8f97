"""Subscriptions: route lifecycle events from the landing zone to the tools that act on them (docs/subscriptions.md).

Pure Python, no Dagster. Modules: ``rules`` (the rules file and its validation), ``match`` (filters on canonical
attributes), ``canonicalise`` (landing files → canonical events with the project's own SQL models, in memory),
``render`` (CloudEvents via the SDK, chat messages), ``deliver`` (one HTTP POST, backoff, Retry-After),
``store`` (ledger, outbox and counters in SQLite), ``dispatch`` (the loop behind ``lifecycle subscriptions run``).
"""
