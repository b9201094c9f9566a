"""The event contract, built from real Insights messages, for every state."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import builders
import pytest
from contract import assert_valid_event
from google.cloud import contact_center_insights_v1 as insights
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2

from insights_poller import events
from insights_poller.state.base import TrackedOperation

DETECTED = builders.T0 + datetime.timedelta(minutes=30)
ENDED = builders.T0 + datetime.timedelta(minutes=20)


def data_of(event: events.Event) -> dict[str, Any]:
    """The event's data, after checking the whole event against the published schema."""
    return assert_valid_event(event.data, event.attributes)


def test_succeeded_event_carries_response_metadata_and_times() -> None:
    operation = builders.issue_model_operation(builders.name(7), ended=ENDED)

    event = events.build_event(operation, detect_time=DETECTED)

    data = data_of(event)
    assert data["operation"] == builders.name(7)
    assert data["operationType"] == "CreateIssueModel"
    assert data["state"] == "SUCCEEDED"
    assert data["response"]["@type"].endswith("contactcenterinsights.v1.IssueModel")
    assert data["response"]["name"].endswith("/issueModels/7")
    assert data["metadata"]["@type"].endswith("CreateIssueModelMetadata")
    assert data["metadata"]["request"]["parent"] == "projects/demo-project/locations/us-central1"
    assert (data["createTime"], data["endTime"]) == ("2026-11-01T12:00:00Z", "2026-11-01T12:20:00Z")
    assert data["detectTime"] == "2026-11-01T12:30:00Z"
    assert "error" not in data


def test_attributes_follow_the_cloudevents_pubsub_binding() -> None:
    operation = builders.issue_model_operation(builders.name(7), ended=ENDED)

    attributes = events.build_event(operation, detect_time=DETECTED).attributes

    assert attributes == {
        "operation": builders.name(7),
        "operationType": "CreateIssueModel",
        "state": "SUCCEEDED",
        "location": "us-central1",
        "ce-specversion": "1.0",
        "ce-id": events.event_id(builders.name(7)),
        "ce-source": events.SOURCE_PREFIX + "projects/demo-project/locations/us-central1",
        "ce-type": "insights-poller.operation.v1.finished",
        "ce-subject": "operations/7",
        "ce-time": "2026-11-01T12:20:00Z",
        "content-type": "application/json",
        "hasPartialErrors": "false",
    }
    assert not attributes["ce-type"].startswith("google.")


def test_event_id_is_stable_per_operation_and_distinct_between_operations() -> None:
    first = events.build_event(
        builders.issue_model_operation(builders.name(1), ended=ENDED), detect_time=DETECTED
    )
    again = events.build_event(
        builders.issue_model_operation(builders.name(1), ended=ENDED),
        detect_time=DETECTED + datetime.timedelta(hours=1),
    )
    other = events.build_event(
        builders.issue_model_operation(builders.name(2), ended=ENDED), detect_time=DETECTED
    )

    assert first.event_id == again.event_id
    assert first.event_id != other.event_id


@pytest.mark.parametrize(
    ("code", "state"), [(code_pb2.CANCELLED, "CANCELLED"), (code_pb2.INTERNAL, "FAILED")]
)
def test_error_states_carry_the_error_and_no_response(code: int, state: str) -> None:
    detail = any_pb2.Any()
    detail.Pack(status_pb2.Status(code=code_pb2.NOT_FOUND, message="inner"))
    error = status_pb2.Status(code=code, message="it broke", details=[detail])
    operation = builders.issue_model_operation(builders.name(3), ended=ENDED, error=error)

    event = events.build_event(operation, detect_time=DETECTED)

    data = data_of(event)
    assert data["state"] == state == event.attributes["state"]
    assert data["error"]["code"] == code
    assert data["error"]["message"] == "it broke"
    assert data["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.Status", "code": 5, "message": "inner"}
    ]
    assert "response" not in data
    assert data["metadata"]["@type"].endswith("CreateIssueModelMetadata")


