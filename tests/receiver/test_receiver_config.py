"""Receiver settings, secrets and authentication — pure functions, milliseconds each."""

from __future__ import annotations

import hmac
import json

import pytest

from pipelines import loader
from pipelines.receiver import auth, detect
from pipelines.receiver.settings import (
    WEBHOOK_SOURCES, ConfigError, Secrets, Settings, is_loopback, load_secrets,
)
from tests.receiver.conftest import github_signature, hmac_hex


def test_every_webhook_path_is_a_source_the_loader_knows():
    assert set(WEBHOOK_SOURCES) - {"generic"} <= set(loader.WEBHOOK_SOURCES)


def test_secrets_from_env_and_file_env_wins(tmp_path):
    file = tmp_path / "secrets.yaml"
    file.write_text("LIFECYCLE_GITHUB_SECRET: from-file\ngitlab: [old-token, new-token]\ningest: file-ingest\n")
    secrets = load_secrets({"LIFECYCLE_SECRETS_FILE": str(file), "LIFECYCLE_GITHUB_SECRET": "from-env"})
    assert secrets.for_source("github") == ("from-env",)
    assert secrets.for_source("gitlab") == ("old-token", "new-token")
    assert secrets.for_source("cloudevents") == ("file-ingest",)
    assert "from-env" not in repr(secrets) and "file-ingest" not in repr(Settings(tmp_path, secrets=secrets))
    as_json = tmp_path / "secrets.json"
    as_json.write_text(json.dumps({"LIFECYCLE_PAGERDUTY_SECRET": "pd"}))
    assert load_secrets({"LIFECYCLE_SECRETS_FILE": str(as_json)}).for_source("pagerduty") == ("pd",)


@pytest.mark.parametrize("content", ["unknown_key: x", "- a list", "github: {nested: 1}", "a: [unclosed"])
def test_bad_secrets_files_are_refused_without_echoing_them(tmp_path, content):
    file = tmp_path / "s.yaml"
    file.write_text(content)
    with pytest.raises(ConfigError) as excinfo:
        load_secrets({"LIFECYCLE_SECRETS_FILE": str(file)})
    assert "nested" not in str(excinfo.value) and "unclosed" not in str(excinfo.value)


def test_refuses_to_listen_beyond_loopback_without_a_secret(tmp_path):
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        Settings(tmp_path, host=host).check_can_start()
    for host in ("0.0.0.0", "::", "10.0.0.5", "receiver.example"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="refusing to listen"):
            Settings(tmp_path, host=host).check_can_start()
    Settings(tmp_path, host="0.0.0.0", secrets=Secrets({"github": ("s",)})).check_can_start()


def test_tuning_from_environment(tmp_path):
    settings = Settings.from_env(tmp_path, {"LIFECYCLE_RECEIVER_ROTATE_BYTES": "1000",
                                            "LIFECYCLE_RECEIVER_ROTATE_SECONDS": "2.5"}, max_body_bytes=10)
    assert (settings.rotate_bytes, settings.rotate_seconds, settings.max_body_bytes) == (1000, 2.5, 10)
    with pytest.raises(ConfigError, match="LIFECYCLE_RECEIVER_ROTATE_BYTES"):
        Settings.from_env(tmp_path, {"LIFECYCLE_RECEIVER_ROTATE_BYTES": "lots"})
    with pytest.raises(ConfigError):
        Settings.from_env(tmp_path, {}, max_body_bytes=0)


BODY = b'{"action": "opened"}'
ALL = Secrets({"github": ("gh",), "gitlab": ("gl",), "pagerduty": ("pd-old", "pd-new"), "harbor": ("hb",),
               "argocd": ("ac",), "flux": ("fx",), "cloudevents": ("ce",)})


