"""Run the SQL models in ``models/`` in dependency order: the one implementation behind
``lifecycle build`` and the Dagster model assets.

A model is ``models/<layer>/<name>.sql`` holding one SELECT; it becomes ``<layer>.<name>``:
a view in ``staging`` (cheap, always current), a table in ``intermediate`` and ``marts`` (computed
once per build, then read by several models and by readers). Dependencies are the ``layer.name`` references
in the SQL — no templating to learn.

Two header comments change how a model is materialised (docs/performance.md):

- ``-- materialized: view`` — a view even outside ``staging`` (a mart that only renames its input);
- ``-- incremental: <key>`` — a table maintained **by load**: the first build (or any change to its SQL,
  the SQL of the staging models it reads, the macros, the configuration tables or its other inputs)
  computes it in full; later builds compute it only for the ``raw.events`` of loads not folded in yet
  and replace the rows with those keys. How each staging model it reads takes part is in
  pipelines/incremental.py (``per_event``, ``siblings (cols)``, ``recompute``; a model using window
  functions without a declaration is recomputed);
- ``-- incremental: partition (<key>)`` — a table maintained **by partition**: its rows for one key value
  depend only on its inputs' rows with that value, so a build recomputes only the values whose input rows
  changed (pipelines/partitions.py); ``partition (artifact_id, chain_id, commit_sha)``: the columns after the
  key link rows without it to the key values (an artifact's chain's and commit's events);
- ``-- incremental: period (ts)`` — a table maintained **by period**: its day, week and month rows depend only
  on its inputs' rows of that period, so a build recomputes the months with changed days and the other periods
  (``all``, rolling windows) (pipelines/periods.py);
- ``-- indexes: a, b`` — an ART index on each column, for the point lookups readers make (a journey's events
  by artifact, chain, commit): DuckDB then reads the few matching rows instead of scanning every row group.

``lifecycle build --full-refresh`` recomputes everything.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from models import MODELS_DIR
from pipelines import changelog, incremental, partitions, periods, source_config

LAYERS = ("staging", "intermediate", "marts")
_REF = re.compile(r"\b(raw|staging|intermediate|marts)\.([a-z_][a-z0-9_]*)\b")
_COMMENT = re.compile(r"--[^\n]*")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(view|table)\b", re.M)
_INCREMENTAL = re.compile(r"^--\s*incremental:\s*([a-z_]+)\b(?:\s*\(([a-z_, ]+)\))?(\s+with null key\b)?", re.M)
_INDEXES = re.compile(r"^--\s*indexes:\s*([a-z_, ]+)$", re.M)


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    path: Path
    sql: str  # for a Python model: its docstring (the definition in words)
    deps: tuple[str, ...]  # qualified names of models (raw tables excluded)
    # a model computed in Python: (conn, full_refresh) -> (rows, mode, rows computed), as _run returns
    python: Callable[[duckdb.DuckDBPyConnection, bool], tuple[int, str, int | None]] | None = None

    @property
    def qualified(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def materialization(self) -> str:
        declared = _MATERIALIZED.search(self.sql)
        if declared:
            return declared.group(1)
        return "view" if self.layer == "staging" else "table"

    @property
    def incremental(self) -> str | None:
        """The key column of a model maintained by load; for a staging model how incremental runs read it
        (``per_event``, ``siblings``, ``recompute`` — pipelines/incremental.py); else None."""
        declared = _INCREMENTAL.search(self.sql) if self.python is None else None
        return declared.group(1) if declared else None

    def _declared_columns(self, kind: str) -> tuple[str, ...]:
        """The columns in ``-- incremental: <kind> (a, b)``; () when the header declares another kind or none."""
        declared = _INCREMENTAL.search(self.sql) if self.python is None else None
        if not declared or declared.group(1) != kind or not declared.group(2):
            return ()
        return tuple(c.strip() for c in declared.group(2).split(",") if c.strip())

    @property
    def sibling_columns(self) -> tuple[str, ...]:
        """``-- incremental: siblings (a, b)``: the columns whose equal values make events one group."""
        return self._declared_columns("siblings")

    @property
    def partition_column(self) -> str | None:
        """``-- incremental: partition (artifact_id)``: the key the model is maintained by (pipelines/partitions.py)."""
        return next(iter(self._declared_columns("partition")), None)

    @property
    def period_column(self) -> str | None:
        """``-- incremental: period (ts)``: the time column the model is maintained by (pipelines/periods.py)."""
        return next(iter(self._declared_columns("period")), None)

    @property
    def partition_links(self) -> tuple[str, ...]:
        """``-- incremental: partition (artifact_id, chain_id, commit_sha)``: the columns after the key, through
        which rows without the key belong to a key value (pipelines/partitions.py)."""
        return self._declared_columns("partition")[1:]

    @property
    def partition_keeps_null(self) -> bool:
        """``-- incremental: partition (service, artifact_id) with null key``: rows of the model may have a null key,
        a partition of its own even though link columns are declared (pipelines/partitions.py)."""
        declared = _INCREMENTAL.search(self.sql) if self.python is None else None
        return bool(declared and declared.group(1) == "partition" and declared.group(3))

    @property
    def indexed_columns(self) -> tuple[str, ...]:
        """``-- indexes: artifact_id, chain_id``: the columns given an ART index after each build."""
        declared = _INDEXES.search(self.sql) if self.python is None else None
        return tuple(c.strip() for c in declared.group(1).split(",") if c.strip()) if declared else ()

    @property
    def description(self) -> str:
        """The SQL's leading comment block: the model's definition in words."""
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            if not (_MATERIALIZED.match(line) or _INCREMENTAL.match(line) or _INDEXES.match(line)):
                lines.append(line[2:].strip())
        return " ".join(lines)


def python_models() -> list[Model]:
    """Models computed in Python (graph walks SQL does badly), declared with their inputs."""
    from pipelines import linking

    return [
        Model("intermediate", "change_deliveries", Path(linking.__file__),
              "-- " + (linking.__doc__ or "").strip().splitlines()[0],
              ("intermediate.commits", "intermediate.deployments"), linking.build_change_deliveries),
    ]


@cache
def discover_models(root: Path = MODELS_DIR) -> dict[str, Model]:
    """All models by qualified name; fails loudly on a reference to a model that does not exist."""
    models: dict[str, Model] = {m.qualified: m for m in python_models()} if root == MODELS_DIR else {}
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            sql = path.read_text()
            refs = {f"{s}.{n}" for s, n in _REF.findall(_COMMENT.sub("", sql)) if s != "raw"}
            name = path.stem
            refs.discard(f"{layer}.{name}")
            models[f"{layer}.{name}"] = Model(layer, name, path, sql, tuple(sorted(refs)))
    for model in models.values():
        missing = [d for d in model.deps if d not in models]
        if missing:
            raise ValueError(f"{model.path}: references unknown model(s) {', '.join(missing)}")
    return models


def build_order(models: dict[str, Model] | None = None) -> list[Model]:
    models = models or discover_models()
    order = TopologicalSorter({name: m.deps for name, m in models.items()}).static_order()
    return [models[name] for name in order]


def create_macros(conn: duckdb.DuckDBPyConnection, root: Path = MODELS_DIR) -> None:
    # the organisation's configuration first: some macros and models read its tables (config.*)
    source_config.install(conn)
    conn.execute((root / "macros.sql").read_text())


def run_model(conn: duckdb.DuckDBPyConnection, model: Model, full_refresh: bool = False) -> int | None:
    """(Re)create one model; returns the row count for tables. Idempotent: create or replace (or, for an
    incremental model, fold in the loads not seen yet — the same rows a full build gives)."""
    rows = _run(conn, model, full_refresh)[0]
    create_indexes(conn, [model])
    return rows


def create_indexes(conn: duckdb.DuckDBPyConnection, models: Iterable[Model] | None = None) -> int:
    """Create the ``-- indexes:`` of the given (default: all) table models that lack them; returns how many.

    Incremental runs keep an index (their deletes and inserts maintain it); a full build replaces the table and
    drops its indexes, so they are made again here — on committed data: inside the build's transaction the same
    indexes cost 6× more (11M events: ~110 s against ~17 s).
    """
    created = 0
    for model in build_order() if models is None else models:
        if model.materialization != "table" or not model.indexed_columns:
            continue
        existing = {e for (e,) in conn.execute(
            "select expressions from duckdb_indexes() where schema_name = ? and table_name = ?",
            [model.layer, model.name]).fetchall()}
        for column in model.indexed_columns:
            if f"[{column}]" not in existing:
                conn.execute(f"create index {model.name}_{column} on {model.qualified} ({column})")
                created += 1
    return created


def _run(conn: duckdb.DuckDBPyConnection, model: Model, full_refresh: bool) -> tuple[int | None, str, int | None]:
    """(rows, how it was built, rows computed this time)."""
    if model.python is not None:
        return model.python(conn, full_refresh)
    key = model.incremental
    if key == "partition" and model.partition_column and model.materialization == "table":
        return partitions.run(conn, model, full_refresh)
    if key == "period" and model.period_column and model.materialization == "table":
        return periods.run(conn, model, full_refresh)
    if key and key != "recompute" and model.materialization == "table":
        return incremental.run(conn, model, key, full_refresh)
    if model.materialization == "table":
        changelog.replace(conn, model.qualified, model.sql, diff=not full_refresh)
        rows = conn.execute(f"select count(*) from {model.qualified}").fetchone()[0]
        return rows, "full", rows
    conn.execute(f"create or replace {model.materialization} {model.qualified} as\n{model.sql}")
    return None, model.materialization, None


@dataclass
class ModelRun:
    model: str
    rows: int | None
    seconds: float
    mode: str = "full"  # full | incremental | unchanged | view
    computed_rows: int | None = None  # rows computed this time (an incremental model: only the new loads')


def build_models(
    conn: duckdb.DuckDBPyConnection,
    select: Iterable[str] | None = None,
    on_model: Callable[[ModelRun], None] | None = None,
    full_refresh: bool = False,
    on_commit: Callable[[float], None] | None = None,
) -> list[ModelRun]:
    """Build all models (or the selected ones, in dependency order) in one transaction.

    One transaction: a failing model leaves the previous build intact, so a publish after a
    failure never happens and readers keep the last good snapshot. ``on_commit`` gets the seconds the
    commit took: the rows replaced in place (by load, partition or period) are written then, so at 10M
    events it is one of an increment's largest steps (docs/performance.md) and no model's line shows it.
    """
    wanted = set(select) if select is not None else None
    runs: list[ModelRun] = []
    conn.execute("begin transaction")
    try:
        create_macros(conn)
        for model in build_order():
            if wanted is not None and model.qualified not in wanted:
                continue
            started = time.perf_counter()
            rows, mode, computed = _run(conn, model, full_refresh)
            run = ModelRun(model.qualified, rows, time.perf_counter() - started, mode, computed)
            runs.append(run)
            if on_model:
                on_model(run)
        started = time.perf_counter()
        conn.execute("commit")
        if on_commit:
            on_commit(time.perf_counter() - started)
    except Exception:
        conn.execute("rollback")
        raise
    return runs
