"""Read Backstage catalogue files (``catalog-info.yaml``) and record who owns each service, over time.

The catalogue is where an organisation keeps ownership; events only say what their producer was told. So
``lifecycle ingest-catalog`` records the catalogue's state in ``raw.catalog_entities``, valid from the import
time (or ``--as-of``), and ``intermediate.service_ownership`` turns the recorded states into periods: a service
moved to another team moves its later deployments, not its earlier ones (team history stays with the team
that owned the service then).

What is read — multi-document YAML, ``apiVersion: backstage.io/*``:

- ``kind: Component``: ``metadata.name`` / ``namespace``, ``spec.owner`` (an entity reference such as
  ``group:default/team-a`` or ``team-a``: the team is its name), ``spec.system`` (the app), ``spec.lifecycle``,
  ``spec.type``, and the repository from the annotations ``github.com/project-slug``, ``gitlab.com/project-slug``
  or ``backstage.io/source-location`` (``url:https://github.com/org/repo/tree/main/`` → ``org/repo``);
- ``kind: System``: ``metadata.name``, ``spec.owner``, ``spec.domain``.

Other kinds (Group, User, API, Resource, Domain, Location, …) are counted and skipped; a Location's targets
are not followed — pass the files or their directory. A directory is searched recursively for ``*.yaml`` /
``*.yml`` (hidden ones skipped); a file found there that is not YAML or holds no Backstage entity is skipped and
counted (repositories hold other YAML), a file named on the command line must be a catalogue file.

An entity is recorded only when it differs (owner, system, domain, lifecycle, type, repository) from its state
in force at that time, so re-importing an unchanged catalogue adds nothing. Pure Python and SQL; no Dagster.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from pipelines.gitlog import normalise_repository

KINDS = ("component", "system")
SUFFIXES = (".yaml", ".yml")
FIELDS = ("entity_ref", "kind", "namespace", "name", "owner", "system", "domain", "lifecycle", "entity_type",
          "repository")


class CatalogError(ValueError):
    """A catalogue file that cannot be used (the message names the file and the document)."""


@dataclass
class CatalogRead:
    entities: list[dict] = field(default_factory=list)
    files: int = 0
    skipped_files: list[str] = field(default_factory=list)
    other_entities: int = 0  # Groups, Users, APIs, Locations, …


def discover(inputs: list[Path]) -> list[tuple[Path, bool]]:
    """(file, named) pairs: named files as given, directories expanded to their YAML files."""
    found = []
    for path in map(Path, inputs):
        if not path.exists():
            raise CatalogError(f"no such file or directory: {path}")
        if path.is_file():
            found.append((path, True))
            continue
        for child in sorted(path.rglob("*")):
            if (child.is_file() and child.suffix.lower() in SUFFIXES
                    and not any(p.startswith(".") for p in child.relative_to(path).parts)):
                found.append((child, False))
    return found


def entity_ref_parts(ref: str, default_kind: str = "") -> tuple[str, str, str]:
    """Backstage's ``[kind:][namespace/]name`` → (kind, namespace, name); kind and namespace lower-case."""
    kind, _, rest = ref.rpartition(":") if ":" in ref else ("", "", ref)
    namespace, _, name = rest.rpartition("/")
    return (kind or default_kind).lower(), (namespace or "default").lower(), name


def repository(annotations: dict) -> str | None:
    """The repository a Component's annotations link, ``org/repo`` as every source names it."""
    slug = annotations.get("github.com/project-slug") or annotations.get("gitlab.com/project-slug")
    if slug:
        return normalise_repository(str(slug))
    location = str(annotations.get("backstage.io/source-location") or "")
    if not location.startswith("url:"):
        return None
    url = location.removeprefix("url:").split("/-/")[0]  # GitLab: …/project/-/tree/main
    for marker in ("/tree/", "/blob/", "/src/"):  # GitHub, Bitbucket: the repository ends before these
        url = url.split(marker)[0]
    return normalise_repository(url) or None


