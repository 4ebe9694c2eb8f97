"""The incremental build (pipelines/incremental.py) gives the same warehouse as a full rebuild.

The sample plus real payloads of several tools (Argo CD, Flux, Harbor, PagerDuty, kubewatch, captured
GitHub requests) are loaded in three batches, with an incremental build after each; then a copy of that
warehouse is rebuilt with ``--full-refresh`` from the same raw events. Every intermediate and mart table must
hold exactly the same rows (as multisets) in both. (Not the CDEvents conformance events: they are the same
examples in two spec versions, sharing ids and times, so which of two identical deployments is "the latest"
is a tie any build may break either way.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines import loader, modeling, tasks
from pipelines.config import resolve_paths
from pipelines.demo import SAMPLE_DIR
from tests.conftest import FIXTURES

SOURCES = [SAMPLE_DIR, FIXTURES / "captured" / "argocd_notifications", FIXTURES / "written",
           FIXTURES / "captured" / "kubewatch_cloudevents", FIXTURES / "captured" / "github_events"]


BY_LOAD = ("intermediate.canonical_events", "intermediate.pushed_commits")  # the models kept by load
# the models kept by partition (pipelines/partitions.py)
BY_PARTITION = ("intermediate.artifact_facts", "intermediate.artifact_events", "intermediate.artifact_scans",
                "intermediate.deployment_events", "intermediate.artifact_progress",
                "intermediate.artifact_arrivals", "intermediate.artifact_supersessions", "intermediate.stage_events",
                "marts.stage_durations", "intermediate.deployments", "marts.deployments", "marts.release_history")
BY_REPOSITORY = "intermediate.change_deliveries"  # the ancestry walk, kept by repository (pipelines/linking.py)
BY_PERIOD = ("marts.dora_metrics", "marts.deployment_activity")  # pipelines/periods.py


def _tables(conn: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [f"{s}.{t}" for s, t in conn.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? "
        "and schema_name in ('intermediate', 'marts') order by all", [catalog]).fetchall()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(incremental warehouse, full-refresh warehouse, the mode of each model kept by load in each build)."""
    from pipelines import incremental

    patch = pytest.MonkeyPatch()
    patch.setattr(incremental, "MIN_EVENTS_FOR_DELTA", 0)  # the delta path even on a small warehouse
    root = tmp_path_factory.mktemp("incremental")
    paths = resolve_paths(root / "inc" / "warehouse.duckdb")
    # the sample's structured file is split in two halves loaded by different builds, so CDEvents runs
    # (started in one load, finished in the next) straddle builds: their groups must be recomputed
    structured = SAMPLE_DIR / "cloudevents.ndjson"
    lines = structured.read_text().splitlines(keepends=True)
    halves = [root / "first-half.ndjson", root / "second-half.ndjson"]
    halves[0].write_text("".join(lines[: len(lines) // 2]))
    halves[1].write_text("".join(lines[len(lines) // 2:]))
    files = [f for f in loader.discover(SOURCES) if f != structured]
    batches = [files[0::2] + [halves[0]], files[1::2], [halves[1]]]
    modes: dict[str, list] = {model: [] for model in (*BY_LOAD, *BY_PARTITION, BY_REPOSITORY, *BY_PERIOD)}
    for batch in batches:
        tasks.ingest(paths, batch)
        for run in tasks.build(paths).runs:
            if run.model in modes:
                modes[run.model].append((run.mode, run.computed_rows < run.rows))
    full = resolve_paths(root / "full" / "warehouse.duckdb")
    full.warehouse.parent.mkdir(parents=True)
    shutil.copyfile(paths.warehouse, full.warehouse)
    runs = tasks.build(full, full_refresh=True).runs
    assert next(r.mode for r in runs if r.model == "intermediate.canonical_events") == "full"
    assert next(r.computed_rows for r in runs if r.model == "intermediate.canonical_events") == next(
        r.rows for r in runs if r.model == "intermediate.canonical_events")
    yield paths, full, modes
    patch.undo()


def test_runs_straddling_two_loads_are_recomputed_as_a_group(built):
    """Some pipeline runs started in the first half of the structured file and finished in the second."""
    paths, _, _ = built
    conn = duckdb.connect(str(paths.warehouse), read_only=True)
    straddling = conn.execute("""
        select count(*) from intermediate.canonical_events f
        join intermediate.canonical_events s using (cdevents_subject, subject_id, cdevents_source)
        join raw.events rf on rf.event_key = f.event_key
        join raw.events rs on rs.event_key = s.event_key
        where f.cdevents_predicate = 'finished' and s.cdevents_predicate = 'started' and rf.load_id <> rs.load_id
    """).fetchone()[0]
    assert straddling > 0


def test_later_builds_only_fold_in_new_loads(built):
    _, _, modes = built
    # the second and third builds computed rows only for their own loads' events (and the recomputed sources)
    for model in BY_LOAD:
        assert modes[model] == [("full", False), ("incremental", True), ("incremental", True)], model


def test_later_builds_recompute_only_the_changed_partitions(built):
    _, _, modes = built
    for model in BY_PARTITION:
        assert modes[model] == [("full", False), ("incremental", True), ("incremental", True)], model
    # the second load touches some repositories; the third, every repository that has deployments
    assert modes[BY_REPOSITORY] == [("full", False), ("incremental", True), ("incremental", False)]


def test_the_partitioned_models_read_their_inputs_changes_from_logs_instead_of_hashing(built):
    """Every input of a model kept by partition or period is a logged model (pipelines/changelog.py): the
    readers keep the version they read of each, and no hash of any input."""
    paths, _, _ = built
    conn = duckdb.connect(str(paths.warehouse), read_only=True)
    readers = {m for (m,) in conn.execute("select distinct model from build_state.read_versions").fetchall()}
    assert readers == {*BY_PARTITION, *BY_PERIOD}
    assert conn.execute("select count(*) from build_state.partition_hashes where model in "
                        "(select unnest(?::varchar[]))", [[*BY_PARTITION, *BY_PERIOD]]).fetchone()[0] == 0


def test_later_builds_keep_the_period_marts_by_period(built):
    """The batches interleave the sample's files, so a later load may touch every month (rows computed then
    need not be fewer); test_periods.py counts them on a hand-made history. Here: the mode, and — below — the
    same rows as a full rebuild."""
    _, _, modes = built
    for model in BY_PERIOD:
        assert [mode for mode, _ in modes[model]] == ["full", "incremental", "incremental"], model


def test_incremental_builds_equal_a_full_rebuild(built):
    paths, full, _ = built
    conn = duckdb.connect(str(paths.warehouse), read_only=True)
    conn.execute("attach ? as full_build (read_only)", [str(full.warehouse)])
    tables = _tables(conn, paths.warehouse.stem)
    assert tables == _tables(conn, "full_build")
    assert "intermediate.canonical_events" in tables and len(tables) > 20
    differ = {}
    for table in tables:
        only_inc = conn.execute(f"select count(*) from (select * from {table} except all "
                                f"select * from full_build.{table})").fetchone()[0]
        only_full = conn.execute(f"select count(*) from (select * from full_build.{table} except all "
                                 f"select * from {table})").fetchone()[0]
        if only_inc or only_full:
            differ[table] = (only_inc, only_full)
    assert differ == {}
    assert conn.execute("select count(distinct source_tool) from intermediate.canonical_events").fetchone()[0] >= 7


def test_the_declared_lookup_indexes_survive_incremental_builds_and_serve_point_lookups(built):
    """``-- indexes:`` (pipelines/modeling.py): made by the first build, kept through the delete-and-insert of
    the incremental ones, made again by a full refresh — and DuckDB answers a journey's lookup with them."""
    declared = modeling.discover_models()["intermediate.canonical_events"].indexed_columns
    assert declared == ("artifact_id", "chain_id", "commit_sha", "incident_id")
    for warehouse in (built[0].warehouse, built[1].warehouse):
        conn = duckdb.connect(str(warehouse), read_only=True)
        indexed = conn.execute("select expressions from duckdb_indexes() where schema_name = 'intermediate' "
                               "and table_name = 'canonical_events' order by index_name").fetchall()
        assert [e[0] for e in indexed] == [f"[{c}]" for c in declared]
        artifact, events = conn.execute("select artifact_id, count(*) from marts.lifecycle_events "
                                        "where artifact_id is not null group by all order by all limit 1").fetchone()
        lookup = "from marts.lifecycle_events where artifact_id = $a"
        plan = conn.execute(f"explain analyze select event_key {lookup}", {"a": artifact}).fetchall()[0][1]
        assert "Index Scan" in plan  # chosen when the query runs: a plain explain shows a sequential scan
        assert conn.execute(f"select count(*) {lookup}", {"a": artifact}).fetchone()[0] == events
        conn.close()


def test_a_build_without_new_loads_changes_nothing_and_a_config_change_rebuilds(built, tmp_path, monkeypatch):
    from pipelines import incremental

    monkeypatch.setattr(incremental, "MIN_EVENTS_FOR_DELTA", 0)
    paths, _, _ = built
    copy = resolve_paths(tmp_path / "warehouse.duckdb")
    shutil.copyfile(paths.warehouse, copy.warehouse)
    model = modeling.discover_models()["intermediate.canonical_events"]
    conn = duckdb.connect(str(copy.warehouse))
    modeling.create_macros(conn)
    before = conn.execute("select count(*) from intermediate.canonical_events").fetchone()[0]
    assert modeling._run(conn, model, False) == (before, "unchanged", 0)
    conn.close()

    config = tmp_path / "lifecycle.toml"
    config.write_text('[services.fund-transfer]\nteam = "treasury"\n')
    monkeypatch.setenv("LIFECYCLE_CONFIG", str(config))
    conn = duckdb.connect(str(copy.warehouse))
    modeling.create_macros(conn)
    assert modeling._run(conn, model, False) == (before, "full", before)  # the configuration is in the fingerprint
    assert conn.execute("select count(*) from intermediate.canonical_events where service = 'fund-transfer' "
                        "and team is distinct from 'treasury'").fetchone()[0] == 0


def test_a_small_warehouse_is_rebuilt_in_full(tmp_path, monkeypatch):
    """Below MIN_EVENTS_FOR_DELTA stored events the full rebuild is the cheaper path (pipelines/incremental.py)."""
    from pipelines import incremental

    monkeypatch.setattr(incremental, "MIN_EVENTS_FOR_DELTA", 10_000)  # the sample has ~5k events
    paths = resolve_paths(tmp_path / "warehouse.duckdb")
    files = sorted(SAMPLE_DIR.glob("*.ndjson"))
    tasks.ingest(paths, files[:2])
    tasks.build(paths)
    tasks.ingest(paths, files[2:])
    run = next(r for r in tasks.build(paths).runs if r.model == "intermediate.canonical_events")
    assert (run.mode, run.computed_rows) == ("full", run.rows)


def test_the_benchmark_equality_check_agrees_and_catches_a_changed_row(built, tmp_path):
    """benchmarks/check_incremental.py (the same comparison for a benchmark's warehouse, by row hashes): 0 both
    ways on the incremental warehouse; one changed row of a partitioned model is one row each way."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "check_incremental", Path(__file__).resolve().parents[2] / "benchmarks" / "check_incremental.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert set(check.incremental_models()) == {*BY_PARTITION, *BY_PERIOD}
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built[0].warehouse, copy)
    assert check.main([str(copy), "marts.stage_durations", "marts.dora_metrics"]) == 0
    conn = duckdb.connect(str(copy))
    modeling.create_macros(conn)
    rows, *_ = check.compare(conn, "marts.stage_durations")
    conn.execute("update marts.stage_durations set duration_s = duration_s + 1 "
                 "where rowid = (select min(rowid) from marts.stage_durations)")
    assert check.compare(conn, "marts.stage_durations") == (rows, 1, 1)
    conn.close()
    assert check.main([str(copy), "marts.stage_durations"]) == 1
