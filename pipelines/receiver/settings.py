"""Receiver configuration: limits, rotation thresholds and secrets, from flags, environment and a secrets file.

Secrets come from environment variables or a YAML/JSON secrets file (``LIFECYCLE_SECRETS_FILE``);
an environment variable wins over the file. They are kept out of every ``repr`` and log line.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

MiB = 1024 * 1024

# Who authenticates how: the source (path segment, or "cloudevents" for `POST /`) → its environment variable.
SECRET_ENV: dict[str, str] = {
    "cloudevents": "LIFECYCLE_INGEST_TOKEN",
    "github": "LIFECYCLE_GITHUB_SECRET",
    "gitlab": "LIFECYCLE_GITLAB_TOKEN",
    "pagerduty": "LIFECYCLE_PAGERDUTY_SECRET",
    "harbor": "LIFECYCLE_HARBOR_TOKEN",
    "argocd": "LIFECYCLE_ARGOCD_TOKEN",
    "flux": "LIFECYCLE_FLUX_TOKEN",
}
SECRETS_FILE_ENV = "LIFECYCLE_SECRETS_FILE"
# Short names a secrets file may use instead of the environment variable names.
_FILE_ALIASES = {"ingest": "cloudevents", "ingest_token": "cloudevents", "cloudevents": "cloudevents"}

# Paths under /webhooks/{source}; the loader knows each of them (X-Lifecycle-Source), "generic" included.
WEBHOOK_SOURCES = (
    "github", "gitlab", "harbor", "argocd", "flux", "pagerduty", "tekton", "jenkins", "keptn", "kubewatch", "generic",
    "argo-rollouts", "flagger", "k6",
)

# Tuning knobs read from the environment (documented in docs/receiver.md).
TUNING_ENV = {
    "rotate_bytes": "LIFECYCLE_RECEIVER_ROTATE_BYTES",
    "rotate_seconds": "LIFECYCLE_RECEIVER_ROTATE_SECONDS",
    "min_free_bytes": "LIFECYCLE_RECEIVER_MIN_FREE_BYTES",
    "max_pending_bytes": "LIFECYCLE_RECEIVER_MAX_PENDING_BYTES",
    "max_inflight": "LIFECYCLE_RECEIVER_MAX_INFLIGHT",
}


class ConfigError(ValueError):
    """A configuration the receiver refuses to start with (the CLI prints it on one line)."""


@dataclass(frozen=True)
class Secrets:
    """Configured secrets per source; several values per source allow rotation (any one matches)."""

    by_source: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def for_source(self, source: str) -> tuple[str, ...]:
        return tuple(self.by_source.get(source, ()))

    @property
    def configured(self) -> tuple[str, ...]:
        """The sources that have at least one secret (names only: safe to log)."""
        return tuple(sorted(s for s, values in self.by_source.items() if values))

    def __repr__(self) -> str:  # never print a secret, even by accident
        return f"Secrets(configured={list(self.configured)})"


@dataclass(frozen=True)
class Settings:
    landing: Path  # the landing zone root; the receiver writes under <landing>/receiver/
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 5 * MiB
    rotate_bytes: int = 16 * MiB
    rotate_seconds: float = 60.0
    min_free_bytes: int = 64 * MiB
    max_pending_bytes: int = 64 * MiB
    max_inflight: int = 1024
    retry_after_seconds: int = 5
    graceful_timeout_seconds: float = 30.0
    secrets: Secrets = field(default_factory=Secrets, repr=False)

    @property
    def receiver_dir(self) -> Path:
        return self.landing / "receiver"

    @property
    def open_access(self) -> bool:
        """Requests without credentials are accepted only when the receiver listens on loopback."""
        return is_loopback(self.host)

    @classmethod
    def from_env(cls, landing: str | os.PathLike, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from the environment (tuning knobs, secrets) plus explicit overrides (the CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict = {}
        for name, var in TUNING_ENV.items():
            raw = env.get(var)
            if raw not in (None, ""):
                try:
                    values[name] = float(raw) if name == "rotate_seconds" else int(raw)
                except ValueError:
                    raise ConfigError(f"{var} must be a number, not {raw!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(landing=Path(landing).expanduser().absolute(), secrets=load_secrets(env), **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("max_body_bytes", "rotate_bytes", "max_pending_bytes", "max_inflight"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.rotate_seconds <= 0:
            raise ConfigError("rotate_seconds must be positive")
        if self.min_free_bytes < 0:
            raise ConfigError("min_free_bytes cannot be negative")

    def check_can_start(self) -> None:
        """Refuse to listen beyond loopback with no secret at all: that would be an open door."""
        if not self.open_access and not self.secrets.configured:
            names = ", ".join(sorted(set(SECRET_ENV.values())))
            raise ConfigError(
                f"refusing to listen on {self.host} (not a loopback address) with no secret configured: "
                f"set at least one of {names}, or {SECRETS_FILE_ENV}"
            )


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def load_secrets(environ: Mapping[str, str] | None = None) -> Secrets:
    """Secrets from ``LIFECYCLE_SECRETS_FILE`` (YAML or JSON mapping), overridden by environment variables.

    File keys are the environment variable names (``LIFECYCLE_GITHUB_SECRET``) or the source names
    (``github``, ``ingest``); a value is a string or a list of strings (rotation: any one matches).
    """
    env = os.environ if environ is None else environ
    found: dict[str, tuple[str, ...]] = {}
    file_name = env.get(SECRETS_FILE_ENV)
    if file_name:
        found.update(_read_secrets_file(Path(file_name).expanduser()))
    for source, var in SECRET_ENV.items():
        value = env.get(var)
        if value is not None and value.strip():
            found[source] = (value.strip(),)
    return Secrets({k: v for k, v in found.items() if v})


def _read_secrets_file(path: Path) -> dict[str, tuple[str, ...]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the secrets file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        # never echo the file's content: it holds secrets
        raise ConfigError(f"the secrets file {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'} "
                          f"({type(exc).__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"the secrets file {path} must hold a mapping of names to secrets")
    by_var = {var.lower(): source for source, var in SECRET_ENV.items()}
    result: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        name = str(key).strip().lower()
        source = by_var.get(name) or _FILE_ALIASES.get(name) or (name if name in SECRET_ENV else None)
        if source is None:
            known = ", ".join(sorted(SECRET_ENV.values()))
            raise ConfigError(f"the secrets file {path} has an unknown key {key!r}; use one of {known}")
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int) for v in values):
            raise ConfigError(f"the secrets file {path}: {key} must be a string or a list of strings")
        result[source] = tuple(str(v).strip() for v in values if str(v).strip())
    return result
