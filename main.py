"""Cloud Functions entry points. The logic lives in the insights_poller package."""

from __future__ import annotations

import flask
import functions_framework
from cloudevents.http.event import CloudEvent

from insights_poller import triggers


@functions_framework.http
def poll_operations(request: flask.Request) -> flask.Response:
    """Cloud Scheduler (HTTP + OIDC): POST runs one poll; body may name operations to check now."""
    # Read at most one byte past the cap: a huge body is refused without being held in memory.
    payload = request.stream.read(triggers.MAX_BODY_BYTES + 1)
    body, status = triggers.handle_http(request.method, payload, request.content_length)
    return flask.Response(flask.json.dumps(body), status=status, mimetype="application/json")


@functions_framework.cloud_event
def poll_operations_event(event: CloudEvent) -> None:
    """Scheduler -> Pub/Sub -> Eventarc: one poll; raises on failure so the trigger retries."""
    del event  # the schedule is the message: its content does not matter
    triggers.handle_event()
