"""Unit tests for pipelines.cdevents: type parsing and validation against the bundled schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cdevents import (
    MAX_MESSAGES,
    CDEventType,
    SchemaRegistry,
    default_registry,
    parse_type,
    spec_version,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
SPEC = FIXTURES / "cdevents-spec"
SPEC_VERSIONS = ("0.4.1", "0.5.1")
CONFORMANCE = sorted(
    (version, path)
    for version in SPEC_VERSIONS
    for path in (SPEC / f"v{version}" / "conformance").glob("*.json")
)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def conformance(version: str, name: str) -> dict:
    return load(SPEC / f"v{version}" / "conformance" / f"{name}.json")


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return default_registry()


def test_fixture_set_is_complete() -> None:
    # Guards against a silently empty parametrization if the fixtures move.
    assert len(CONFORMANCE) == 90
    for version in SPEC_VERSIONS:
        assert sum(1 for v, _ in CONFORMANCE if v == version) == 45


@pytest.mark.parametrize(
    ("version", "path"), CONFORMANCE, ids=[f"v{v}/{p.stem}" for v, p in CONFORMANCE]
)
def test_conformance_examples_are_valid(registry: SchemaRegistry, version: str, path: Path) -> None:
    event = load(path)
    match = registry.schema_for(event)
    assert match is not None
    assert match.schema_version == version
    assert spec_version(event) == version
    assert registry.validate(event) == []
    assert registry.structural_errors(event) == []


def test_known_types_cover_both_spec_versions(registry: SchemaRegistry) -> None:
    types = registry.known_types()
    assert isinstance(types, frozenset)
    assert len(types) == 90
    assert "dev.cdevents.service.deployed.0.2.0" in types  # v0.4.1
    assert "dev.cdevents.service.deployed.0.3.0" in types  # v0.5.1
    assert {load(p)["context"]["type"] for _, p in CONFORMANCE} == types


def test_default_registry_is_cached() -> None:
    assert default_registry() is default_registry()


@pytest.mark.parametrize(
    ("type_str", "expected"),
    [
        ("dev.cdevents.service.deployed.0.3.0", CDEventType("service", "deployed", "0.3.0")),
        ("dev.cdevents.pipelinerun.finished.0.2.0", CDEventType("pipelinerun", "finished", "0.2.0")),
        ("dev.cdevents.artifact.published.0.1.0-draft", CDEventType("artifact", "published", "0.1.0-draft")),
        ("dev.cdevents.service.deployed", None),
        ("dev.cdevents.service.deployed.1.0", None),
        ("dev.cdevents.service.deployed.0.3.0 ", None),
        ("not a type", None),
        ("", None),
        (None, None),
        ("dev.cdeventsx.mytool-resource.created.0.1.0", None),
        ("com.github.push", None),
        ("dev.knative.sources.ping", None),
    ],
)
def test_parse_type(type_str: object, expected: CDEventType | None) -> None:
    assert parse_type(type_str) == expected


def test_spec_version_reads_both_field_names() -> None:
    assert spec_version({"context": {"specversion": "0.5.1"}}) == "0.5.1"
    assert spec_version({"context": {"version": "0.4.0-draft"}}) == "0.4.0-draft"
    assert spec_version({"context": {}}) is None
    assert spec_version({"context": "x"}) is None
    assert spec_version({}) is None


def test_extra_context_property(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["context"]["foo"] = "bar"
    assert registry.validate(event) == [
        "context: Additional properties are not allowed ('foo' was unexpected)"
    ]


def test_missing_environment(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    del event["subject"]["content"]["environment"]
    assert registry.validate(event) == ["subject.content: 'environment' is a required property"]


def test_missing_environment_id(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    del event["subject"]["content"]["environment"]["id"]
    assert registry.validate(event) == ["subject.content.environment: 'id' is a required property"]


def test_wrong_json_type(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["context"]["id"] = 123
    assert registry.validate(event) == ["context.id: 123 is not of type 'string'"]


def test_v04_field_name_in_v05_type(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["context"]["version"] = event["context"].pop("specversion")
    assert registry.validate(event) == [
        "context: 'specversion' is a required property",
        "context: Additional properties are not allowed ('version' was unexpected)",
    ]


def test_array_index_in_path(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["context"]["links"][1] = {"linkType": "PATH"}  # 'from' missing
    [message] = registry.validate(event)
    assert message.startswith("context.links[1]: ")
    assert registry.structural_errors(event) == [message]


def test_root_errors_are_labelled(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["extra"] = 1
    assert registry.validate(event) == [
        "(root): Additional properties are not allowed ('extra' was unexpected)"
    ]


def test_structural_errors_drop_min_length(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["subject"]["id"] = ""
    del event["subject"]["content"]["environment"]
    assert registry.validate(event) == [
        "subject.content: 'environment' is a required property",
        "subject.id: '' should be non-empty",
    ]
    assert registry.structural_errors(event) == [
        "subject.content: 'environment' is a required property"
    ]


def test_structural_errors_drop_any_of_failing_only_on_values(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["context"]["links"][0]["target"]["contextId"] = ""  # RELATION link, minLength only
    [message] = registry.validate(event)
    assert message.startswith("context.links[0]: ") and "any of the given schemas" in message
    assert registry.structural_errors(event) == []


def test_structural_errors_keep_type_enum(registry: SchemaRegistry) -> None:
    event = conformance("0.4.1", "service_deployed")
    event["subject"]["type"] = "artifact"
    assert registry.structural_errors(event) == ["subject.type: 'artifact' is not one of ['service']"]


def test_messages_are_capped(registry: SchemaRegistry) -> None:
    event = conformance("0.5.1", "service_deployed")
    event["context"]["links"] = [{"linkType": "NOPE"} for _ in range(30)]  # one error per link
    messages = registry.validate(event)
    assert len(messages) == MAX_MESSAGES + 1
    assert messages[-1] == f"… and {30 - MAX_MESSAGES} more"
    assert messages[:-1] == sorted(messages[:-1])
    assert all(m.startswith("context.links[") for m in messages[:-1])


def test_old_types_have_no_schema(registry: SchemaRegistry) -> None:
    event = load(FIXTURES / "captured" / "passthrough" / "service_deployed.json")
    assert event["context"]["type"] == "dev.cdevents.service.deployed.0.1.1"
    assert parse_type(event["context"]["type"]) == CDEventType("service", "deployed", "0.1.1")
    assert registry.schema_for(event) is None
    assert registry.validate(event) == []
    assert registry.structural_errors(event) == []


@pytest.mark.parametrize("event", [{}, {"context": None}, {"context": {"type": 5}}, [], None])
def test_malformed_events_have_no_schema(registry: SchemaRegistry, event: object) -> None:
    assert registry.schema_for(event) is None
    assert registry.validate(event) == []
