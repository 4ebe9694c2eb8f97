"""What a target receives: a CloudEvent (the event as received, or the canonical event) or a chat message.

- **canonical** payload: the canonical event as a CloudEvent whose ``id`` is the delivery's dedup key (stable
  across retries, so a receiver can drop repeats). Where the stage maps onto a CDEvent (``deployed`` →
  ``dev.cdevents.service.deployed.0.2.0``, spec v0.4.1) and the event has what that CDEvent's schema requires, the
  data is that CDEvent with the canonical attributes in ``customData``; else the type is
  ``dev.lifecycle.<stage>.v1`` and the data the canonical attributes. Extensions ``stage``, ``service``, ``team``,
  ``environment``, ``environmenttier`` let a Knative Trigger filter on them.
- **original** payload: the event as it was received. A CloudEvent keeps its attributes and data; a bare CDEvent
  is carried the CDEvents way (``id``/``source``/``type``/``time`` from its context); a vendor webhook becomes
  ``dev.lifecycle.webhook.v1`` with its body as data and its kind (``github:push``) as subject.
- **chat**: a Slack-compatible ``{"text", "blocks"}`` message saying what happened, which version, where, who owns
  it, with a link to its journey in the dashboard.

The CloudEvents SDK (``cloudevents.core``) invents ``id`` and ``time`` when they are absent, so both are always
set: an original without ``time`` gets its receive time — the same on every retry.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlencode

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as CloudEventV1
from cloudevents.core.v03.event import CloudEvent as CloudEventV03

from pipelines.cdevents import default_registry
from pipelines.subscriptions.rules import Target

DEDUP_HEADER = "X-Lifecycle-Dedup-Key"
SOURCE = "/lifecycle-analytics/subscriptions"
CDEVENTS_SPEC = "0.4.1"
WEBHOOK_TYPE = "dev.lifecycle.webhook.v1"

# canonical stage → CDEvents (subject, predicate): the reverse of models/staging/cdevents.sql
STAGE_CDEVENTS = {
    "change_opened": ("change", "created"), "change_updated": ("change", "updated"),
    "change_reviewed": ("change", "reviewed"), "change_merged": ("change", "merged"),
    "change_abandoned": ("change", "abandoned"),
    "build_queued": ("build", "queued"), "build_started": ("build", "started"), "build_finished": ("build", "finished"),
    "pipeline_queued": ("pipelinerun", "queued"), "pipeline_started": ("pipelinerun", "started"),
    "pipeline_finished": ("pipelinerun", "finished"),
    # a deployment pipeline: a pipeline run naming its environment (docs/canonical-model.md)
    "deploy_started": ("pipelinerun", "started"), "deploy_failed": ("pipelinerun", "finished"),
    "task_started": ("taskrun", "started"), "task_finished": ("taskrun", "finished"),
    "test_finished": ("testsuiterun", "finished"),
    "artifact_packaged": ("artifact", "packaged"), "artifact_published": ("artifact", "published"),
    "artifact_signed": ("artifact", "signed"), "artifact_downloaded": ("artifact", "downloaded"),
    "artifact_deleted": ("artifact", "deleted"),
    "environment_created": ("environment", "created"), "environment_modified": ("environment", "modified"),
    "environment_deleted": ("environment", "deleted"),
    "deployed": ("service", "deployed"), "rolled_back": ("service", "rolledback"),
    "service_removed": ("service", "removed"), "service_published": ("service", "published"),
    "incident_opened": ("incident", "detected"), "incident_resolved": ("incident", "resolved"),
}
_SUBJECT_ID = {
    "service": "service", "artifact": "artifact_id", "change": "change_id", "incident": "incident_id",
    "environment": "environment", "build": "pipeline_run_id", "pipelinerun": "pipeline_run_id",
    "taskrun": "pipeline_run_id", "testsuiterun": "pipeline_run_id",
}
_TEST_OUTCOME = {"success": "pass", "failure": "fail", "error": "error", "cancelled": "cancel"}
_EXTENSIONS = {"stage": "stage", "service": "service", "team": "team", "environment": "environment",
               "environmenttier": "environment_tier"}


class RenderError(ValueError):
    """The event cannot be sent to this target in the form it asks for (a permanent failure)."""


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _event_time(attributes: dict[str, Any]) -> datetime:
    return _time(attributes.get("occurred_at") or attributes.get("received_at"))


# -- CDEvents ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _cdevent_type(subject: str, predicate: str) -> tuple[str, str, frozenset[str]] | None:
    """The v0.4.1 type string of a subject/predicate, its ``subject.type`` (``pipelineRun``…) and the content fields
    its schema allows — read from the bundled schema, so they cannot drift from what validation checks."""
    registry = default_registry()
    prefix = f"dev.cdevents.{subject}.{predicate}."
    for type_str in sorted(registry.known_types()):
        if type_str.startswith(prefix):
            match = registry.schema_for({"context": {"type": type_str, "version": CDEVENTS_SPEC}})
            if match and match.schema_version == CDEVENTS_SPEC:
                props = match.validator.schema["properties"]["subject"]["properties"]
                return type_str, props["type"]["enum"][0], frozenset(props["content"].get("properties", {}))
    return None


def canonical_cdevent(attributes: dict[str, Any], event_id: str) -> dict[str, Any] | None:
    """The canonical event as a v0.4.1 CDEvent, or None when its stage has none or it lacks a required field."""
    mapped = STAGE_CDEVENTS.get(attributes.get("stage") or "")
    known = _cdevent_type(*mapped) if mapped else None
    if known is None:
        return None
    subject, _ = mapped
    type_str, subject_type, allowed = known
    subject_id = attributes.get(_SUBJECT_ID.get(subject, "")) or (
        attributes.get("event_id") if subject in ("build", "pipelinerun", "taskrun", "testsuiterun") else None)
    if not subject_id:
        return None
    outcome = attributes.get("outcome")
    if attributes.get("stage") == "deploy_failed":
        outcome = outcome if outcome in ("failure", "error") else "failure"
    candidates = {
        "environment": {"id": attributes["environment"]} if attributes.get("environment") else None,
        "artifactId": attributes.get("artifact_id"),
        "service": {"id": attributes["service"]} if attributes.get("service") else None,
        "change": {"id": attributes["change_id"]} if attributes.get("change_id") else None,
        "repository": {"id": attributes["repository"]} if attributes.get("repository") else None,
        "name": attributes.get("environment") if subject == "environment" else None,
        "outcome": _TEST_OUTCOME.get(outcome) if subject == "testsuiterun" else outcome,
    }
    context = {"version": CDEVENTS_SPEC, "id": event_id, "source": SOURCE, "type": type_str,
               "timestamp": _event_time(attributes).isoformat().replace("+00:00", "Z")}
    if attributes.get("chain_id"):
        context["chainId"] = attributes["chain_id"]
    event = {
        "context": context,
        "subject": {"id": subject_id, "source": SOURCE, "type": subject_type,
                    "content": {k: v for k, v in candidates.items() if k in allowed and v is not None}},
        "customData": {k: v for k, v in attributes.items() if v is not None},
        "customDataContentType": "application/json",
    }
    return None if default_registry().validate(event) else event


# -- CloudEvents -------------------------------------------------------------------------------------------------


def canonical_cloudevent(attributes: dict[str, Any], dedup_key: str) -> CloudEventV1:
    cdevent = canonical_cdevent(attributes, dedup_key)
    ce = {
        "id": dedup_key, "source": SOURCE, "time": _event_time(attributes), "datacontenttype": "application/json",
        "type": cdevent["context"]["type"] if cdevent else f"dev.lifecycle.{attributes.get('stage') or 'unknown'}.v1",
    }
    if attributes.get("service"):
        ce["subject"] = attributes["service"]
    ce.update({ext: attributes[col] for ext, col in _EXTENSIONS.items() if attributes.get(col)})
    return CloudEventV1(ce, cdevent or {k: v for k, v in attributes.items() if v is not None})


def _data(value: Any) -> dict | str | bytes | None:
    """The SDK takes objects, strings and bytes as data; any other JSON value goes as its JSON text."""
    if value is None or isinstance(value, (dict, str, bytes)):
        return value
    return json.dumps(value).encode()


def _cloudevent(attrs: dict[str, Any], data: Any) -> CloudEventV1 | CloudEventV03:
    attrs = {k: v for k, v in attrs.items() if v is not None}
    if isinstance(attrs.get("time"), str):
        attrs["time"] = _time(attrs["time"])
    cls = CloudEventV03 if attrs.get("specversion") == "0.3" else CloudEventV1
    try:
        return cls(attrs, _data(data))
    except Exception as exc:  # the SDK's validation errors: nothing a retry would fix
        raise RenderError(f"not a valid CloudEvent for the SDK: {str(exc)[:300]}") from None


def original_cloudevent(original: dict[str, Any], attributes: dict[str, Any]) -> CloudEventV1 | CloudEventV03:
    """The event as received, as a CloudEvent (a webhook or a bare CDEvent wrapped, see the module doc)."""
    payload, transport = original.get("payload"), original.get("transport")
    received = _time(attributes.get("received_at"))
    if transport in ("structured", "batch") and isinstance(payload, dict):
        attrs = {k: v for k, v in payload.items() if k not in ("data", "data_base64")}
        if "data_base64" in payload:
            data = base64.b64decode(payload["data_base64"])
        else:
            data = payload.get("data")
    elif transport == "binary":
        headers = original.get("headers") or {}
        attrs = {k[3:]: unquote(v) for k, v in headers.items() if k.startswith("ce-")}
        if headers.get("content-type"):
            attrs["datacontenttype"] = headers["content-type"]
        data = payload
    elif transport == "bare" and isinstance(payload, dict):
        context = payload.get("context") or {}
        attrs = {"specversion": "1.0", "id": context.get("id"), "source": context.get("source"),
                 "type": context.get("type"), "time": context.get("timestamp"), "datacontenttype": "application/json"}
        data = payload
    else:
        attrs = {"specversion": "1.0", "id": original.get("id"), "source": f"/webhooks/{attributes.get('source_tool')}",
                 "type": WEBHOOK_TYPE, "subject": attributes.get("raw_type"), "datacontenttype": "application/json",
                 "time": _event_time(attributes)}
        data = payload
    attrs.setdefault("time", received)
    return _cloudevent(attrs, data)


def original_data(original: dict[str, Any] | None) -> Any:
    """The data of the event as received (a CloudEvent's ``data``, else the body)."""
    if not original:
        return None
    payload = original.get("payload")
    if original.get("transport") in ("structured", "batch") and isinstance(payload, dict):
        return payload.get("data")
    return payload


# -- chat --------------------------------------------------------------------------------------------------------

_PHRASES = {
    "deployed": "deployed", "deploy_started": "deployment started", "deploy_failed": "deployment failed",
    "rolled_back": "rolled back", "service_removed": "removed", "service_degraded": "degraded",
    "incident_opened": "incident opened", "incident_acknowledged": "incident acknowledged",
    "incident_resolved": "incident resolved", "alert_fired": "alert fired", "alert_cleared": "alert cleared",
    "artifact_published": "published", "artifact_scanned": "scanned", "scan_failed": "scan failed",
    "build_finished": "build finished", "build_started": "build started", "change_merged": "change merged",
    "change_opened": "change opened", "test_finished": "tests finished", "commit": "commit",
}
_SHA = re.compile(r"^[0-9a-f]{40}$")


def _emoji(stage: str, outcome: str | None) -> str:
    if stage in ("alert_fired", "incident_opened", "service_degraded"):
        return ":rotating_light:"
    if stage in ("alert_cleared", "incident_resolved"):
        return ":white_check_mark:"
    if outcome in ("failure", "error") or stage in ("deploy_failed", "scan_failed"):
        return ":x:"
    if stage == "rolled_back":
        return ":rewind:"
    return ":rocket:" if stage == "deployed" else ":information_source:"


def _esc(text: Any) -> str:
    """Slack mrkdwn: &, < and > are control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def journey_url(dashboard_url: str | None, attributes: dict[str, Any]) -> str | None:
    """The dashboard's Journeys page for the event's artifact (``?artifact=``), else its service's artifacts."""
    if not dashboard_url:
        return None
    if attributes.get("artifact_id"):
        return f"{dashboard_url}/journeys?{urlencode({'artifact': attributes['artifact_id']})}"
    if attributes.get("service"):
        return f"{dashboard_url}/journeys?{urlencode({'service': attributes['service']})}"
    return f"{dashboard_url}/journeys"


def chat_message(attributes: dict[str, Any], original: dict[str, Any] | None,
                 dashboard_url: str | None) -> dict[str, Any]:
    a = attributes
    stage = a.get("stage") or ""
    phrase = _PHRASES.get(stage, stage.replace("_", " ") or f"event {a.get('raw_type')}")
    version = a.get("version")
    if version and _SHA.match(version):
        version = version[:7]
    what = a.get("service") or a.get("repository") or a.get("artifact_id") or a.get("source_tool") or "an event"
    where = a.get("environment") or ""
    if where and a.get("environment_tier") not in (None, "unknown", where):
        where += f" ({a['environment_tier']})"
    if a.get("cluster") and a.get("cluster") != a.get("environment"):
        where += f", cluster {a['cluster']}" if where else f"cluster {a['cluster']}"
    summary = None
    if stage.startswith("alert_"):
        data = original_data(original)
        summary = data.get("summary") if isinstance(data, dict) else None
    emoji = _emoji(stage, a.get("outcome"))
    if summary:
        headline = f"{emoji} {phrase.capitalize()}: {summary}"
    else:
        headline = f"{emoji} {what}{' ' + version if version else ''} {phrase}"
        if where:
            headline += f" {'to' if stage == 'deployed' else 'in'} {where}"
    owner = a.get("team") or "unknown"
    text = f"{headline} — owner: {owner}"
    url = journey_url(dashboard_url, a)
    fields = [
        ("What", f"{phrase} (`{a.get('raw_type')}` from {a.get('source_tool') or '?'})"),
        ("Service", f"{what}{' · app ' + a['app'] if a.get('app') else ''}"),
        ("Version", version or a.get("artifact_id") or "—"),
        ("Where", where or "—"),
        ("Owner", f"team {a['team']}" if a.get("team") else "unknown"),
        ("When", a.get("occurred_at") or a.get("received_at") or "—"),
    ]
    if a.get("commit_sha"):
        fields.append(("Commit", a["commit_sha"][:12]))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _esc(headline)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_esc(v)}"} for k, v in fields]},
    ]
    if url:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{url}|Open the journey in the dashboard>"}]})
        text += f" — {url}"
    return {"text": text, "blocks": blocks}


# -- a delivery --------------------------------------------------------------------------------------------------


def render(target: Target, event: dict[str, Any], dedup_key: str,
           dashboard_url: str | None = None) -> tuple[dict[str, str], bytes]:
    """The request headers and body of one delivery (the same on every retry)."""
    attributes, original = event["attributes"], event.get("original")
    if target.type == "chat":
        headers = {"Content-Type": "application/json"}
        body = json.dumps(chat_message(attributes, original, dashboard_url), ensure_ascii=False).encode()
    else:
        if target.payload == "original":
            if not original:
                raise RenderError("the event as received is not available (payload: original)")
            ce = original_cloudevent(original, attributes)
        else:
            ce = canonical_cloudevent(attributes, dedup_key)
        encode = ce_http.to_binary if target.mode == "binary" else ce_http.to_structured
        message = encode(ce, JSONFormat())
        headers, body = dict(message.headers), message.body
    headers.update(target.headers)
    headers[DEDUP_HEADER] = dedup_key
    return headers, body
