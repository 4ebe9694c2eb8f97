"""Rule filters on canonical attributes: equality, sets (lists), globs, and ``all`` / ``any`` / ``not``.

A filter is a YAML mapping; every key must hold (an implicit ``all``). A key is either a canonical attribute
or a combinator:

    stage: deployed                      # equality
    environment: [staging, qa]           # a set: any one of the values
    service: "payments-*"                # a glob (``*``, ``?``, ``[…]``), case-sensitive like the values
    team: null                           # the attribute is unknown
    any: [{team: payments}, {app: bank}] # at least one sub-filter
    all: [{…}, {…}]                      # every sub-filter
    not: {outcome: success}              # the sub-filter does not hold

Filters are compiled once when the rules file is read, so a mistake is reported at start-up with its path
inside the rule (``match.all[1].stge``), not when the first event arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from typing import Any

# The canonical attributes a filter may test (columns of intermediate.canonical_events).
ATTRIBUTES = (
    "stage", "environment", "environment_tier", "service", "team", "app", "outcome", "source_tool",
    "cluster", "raw_type",
)
COMBINATORS = ("all", "any", "not")
_GLOB_CHARS = frozenset("*?[")

Filter = Callable[[Mapping[str, Any]], bool]


class FilterError(ValueError):
    """A filter that cannot be compiled; ``where`` is the path inside the rule's ``match``."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _value_test(value: str | None) -> Callable[[Any], bool]:
    if value is None:
        return lambda actual: actual is None
    if _GLOB_CHARS & set(value):
        return lambda actual: actual is not None and fnmatchcase(str(actual), value)
    return lambda actual: actual == value


def _attribute(name: str, spec: Any, where: str) -> Filter:
    if spec is None or isinstance(spec, str):
        values = [spec]
    elif isinstance(spec, list) and spec and all(v is None or isinstance(v, str) for v in spec):
        values = spec
    else:
        raise FilterError(where, f"expected a string, a non-empty list of strings, or null; got {spec!r}")
    tests = [_value_test(v) for v in values]
    return lambda attrs: any(test(attrs.get(name)) for test in tests)


def compile_filter(spec: Any, where: str = "match") -> Filter:
    """Compile a filter mapping into a predicate over canonical attributes; ``None`` matches everything."""
    if spec is None:
        return lambda attrs: True
    if not isinstance(spec, Mapping):
        raise FilterError(where, f"expected a mapping of attributes to values, got {type(spec).__name__}")
    parts: list[Filter] = []
    for key, value in spec.items():
        here = f"{where}.{key}"
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise FilterError(here, "expected a non-empty list of filters")
            subs = [compile_filter(v, f"{here}[{i}]") for i, v in enumerate(value)]
            parts.append((lambda s: lambda attrs: all(f(attrs) for f in s))(subs) if key == "all"
                         else (lambda s: lambda attrs: any(f(attrs) for f in s))(subs))
        elif key == "not":
            sub = compile_filter(value, here)
            parts.append(lambda attrs, sub=sub: not sub(attrs))
        elif key in ATTRIBUTES:
            parts.append(_attribute(key, value, here))
        else:
            expected = ", ".join(ATTRIBUTES + COMBINATORS)
            raise FilterError(here, f"unknown attribute {key!r} (expected one of {expected})")
    return lambda attrs: all(p(attrs) for p in parts)
