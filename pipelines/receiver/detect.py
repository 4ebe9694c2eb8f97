"""Route a request by path, headers and shape, and validate it — before any SDK is called.

Pure functions (no web framework): ``classify(path_source, headers, body)`` returns what to store and
the per-event results, or raises ``Rejection`` with an HTTP status and a message a person can act on.

Order of detection (the first that applies wins):

1. ``Content-Type: application/cloudevents-batch+json`` → batch mode (a JSON array of structured events);
2. ``Content-Type: application/cloudevents+json`` → structured mode (other ``application/cloudevents*``
   formats are 415); per the HTTP binding the content type decides, ``ce-*`` headers are then ignored;
3. binary-mode CloudEvent: a ``ce-specversion`` / ``ce-id`` / ``ce-source`` / ``ce-type`` header;
4. a JSON body (``application/json``, ``*/*+json``, ``text/json`` or no content type): an object with
   ``specversion`` is a structured CloudEvent, one with ``context`` and ``subject`` a bare CDEvent, an array
   of such objects a batch; anything else must come from a vendor — the path ``/webhooks/{source}``,
   or at ``/`` a vendor header (``X-Lifecycle-Source``, ``X-GitHub-Event``, ``X-Gitlab-Event``,
   ``Gotk-Component``, ``X-PagerDuty-Signature``);
5. ``application/x-www-form-urlencoded`` with a ``payload`` field (GitHub's form delivery), vendors only;
6. anything else is 415.

CloudEvents attributes are checked here for presence first (``id``, ``source``, ``type``,
``specversion``), so the cloudevents SDK — whose constructors invent a missing ``id`` and ``time`` — only
ever sees complete events; the SDK then checks types, ``time`` and extension names. What is stored is
what was sent, never the SDK's object.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from cloudevents.core.bindings.common import get_event_factory_for_version
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from dateutil.parser import isoparse

from pipelines.receiver.settings import WEBHOOK_SOURCES

CE_STRUCTURED = "application/cloudevents+json"
CE_BATCH = "application/cloudevents-batch+json"
_JSON_MEDIA = re.compile(r"^(application|text)/([a-z0-9!#$&^_.+-]+\+)?json$")
_CE_ATTRIBUTE_HEADERS = ("ce-specversion", "ce-id", "ce-source", "ce-type")
SPEC_VERSIONS = ("1.0", "0.3")
MAX_ERRORS_PER_EVENT = 10

# Vendor headers that route a request posted to `/` (X-Lifecycle-Source first: the client says it).
VENDOR_HEADERS = (
    ("x-github-event", "github"),
    ("x-gitlab-event", "gitlab"),
    ("gotk-component", "flux"),
    ("x-pagerduty-signature", "pagerduty"),
)


class Rejection(Exception):
    """A request refused with a 4xx: nothing is written."""

    def __init__(self, status: int, error: str, detail: Any = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail


@dataclass
class Classified:
    mode: str  # binary | structured | batch | cdevent | webhook
    source: str  # metrics/log label: cloudevents, cdevents or the vendor
    body: Any  # stored as the captured request's "body"
    lifecycle_source: str | None  # X-Lifecycle-Source to add (the loader's classification hint)
    events: list[dict] = field(default_factory=list)  # per-event results for the response


def media_type(headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    raw = headers.get("content-type", "")
    media, _, rest = raw.partition(";")
    params = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params


def is_json_media(media: str) -> bool:
    return media == "" or bool(_JSON_MEDIA.match(media))


def sniff_vendor(headers: Mapping[str, str]) -> str | None:
    """The vendor a request posted to `/` comes from, by its headers (None: a CloudEvent or CDEvent)."""
    claimed = headers.get("x-lifecycle-source", "").strip().lower()
    if claimed in WEBHOOK_SOURCES:
        return claimed
    for header, vendor in VENDOR_HEADERS:
        if header in headers:
            return vendor
    return None


def is_binary_mode(headers: Mapping[str, str]) -> bool:
    return any(h in headers for h in _CE_ATTRIBUTE_HEADERS)


def auth_source(path_source: str | None, headers: Mapping[str, str]) -> str:
    """Whose credentials a request must carry: the path's vendor, a vendor sniffed at `/`, else the ingest token."""
    if path_source:
        return path_source
    if is_binary_mode(headers) or media_type(headers)[0] in (CE_STRUCTURED, CE_BATCH):
        return "cloudevents"
    return sniff_vendor(headers) or "cloudevents"


