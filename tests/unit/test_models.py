"""SQL macros and model discovery: the small pieces the staging models are built from."""

from __future__ import annotations

import duckdb
import pytest

from pipelines import modeling


@pytest.fixture(scope="module")
def conn():
    connection = duckdb.connect()
    modeling.create_macros(connection)
    yield connection
    connection.close()


def one(conn, sql, *params):
    return conn.execute(f"select {sql}", list(params)).fetchone()[0]


@pytest.mark.parametrize(("purl", "normalised", "version", "digest"), [
    ("pkg:oci/myapp@sha256%3A" + "0b31" * 16 + "?repository_url=reg.example/app&tag=1.4.2",
     "pkg:oci/myapp@sha256:" + "0b31" * 16, "1.4.2", "sha256:" + "0b31" * 16),
    ("pkg:OCI/MyApp@sha256:" + "ab" * 32, "pkg:oci/MyApp@sha256:" + "ab" * 32, None, "sha256:" + "ab" * 32),
    ("pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c", "pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c",
     "234fd47e07d1004f0aed9c", None),
    ("pkg:npm/%40scope/left-pad", "pkg:npm/@scope/left-pad", None, None),
    ("not-a-purl", "not-a-purl", None, None),
])
def test_purls_normalise_to_one_identity(conn, purl, normalised, version, digest):
    assert one(conn, "normalise_purl(?)", purl) == normalised
    assert one(conn, "purl_version(?)", purl) == version
    assert one(conn, "purl_digest(?)", purl) == digest


@pytest.mark.parametrize(("env", "tier"), [
    ("prod", "production"), ("prod-eu", "production"), ("production", "production"), ("prd1", "production"),
    ("live", "production"), ("PROD_US", "production"), ("products", "unknown"), ("staging", "staging"),
    ("preprod", "staging"), ("qa", "testing"), ("uat", "testing"), ("dev", "development"),
    ("sandbox", "development"), ("perf", "unknown"), (None, None),
])
def test_environment_tiers_by_name(conn, env, tier):
    assert one(conn, "default_environment_tier(?)", env) == tier


@pytest.mark.parametrize(("source", "tool"), [
    ("https://github.com/bank-org/fund-transfer", "github"), ("/argo-cd/prod-eu", "argocd"),
    ("https://tekton.example/ci", "tekton"), ("https://ci.example.com/x", "ci.example.com"),
    ("/ticketing/system", "ticketing"), (None, "unknown"),
])
def test_tool_from_source(conn, source, tool):
    assert one(conn, "tool_from_source(?)", source) == tool


@pytest.mark.parametrize(("raw", "outcome"), [
    ("success", "success"), ("pass", "success"), ("FAIL", "failure"), ("error", "error"), ("cancel", "cancelled"),
    ("canceled", "cancelled"), ("skip", "skipped"), ("weird", "weird"), (None, None), ("", None),
])
def test_outcomes_share_one_vocabulary(conn, raw, outcome):
    assert one(conn, "normalise_outcome(?)", raw) == outcome


def test_commit_sha_only_when_it_looks_like_one(conn):
    assert one(conn, "as_commit_sha(?)", "ABCDEF1") == "abcdef1"
    assert one(conn, "as_commit_sha(?)", "myChange123") is None
    assert one(conn, "as_commit_sha(?)", "a" * 41) is None


def test_models_are_discovered_with_their_dependencies_in_order():
    models = modeling.discover_models()
    assert {"staging.cdevents", "staging.cloudevents", "staging.webhooks", "marts.lifecycle_events"} <= set(models)
    assert set(models["intermediate.canonical_events"].deps) >= {
        "staging.cdevents", "staging.cloudevents", "staging.webhooks", "staging.github_push_commits"}
    assert models["marts.lifecycle_events"].deps == ("intermediate.canonical_events",)
    order = [m.qualified for m in modeling.build_order()]
    assert order.index("staging.cdevents") < order.index("intermediate.canonical_events")
    assert order.index("intermediate.change_deliveries") < order.index("marts.changes")
    # the default by layer, and the header that overrides it (a mart that only projects its input)
    assert models["marts.dora_metrics"].materialization == "table"
    assert models["marts.lifecycle_events"].materialization == "view"
    assert "materialized" not in models["marts.lifecycle_events"].description
    assert models["staging.cdevents"].materialization == "view"
    assert models["intermediate.canonical_events"].incremental == "event_key"
    assert models["staging.argocd_notifications"].incremental == "recompute"
    assert models["staging.cdevents"].sibling_columns == ("cdevents_run", "subject_id", "cdevents_source")
    assert models["staging.github_push_commits"].incremental == "per_event"
    assert models["staging.webhooks"].incremental is None
    assert models["intermediate.change_deliveries"].python is not None
    assert models["staging.cdevents"].description.startswith("staging.cdevents:")


def test_a_reference_to_a_missing_model_is_an_error(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "x.sql").write_text("select * from staging.nope")
    with pytest.raises(ValueError, match="staging.nope"):
        modeling.discover_models(tmp_path)


def test_declared_indexes_are_made_once_and_again_after_a_full_rebuild(tmp_path):
    """``-- indexes: a, b``: run_model (a Dagster asset's path) and create_indexes (after a build commits) make
    each missing index, never one twice; replacing the table drops them, and the next call makes them again."""
    (tmp_path / "intermediate").mkdir()
    (tmp_path / "intermediate" / "lookups.sql").write_text(
        "-- intermediate.lookups: a table readers look rows up in.\n-- indexes: artifact_id, chain_id\n"
        "select 'a' as artifact_id, 'c' as chain_id, 1 as n\n")
    model = modeling.discover_models(tmp_path)["intermediate.lookups"]
    assert model.indexed_columns == ("artifact_id", "chain_id")
    assert model.description == "intermediate.lookups: a table readers look rows up in."
    conn = duckdb.connect()
    conn.execute("create schema intermediate")

    def indexes():
        return conn.execute("select index_name, expressions from duckdb_indexes() order by all").fetchall()

    assert modeling.run_model(conn, model) == 1
    made = [("lookups_artifact_id", "[artifact_id]"), ("lookups_chain_id", "[chain_id]")]
    assert indexes() == made
    assert modeling.create_indexes(conn, [model]) == 0 and indexes() == made
    conn.execute("create or replace table intermediate.lookups as select 'b' as artifact_id, 'd' as chain_id")
    assert indexes() == []
    assert modeling.create_indexes(conn, [model]) == 2 and indexes() == made
