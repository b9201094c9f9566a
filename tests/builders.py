"""Real Insights operations for unit tests, built from the client library's own messages."""

from __future__ import annotations

import datetime

from google.cloud import contact_center_insights_v1 as insights
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, timestamp_pb2
from google.rpc import status_pb2

PROJECT = "demo-project"
LOCATION = "us-central1"
UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def name(operation_id: int | str, location: str = LOCATION) -> str:
    return f"projects/{PROJECT}/locations/{location}/operations/{operation_id}"


def pack(proto_plus_message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(type(proto_plus_message).pb(proto_plus_message))  # type: ignore[attr-defined]
    return packed


def stamp(moment: datetime.datetime) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(moment)
    return result


def issue_model_operation(
    operation_name: str,
    *,
    created: datetime.datetime = T0,
    ended: datetime.datetime | None = None,
    error: status_pb2.Status | None = None,
) -> operations_pb2.Operation:
    """A CreateIssueModel operation: pending, or done with a response or an error once ``ended``."""
    metadata = insights.CreateIssueModelMetadata(
        create_time=created,
        end_time=ended,
        request=insights.CreateIssueModelRequest(
            parent=operation_name.split("/operations/", maxsplit=1)[0]
        ),
    )
    operation = operations_pb2.Operation(name=operation_name, metadata=pack(metadata))
    if ended is not None:
        operation.done = True
        if error is not None:
            operation.error.CopyFrom(error)
        else:
            model = insights.IssueModel(name=operation_name.replace("operations", "issueModels"))
            operation.response.CopyFrom(pack(model))
    return operation


def bulk_analyze_operation(
    operation_name: str, *, ended: datetime.datetime, partial_errors: int = 0
) -> operations_pb2.Operation:
    """A done BulkAnalyzeConversations operation with ``partial_errors`` in its metadata."""
    from google.rpc import code_pb2  # noqa: PLC0415

    metadata = insights.BulkAnalyzeConversationsMetadata(
        create_time=T0,
        end_time=ended,
        completed_analyses_count=10,
        failed_analyses_count=partial_errors,
        total_requested_analyses_count=10 + partial_errors,
    )
    for index in range(partial_errors):
        metadata.partial_errors.append(
            status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=f"conversation {index} bad")
        )
    operation = operations_pb2.Operation(name=operation_name, metadata=pack(metadata), done=True)
    operation.response.CopyFrom(
        pack(insights.BulkAnalyzeConversationsResponse(successful_analysis_count=10))
    )
    return operation
