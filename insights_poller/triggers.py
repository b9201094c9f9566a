"""The function's triggers: an HTTP request or a CloudEvent in, one poll, an answer out.

HTTP answers are JSON: 200 with the poll summary, 400/405/413 naming what is wrong with the
request (nothing was changed), 500 for a configuration error (naming the variable) or a poll
that failed. A CloudEvent trigger raises instead, so that its delivery is retried.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from typing import Any

from insights_poller import core
from insights_poller.app import Poller, instance_poller
from insights_poller.logs import log, log_summary
from insights_poller.requested import BadRequest, JsonNumber, shown
from insights_poller.settings import ConfigurationError

MAX_BODY_BYTES = 1 << 20


def handle_http(
    method: str,
    body: bytes,
    content_length: int | None,
    poller_of_instance: Callable[[], Poller] = instance_poller,
) -> tuple[dict[str, Any], int]:
    """One HTTP poll request -> (JSON body, status code)."""
    if method != "POST":
        return {"error": f"method {method} not allowed: POST to run a poll"}, 405
    if content_length is not None and content_length > MAX_BODY_BYTES or len(body) > MAX_BODY_BYTES:
        return {"error": f"request body exceeds {MAX_BODY_BYTES} bytes"}, 413
    try:
        poller = poller_of_instance()
    except ConfigurationError as error:
        log("ERROR", f"configuration error: {error}", variable=error.variable)
        return {
            "error": "configuration",
            "variable": error.variable,
            "message": str(error),
            "problems": [{"variable": name, "problem": what} for name, what in error.problems],
        }, 500
    try:
        requested = poller.validate_requested(_requested_operations(body))
    except BadRequest as error:
        return {"error": str(error)}, 400
    try:
        summary = poller.poll(requested)
    except Exception as error:  # a state store outage, say: answer JSON, let the retry come
        log("ERROR", f"poll failed: {error!r}", error=type(error).__name__)
        return {"error": "poll failed", "message": str(error)}, 500
    log_summary(summary)
    return summary.to_json(), 200 if summary.ok else 500


def handle_event(poller_of_instance: Callable[[], Poller] = instance_poller) -> core.PollSummary:
    """One poll for a CloudEvent trigger; raises when something failed, so the trigger retries."""
    summary = poller_of_instance().poll()
    log_summary(summary)
    if not summary.ok:
        raise RuntimeError(f"poll {summary.run_id} had {len(summary.errors)} errors")
    return summary


def _requested_operations(body: bytes) -> object:
    """The ``operations`` of a request body, or BadRequest naming what is wrong with the body.

    Strict RFC 8259 JSON in UTF-8: no byte order mark, no NaN or Infinity, no repeated field.
    Numbers are kept as their text (no request holds one), so no literal can overflow or
    trip Python's limit on integer digits, and nesting too deep for the parser is refused.
    """
    if not body.strip(_JSON_WHITESPACE):
        return []
    if body.startswith(codecs.BOM_UTF8):
        raise BadRequest("request body is not valid JSON: it starts with a byte order mark")
    try:
        text = body.decode("utf-8")  # strict: json.loads(bytes) would let surrogates through
    except UnicodeDecodeError as error:
        bad = error.object[error.start]
        raise BadRequest(
            f"request body is not valid JSON: it is not UTF-8 (byte {bad:#04x} at {error.start})"
        ) from None
    try:
        parsed = json.loads(
            text,
            object_pairs_hook=_unique_fields,
            parse_constant=_not_json,
            parse_int=JsonNumber,
            parse_float=JsonNumber,
        )
    except RecursionError:
        raise BadRequest("request body nests arrays or objects too deeply") from None
    except json.JSONDecodeError as error:
        raise BadRequest(f"request body is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise BadRequest('request body must be a JSON object such as {"operations": [...]}')
    unknown = sorted(set(parsed) - {"operations"})
    if unknown:
        raise BadRequest(f'unknown field {shown(unknown[0])}: only "operations" is accepted')
    return parsed.get("operations", [])


_JSON_WHITESPACE = b" \t\n\r"
"""RFC 8259's whitespace; ``bytes.strip()`` would also take a vertical tab or a form feed."""


def _unique_fields(pairs: list[tuple[str, object]]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for key, value in pairs:
        if key in fields:
            raise BadRequest(f"request body repeats the field {shown(key)}")
        fields[key] = value
    return fields


def _not_json(literal: str) -> object:
    raise BadRequest(f"request body is not valid JSON: {literal} is not JSON")