# -- JSON -----------------------------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def decode_text(body: bytes, params: Mapping[str, str]) -> str:
    charset = params.get("charset", "utf-8")
    if charset not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise Rejection(415, f"unsupported charset {charset!r}: send UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection(400, f"the body is not UTF-8 text (invalid byte at position {exc.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_json(text: str) -> Any:
    """Parse strictly: no NaN/Infinity, no out-of-range numbers (DuckDB refuses them)."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        hint = " — the body looks truncated" if exc.pos >= len(text.rstrip()) else ""
        raise Rejection(400, f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}){hint}") from None
    except RecursionError:
        raise Rejection(400, "the body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise Rejection(400, f"the body is not valid JSON: {exc}") from None
    return value  # an unpaired surrogate escape ("\ud800") parses here; landing.captured_line refuses it


# -- CloudEvents / CDEvents validation -------------------------------------------------------------------

def cloudevent_errors(attributes: Mapping[str, Any]) -> list[str]:
    """What is wrong with a CloudEvent's attributes ([] when valid). Presence first, then the SDK."""
    errors: list[str] = []
    spec = attributes.get("specversion")
    if spec is None:
        errors.append("specversion: missing (a CloudEvent needs id, source, specversion and type)")
    elif not isinstance(spec, str) or spec not in SPEC_VERSIONS:
        errors.append(f"specversion: unsupported value {_show(spec)} (expected '1.0')")
    for name in ("id", "source", "type"):
        value = attributes.get(name)
        if value is None:
            errors.append(f"{name}: missing (a CloudEvent needs id, source, specversion and type)")
        elif not isinstance(value, str):
            errors.append(f"{name}: must be a string, not {type(value).__name__}")
        elif not value:
            errors.append(f"{name}: must not be empty")
    if "data" in attributes and "data_base64" in attributes:
        errors.append("data and data_base64 are mutually exclusive")
    if errors:
        return errors  # never hand an incomplete event to the SDK: it would invent an id
    copy = {k: v for k, v in attributes.items() if k not in ("data", "data_base64")}
    if "time" in copy:
        time = copy["time"]
        if not isinstance(time, str):
            return [f"time: must be an RFC 3339 string, not {type(time).__name__}"]
        try:
            parsed = isoparse(time)
        except (ValueError, OverflowError):
            return [f"time: {_show(time)} is not an RFC 3339 timestamp"]
        if parsed.tzinfo is None:
            return [f"time: {_show(time)} has no UTC offset (RFC 3339 needs one, e.g. Z)"]
        copy["time"] = parsed
    try:
        get_event_factory_for_version(spec)(copy, None)
    except CloudEventValidationError as exc:
        for name, problems in exc.errors.items():
            errors.extend(f"{name}: {problem}" for problem in problems)
    except (BaseCloudEventException, ValueError, TypeError) as exc:
        errors.append(str(exc))
    return errors[:MAX_ERRORS_PER_EVENT]


def cdevent_errors(event: Mapping[str, Any]) -> list[str]:
    """The context fields a bare CDEvent needs to be keyed and placed in time."""
    context = event.get("context")
    if not isinstance(context, dict):
        return ["context: must be an object"]
    errors = []
    for name in ("id", "source", "type", "timestamp"):
        value = context.get(name)
        if not isinstance(value, str) or not value:
            errors.append(f"context.{name}: missing or not a non-empty string")
    if not isinstance(event.get("subject"), dict):
        errors.append("subject: must be an object")
    return errors


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _event_summary(index: int | None, event: Mapping[str, Any], errors: list[str]) -> dict:
    def text(value):
        return value if isinstance(value, str) else None

    result = {"id": text(event.get("id")), "source": text(event.get("source")), "type": text(event.get("type")),
              "status": "invalid" if errors else "accepted"}
    if index is not None:
        result = {"index": index, **result}
    if errors:
        result["errors"] = errors
    return result


def _cdevent_summary(event: Mapping[str, Any], errors: list[str]) -> dict:
    context = event.get("context") if isinstance(event.get("context"), dict) else {}
    return {"id": context.get("id"), "source": context.get("source"), "type": context.get("type"),
            "status": "invalid" if errors else "accepted", **({"errors": errors} if errors else {})}


# -- the router ---------------------------------------------------------------------------------------------

def classify(path_source: str | None, headers: Mapping[str, str], body: bytes) -> Classified:
    """Decide what a request is and whether to accept it. ``headers`` are lower-cased; ``body`` as received."""
    media, params = media_type(headers)
    vendor = path_source or sniff_vendor(headers)

    def label(default: str) -> str:
        return path_source or default

    def hint(mode: str) -> str | None:
        # the path names the tool; "generic" only labels webhooks (a CloudEvent knows its own source)
        if path_source and not (path_source == "generic" and mode != "webhook"):
            return path_source
        if path_source is None and mode == "webhook":
            return vendor
        return None

    if media == CE_BATCH:
        return _batch(parse_json(decode_text(body, params)), label("cloudevents"), hint("batch"))

    if media == CE_STRUCTURED:
        return _structured(parse_json(decode_text(body, params)), label("cloudevents"), hint("structured"))

    if media.startswith("application/cloudevents"):
        raise Rejection(415, f"unsupported CloudEvents format {media!r}: send JSON "
                             f"({CE_STRUCTURED}, {CE_BATCH}) or binary mode")

    if is_binary_mode(headers):
        attributes = {name[3:]: unquote(value) for name, value in headers.items() if name.startswith("ce-")}
        if media:
            attributes["datacontenttype"] = headers["content-type"]
        errors = cloudevent_errors(attributes)
        summary = _event_summary(None, attributes, errors)
        if errors:
            raise Rejection(422, "invalid CloudEvent (binary mode): " + "; ".join(errors), {"events": [summary]})
        text = decode_text(body, params)
        if not text.strip():
            stored: Any = ""
        elif is_json_media(media):
            stored = parse_json(text)
            if stored is None:
                stored = text
        else:
            stored = text  # data in another format is kept verbatim as a string
        return Classified("binary", label("cloudevents"), stored, hint("binary"), [summary])

    if is_json_media(media):
        if not body.strip():
            raise Rejection(400, "the body is empty")
        value = parse_json(decode_text(body, params))
        return _by_shape(value, vendor, label, hint)

    if media == "application/x-www-form-urlencoded" and vendor:
        text = decode_text(body, params)
        try:
            fields = parse_qs(text, strict_parsing=True, max_num_fields=100)
        except ValueError:
            raise Rejection(400, "the form body is malformed") from None
        if len(fields.get("payload", [])) != 1:
            raise Rejection(400, "a form-encoded webhook needs exactly one 'payload' field holding JSON")
        return _by_shape(parse_json(fields["payload"][0]), vendor, label, hint)

    accepted = f"{CE_STRUCTURED}, {CE_BATCH}, application/json, or binary mode (ce-* headers)"
    raise Rejection(415, f"unsupported content type {media!r}: send {accepted}")


def _by_shape(value: Any, vendor: str | None, label, hint) -> Classified:
    if isinstance(value, dict) and "specversion" in value:
        return _structured(value, label("cloudevents"), hint("structured"))
    if isinstance(value, dict) and "context" in value and "subject" in value:
        errors = cdevent_errors(value)
        summary = _cdevent_summary(value, errors)
        if errors:
            raise Rejection(422, "invalid CDEvent: " + "; ".join(errors), {"events": [summary]})
        return Classified("cdevent", label("cdevents"), value, hint("cdevent"), [summary])
    if isinstance(value, list) and value and all(isinstance(e, dict) and "specversion" in e for e in value):
        return _batch(value, label("cloudevents"), hint("batch"))
    if vendor:
        if not isinstance(value, dict):
            raise Rejection(422, f"a {vendor} webhook body must be a JSON object, not a JSON {_json_type(value)}")
        return Classified("webhook", vendor, value, hint("webhook") or vendor,
                          [{"id": None, "type": None, "status": "accepted"}])
    if isinstance(value, list):
        raise Rejection(422, "a JSON array must be a batch of structured CloudEvents (each with specversion, "
                             f"id, source and type); send it as {CE_BATCH}")
    raise Rejection(422, "unrecognised event: not a CloudEvent (no specversion), not a CDEvent (no context and "
                         "subject), and no vendor headers; post vendor webhooks to /webhooks/{source}")


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _structured(value: Any, source: str, lifecycle_source: str | None) -> Classified:
    if not isinstance(value, dict):
        raise Rejection(422, f"a structured CloudEvent must be a JSON object, not a JSON {_json_type(value)}")
    errors = cloudevent_errors(value)
    summary = _event_summary(None, value, errors)
    if errors:
        raise Rejection(422, "invalid CloudEvent: " + "; ".join(errors), {"events": [summary]})
    return Classified("structured", source, value, lifecycle_source, [summary])


def _batch(value: Any, source: str, lifecycle_source: str | None) -> Classified:
    """Batch mode is all or nothing: one invalid event rejects the batch, with a result per event."""
    if not isinstance(value, list):
        raise Rejection(400, f"batch mode needs a JSON array of CloudEvents, not a JSON {_json_type(value)}")
    if not value:
        raise Rejection(422, "empty batch: the array holds no events")
    results = []
    for index, event in enumerate(value):
        if not isinstance(event, dict):
            results.append({"index": index, "status": "invalid",
                            "errors": [f"not a JSON object but a JSON {_json_type(event)}"]})
            continue
        results.append(_event_summary(index, event, cloudevent_errors(event)))
    invalid = [r for r in results if r["status"] == "invalid"]
    if invalid:
        for result in results:
            if result["status"] == "accepted":
                result["status"] = "not written"
        raise Rejection(422, f"{len(invalid)} of {len(value)} events in the batch are invalid; "
                             "the whole batch was rejected and nothing was written", {"events": results})
    return Classified("batch", source, value, lifecycle_source, results)
