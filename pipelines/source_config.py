"""The organisation's configuration: how tool-specific names map onto the canonical model.

A TOML file (``LIFECYCLE_CONFIG``, else ``lifecycle.toml`` in the working directory; none is fine — every
table is then empty and the defaults apply) maps

- environment names to a canonical environment, its tier and its order (``[environments.<name>]``);
- services to their team and app, and the names other tools give them — aliases (a PagerDuty service,
  an Argo CD application), repositories and images (``[services.<name>]``);
- the labels that make a GitHub / GitLab issue an incident (``incident_labels``);
- the Kubernetes cluster that kubewatch events and ``lifecycle ingest-kubernetes`` snapshots come from
  (``[kubernetes]``: ``cluster``, ``sources``, ``files``), as a Kubernetes object does not name its cluster;
- which Jenkins jobs build, test or deploy, and the service / environment their names carry (``[jenkins]``).

It is written to tables in schema ``config`` before the models run (``modeling.create_macros``), so the
SQL models join on it like on any table. See docs/sources.md#configuration. Pure Python apart from
``install``; no Dagster imports.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.gitlog import normalise_repository

CONFIG_ENV = "LIFECYCLE_CONFIG"
DEFAULT_FILE = "lifecycle.toml"
DEFAULT_INCIDENT_LABELS = ("incident",)
TIERS = ("production", "staging", "testing", "development", "unknown")


class ConfigError(ValueError):
    """The configuration file cannot be used (the message says where and why, on one line)."""


@dataclass(frozen=True)
class Environment:
    name: str
    tier: str | None
    order: int | None
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Service:
    name: str
    team: str | None
    app: str | None
    aliases: tuple[str, ...]
    repositories: tuple[str, ...]
    images: tuple[str, ...]


@dataclass(frozen=True)
class Kubernetes:
    cluster: str | None = None  # the cluster of kubewatch events and snapshots that name none
    sources: tuple[tuple[str, str], ...] = ()  # kubewatch CloudEvent source (or clusterUid) → cluster
    files: tuple[tuple[str, str], ...] = ()  # snapshot file name glob → cluster

    def cluster_for_file(self, path: Path) -> str | None:
        """The cluster a snapshot file belongs to: the first ``files`` glob matching its name, else ``cluster``."""
        return next((c for pattern, c in self.files if fnmatch.fnmatch(path.name, pattern)), self.cluster)


JENKINS_STAGES = ("build", "test", "deploy")
JENKINS_PLACEHOLDERS = ("service", "environment")


@dataclass(frozen=True)
class JenkinsJob:
    """One ``[jenkins] jobs`` rule: a job name pattern and what a matching job does (first match wins)."""

    match: str  # glob on the job's name: `*`, `?`, and the placeholders {service} / {environment}
    stage: str  # build | test | deploy
    service: str | None = None  # fixed values, for patterns without the placeholder
    environment: str | None = None

    def regex(self, capture: str | None = None) -> str | None:
        """The pattern as an anchored, case-insensitive RE2 regex; with ``capture``, that placeholder is group 1
        (None when the pattern has no such placeholder). Placeholders match one or more characters, the first
        as many as it can: ``deploy-{service}-{environment}`` reads ``deploy-fund-transfer-prod`` as service
        ``fund-transfer``, environment ``prod``."""
        if capture is not None and "{" + capture + "}" not in self.match:
            return None
        parts = []
        for token in re.split(r"(\{[a-z]+\}|[*?])", self.match):
            if token == "*":
                parts.append(".*")
            elif token == "?":
                parts.append(".")
            elif token.startswith("{") and token.endswith("}"):
                parts.append("(.+)" if token[1:-1] == capture else "(?:.+)")
            else:
                parts.append(re.escape(token))
        return "(?i)^" + "".join(parts) + "$"


@dataclass(frozen=True)
class SourceConfig:
    environments: tuple[Environment, ...] = ()
    services: tuple[Service, ...] = ()
    incident_labels: tuple[str, ...] = DEFAULT_INCIDENT_LABELS
    path: Path | None = None
    kubernetes: Kubernetes = Kubernetes()
    jenkins_jobs: tuple[JenkinsJob, ...] = ()
    notes: list[str] = field(default_factory=list)


def config_path() -> Path | None:
    """The configuration file to use: ``$LIFECYCLE_CONFIG`` (must exist), else ./lifecycle.toml if present."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={env}: no such file")
        return path
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")


