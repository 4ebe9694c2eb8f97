"""CDEvents type parsing and JSON-schema validation against the bundled spec schemas.

Pure Python on purpose (stdlib + jsonschema/referencing, no Dagster) so the
logic can be unit-tested quickly and reused by any pipeline step.

The official CDEvents JSON schemas for spec v0.4.1 and v0.5.1 ship inside the
package (``pipelines/schemas/cdevents/<version>/``, Apache-2.0, see the LICENSE
beside them) so validation never needs the network and always checks against
a pinned, reviewable copy of the spec.
"""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "CDEventType",
    "MAX_MESSAGES",
    "STRUCTURAL_KEYWORDS",
    "SchemaMatch",
    "SchemaRegistry",
    "default_registry",
    "parse_type",
    "spec_version",
]

# Cap on messages per event: enough to diagnose, small enough to store/log for
# every failing event without one pathological payload flooding the output.
MAX_MESSAGES = 20

# jsonschema keywords whose outcome is decided by the event's shape (which keys
# exist, their JSON types) and by its type string; see structural_errors().
STRUCTURAL_KEYWORDS = frozenset(
    {"required", "additionalProperties", "type", "enum", "const", "oneOf", "anyOf"}
)

# dev.cdevents.<subject>.<predicate>.<semver>, semver optionally with a
# pre-release (0.1.0-draft) and/or build suffix as SemVer 2.0 allows.
_TYPE_RE = re.compile(
    r"^dev\.cdevents\.(?P<subject>[a-z][a-z0-9]*)\.(?P<predicate>[a-z][a-z0-9]*)\."
    r"(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$"
)


class CDEventType(NamedTuple):
    """The three parts of a CDEvents type string, e.g. ``service``/``deployed``/``0.3.0``.

    The *version* here is the event type's own version, which evolves
    independently of the spec version (``context.specversion``).
    """

    subject: str
    predicate: str
    version: str


class SchemaMatch(NamedTuple):
    """Which bundled spec version's schema applies to an event, and its validator."""

    schema_version: str
    validator: Draft202012Validator


def parse_type(type_str: Any) -> CDEventType | None:
    """Split ``dev.cdevents.<subject>.<predicate>.<semver>`` into its parts.

    Returns None for anything else (non-strings, custom ``dev.cdeventsx.*``
    types, CloudEvents types of other producers) so callers can route
    non-CDEvents without exception handling.
    """
    if not isinstance(type_str, str):
        return None
    m = _TYPE_RE.match(type_str)
    if m is None:
        return None
    return CDEventType(m["subject"], m["predicate"], m["version"])


def spec_version(event: Any) -> str | None:
    """The CDEvents spec version an event claims to follow.

    The context field was renamed in spec v0.5 (``context.specversion``); v0.4
    and older use ``context.version``. Both are checked so one code path
    handles every producer we see. None when absent or not a string.
    """
    context = event.get("context") if isinstance(event, dict) else None
    if not isinstance(context, dict):
        return None
    for key in ("specversion", "version"):
        value = context.get(key)
        if isinstance(value, str):
            return value
    return None


def _event_type(event: Any) -> str | None:
    context = event.get("context") if isinstance(event, dict) else None
    value = context.get("type") if isinstance(context, dict) else None
    return value if isinstance(value, str) else None


def _version_key(version: str) -> tuple[int, ...]:
    """Numeric sort key for folder names such as ``0.5.1`` (newest = largest)."""
    return tuple(int(p) for p in re.findall(r"\d+", version))


def _major_minor(version: str | None) -> tuple[int, ...] | None:
    if version is None:
        return None
    m = re.match(r"^v?(\d+)\.(\d+)", version)
    return (int(m[1]), int(m[2])) if m else None


