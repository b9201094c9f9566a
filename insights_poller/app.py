"""Composition root: settings, clients and state store, built lazily once per instance."""

from __future__ import annotations

import codecs
import datetime
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from insights_poller import core, names
from insights_poller.adapters.insights import (
    InsightsClients,
    InsightsOperationsReader,
    RateLimiter,
    RestOperations,
)
from insights_poller.adapters.pubsub import PubSubEventPublisher, make_publisher_client
from insights_poller.ports import EventPublisher, OperationsReader
from insights_poller.settings import ConfigurationError, Settings
from insights_poller.state import open_state_store
from insights_poller.state.base import StateStore
from insights_poller.timestamps import utc_now

MAX_BODY_BYTES = 1 << 20
MAX_REQUESTED_OPERATIONS = 1000


class BadRequest(ValueError):
    """The request is malformed; nothing was changed."""


class Poller:
    """One instance's poller: owns its clients, safe to share across concurrent requests."""

    def __init__(
        self,
        settings: Settings,
        *,
        reader: OperationsReader | None = None,
        publisher: EventPublisher | None = None,
        store: StateStore | None = None,
    ) -> None:
        """Collaborators not given are built from ``settings`` on first use."""
        self.settings = settings
        self.identity = names.ProjectIdentity(settings.project, settings.project_number)
        self._lock = threading.Lock()
        self._reader = reader
        self._publisher = publisher
        self._store = store

    def validate_requested(self, requested: object) -> list[str]:
        """The operation names of a request body, spelled as the API spells them when the
        project number is known, or BadRequest naming the problem."""
        if not isinstance(requested, list):
            raise BadRequest('"operations" must be a list of operation names')
        if len(requested) > MAX_REQUESTED_OPERATIONS:
            raise BadRequest(f'"operations" lists more than {MAX_REQUESTED_OPERATIONS} names')
        valid: list[str] = []
        for item in requested:
            if not isinstance(item, str):
                raise BadRequest(f'"operations" must hold strings, found {_shown(item)}')
            try:
                parsed = names.parse_operation_name(item)
            except ValueError:
                raise BadRequest(
                    f"{_shown(item)} is not an operation name of the form "
                    "projects/PROJECT/locations/LOCATION/operations/ID"
                ) from None
            if not self.identity.owns(parsed.project):
                raise BadRequest(self._outside_project(item, parsed.project))
            if parsed.location not in self.settings.locations:
                raise BadRequest(
                    f"{item!r} is outside the watched locations "
                    f"({', '.join(self.settings.locations)}; see INSIGHTS_LOCATIONS)"
                )
            valid.append(self.identity.canonical(item))
        return list(dict.fromkeys(valid))

    def _outside_project(self, name: str, project: str) -> str:
        watched = self.settings.project
        if project.isdigit() and self.identity.number is None:
            return (
                f"{name!r} names its project by number, and the number of the watched project "
                f"{watched!r} is not known yet: set GOOGLE_CLOUD_PROJECT_NUMBER, or use the ID"
            )
        number = f" (number {self.identity.number})" if self.identity.number else ""
        return f"{name!r} is outside the watched project {watched!r}{number}"

    def poll(self, requested: Sequence[str] = ()) -> core.PollSummary:
        reader, publisher, store = self.collaborators()
        settings = self.settings
        return core.poll(
            reader=reader,
            store=store,
            publisher=publisher,
            options=core.PollOptions(
                locations=settings.locations,
                watch_since=settings.watch_since,
                claim_lease=datetime.timedelta(seconds=settings.claim_lease_seconds),
                max_concurrency=settings.insights_max_concurrency,
                budget=datetime.timedelta(seconds=settings.poll_budget_seconds),
                publish_reserve=datetime.timedelta(seconds=settings.publish_timeout_seconds),
                max_pending_age=datetime.timedelta(seconds=settings.max_pending_age_seconds),
                operation_types=settings.operation_types,
            ),
            clock=utc_now,
            run_id=uuid.uuid4().hex,
            identity=self.identity,
            requested=requested,
        )

    def collaborators(self) -> Collaborators:
        """The instance's Insights reader, publisher and state store, built on first use."""
        settings = self.settings
        with self._lock:
            if self._store is None:
                self._store = open_configured_store(settings)
            if self._reader is None:
                self._reader = InsightsOperationsReader(
                    InsightsClients(settings.insights_emulator_hosts).for_location,
                    RestOperations(settings.insights_emulator_rest_hosts),
                    settings.project,
                    page_size=settings.insights_page_size,
                    rpc_timeout_seconds=settings.insights_timeout_seconds,
                    limiter=RateLimiter(settings.insights_max_rps),
                )
            if self._publisher is None:
                self._publisher = PubSubEventPublisher(
                    make_publisher_client(), settings.results_topic
                )
            return Collaborators(self._reader, self._publisher, self._store)