def _image_name(ref: str) -> str:
    """`harbor.acme.io/web/shop:1.0@sha256:…` → `shop`: the purl name images are matched on."""
    ref = ref.strip().lower().split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def parse_config(text: str, path: Path | None = None) -> SourceConfig:
    """Parse and check the TOML text; raise ConfigError with the offending key on any mistake."""
    where = str(path) if path else "configuration"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"environments", "services", "incident_labels", "kubernetes", "jenkins"}
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} "
                          "(expected environments, services, incident_labels, kubernetes, jenkins)")
    environments = []
    for name, spec in (doc.get("environments") or {}).items():
        key = f"{where}: environments.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{key}: expected a table")
        tier = spec.get("tier")
        if tier is not None and tier not in TIERS:
            raise ConfigError(f"{key}.tier: {tier!r} is not one of {', '.join(TIERS)}")
        order = spec.get("order")
        if order is not None and not isinstance(order, int):
            raise ConfigError(f"{key}.order: expected an integer, got {order!r}")
        extra = set(spec) - {"tier", "order", "aliases"}
        if extra:
            raise ConfigError(f"{key}: unknown key(s) {', '.join(sorted(extra))} (expected tier, order, aliases)")
        environments.append(Environment(name, tier, order, _strings(spec.get("aliases"), f"{key}.aliases")))
    services = []
    for name, spec in (doc.get("services") or {}).items():
        key = f"{where}: services.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{key}: expected a table")
        extra = set(spec) - {"team", "app", "aliases", "repositories", "images"}
        if extra:
            raise ConfigError(f"{key}: unknown key(s) {', '.join(sorted(extra))} "
                              "(expected team, app, aliases, repositories, images)")
        for k in ("team", "app"):
            if spec.get(k) is not None and not isinstance(spec[k], str):
                raise ConfigError(f"{key}.{k}: expected a string, got {spec[k]!r}")
        services.append(Service(name, spec.get("team"), spec.get("app"),
                                _strings(spec.get("aliases"), f"{key}.aliases"),
                                tuple(normalise_repository(r) for r in _strings(spec.get("repositories"),
                                                                                f"{key}.repositories")),
                                tuple(_image_name(i) for i in _strings(spec.get("images"), f"{key}.images"))))
    labels = _strings(doc.get("incident_labels"), f"{where}: incident_labels") or DEFAULT_INCIDENT_LABELS
    config = SourceConfig(tuple(environments), tuple(services), tuple(lbl.lower() for lbl in labels), path,
                          kubernetes=_kubernetes(doc.get("kubernetes"), where),
                          jenkins_jobs=_jenkins_jobs(doc.get("jenkins"), where))
    _check_aliases(config, where)
    return config


def _kubernetes(spec: object, where: str) -> Kubernetes:
    """``[kubernetes]``: ``cluster = "name"``, ``sources = {"<source>" = "name"}``, ``files = {"<glob>" = "name"}``."""
    if spec is None:
        return Kubernetes()
    key = f"{where}: kubernetes"
    if not isinstance(spec, dict):
        raise ConfigError(f"{key}: expected a table")
    extra = set(spec) - {"cluster", "sources", "files"}
    if extra:
        raise ConfigError(f"{key}: unknown key(s) {', '.join(sorted(extra))} (expected cluster, sources, files)")
    cluster = spec.get("cluster")
    if cluster is not None and not isinstance(cluster, str):
        raise ConfigError(f"{key}.cluster: expected a string, got {cluster!r}")
    tables = {}
    for name in ("sources", "files"):
        table = spec.get(name) or {}
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ConfigError(f"{key}.{name}: expected a table of strings (name = \"cluster\"), got {table!r}")
        tables[name] = tuple(table.items())
    return Kubernetes(cluster, tables["sources"], tables["files"])


def _jenkins_jobs(spec: object, where: str) -> tuple[JenkinsJob, ...]:
    """``[jenkins] jobs = [{match = "deploy-{service}-{environment}", stage = "deploy"}, …]``, in file order."""
    if spec is None:
        return ()
    key = f"{where}: jenkins"
    if not isinstance(spec, dict):
        raise ConfigError(f"{key}: expected a table")
    if set(spec) - {"jobs"}:
        raise ConfigError(f"{key}: unknown key(s) {', '.join(sorted(set(spec) - {'jobs'}))} (expected jobs)")
    rules = spec.get("jobs") or []
    if not isinstance(rules, list):
        raise ConfigError(f"{key}.jobs: expected a list of tables, got {rules!r}")
    jobs = []
    for i, rule in enumerate(rules):
        at = f"{key}.jobs[{i}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"{at}: expected a table such as {{match = \"*-build\", stage = \"build\"}}")
        extra = set(rule) - {"match", "stage", "service", "environment"}
        if extra:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(sorted(extra))} "
                              "(expected match, stage, service, environment)")
        for k in ("match", "stage", "service", "environment"):
            if rule.get(k) is not None and not isinstance(rule[k], str):
                raise ConfigError(f"{at}.{k}: expected a string, got {rule[k]!r}")
        if not rule.get("match"):
            raise ConfigError(f"{at}.match: missing (a job name pattern such as \"deploy-{{service}}-*\")")
        if rule.get("stage") not in JENKINS_STAGES:
            raise ConfigError(f"{at}.stage: {rule.get('stage')!r} is not one of {', '.join(JENKINS_STAGES)}")
        placeholders = set(re.findall(r"\{([^}]*)\}", rule["match"]))
        if placeholders - set(JENKINS_PLACEHOLDERS):
            raise ConfigError(f"{at}.match: unknown placeholder(s) "
                              f"{', '.join('{' + p + '}' for p in sorted(placeholders - set(JENKINS_PLACEHOLDERS)))} "
                              "(expected {service}, {environment})")
        jobs.append(JenkinsJob(rule["match"], rule["stage"], rule.get("service"), rule.get("environment")))
    return tuple(jobs)


