"""The poller's vocabulary: what it remembers of an operation, how a record ends, and the event.

Plain values with no behaviour beyond their own fields: the core, the event contract, the
state stores and the adapters all speak these, and none of them owns them.

A record starts ``PENDING`` and ends ``SETTLED`` with an outcome: the state its one event
carried (``SUCCEEDED``, ``FAILED``, ``CANCELLED``, ``EXPIRED``), or ``HISTORY`` / ``SKIPPED``
for a finished operation that gets no event.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Final, Literal

RecordStatus = Literal["PENDING", "SETTLED"]
PENDING: Final = "PENDING"
SETTLED: Final = "SETTLED"

# The state of a published event (its ``state`` attribute).
SUCCEEDED: Final = "SUCCEEDED"
FAILED: Final = "FAILED"
CANCELLED: Final = "CANCELLED"
EXPIRED: Final = "EXPIRED"
EVENT_STATES: Final = (SUCCEEDED, FAILED, CANCELLED, EXPIRED)

# The outcome of a settled record that got no event, and why it got none.
HISTORY: Final = "HISTORY"
SKIPPED: Final = "SKIPPED"
NO_EVENT_BECAUSE: Final[Mapping[str, str]] = {
    HISTORY: "it ended before the watch started",
    SKIPPED: "OPERATION_TYPES leaves its type out",
}
OUTCOMES: Final = (*EVENT_STATES, *NO_EVENT_BECAUSE)

KNOWN_OPERATION_TYPES: Final = (
    "BulkAnalyzeConversations",
    "BulkDeleteConversations",
    "BulkDeleteFeedbackLabels",
    "BulkDownloadFeedbackLabels",
    "BulkUploadFeedbackLabels",
    "CreateAnalysis",
    "CreateIssue",
    "CreateIssueModel",
    "DeleteIssueModel",
    "DeleteQaQuestionTag",
    "DeployIssueModel",
    "ExportInsightsData",
    "ExportIssueModel",
    "GenerativeInsights",
    "ImportIssueModel",
    "IngestConversations",
    "InitializeEncryptionSpec",
    "QueryMetrics",
    "QueryPerformanceOverview",
    "SampleConversations",
    "TestCorrelationConfig",
    "TuneQaScorecardRevision",
    "UndeployIssueModel",
    "UpdateQaQuestionTag",
    "UploadConversation",
)
"""The ``operationType`` of every kind of operation the Insights v1 API documents with a metadata
type (discovery document revision 20261104: the client library's 17 kinds and 8 of the 9 newer
ones). A kind added later still gets its own name, taken from its metadata type; an operation
without metadata (``datasets.delete`` documents none) is ``Unknown``."""

# Why a tracked operation was given up as EXPIRED (the event's ``expiredReason``).
EXPIRED_NOT_FOUND: Final = "NOT_FOUND"
EXPIRED_MAX_PENDING_AGE: Final = "MAX_PENDING_AGE"

REPLAY_ATTRIBUTE: Final = "replay"
"""Set to "true" on a replayed event: its only difference from the first publish."""


@dataclasses.dataclass(frozen=True)
class NewOperation:
    """An operation as first seen: what is worth remembering about it."""

    name: str
    location: str
    operation_type: str
    create_time: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class TrackedOperation:
    """One operation as the state store knows it. ``state`` is the outcome once SETTLED."""

    name: str
    location: str
    operation_type: str
    status: RecordStatus
    first_seen: datetime.datetime
    create_time: datetime.datetime | None = None
    last_checked: datetime.datetime | None = None
    detect_time: datetime.datetime | None = None
    published_at: datetime.datetime | None = None
    state: str | None = None
    claim_owner: str | None = None
    claim_until: datetime.datetime | None = None

    @property
    def outcome(self) -> str:
        """PENDING until settled, then the state its event carried (or HISTORY, SKIPPED)."""
        if self.status == PENDING or self.state is None:
            return PENDING
        return self.state

    def described(self) -> NewOperation:
        return NewOperation(self.name, self.location, self.operation_type, self.create_time)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a record settled, recorded once its event went out (or once it needs none)."""

    name: str
    state: str
    at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Event:
    """A Pub/Sub message ready to publish: data plus attributes."""

    operation: str
    state: str
    data: bytes
    attributes: Mapping[str, str]
    end_time: datetime.datetime | None = None
    """When the operation ended (the data's ``endTime``), for measuring detection latency."""

    @property
    def event_id(self) -> str:
        return self.attributes["ce-id"]
