"""SQL models: ``staging`` (one view per source), ``intermediate`` (verbs), ``marts`` (the public contract).

Each ``<layer>/<name>.sql`` file holds one SELECT and becomes ``<layer>.<name>``; dependencies are
read from the ``schema.table`` names it mentions. ``macros.sql`` defines the shared SQL macros.
"""

from pathlib import Path

MODELS_DIR = Path(__file__).parent
