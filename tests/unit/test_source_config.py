"""The configuration file (pipelines/source_config.py): tool-specific names → canonical services and
environments, the configured team / app / tier / order, and the incident labels."""

from __future__ import annotations

import pytest

from pipelines import source_config
from pipelines.source_config import ConfigError, parse_config
from tests.source_helpers import (
    OCTOKIT,
    WRITTEN,
    argocd_notification,
    build,
    digest,
    fixture,
    github,
    ingest,
    lifecycle,
    request,
    rows,
    sha,
    utc,
)

CONFIG = """
incident_labels = ["incident", "Sev1"]

[environments.production]
tier = "production"
order = 40
aliases = ["eu-live", "PRD-EU"]

[environments.acceptance]
tier = "staging"
order = 30

[services.shop]
team = "web"
app = "storefront"
aliases = ["Shop API", "shop-eu-live"]
repositories = ["https://github.com/Acme/Shop.git"]
images = ["harbor.acme.io/web/shop-backend"]

[services.checkout]
team = "payments"
repositories = ["acme/monorepo"]

[services.billing]
repositories = ["acme/monorepo"]
"""


def test_the_file_is_checked_and_its_names_normalised():
    config = parse_config(CONFIG)
    assert config.incident_labels == ("incident", "sev1")
    shop = next(s for s in config.services if s.name == "shop")
    assert (shop.repositories, shop.images) == (("acme/shop",), ("shop-backend",))
    assert parse_config("").incident_labels == ("incident",)
    for text, message in [
        ("[environments.x]\ntier = 'prod'", "environments.x.tier: 'prod' is not one of"),
        ("[services.x]\nowner = 'a'", "services.x: unknown key(s) owner"),
        ("[teams.x]", "unknown section(s) teams"),
        ("[services.a]\naliases = ['z']\n[services.b]\naliases = ['Z']", "service alias 'Z' names both 'a' and 'b'"),
        ("[environments.a]\norder = 'first'", "environments.a.order: expected an integer"),
        ("x = [", "not valid TOML"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_config(text)


def test_a_missing_config_file_named_by_the_environment_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(source_config.CONFIG_ENV, str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="no such file"):
        source_config.load_config()


def test_names_from_every_tool_resolve_to_the_configured_service_environment_team_and_tier(paths, tmp_path, monkeypatch):
    """An Argo CD app named `shop-eu-live` deploys image shop-backend@D to environment `eu-live` at 10:02;
    a PagerDuty incident on service `Shop API` opens at 11:00; a GitHub issue labelled `Sev1` in acme/shop
    opens at 11:30; a GitHub deployment of acme/monorepo (two services) goes to `PRD-EU` at 12:00.

    With the configuration: the deployment is `shop`'s, in environment `production` (tier production,
    order 40), team web, app storefront; both incidents are `shop`'s, attributed to that deployment; the
    monorepo deployment keeps its own name (a repository of two services names neither)."""
    config = tmp_path / "lifecycle.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv(source_config.CONFIG_ENV, str(config))
    d = digest("shop-backend-1")
    argo = argocd_notification("shop-eu-live", "shop-eu-live", revision=sha("r"), repo_url="https://github.com/acme/shop",
                               images=[f"harbor.acme.io/web/shop-backend:1.0@{d}"], phase="Succeeded",
                               started="2026-03-02T10:00:00Z", finished="2026-03-02T10:02:00Z",
                               notified="2026-03-02T10:02:01Z", history=[(sha("r"), "2026-03-02T10:02:00Z")],
                               labels={"environment": "eu-live"})
    pd = fixture(WRITTEN / "pagerduty" / "incident.triggered.json")
    pd["event"]["data"].update(created_at="2026-03-02T11:00:00Z")
    pd["event"]["data"]["service"]["summary"] = "Shop API"
    issue = fixture(OCTOKIT / "issues" / "opened.payload.json")
    issue["repository"].update(full_name="acme/shop", name="shop")
    issue["issue"].update(created_at="2026-03-02T11:30:00Z", labels=[{"name": "SEV1"}])
    deployment = fixture(OCTOKIT / "deployment_status" / "payload.json")
    deployment["repository"].update(full_name="acme/monorepo", name="monorepo")
    deployment["deployment_status"].update(environment="PRD-EU", created_at="2026-03-02T12:00:00Z")
    deployment["deployment"]["environment"] = "PRD-EU"
    ingest(paths, tmp_path, "cfg.ndjson", [
        lifecycle("argocd", argo, **{"X-Lifecycle-Delivery": "argo-1"}),
        request({"X-PagerDuty-Signature": "v1=0"}, pd), github("issues", issue, "issue-1"),
        github("deployment_status", deployment, "mono-1")])
    build(paths)
    assert rows(paths, "select deployment_id, service, team, app, environment, environment_tier, is_production "
                       "from marts.deployments order by deployed_at") == [
        ("argo-1", "shop", "web", "storefront", "production", "production", True),
        ("mono-1", "monorepo", None, None, "production", "production", True),
    ]
    assert rows(paths, "select incident_id, service, opened_at, deployment_id, attribution from marts.incidents "
                       "order by opened_at") == [
        ("Q2K8YP3NFIF7AB", "shop", utc("2026-03-02 11:00"), "argo-1", "latest_production_deployment"),
        ("acme/shop#1", "shop", utc("2026-03-02 11:30"), "argo-1", "latest_production_deployment"),
    ]
    assert rows(paths, "select distinct environment_order from intermediate.canonical_events "
                       "where environment = 'production'") == [(40,)]
    assert rows(paths, "select environment, tier, environment_order from config.environments order by 1") == [
        ("acceptance", "staging", 30), ("production", "production", 40)]
