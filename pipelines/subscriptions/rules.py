"""The subscriptions rules file: which lifecycle events go to which targets (docs/subscriptions.md).

Read from ``$LIFECYCLE_SUBSCRIPTIONS``, else ``./subscriptions.yaml``. Platform teams change routing by
editing this file, never a pipeline script; the dispatcher re-reads it when it changes. Every mistake is
one line naming the rule or target and the field (``subscriptions.yaml: rule 'x': to: unknown target 'y'``).

Secrets (a chat webhook URL, an ``Authorization`` header) are written as ``${VAR}`` and taken from the
environment when the file is read; they are kept out of every ``repr`` and log line, and never stored in the
dispatcher's state (its outbox holds events and target names only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pipelines.subscriptions.match import Filter, FilterError, compile_filter

RULES_ENV = "LIFECYCLE_SUBSCRIPTIONS"
DEFAULT_FILE = "subscriptions.yaml"
DASHBOARD_ENV = "LIFECYCLE_DASHBOARD_URL"
TARGET_TYPES = ("cloudevents", "chat")
MODES = ("binary", "structured")
PAYLOADS = ("canonical", "original")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RulesError(ValueError):
    """The rules file cannot be used; the message is one line saying where and why."""


@dataclass(frozen=True)
class Delivery:
    """Retry policy shared by every target: exponential backoff from ``backoff_initial_seconds``, doubling up to
    ``backoff_max_seconds`` (with jitter), dead-lettered after ``max_attempts`` attempts."""

    max_attempts: int = 10
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Target:
    name: str
    type: str  # cloudevents | chat
    url: str = field(repr=False)
    mode: str = "binary"
    payload: str = "canonical"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def keys_on_raw_event(self) -> bool:
        """Whether one delivery stands for a received event (original payload) rather than a canonical one.

        A GitHub push becomes one canonical ``commit`` per commit; its original is one request, sent once.
        """
        return self.type == "cloudevents" and self.payload == "original"

    def describe(self) -> str:
        return f"{self.type}, {self.mode}, {self.payload}" if self.type == "cloudevents" else "chat"


@dataclass(frozen=True)
class Rule:
    name: str
    targets: tuple[str, ...]
    matches: Filter = field(repr=False, compare=False)
    description: str | None = None


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...] = ()
    targets: Mapping[str, Target] = field(default_factory=dict)
    delivery: Delivery = Delivery()
    dashboard_url: str | None = None
    path: Path | None = None

    def route(self, attributes: Mapping[str, Any]) -> dict[str, list[str]]:
        """Target name → the names of the rules that send this event there (rules file order)."""
        routed: dict[str, list[str]] = {}
        for rule in self.rules:
            if rule.matches(attributes):
                for target in rule.targets:
                    routed.setdefault(target, []).append(rule.name)
        return routed


def rules_path(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get(RULES_ENV) or DEFAULT_FILE).expanduser()


def _expand(value: str, where: str, env: Mapping[str, str]) -> str:
    def substitute(m: re.Match) -> str:
        if m.group(1) not in env:
            raise RulesError(f"{where}: environment variable {m.group(1)} is not set")
        return env[m.group(1)]

    return _VAR.sub(substitute, value)


def _number(spec: Mapping, key: str, where: str, default: float, minimum: float, integer: bool = False) -> Any:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise RulesError(f"{where}.{key}: expected {kind} ≥ {minimum}, got {value!r}")
    return value


def _delivery(spec: Any, where: str) -> Delivery:
    if spec is None:
        return Delivery()
    if not isinstance(spec, Mapping):
        raise RulesError(f"{where}: expected a mapping")
    extra = set(spec) - set(Delivery.__dataclass_fields__)
    if extra:
        raise RulesError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))} "
                         f"(expected {', '.join(Delivery.__dataclass_fields__)})")
    d = Delivery()
    delivery = Delivery(
        max_attempts=_number(spec, "max_attempts", where, d.max_attempts, 1, integer=True),
        backoff_initial_seconds=float(_number(spec, "backoff_initial_seconds", where, d.backoff_initial_seconds, 0)),
        backoff_max_seconds=float(_number(spec, "backoff_max_seconds", where, d.backoff_max_seconds, 0)),
        timeout_seconds=float(_number(spec, "timeout_seconds", where, d.timeout_seconds, 0.001)),
    )
    if delivery.backoff_max_seconds < delivery.backoff_initial_seconds:
        raise RulesError(f"{where}.backoff_max_seconds: must be ≥ backoff_initial_seconds")
    return delivery


def _url(value: Any, where: str, env: Mapping[str, str]) -> str:
    if not isinstance(value, str) or not value:
        raise RulesError(f"{where}: expected an http(s) URL")
    url = _expand(value, where, env)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # the value may be a secret (a chat webhook URL): name the field, never echo it
        raise RulesError(f"{where}: not an http(s) URL")
    return url


def _target(name: Any, spec: Any, where: str, env: Mapping[str, str]) -> Target:
    here = f"{where}: target {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise RulesError(f"{here}: a target name is letters, digits, '_', '.', '-'")
    if not isinstance(spec, Mapping):
        raise RulesError(f"{here}: expected a mapping")
    kind = spec.get("type")
    if kind not in TARGET_TYPES:
        raise RulesError(f"{here}: type: expected one of {', '.join(TARGET_TYPES)}, got {kind!r}")
    allowed = {"type", "url", "headers"} | ({"mode", "payload"} if kind == "cloudevents" else set())
    extra = set(spec) - allowed
    if extra:
        raise RulesError(f"{here}: unknown key(s) {', '.join(sorted(map(str, extra)))} "
                         f"(a {kind} target has {', '.join(sorted(allowed))})")
    mode = spec.get("mode", "binary")
    if mode not in MODES:
        raise RulesError(f"{here}: mode: expected one of {', '.join(MODES)}, got {mode!r}")
    payload = spec.get("payload", "canonical")
    if payload not in PAYLOADS:
        raise RulesError(f"{here}: payload: expected one of {', '.join(PAYLOADS)}, got {payload!r}")
    headers = spec.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in headers.items()):
        raise RulesError(f"{here}: headers: expected a mapping of header names to strings")
    return Target(
        name=name, type=kind, url=_url(spec.get("url"), f"{here}: url", env), mode=mode, payload=payload,
        headers={k: _expand(v, f"{here}: headers.{k}", env) for k, v in headers.items()},
    )


def _rule(index: int, spec: Any, where: str, targets: Mapping[str, Target], seen: set[str]) -> Rule:
    if not isinstance(spec, Mapping):
        raise RulesError(f"{where}: rules[{index}]: expected a mapping with name, match, to")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RulesError(f"{where}: rules[{index}]: name: expected letters, digits, '_', '.', '-', got {name!r}")
    here = f"{where}: rule {name!r}"
    if name in seen:
        raise RulesError(f"{here}: name: used by another rule")
    seen.add(name)
    extra = set(spec) - {"name", "description", "match", "to"}
    if extra:
        raise RulesError(f"{here}: unknown key(s) {', '.join(sorted(map(str, extra)))} "
                         "(expected name, description, match, to)")
    to = spec.get("to")
    names = [to] if isinstance(to, str) else to
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise RulesError(f"{here}: to: expected a target name or a non-empty list of them")
    for target in names:
        if target not in targets:
            raise RulesError(f"{here}: to: unknown target {target!r} "
                             f"(defined: {', '.join(targets) or 'none'})")
    try:
        matches = compile_filter(spec.get("match"))
    except FilterError as exc:
        raise RulesError(f"{here}: {exc}") from None
    return Rule(name, tuple(dict.fromkeys(names)), matches, spec.get("description"))


def parse_rules(text: str, path: Path | None = None, env: Mapping[str, str] | None = None) -> Rules:
    """Parse and check the YAML text; raise RulesError naming the rule or target and the field."""
    env = os.environ if env is None else env
    where = str(path) if path else "subscriptions"
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise RulesError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise RulesError(f"{where}: expected a mapping with targets and rules")
    extra = set(doc) - {"targets", "rules", "delivery", "dashboard_url"}
    if extra:
        raise RulesError(f"{where}: unknown section(s) {', '.join(sorted(map(str, extra)))} "
                         "(expected targets, rules, delivery, dashboard_url)")
    targets_spec = doc.get("targets") or {}
    if not isinstance(targets_spec, Mapping):
        raise RulesError(f"{where}: targets: expected a mapping of target names to targets")
    targets = {name: _target(name, spec, where, env) for name, spec in targets_spec.items()}
    rules_spec = doc.get("rules") or []
    if not isinstance(rules_spec, list):
        raise RulesError(f"{where}: rules: expected a list of rules")
    seen: set[str] = set()
    rules = tuple(_rule(i, spec, where, targets, seen) for i, spec in enumerate(rules_spec))
    dashboard = doc.get("dashboard_url")
    if dashboard is None and env.get(DASHBOARD_ENV):
        dashboard = env[DASHBOARD_ENV]
    if dashboard is not None:
        dashboard = _url(dashboard, f"{where}: dashboard_url", env).rstrip("/")
    return Rules(rules, targets, _delivery(doc.get("delivery"), f"{where}: delivery"), dashboard, path)


def load_rules(path: str | os.PathLike | None = None) -> Rules:
    file = rules_path(path)
    if not file.is_file():
        hint = f" (set {RULES_ENV} or pass --rules)" if path is None else ""
        raise RulesError(f"{file}: no such rules file{hint}")
    return parse_rules(file.read_text(), file)