@pytest.mark.parametrize(("source", "headers", "ok"), [
    ("github", {"x-hub-signature-256": github_signature("gh", BODY)}, True),
    ("github", {"x-hub-signature-256": github_signature("gh", BODY + b" ")}, False),
    ("github", {"x-hub-signature-256": github_signature("gh", BODY).upper().replace("SHA256=", "sha256=")}, True),
    ("github", {}, False),
    ("gitlab", {"x-gitlab-token": "gl"}, True),
    ("gitlab", {"x-gitlab-token": "gl "}, True),
    ("gitlab", {"x-gitlab-token": "g"}, False),
    ("pagerduty", {"x-pagerduty-signature": f"v1={hmac_hex('pd-new', BODY)}"}, True),
    ("pagerduty", {"x-pagerduty-signature": f"v1=00, v1={hmac_hex('pd-old', BODY)}"}, True),
    ("pagerduty", {"x-pagerduty-signature": f"v0={hmac_hex('pd-new', BODY)}"}, False),
    ("harbor", {"authorization": "hb"}, True),
    ("harbor", {"authorization": "Bearer hb"}, True),
    ("harbor", {"authorization": "Basic hb"}, False),
    ("argocd", {"authorization": "Bearer ac"}, True),
    ("argocd", {"authorization": "bearer ac"}, True),
    ("flux", {"authorization": "Bearer fx"}, True),
    ("flux", {"x-signature": "sha256=" + hmac_hex("fx", BODY)}, True),
    ("flux", {"x-signature": "sha256=" + hmac_hex("nope", BODY)}, False),
    ("cloudevents", {"authorization": "Bearer ce"}, True),
    ("cloudevents", {"authorization": "ce"}, False),
    ("tekton", {"authorization": "Bearer ce"}, True),
    ("github", {"authorization": "Bearer ce"}, True),  # the ingest token is accepted everywhere
    ("gitlab", {"authorization": "Bearer gl"}, False),
])
def test_authentication_schemes(source, headers, ok):
    outcome = auth.authenticate(source, headers, BODY, ALL, open_access=False)
    assert outcome.ok is ok, outcome
    if not ok:
        assert outcome.reason and not any(s in outcome.reason for s in ("gh", "pd-new", "fx") if len(s) > 2)


def test_open_only_on_loopback_and_only_without_a_fallback():
    assert auth.authenticate("github", {}, BODY, Secrets(), open_access=True).method == "open"
    assert not auth.authenticate("github", {}, BODY, Secrets(), open_access=False).ok
    # a configured ingest token closes the door even on loopback
    assert not auth.authenticate("github", {}, BODY, Secrets({"cloudevents": ("ce",)}), open_access=True).ok


def test_comparisons_are_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    auth.authenticate("gitlab", {"x-gitlab-token": "nope"}, BODY, Secrets({"gitlab": ("a", "b")}), False)
    assert len(calls) == 2  # every configured value is compared, no early exit


def test_auth_source_routing():
    assert detect.auth_source(None, {"content-type": "application/cloudevents+json", "x-github-event": "x"}) \
        == "cloudevents"
    assert detect.auth_source(None, {"x-github-event": "push"}) == "github"
    assert detect.auth_source(None, {"x-lifecycle-source": "Harbor"}) == "harbor"
    assert detect.auth_source(None, {"x-lifecycle-source": "other"}) == "cloudevents"
    assert detect.auth_source("gitlab", {"x-github-event": "push"}) == "gitlab"


def test_the_sdk_never_sees_an_incomplete_event(monkeypatch):
    seen = []
    monkeypatch.setattr(detect, "get_event_factory_for_version",
                        lambda v: (lambda attrs, data: seen.append(dict(attrs))))
    assert detect.cloudevent_errors({"specversion": "1.0", "source": "/s", "type": "t"})
    assert seen == []
    assert detect.cloudevent_errors({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}) == []
    assert seen == [{"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}]  # no invented time


def test_cloudevents_0_3_and_binary_percent_encoding():
    assert detect.cloudevent_errors({"specversion": "0.3", "id": "1", "source": "/s", "type": "t"}) == []
    classified = detect.classify(None, {"ce-specversion": "1.0", "ce-id": "a%20b", "ce-source": "/s",
                                        "ce-type": "t", "ce-time": "2026-07-01T10%3A00%3A00Z"}, b"")
    assert classified.events[0]["id"] == "a b" and classified.body == ""
