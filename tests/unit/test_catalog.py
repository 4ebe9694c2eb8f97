"""The Backstage catalogue (`lifecycle ingest-catalog`): reading catalog-info.yaml, recording its states over
time, and team / app of deployments following the catalogue at deployment time.

Fixtures: tests/fixtures/written/backstage (v1, and v2 where the shop service moved to the checkout team).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from pipelines import catalog, cli, source_config, tasks
from pipelines.catalog import CatalogError
from tests.conftest import FIXTURES
from tests.unit.test_flow_world import FlowWorld, rows

BACKSTAGE = FIXTURES / "written" / "backstage"
V1, V2 = BACKSTAGE / "v1", BACKSTAGE / "v2"
FIELDS = ("entity_ref", "owner", "system", "domain", "lifecycle", "entity_type", "repository")


def test_components_and_systems_are_read_other_kinds_and_other_yaml_skipped():
    """v1: catalog-info.yaml (System storefront, Component shop, API shop-api) and payments/catalog-info.yaml
    (Group payments, System payments-core, Component ledger) → 2 components + 2 systems, 2 other entities.
    Owners and systems are entity references reduced to their name (group:default/web → web,
    system:default/payments-core → payments-core); shop's repository is its project slug, ledger's its
    source location up to /tree/. v2 also holds deploy/values.yaml (YAML, no entity) and deploy/deployment.yaml
    (an unrendered Helm template, not YAML): skipped."""
    read = catalog.read_catalog([V1])
    assert (read.files, read.other_entities, read.skipped_files) == (2, 2, [])
    assert sorted(tuple(e[f] for f in FIELDS) for e in read.entities) == [
        ("component:default/ledger", "payments", "payments-core", None, "production", "service", "acme/ledger"),
        ("component:default/shop", "web", "storefront", None, "production", "service", "acme/shop"),
        ("system:default/payments-core", "payments", None, "finance", None, None, None),
        ("system:default/storefront", "web", None, "commerce", None, None, None),
    ]
    v2 = catalog.read_catalog([V2])
    assert sorted(v2.skipped_files) == [str(V2 / "deploy" / "deployment.yaml"), str(V2 / "deploy" / "values.yaml")]
    assert next(e["owner"] for e in v2.entities if e["name"] == "shop") == "checkout"


def test_named_files_must_be_catalogues_and_an_entity_is_defined_once(tmp_path):
    with pytest.raises(CatalogError, match="no Backstage entity"):
        catalog.read_catalog([V2 / "deploy" / "values.yaml"])
    with pytest.raises(CatalogError, match="not valid YAML"):
        catalog.read_catalog([V2 / "deploy" / "deployment.yaml"])
    # v1's and v2's catalog-info.yaml both define System storefront (their first document) and Component shop
    with pytest.raises(CatalogError, match="system:default/storefront is defined twice: in .*v1.* and .*v2"):
        catalog.read_catalog([V1, V2])
    nameless = tmp_path / "catalog-info.yaml"
    nameless.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {}\nspec: {owner: x}\n")
    with pytest.raises(CatalogError, match=r"document 1\): a Component needs metadata.name"):
        catalog.read_catalog([nameless])
    with pytest.raises(CatalogError, match="no such file"):
        catalog.read_catalog([tmp_path / "nope"])


@pytest.mark.parametrize(("annotations", "repository"), [
    ({"github.com/project-slug": "Acme/Shop"}, "acme/shop"),
    ({"gitlab.com/project-slug": "group/sub/project"}, "group/sub/project"),
    ({"backstage.io/source-location": "url:https://github.com/acme/ledger/tree/main/"}, "acme/ledger"),
    ({"backstage.io/source-location": "url:https://gitlab.example/group/sub/project/-/tree/main"}, "group/sub/project"),
    ({"backstage.io/source-location": "url:https://bitbucket.org/team/repo/src/main/"}, "team/repo"),
    ({"backstage.io/source-location": "dir:."}, None),
    ({}, None),
])
def test_the_repository_a_component_links(annotations, repository):
    assert catalog.repository(annotations) == repository


def test_an_unchanged_catalogue_is_not_recorded_again(paths):
    """1st import of v1 (now): 4 entities recorded, valid from the import time. v1 again: 0. v2 (shop's owner
    changed): 1 (shop; the rest is unchanged)."""
    before = datetime.now(UTC)
    first = tasks.ingest_catalog(paths, [V1])
    assert first.recorded == 4 and before <= first.valid_from <= datetime.now(UTC)
    assert tasks.ingest_catalog(paths, [V1]).recorded == 0
    assert tasks.ingest_catalog(paths, [V2]).recorded == 1
    assert rows(paths, "select entity_ref, owner from raw.catalog_entities "
                       "where name = 'shop' order by valid_from") == [
        {"entity_ref": "component:default/shop", "owner": "web"},
        {"entity_ref": "component:default/shop", "owner": "checkout"}]


def test_team_and_app_follow_the_catalogue_at_deployment_time(paths, tmp_path, monkeypatch):
    """Acceptance. Every shop event says team `legacy`, app `legacy-app`; lifecycle.toml says shop's team is
    `configured`; the catalogue is imported as of 07-01 00:00 (v1: shop owned by web, system storefront) and as
    of 07-03 00:00 (v2: shop moved to checkout). Precedence: catalogue at the event's time > lifecycle.toml >
    the event. Production deployments of shop, by hand:
      06-30 12:00  before any catalogue state  → team configured (lifecycle.toml), app legacy-app (the event)
      07-01 10:00, 07-02 10:00                 → web, storefront
      07-03 10:00, 07-04 10:00                 → checkout, storefront   (the move changes later ones only)
    search (not in the catalogue) on 07-02 12:00 keeps its event's team search-team.
    dora_metrics, period all, group_by team: checkout 2, configured 1, search-team 1, web 2.
    A commit pushed to acme/ledger names no service: the catalogue links that repository to ledger."""
    config = tmp_path / "lifecycle.toml"
    config.write_text('[services.shop]\nteam = "configured"\n')
    monkeypatch.setenv(source_config.CONFIG_ENV, str(config))
    assert tasks.ingest_catalog(paths, [V1], as_of=datetime(2026, 7, 1, tzinfo=UTC)).recorded == 4
    assert tasks.ingest_catalog(paths, [V2], as_of=datetime(2026, 7, 3, tzinfo=UTC)).recorded == 1
    assert tasks.ingest_catalog(paths, [V2], as_of=datetime(2026, 7, 3, tzinfo=UTC)).recorded == 0

    # minutes after t0 = 2026-07-01 08:00
    day = 24 * 60
    shop = FlowWorld(service="shop", repo="acme/shop", team="legacy", app="legacy-app")
    for n, minutes in enumerate([-20 * 60, 120, day + 120, 2 * day + 120, 3 * day + 120]):
        shop.deploy(f"shop-{n}", minutes, shop.purl(f"1.{n}.0"), "production", "deployed")
    search = FlowWorld(service="search", repo="acme/search", team="search-team", items=shop.items)
    search.deploy("search-0", day + 240, search.purl("4.0.0"), "production", "deployed")
    FlowWorld(service="ledger", repo="acme/ledger", items=shop.items).push("p1", [("c1", 0)])
    shop.build_warehouse(paths, tmp_path / "world")

    assert [(r["deployment_id"], r["team"], r["app"]) for r in rows(
        paths, "select deployment_id, team, app from marts.deployments order by deployed_at")] == [
        ("shop-0", "configured", "legacy-app"),
        ("shop-1", "web", "storefront"),
        ("shop-2", "web", "storefront"),
        ("search-0", "search-team", None),
        ("shop-3", "checkout", "storefront"),
        ("shop-4", "checkout", "storefront"),
    ]
    assert rows(paths, "select group_value, deployments from marts.dora_metrics "
                       "where period = 'all' and group_by = 'team' order by group_value") == [
        {"group_value": "checkout", "deployments": 2}, {"group_value": "configured", "deployments": 1},
        {"group_value": "search-team", "deployments": 1}, {"group_value": "web", "deployments": 2}]
    assert rows(paths, "select service, valid_from, valid_to, team, app, domain from intermediate.service_ownership "
                       "order by service, valid_from") == [
        {"service": "ledger", "valid_from": datetime(2026, 7, 1, tzinfo=UTC), "valid_to": None, "team": "payments",
         "app": "payments-core", "domain": "finance"},
        {"service": "shop", "valid_from": datetime(2026, 7, 1, tzinfo=UTC),
         "valid_to": datetime(2026, 7, 3, tzinfo=UTC), "team": "web", "app": "storefront", "domain": "commerce"},
        {"service": "shop", "valid_from": datetime(2026, 7, 3, tzinfo=UTC), "valid_to": None, "team": "checkout",
         "app": "storefront", "domain": "commerce"},
    ]
    assert rows(paths, "select service from marts.lifecycle_events where stage = 'commit'") == [{"service": "ledger"}]


def test_cli_reports_counts_and_refuses_a_bad_timestamp(paths):
    runner = CliRunner()
    ok = runner.invoke(cli.main, ["ingest-catalog", str(V2), "--as-of", "2026-07-03T00:00:00Z"])
    assert ok.exit_code == 0, ok.output
    assert ("2 catalogue files: 2 components, 2 systems (2 other entities skipped, 2 other YAML files skipped); "
            "4 recorded as of 2026-07-03T00:00:00+00:00, 0 unchanged") in " ".join(ok.output.split())
    bad = runner.invoke(cli.main, ["ingest-catalog", str(V2), "--as-of", "last tuesday"])
    assert bad.exit_code == 1 and "not an ISO 8601 timestamp" in bad.output