def _format_path(error: ValidationError) -> str:
    """JSON path of the failing value: ``context.links[0].target``; ``(root)`` for the event itself."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _messages(errors: list[ValidationError]) -> list[str]:
    """Sorted ``<path>: <message>`` lines, capped at MAX_MESSAGES plus a count of the rest."""
    lines = sorted(f"{_format_path(e)}: {e.message}" for e in errors)
    if len(lines) > MAX_MESSAGES:
        rest = len(lines) - MAX_MESSAGES
        lines = lines[:MAX_MESSAGES] + [f"… and {rest} more"]
    return lines


def _is_structural(error: ValidationError) -> bool:
    """Whether *error* is a shape/type-string error (see SchemaRegistry.structural_errors)."""
    if error.validator not in STRUCTURAL_KEYWORDS:
        return False
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return True
    # Sub-errors' schema paths start with the index of the alternative they belong to.
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    return all(any(_is_structural(sub) for sub in subs) for subs in by_branch.values())


def _bundled_root() -> Traversable:
    return resources.files(__package__ or "pipelines") / "schemas" / "cdevents"


class SchemaRegistry:
    """Index of the bundled CDEvents schemas by event type, with cached validators.

    Schemas are read once, on first use (importing this module does no I/O),
    and validators are built once per schema; after that every call is pure
    in-memory work, which matters when validating many events.

    Each event schema pins its type string in
    ``properties.context.properties.type.enum[0]``; that is the index key.
    Cross-file ``$ref``s such as ``links/embeddedlinksarray`` are resolved
    through a ``referencing.Registry`` holding every schema by its ``$id``,
    so nothing is fetched over the network.

    ``format`` (uri, date-time) is an annotation in draft 2020-12 and is not
    asserted, matching the reference validation of the spec repository.
    """

    def __init__(self, root: Traversable | Path | None = None) -> None:
        """*root* holds one folder per spec version (``v0.4.1/``...); defaults to the bundled copy."""
        self._root = root
        self._lock = threading.Lock()
        self._index: dict[str, list[SchemaMatch]] | None = None

    def _load(self) -> dict[str, list[SchemaMatch]]:
        if self._index is not None:
            return self._index
        with self._lock:
            if self._index is None:
                self._index = self._build_index()
        return self._index

    def _build_index(self) -> dict[str, list[SchemaMatch]]:
        root = self._root if self._root is not None else _bundled_root()
        by_version: dict[str, list[dict[str, Any]]] = {}
        resources_: list[tuple[str, Resource]] = []
        for version_dir in root.iterdir():
            if not (version_dir.is_dir() and version_dir.name.startswith("v")):
                continue
            version = version_dir.name[1:]
            for folder in (version_dir, version_dir / "links"):
                if not folder.is_dir():
                    continue
                for entry in folder.iterdir():
                    if not entry.name.endswith(".json"):
                        continue
                    schema = json.loads(entry.read_text(encoding="utf-8"))
                    resources_.append(
                        (
                            schema["$id"],
                            Resource.from_contents(schema, default_specification=DRAFT202012),
                        )
                    )
                    if folder is version_dir:
                        by_version.setdefault(version, []).append(schema)

        registry: Registry = Registry().with_resources(resources_)
        index: dict[str, list[SchemaMatch]] = {}
        for version, schemas in by_version.items():
            for schema in schemas:
                event_type = schema["properties"]["context"]["properties"]["type"]["enum"][0]
                validator = Draft202012Validator(schema, registry=registry)
                index.setdefault(event_type, []).append(SchemaMatch(version, validator))
        for matches in index.values():
            matches.sort(key=lambda m: _version_key(m.schema_version), reverse=True)
        return index

    def known_types(self) -> frozenset[str]:
        """Every event type string that has a bundled schema."""
        return frozenset(self._load())

    def schema_for(self, event: Any) -> SchemaMatch | None:
        """The (schema_version, validator) for the event's ``context.type``, or None.

        None means "no bundled schema", e.g. 0.1.x types from spec v0.3 and
        older (Jenkins plugin, early SDKs): such events are not necessarily
        invalid, so the caller decides whether that is an error.

        If a type exists in several bundled spec versions, prefer the one
        matching the event's spec version (same major.minor), else the newest.
        """
        matches = self._load().get(_event_type(event) or "")
        if not matches:
            return None
        wanted = spec_version(event)
        for match in matches:
            if match.schema_version == wanted:
                return match
        wanted_mm = _major_minor(wanted)
        for match in matches:
            if wanted_mm is not None and _major_minor(match.schema_version) == wanted_mm:
                return match
        return matches[0]

    def _errors(self, event: Any) -> list[ValidationError]:
        match = self.schema_for(event)
        return [] if match is None else list(match.validator.iter_errors(event))

    def validate(self, event: Any) -> list[str]:
        """All schema violations as ``<json path>: <message>`` lines (sorted, capped).

        Returns ``[]`` both for a valid event and for an unknown type; use
        schema_for() to tell those apart.
        """
        return _messages(self._errors(event))

    def structural_errors(self, event: Any) -> list[str]:
        """Like validate(), but only errors about the event's shape and type string.

        Kept: errors whose jsonschema keyword is in STRUCTURAL_KEYWORDS
        (required, additionalProperties, type, enum, const, oneOf, anyOf).
        Those are decided by which keys exist, their JSON types and the type
        string; dropped are value-level checks such as ``minLength`` (e.g. an
        empty ``subject.id``). Rationale: events of one (type, JSON shape)
        then mostly share the same structural errors, so a caller can
        validate one representative per distinct (type, shape) instead of
        every event, and run full validate() only where values matter.

        An ``anyOf``/``oneOf`` failure counts only if every alternative fails
        structurally too: a link rejected merely for an empty ``contextId``
        is a value problem, not a shape problem.

        Caveat: a few enums constrain string *values* inside the content
        (e.g. ``outcome``, ``severity``, ``trigger.type``, ``outputType``,
        ``linkType`` in links), so two events of the same shape can still
        differ there.
        """
        return _messages([e for e in self._errors(event) if _is_structural(e)])


@lru_cache(maxsize=1)
def default_registry() -> SchemaRegistry:
    """Process-wide registry over the bundled schemas (loaded lazily on first use)."""
    return SchemaRegistry()
