"""Sample lifecycle events of a fictional bank, and the generator that writes them.

``python -m sample_events.generate --out DIR`` writes a deterministic, seeded set of CloudEvents/CDEvents
and GitHub push webhooks plus ``expected.json``, the ground truth computed from the generator's own world
model. ``data/`` holds the committed small sample's events (default seed) and ``expected.json`` beside it their
ground truth (kept outside ``data/`` so that ingesting the folder loads events only); ``SCENARIO.md`` describes
the world, every messy case in it, and the rule behind each expected figure.
"""
