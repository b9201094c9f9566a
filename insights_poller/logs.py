"""Structured log lines, as Cloud Logging reads them from stdout: one per published event, one
per error (with its gRPC code), one per poll (with the poller's ``version``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import insights_poller
from insights_poller import core


def log_summary(summary: core.PollSummary) -> None:
    """One line per published event, one per error (with its gRPC code), one summary (with the
    ``version`` of the poller that ran it, to tell the releases apart during a rollout)."""
    for event in summary.published_events:
        log(
            "INFO",
            f"published {event.state} {event.operation_type} {event.operation}",
            runId=summary.run_id,
            operation=event.operation,
            state=event.state,
            operationType=event.operation_type,
            eventId=event.event_id,
            **_latency(event),
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
    log(
        severity,
        message,
        runId=summary.run_id,
        version=insights_poller.__version__,
        summary=summary.to_json(),
    )


def log(severity: str, message: str, **fields: Any) -> None:
    """One structured JSON line, as Cloud Logging reads them from stdout."""
    entry = {"severity": severity, "message": message, **fields}
    sys.stdout.write(json.dumps(entry, default=str) + "\n")
    sys.stdout.flush()


def _latency(event: core.PublishedEvent) -> dict[str, float]:
    """``detectionLatencySeconds`` when the event has an end time (an EXPIRED one has none)."""
    latency = event.detection_latency_seconds
    return {} if latency is None else {"detectionLatencySeconds": latency}