def _check_aliases(config: SourceConfig, where: str) -> None:
    """An alias may name one environment and one service only (a repository may serve several services:
    a monorepo; it then names none of them)."""
    seen: dict[str, str] = {}
    for env in config.environments:
        for alias in (env.name, *env.aliases):
            other = seen.setdefault(alias.lower(), env.name)
            if other != env.name:
                raise ConfigError(f"{where}: environment alias {alias!r} names both {other!r} and {env.name!r}")
    seen = {}
    for svc in config.services:
        for alias in (svc.name, *svc.aliases):
            other = seen.setdefault(alias.lower(), svc.name)
            if other != svc.name:
                raise ConfigError(f"{where}: service alias {alias!r} names both {other!r} and {svc.name!r}")
    images: dict[str, str] = {}
    for svc in config.services:
        for image in svc.images:
            other = images.setdefault(image, svc.name)
            if other != svc.name:
                raise ConfigError(f"{where}: image {image!r} names both {other!r} and {svc.name!r}")


def load_config(path: Path | None = None) -> SourceConfig:
    path = path if path is not None else config_path()
    if path is None:
        return SourceConfig()
    return parse_config(path.read_text(), path)


def install(conn: duckdb.DuckDBPyConnection, config: SourceConfig | None = None) -> SourceConfig:
    """(Re)write the ``config.*`` tables the models join on. Idempotent."""
    config = config if config is not None else load_config()
    conn.execute("create schema if not exists config")
    conn.execute("create or replace table config.environments "
                 "(environment varchar primary key, tier varchar, environment_order integer)")
    conn.execute("create or replace table config.environment_aliases (alias varchar primary key, environment varchar)")
    conn.execute("create or replace table config.services (service varchar primary key, team varchar, app varchar)")
    conn.execute("create or replace table config.service_names (kind varchar, name varchar, service varchar)")
    conn.execute("create or replace table config.incident_labels (label varchar)")
    # kind 'default' (name null): [kubernetes] cluster; kind 'source': a kubewatch source / clusterUid (lower-case)
    conn.execute("create or replace table config.kubernetes_clusters (kind varchar, name varchar, cluster varchar)")
    # [jenkins] jobs: the rules in file order (staging.jenkins_notifications takes the first that matches)
    conn.execute("create or replace table config.jenkins_jobs (position integer, pattern varchar, stage varchar, "
                 "service varchar, environment varchar, match_regex varchar, service_regex varchar, "
                 "environment_regex varchar)")
    if config.environments:
        conn.executemany("insert into config.environments values (?, ?, ?)",
                         [(e.name, e.tier, e.order) for e in config.environments])
        conn.executemany("insert into config.environment_aliases values (?, ?)",
                         [(a.lower(), e.name) for e in config.environments for a in {e.name, *e.aliases}])
    if config.services:
        conn.executemany("insert into config.services values (?, ?, ?)",
                         [(s.name, s.team, s.app) for s in config.services])
        names = [("alias", a.lower(), s.name) for s in config.services for a in {s.name, *s.aliases}]
        names += [("repository", r, s.name) for s in config.services for r in s.repositories]
        names += [("image", i, s.name) for s in config.services for i in s.images]
        conn.executemany("insert into config.service_names values (?, ?, ?)", names)
    conn.executemany("insert into config.incident_labels values (?)", [(lbl,) for lbl in config.incident_labels])
    if config.jenkins_jobs:
        conn.executemany("insert into config.jenkins_jobs values (?, ?, ?, ?, ?, ?, ?, ?)",
                         [(i, j.match, j.stage, j.service, j.environment, j.regex(), j.regex("service"),
                           j.regex("environment")) for i, j in enumerate(config.jenkins_jobs, start=1)])
    k8s = config.kubernetes
    clusters = [("default", None, k8s.cluster)] if k8s.cluster else []
    clusters += [("source", name.lower(), cluster) for name, cluster in k8s.sources]
    if clusters:
        conn.executemany("insert into config.kubernetes_clusters values (?, ?, ?)", clusters)
    return config