def _entity(doc: dict, where: str) -> dict:
    md = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    if not isinstance(md, dict) or not isinstance(spec, dict) or not md.get("name"):
        raise CatalogError(f"{where}: a {doc.get('kind')} needs metadata.name (and metadata, spec as mappings)")
    kind, name = str(doc["kind"]).lower(), str(md["name"])
    namespace = str(md.get("namespace") or "default").lower()
    owner = spec.get("owner")
    system = spec.get("system")
    row = {
        "entity_ref": f"{kind}:{namespace}/{name.lower()}",
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "owner": entity_ref_parts(str(owner), "group")[2] if owner else None,
        "system": entity_ref_parts(str(system), "system")[2] if system else None,
        "domain": entity_ref_parts(str(spec["domain"]), "domain")[2] if spec.get("domain") else None,
        "lifecycle": spec.get("lifecycle"),
        "entity_type": spec.get("type"),
        "repository": repository(md.get("annotations") or {}) if kind == "component" else None,
    }
    row["content_hash"] = hashlib.md5(json.dumps([row[f] for f in FIELDS]).encode()).hexdigest()
    row["entity"] = json.dumps(doc, default=str)
    return row


def read_catalog(inputs: list[Path]) -> CatalogRead:
    """Parse every catalogue file; raise CatalogError on a broken named file or an entity defined twice."""
    result = CatalogRead()
    seen: dict[str, str] = {}
    for path, named in discover(inputs):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            if named or path.stem == "catalog-info":
                reason = str(exc).splitlines()[0]
                raise CatalogError(f"{path}: not valid YAML ({reason})") from None
            result.skipped_files.append(str(path))
            continue
        backstage = [d for d in docs
                     if isinstance(d, dict) and str(d.get("apiVersion", "")).startswith("backstage.io/")]
        if not backstage:
            if named:
                raise CatalogError(f"{path}: no Backstage entity (apiVersion: backstage.io/…) in it")
            result.skipped_files.append(str(path))
            continue
        result.files += 1
        for number, doc in enumerate(backstage, 1):
            if str(doc.get("kind", "")).lower() not in KINDS:
                result.other_entities += 1
                continue
            row = _entity(doc, f"{path} (document {number})")
            row["file"] = str(path)
            if row["entity_ref"] in seen:
                raise CatalogError(f"{row['entity_ref']} is defined twice: in {seen[row['entity_ref']]} and {path}")
            seen[row["entity_ref"]] = str(path)
            result.entities.append(row)
    return result


def record(conn: duckdb.DuckDBPyConnection, entities: list[dict], valid_from: datetime,
           imported_at: datetime | None = None) -> int:
    """Insert the entities that differ from their state in force at ``valid_from``; returns how many.

    The caller holds the writer lock (pipelines.warehouse).
    """
    imported_at = imported_at or datetime.now(UTC)
    import_id = uuid.uuid4().hex
    columns = [*FIELDS, "entity", "content_hash", "file"]
    conn.execute("create or replace temp table _catalog as select * from raw.catalog_entities limit 0")
    if entities:
        conn.executemany(
            f"insert into _catalog ({', '.join(columns)}, valid_from, import_id, imported_at) "
            f"values ({', '.join('?' for _ in columns)}, ?, ?, ?)",
            [[e[c] for c in columns] + [valid_from, import_id, imported_at] for e in entities])
    inserted = conn.execute("""
        insert into raw.catalog_entities
        select n.* from _catalog n
        where n.content_hash is distinct from (
            select arg_max(c.content_hash, {'valid_from': c.valid_from, 'imported_at': c.imported_at})
            from raw.catalog_entities c
            where c.entity_ref = n.entity_ref and c.valid_from <= n.valid_from)
    """).fetchone()[0]
    conn.execute("drop table _catalog")
    return inserted