def test_unknown_type_is_passed_through_with_its_raw_bytes() -> None:
    url = "type.googleapis.com/google.cloud.contactcenterinsights.v1.GenerativeInsightsMetadata"
    operation = operations_pb2.Operation(
        name=builders.name(9),
        done=True,
        metadata=any_pb2.Any(type_url=url, value=b"\x0a\x03abc"),
        response=any_pb2.Any(type_url=url.replace("Metadata", "Response"), value=b"\x10\x01"),
    )

    event = events.build_event(operation, detect_time=DETECTED)

    data = data_of(event)
    assert data["operationType"] == "GenerativeInsights"
    assert data["metadata"] == {"@type": url, "value": base64.b64encode(b"\x0a\x03abc").decode()}
    assert base64.b64decode(data["response"]["value"]) == b"\x10\x01"
    assert "createTime" not in data
    assert event.attributes["ce-time"] == "2026-11-01T12:30:00Z"


def test_done_operation_with_partial_errors_keeps_them_in_the_metadata() -> None:
    operation = builders.bulk_analyze_operation(builders.name(4), ended=ENDED, partial_errors=2)

    event = events.build_event(operation, detect_time=DETECTED)
    data = data_of(event)

    assert data["state"] == "SUCCEEDED"
    assert data["operationType"] == "BulkAnalyzeConversations"
    assert [e["message"] for e in data["metadata"]["partialErrors"]] == [
        "conversation 0 bad",
        "conversation 1 bad",
    ]
    assert data["metadata"]["failedAnalysesCount"] == 2
    assert event.attributes["hasPartialErrors"] == "true"


def test_operation_type_names_the_method() -> None:
    def typed(url: str) -> operations_pb2.Operation:
        return operations_pb2.Operation(metadata=any_pb2.Any(type_url=url))

    prefix = "type.googleapis.com/google.cloud.contactcenterinsights.v1."
    assert events.operation_type(typed(prefix + "CreateAnalysisOperationMetadata")) == (
        "CreateAnalysis"
    )
    assert events.operation_type(typed(prefix + "UploadConversationMetadata")) == (
        "UploadConversation"
    )
    assert events.operation_type(operations_pb2.Operation()) == "Unknown"


def test_expired_event_uses_what_the_store_remembered() -> None:
    record = TrackedOperation(
        name=builders.name(5),
        location="us-central1",
        operation_type="ExportInsightsData",
        status="PENDING",
        first_seen=builders.T0,
        create_time=builders.T0,
    )

    event = events.build_expired_event(record, reason="NOT_FOUND", detect_time=DETECTED)

    data = data_of(event)
    assert data == {
        "operation": builders.name(5),
        "operationType": "ExportInsightsData",
        "state": "EXPIRED",
        "expiredReason": "NOT_FOUND",
        "createTime": "2026-11-01T12:00:00Z",
        "detectTime": "2026-11-01T12:30:00Z",
    }
    assert event.attributes["state"] == "EXPIRED"
    assert event.attributes["ce-id"] == events.event_id(builders.name(5))


def test_oversized_response_is_dropped_and_said_so() -> None:
    operation = builders.issue_model_operation(builders.name(8), ended=ENDED)
    huge = insights.IssueModel(display_name="x" * 11_000_000)
    operation.response.CopyFrom(builders.pack(huge))

    event = events.build_event(operation, detect_time=DETECTED)

    assert len(event.data) < 10_000_000
    data = data_of(event)
    assert data["truncated"] is True
    assert data["truncatedFields"] == ["response"]
    assert data["response"] == {"@type": builders.pack(huge).type_url}
    assert data["metadata"]["request"]["parent"].endswith("us-central1")


def test_small_events_are_not_marked_truncated() -> None:
    operation = builders.issue_model_operation(builders.name(8), ended=ENDED)

    data = data_of(events.build_event(operation, detect_time=DETECTED))

    assert "truncated" not in data and "truncatedFields" not in data


def test_attributes_stay_within_pubsub_limits() -> None:
    long_id = "7" * 2000
    operation = builders.issue_model_operation(builders.name(long_id), ended=ENDED)

    attributes = events.build_event(operation, detect_time=DETECTED).attributes

    assert len(attributes) <= 100
    assert all(len(value.encode()) <= 1024 for value in attributes.values())
    assert all(len(key.encode()) <= 256 for key in attributes)
