"""The event contract, built from real Insights messages, for every state."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import builders
import jsonschema
import pytest
from contract import assert_valid_event
from google.cloud import contact_center_insights_v1 as insights
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2

from insights_emulator.kinds import KIND_NAMES, KINDS, NEWER_KIND_NAMES
from insights_poller import events
from insights_poller.model import KNOWN_OPERATION_TYPES, Event, TrackedOperation

DETECTED = builders.T0 + datetime.timedelta(minutes=30)
ENDED = builders.T0 + datetime.timedelta(minutes=20)


def data_of(event: Event) -> dict[str, Any]:
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

    event = events.build_expired_event(record.described(), reason="NOT_FOUND", detect_time=DETECTED)

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


MB = 1_000_000


def _with_metadata_of(operation: operations_pb2.Operation, size: int) -> operations_pb2.Operation:
    """``operation`` with its metadata's request carrying ``size`` characters more."""
    metadata = insights.CreateIssueModelMetadata(
        create_time=builders.T0,
        end_time=ENDED,
        request=insights.CreateIssueModelRequest(
            parent="projects/demo-project/locations/us-central1",
            issue_model=insights.IssueModel(display_name="m" * size),
        ),
    )
    operation.metadata.CopyFrom(builders.pack(metadata))
    return operation


def _failed(message_size: int, detail_size: int) -> operations_pb2.Operation:
    detail = any_pb2.Any()
    detail.Pack(status_pb2.Status(code=code_pb2.NOT_FOUND, message="d" * detail_size))
    error = status_pb2.Status(code=code_pb2.INTERNAL, message="e" * message_size, details=[detail])
    return builders.issue_model_operation(builders.name(8), ended=ENDED, error=error)


def test_oversized_metadata_alone_is_dropped_and_the_small_response_kept() -> None:
    operation = builders.issue_model_operation(builders.name(8), ended=ENDED)
    _with_metadata_of(operation, 11 * MB)

    event = events.build_event(operation, detect_time=DETECTED)

    assert len(event.data) <= events.MAX_EVENT_DATA_BYTES
    data = data_of(event)
    assert (data["truncated"], data["truncatedFields"]) == (True, ["metadata"])
    assert data["metadata"] == {"@type": operation.metadata.type_url}
    assert data["response"]["name"].endswith("/issueModels/8")


@pytest.mark.parametrize(
    ("metadata", "message", "detail", "dropped"),
    [
        (2 * MB, 6 * MB, 5 * MB, ["error.message"]),
        (3 * MB, 4 * MB, 5 * MB, ["error.details"]),
        (6 * MB, 3 * MB, 4 * MB, ["metadata"]),
        (4_500_000, 5 * MB, 5_500_000, ["error.details", "error.message"]),
        (4_500_000, 5_500_000, 5 * MB, ["error.message", "error.details"]),
    ],
)
def test_the_largest_bodies_give_way_first_and_no_more_than_needed(
    metadata: int, message: int, detail: int, dropped: list[str]
) -> None:
    operation = _with_metadata_of(_failed(message, detail), metadata)

    event = events.build_event(operation, detect_time=DETECTED)

    assert len(event.data) <= events.MAX_EVENT_DATA_BYTES
    data = data_of(event)
    assert (data["truncated"], data["truncatedFields"]) == (True, dropped)
    whole = {
        "metadata": data["metadata"] != {"@type": operation.metadata.type_url},
        "error.message": data["error"]["message"] == "e" * message,
        "error.details": data["error"]["details"] != [],
    }
    assert {field for field, kept in whole.items() if not kept} == set(dropped)
    assert data["metadata"]["@type"] == operation.metadata.type_url
    if "error.message" in dropped:
        assert data["error"]["message"] == "e" * 1000


@pytest.mark.parametrize("operation_id", ["7" * 2000, "\u00e9" * 600, "\U0001f600" * 300])
def test_a_listed_name_over_1024_bytes_is_whole_in_the_data_and_cut_in_the_attribute(
    operation_id: str,
) -> None:
    name = builders.name(operation_id)
    operation = builders.issue_model_operation(name, ended=ENDED)

    event = events.build_event(operation, detect_time=DETECTED)

    data = json.loads(event.data)
    attribute = event.attributes["operation"]
    assert data["operation"] == name == event.operation
    assert len(attribute.encode()) <= 1024 and name.startswith(attribute)
    assert len(name[: len(attribute) + 1].encode()) > 1024  # cut at the last whole character
    assert event.event_id == events.event_id(name)  # the id is of the whole name
    _schema("event.schema.json").validate(data)
    _schema("event-attributes.schema.json").validate(dict(event.attributes))


def test_the_attribute_contract_says_the_operation_attribute_may_be_cut() -> None:
    described = _schema_of("event-attributes.schema.json")["properties"]["operation"]

    assert "1024" in described["description"] and "data.operation" in described["description"]


def _schema_of(file_name: str) -> dict[str, Any]:
    text = (Path(__file__).resolve().parents[3] / "docs" / file_name).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema(file_name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_schema_of(file_name))


def test_the_known_operation_types_are_those_of_the_documented_kinds() -> None:
    """Every kind the emulator's catalogue holds (it follows the discovery document) is named by
    its metadata type as one of ``KNOWN_OPERATION_TYPES``, and no other name is listed."""
    derived = {
        kind.name: events.operation_type(
            operations_pb2.Operation(metadata=any_pb2.Any(type_url=kind.metadata_type_url))
            if kind.metadata_type_url
            else operations_pb2.Operation()
        )
        for kind in KINDS.values()
        if kind.name in {*KIND_NAMES, *NEWER_KIND_NAMES}
    }
    assert derived.pop("DeleteDataset") == "Unknown"  # documented without a metadata type
    assert all(name == kind for kind, name in derived.items())
    assert set(derived.values()) == set(KNOWN_OPERATION_TYPES)