class Collaborators(NamedTuple):
    reader: OperationsReader
    publisher: EventPublisher
    store: StateStore


def open_configured_store(settings: Settings) -> StateStore:
    """The state store of ``settings``; a bad STATE_URL is a configuration error naming it."""
    try:
        return open_state_store(settings.state_url, project=settings.project)
    except ValueError as error:
        raise ConfigurationError("STATE_URL", str(error)) from None


_instance_lock = threading.Lock()
_instance: Poller | None = None


def instance_poller() -> Poller:
    """The instance's poller; a configuration error is raised again on every request, not cached."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Poller(Settings.from_env(os.environ))
        return _instance


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
        return {"error": "configuration", "variable": error.variable, "message": str(error)}, 500
    try:
        requested = poller.validate_requested(_requested_operations(body))
    except BadRequest as error:
        return {"error": str(error)}, 400
    try:
        summary = poller.poll(requested)
    except ConfigurationError as error:
        log("ERROR", f"configuration error: {error}", variable=error.variable)
        return {"error": "configuration", "variable": error.variable, "message": str(error)}, 500
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
            parse_int=_JsonNumber,
            parse_float=_JsonNumber,
        )
    except RecursionError:
        raise BadRequest("request body nests arrays or objects too deeply") from None
    except json.JSONDecodeError as error:
        raise BadRequest(f"request body is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise BadRequest('request body must be a JSON object such as {"operations": [...]}')
    unknown = sorted(set(parsed) - {"operations"})
    if unknown:
        raise BadRequest(f'unknown field {_shown(unknown[0])}: only "operations" is accepted')
    return parsed.get("operations", [])


_JSON_WHITESPACE = b" \t\n\r"
"""RFC 8259's whitespace; ``bytes.strip()`` would also take a vertical tab or a form feed."""
_SHOWN_CHARS = 100


class _JsonNumber:
    """A number of a request body, kept as its text: no request holds one, and converting it
    could fail (over 4300 digits) or overflow (``1e999`` is infinity)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _unique_fields(pairs: list[tuple[str, object]]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for key, value in pairs:
        if key in fields:
            raise BadRequest(f"request body repeats the field {_shown(key)}")
        fields[key] = value
    return fields


def _not_json(literal: str) -> object:
    raise BadRequest(f"request body is not valid JSON: {literal} is not JSON")


def _shown(value: object) -> str:
    """A value of a request body for an error message: short, and never a lone surrogate
    (``repr`` escapes them)."""
    if isinstance(value, _JsonNumber):
        return _clipped(value.text)
    if isinstance(value, str):
        return _clipped(value, repr)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return _clipped(repr(value))


def _clipped(text: str, show: Callable[[str], str] = str) -> str:
    if len(text) <= _SHOWN_CHARS:
        return show(text)
    return f"{show(text[:_SHOWN_CHARS])}... ({len(text)} characters)"


def log_summary(summary: core.PollSummary) -> None:
    """One line per published event, one per error (with its gRPC code), one summary."""
    for event in summary.published_events:
        log(
            "INFO",
            f"published {event.state} {event.operation_type} {event.operation}",
            runId=summary.run_id,
            operation=event.operation,
            state=event.state,
            operationType=event.operation_type,
            eventId=event.event_id,
        )
    for error in summary.errors:
        fields = error.to_json()
        del fields["message"]  # it is the line's message
        log(
            "WARNING",
            f"{error.stage} failed: {error.code}: {error.message}",
            runId=summary.run_id,
            **fields,
        )
    severity = "INFO" if summary.ok else "ERROR"
    message = (
        f"poll {summary.run_id}: published {summary.published}, pending {summary.pending}, "
        f"errors {len(summary.errors)}"
    )
    log(severity, message, runId=summary.run_id, summary=summary.to_json())


def log(severity: str, message: str, **fields: Any) -> None:
    """One structured JSON line, as Cloud Logging reads them from stdout."""
    entry = {"severity": severity, "message": message, **fields}
    sys.stdout.write(json.dumps(entry, default=str) + "\n")
    sys.stdout.flush()
