"""Tests of the Insights operations emulator, driven mostly through the real Insights client."""

from __future__ import annotations

import base64
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api_core import exceptions, operation
from google.cloud import contact_center_insights_v1 as ccai
from google.cloud.contact_center_insights_v1.services.contact_center_insights.transports import (
    ContactCenterInsightsGrpcTransport,
)
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import any_pb2, empty_pb2, json_format
from google.rpc import status_pb2
from http_json import http_json
from hypothesis import given, settings
from hypothesis import strategies as st

from insights_emulator import (
    CANCELLED_MESSAGE,
    DEFAULT_ERROR_CODE,
    KIND_NAMES,
    KINDS,
    NEWER_KIND_NAMES,
    PASSTHROUGH_KIND,
    PASSTHROUGH_METADATA_TYPE_URL,
    PASSTHROUGH_RESPONSE_TYPE_URL,
    Fault,
    FaultInjector,
    InsightsEmulator,
    ManualClock,
    OperationDoneError,
    OperationNotFoundError,
    OperationStore,
)

PARENT = "projects/p/locations/l"
REPO = Path(__file__).resolve().parents[3]

# Written out independently of the emulator: what the client library declares per method.
EXPECTED_TYPES: dict[str, tuple[Any, Any]] = {
    "UploadConversation": (ccai.UploadConversationMetadata, ccai.Conversation),
    "CreateAnalysis": (ccai.CreateAnalysisOperationMetadata, ccai.Analysis),
    "BulkAnalyzeConversations": (
        ccai.BulkAnalyzeConversationsMetadata,
        ccai.BulkAnalyzeConversationsResponse,
    ),
    "BulkDeleteConversations": (
        ccai.BulkDeleteConversationsMetadata,
        ccai.BulkDeleteConversationsResponse,
    ),
    "IngestConversations": (ccai.IngestConversationsMetadata, ccai.IngestConversationsResponse),
    "ExportInsightsData": (ccai.ExportInsightsDataMetadata, ccai.ExportInsightsDataResponse),
    "CreateIssueModel": (ccai.CreateIssueModelMetadata, ccai.IssueModel),
    "DeleteIssueModel": (ccai.DeleteIssueModelMetadata, empty_pb2.Empty),
    "DeployIssueModel": (ccai.DeployIssueModelMetadata, ccai.DeployIssueModelResponse),
    "UndeployIssueModel": (ccai.UndeployIssueModelMetadata, ccai.UndeployIssueModelResponse),
    "ExportIssueModel": (ccai.ExportIssueModelMetadata, ccai.ExportIssueModelResponse),
    "ImportIssueModel": (ccai.ImportIssueModelMetadata, ccai.ImportIssueModelResponse),
    "InitializeEncryptionSpec": (
        ccai.InitializeEncryptionSpecMetadata,
        ccai.InitializeEncryptionSpecResponse,
    ),
    "QueryMetrics": (ccai.QueryMetricsMetadata, ccai.QueryMetricsResponse),
    "TuneQaScorecardRevision": (
        ccai.TuneQaScorecardRevisionMetadata,
        ccai.TuneQaScorecardRevisionResponse,
    ),
    "BulkUploadFeedbackLabels": (
        ccai.BulkUploadFeedbackLabelsMetadata,
        ccai.BulkUploadFeedbackLabelsResponse,
    ),
    "BulkDownloadFeedbackLabels": (
        ccai.BulkDownloadFeedbackLabelsMetadata,
        ccai.BulkDownloadFeedbackLabelsResponse,
    ),
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[InsightsEmulator]:
    emulator = InsightsEmulator(clock=clock, max_page_size=5, seed=7)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def channel(emulator: InsightsEmulator) -> Iterator[grpc.Channel]:
    assert emulator.address is not None
    with grpc.insecure_channel(emulator.address) as channel:
        yield channel


@pytest.fixture
def client(channel: grpc.Channel) -> ccai.ContactCenterInsightsClient:
    transport = ContactCenterInsightsGrpcTransport(channel=channel)
    return ccai.ContactCenterInsightsClient(transport=transport)


@pytest.fixture
def admin(emulator: InsightsEmulator) -> str:
    return "http://" + emulator.start_admin()


def _unpack(packed: any_pb2.Any, message_type: Any) -> Any:
    """Unpack into a library type (proto-plus or plain protobuf), failing if the type differs."""
    target = message_type() if message_type is empty_pb2.Empty else message_type.pb()()
    assert packed.Unpack(target), packed.type_url
    return target


def test_real_client_pages_through_one_location_in_creation_order(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    created = [emulator.create("CreateAnalysis", "p", "l") for _ in range(7)]
    emulator.create("CreateAnalysis", "p", "other")
    emulator.create("CreateAnalysis", "q", "l")

    pages: list[list[str]] = []
    token = ""
    while True:
        response = client.list_operations({"name": PARENT, "page_size": 3, "page_token": token})
        pages.append([op.name for op in response.operations])
        token = response.next_page_token
        if not token:
            break

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [name for page in pages for name in page] == created
    numbered = f"projects/{emulator.project_number('p')}/locations/l"
    assert all(re.fullmatch(rf"{numbered}/operations/\d{{19}}", name) for name in created)


def test_page_size_is_capped_and_defaults_to_100(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    for _ in range(12):
        emulator.create("UploadConversation", "p", "l")

    capped = client.list_operations({"name": PARENT, "page_size": 1000})
    defaulted = client.list_operations({"name": PARENT})

    assert len(capped.operations) == 5  # the fixture's max_page_size
    assert len(defaulted.operations) == 5
    store = OperationStore(max_page_size=1000)
    for _ in range(120):
        store.create("UploadConversation", "p", "l")
    assert len(store.list_page(PARENT)[0]) == 100


@settings(max_examples=40, deadline=None, database=None)
@given(
    count=st.integers(0, 30),
    page_size=st.integers(0, 12),
    cap=st.integers(1, 8),
    deleted=st.sets(st.integers(0, 29)),
)
def test_paging_yields_each_operation_once_in_order(
    count: int, page_size: int, cap: int, deleted: set[int]
) -> None:
    store = OperationStore(max_page_size=cap, seed=0)
    created = [store.create("QueryMetrics", "p", "l") for _ in range(count)]
    pages, token = [], ""
    first, token = store.list_page(PARENT, page_size, token)
    pages.append(first)
    for index in sorted(deleted):  # deleting mid-listing must not disturb the cursor
        if index < count and created[index] not in {op.name for op in first}:
            store.delete(created[index])
    while token:
        page, token = store.list_page(PARENT, page_size, token)
        pages.append(page)

    listed = [op.name for page in pages for op in page]
    remaining = [name for index, name in enumerate(created) if index not in deleted]
    assert listed == [name for name in created if name in listed]
    assert set(remaining) <= set(listed)
    assert all(0 < len(page) <= min(page_size or 100, cap) for page in pages[:-1])


def test_concurrent_use_is_safe(emulator: InsightsEmulator) -> None:
    def work() -> None:
        for _ in range(50):
            name = emulator.create("CreateAnalysis", "p", "l", finish_after=1)
            emulator.list_page(PARENT, 5)
            emulator.get_operation(name)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    names = [op.name for op in emulator.list_operations()]
    assert len(names) == len(set(names)) == 400


def test_list_filters_on_done(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    running = emulator.create("CreateAnalysis", "p", "l")
    finished = emulator.create("CreateAnalysis", "p", "l", outcome="succeed")

    done = client.list_operations({"name": PARENT, "filter": "done=true"})
    not_done = client.list_operations({"name": PARENT, "filter": "done = false"})

    assert [op.name for op in done.operations] == [finished]
    assert [op.name for op in not_done.operations] == [running]


@pytest.mark.parametrize(
    "request_fields",
    [
        {"name": "projects/p"},
        {"name": "projects/p/locations/l/extra"},
        {"name": PARENT, "page_token": "not a token"},
        {"name": PARENT, "page_size": -1},
        {"name": PARENT, "filter": "metadata.kind = 1"},
    ],
)
def test_list_rejects_bad_arguments(
    client: ccai.ContactCenterInsightsClient, request_fields: dict[str, Any]
) -> None:
    with pytest.raises(exceptions.InvalidArgument):
        client.list_operations(request_fields)


def test_page_token_is_bound_to_its_query(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    for _ in range(3):
        emulator.create("CreateAnalysis", "p", "l")
    token = client.list_operations({"name": PARENT, "page_size": 1}).next_page_token

    with pytest.raises(exceptions.InvalidArgument):
        client.list_operations({"name": "projects/p/locations/x", "page_token": token})
    with pytest.raises(exceptions.InvalidArgument):
        client.list_operations({"name": PARENT, "page_token": token, "filter": "done=true"})


def test_get_delete_and_not_found(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient, channel: grpc.Channel
) -> None:
    name = emulator.create("ExportInsightsData", "p", "l", outcome="succeed")
    stub = operations_pb2_grpc.OperationsStub(channel)  # the client has no delete_operation

    assert client.get_operation({"name": name}) == emulator.get_operation(name)
    stub.DeleteOperation(operations_pb2.DeleteOperationRequest(name=name))

    with pytest.raises(exceptions.NotFound):
        client.get_operation({"name": name})
    with pytest.raises(exceptions.NotFound):
        client.get_operation({"name": f"{PARENT}/operations/123"})
    with pytest.raises(grpc.RpcError) as raised:
        stub.DeleteOperation(operations_pb2.DeleteOperationRequest(name=name))
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(exceptions.InvalidArgument):
        client.get_operation({"name": "operations/123"})
    assert emulator.list_operations() == []


def test_wait_operation_is_unimplemented(channel: grpc.Channel) -> None:
    stub = operations_pb2_grpc.OperationsStub(channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.WaitOperation(operations_pb2.WaitOperationRequest(name=f"{PARENT}/operations/1"))
    assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED


def test_lifecycle_follows_the_clock(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient, clock: ManualClock
) -> None:
    start = clock()
    fails = emulator.create(
        "IngestConversations", "p", "l", outcome="fail", finish_after=30, error_code=3
    )
    succeeds = emulator.create("CreateIssueModel", "p", "l", finish_after=60)
    cancels = emulator.create("ExportIssueModel", "p", "l", outcome="cancel", finish_after=90)
    manual = emulator.create("DeployIssueModel", "p", "l")

    def state() -> dict[str, operations_pb2.Operation]:
        return {op.name: op for op in client.list_operations({"name": PARENT}).operations}

    def times(op: operations_pb2.Operation, metadata_type: Any) -> tuple[float, float | None]:
        metadata = _unpack(op.metadata, metadata_type)
        end = metadata.end_time.ToNanoseconds() / 1e9 if metadata.HasField("end_time") else None
        return metadata.create_time.ToNanoseconds() / 1e9, end

    assert not any(op.done for op in state().values())
    assert times(state()[fails], ccai.IngestConversationsMetadata) == (start, None)

    clock.advance(30)
    failed = state()[fails]
    assert failed.done and failed.error.code == 3
    assert times(failed, ccai.IngestConversationsMetadata) == (start, start + 30)
    assert not state()[succeeds].done

    clock.advance(30)
    succeeded = state()[succeeds]
    assert succeeded.done and not succeeded.HasField("error")
    numbered = f"projects/{emulator.project_number('p')}/locations/l"
    assert _unpack(succeeded.response, ccai.IssueModel).name.startswith(f"{numbered}/issueModels/")

    clock.advance(30)
    cancelled = state()[cancels]
    assert cancelled.done and cancelled.error.code == 1
    assert cancelled.error.message == CANCELLED_MESSAGE

    clock.advance(10**6)
    assert not state()[manual].done
    emulator.fail(manual)
    failed_now = state()[manual]
    assert failed_now.done and failed_now.error.code == DEFAULT_ERROR_CODE
    assert times(failed_now, ccai.DeployIssueModelMetadata)[1] == clock()


def test_history_before_the_watcher_started(emulator: InsightsEmulator, clock: ManualClock) -> None:
    now = clock()
    name = emulator.create("UploadConversation", "p", "l", created_ago=3600, finished_ago=1800)
    other = emulator.create(
        "CreateAnalysis", "p", "l", outcome="fail", created_ago=600, finish_after=60
    )

    op = emulator.get_operation(name)
    metadata = _unpack(op.metadata, ccai.UploadConversationMetadata)
    assert op.done and op.HasField("response")
    assert metadata.create_time.ToSeconds() == now - 3600
    assert metadata.end_time.ToSeconds() == now - 1800
    end = _unpack(emulator.get_operation(other).metadata, ccai.CreateAnalysisOperationMetadata)
    assert end.end_time.ToSeconds() == now - 540


def test_immediate_controls(emulator: InsightsEmulator) -> None:
    name = emulator.create("BulkDeleteConversations", "p", "l", finish_after=100)

    assert emulator.succeed(name).done
    with pytest.raises(OperationDoneError):
        emulator.cancel(name)
    emulator.delete(name)
    with pytest.raises(OperationNotFoundError):
        emulator.get_operation(name)
    with pytest.raises(OperationNotFoundError):
        emulator.delete(name)


def test_cancel_operation_rpc(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    running = emulator.create("BulkAnalyzeConversations", "p", "l", finish_after=100)
    finished = emulator.create("BulkAnalyzeConversations", "p", "l", outcome="succeed")

    client.cancel_operation({"name": running})
    client.cancel_operation({"name": finished})

    cancelled = client.get_operation({"name": running})
    assert cancelled.done and cancelled.error.code == 1
    assert client.get_operation({"name": finished}).HasField("response")
    with pytest.raises(exceptions.NotFound):
        client.cancel_operation({"name": f"{PARENT}/operations/1"})


def test_passthrough_bytes_survive_unknown_types(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    raw = any_pb2.Any(type_url="type.googleapis.com/x.y.Unknown", value=b"\x00\xffopaque")
    default = emulator.create(PASSTHROUGH_KIND, "p", "l", outcome="succeed")
    custom = emulator.create(PASSTHROUGH_KIND, "p", "l", outcome="succeed", raw_response=raw)

    op = client.get_operation({"name": default})
    assert op.metadata.type_url == PASSTHROUGH_METADATA_TYPE_URL
    assert op.response.type_url == PASSTHROUGH_RESPONSE_TYPE_URL
    assert op.metadata.value and op.response.value
    with pytest.raises(TypeError):
        json_format.MessageToDict(op)  # proves the library cannot unpack these types
    assert client.get_operation({"name": custom}).response == raw


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_kind_unpacks_with_the_client_library(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient, kind: str
) -> None:
    metadata_type, response_type = EXPECTED_TYPES[kind]
    name = emulator.create(kind, "p", "l", outcome="succeed")

    op = client.get_operation({"name": name})
    future = operation.from_gapic(
        op, client.transport.operations_client, response_type, metadata_type=metadata_type
    )

    assert op.metadata.type_url == KINDS[kind].metadata_type_url
    assert op.response.type_url == KINDS[kind].response_type_url
    assert isinstance(future.metadata, metadata_type)
    assert isinstance(future.result(), response_type)
    metadata = json_format.MessageToDict(_unpack(op.metadata, metadata_type))
    json_format.MessageToDict(_unpack(op.response, response_type))
    if kind != "QueryMetrics":  # its metadata type has no fields at all
        assert {"createTime", "endTime"} <= metadata.keys()


def test_metadata_is_plausible(emulator: InsightsEmulator) -> None:
    errors = [status_pb2.Status(code=5, message="conversation not found")]
    bulk = emulator.create("BulkAnalyzeConversations", "p", "l", partial_errors=errors)
    export = emulator.create("ExportInsightsData", "p", "l", outcome="succeed")
    ingest = emulator.create("IngestConversations", "p", "l", outcome="succeed")

    bulk_running = _unpack(
        emulator.get_operation(bulk).metadata, ccai.BulkAnalyzeConversationsMetadata
    )
    bulk_done = emulator.succeed(bulk)
    metadata = _unpack(bulk_done.metadata, ccai.BulkAnalyzeConversationsMetadata)
    response = _unpack(bulk_done.response, ccai.BulkAnalyzeConversationsResponse)
    assert bulk_running.completed_analyses_count == 0
    assert list(metadata.partial_errors) == errors
    assert metadata.failed_analyses_count == 1
    assert (
        metadata.completed_analyses_count + metadata.failed_analyses_count
        == metadata.total_requested_analyses_count
    )
    assert response.failed_analysis_count == 1
    request = _unpack(emulator.get_operation(export).metadata, ccai.ExportInsightsDataMetadata)
    assert request.request.parent == f"projects/{emulator.project_number('p')}/locations/l"
    assert request.request.big_query_destination.project_id == "p"
    assert request.request.big_query_destination.dataset
    stats = _unpack(emulator.get_operation(ingest).metadata, ccai.IngestConversationsMetadata)
    assert stats.ingest_conversations_stats.processed_object_count > 0


def test_response_size_bytes(emulator: InsightsEmulator) -> None:
    conversation = emulator.create(
        "UploadConversation", "p", "l", outcome="succeed", response_size_bytes=200_000
    )
    opaque = emulator.create(PASSTHROUGH_KIND, "p", "l", outcome="succeed", response_size_bytes=999)

    packed = emulator.get_operation(conversation).response
    assert 200_000 <= len(packed.value) < 200_100
    assert len(_unpack(packed, ccai.Conversation).transcript.transcript_segments) > 2
    assert 999 <= len(emulator.get_operation(opaque).response.value) < 1010


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "Nope"}, "unknown kind"),
        ({"finish_after": -1}, "finish_after"),
        ({"created_ago": 10, "finished_ago": 20}, "finished_ago"),
        ({"outcome": "succeed", "error_code": 3}, "only to outcome 'fail'"),
        ({"outcome": "fail", "error_code": 0}, "invalid error code"),
        ({"partial_errors": [status_pb2.Status(code=2)]}, "partial_errors"),
        ({"response_size_bytes": 10}, "variable-size"),
        ({"raw_metadata": any_pb2.Any()}, "raw metadata"),
    ],
)
def test_create_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"kind": "CreateAnalysis", **kwargs}
    with pytest.raises(ValueError, match=message):
        OperationStore().create(project="p", location="l", **arguments)


def test_fault_injection_fails_with_the_configured_code_and_counts_calls(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    name = emulator.create("CreateAnalysis", "p", "l")
    emulator.faults.set_fault(
        "ListOperations", Fault(error_rate=1.0, code=grpc.StatusCode.UNAVAILABLE)
    )
    emulator.faults.set_fault(
        "GetOperation", Fault(error_rate=1.0, code=grpc.StatusCode.INTERNAL, max_errors=2)
    )

    with pytest.raises(exceptions.ServiceUnavailable):
        client.list_operations({"name": PARENT})
    for _ in range(2):
        with pytest.raises(exceptions.InternalServerError):
            client.get_operation({"name": name})
    assert client.get_operation({"name": name}).name == name

    assert emulator.faults.calls()["ListOperations"] == 1
    assert emulator.faults.calls()["GetOperation"] == 3
    assert emulator.faults.injected_errors()["GetOperation"] == 2
    emulator.faults.clear_faults()
    emulator.faults.reset_stats()
    client.list_operations({"name": PARENT})
    assert emulator.faults.calls()["ListOperations"] == 1


def test_fault_draws_are_reproducible_and_latency_is_added(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    def pattern(seed: int) -> list[bool]:
        injector = FaultInjector(seed=seed)
        injector.set_fault("*", Fault(error_rate=0.5))
        return [injector.on_call("GetOperation") is None for _ in range(40)]

    assert pattern(3) == pattern(3)
    assert True in pattern(3) and False in pattern(3)
    emulator.faults.set_fault("*", Fault(latency_seconds=0.2))
    started = time.monotonic()
    client.list_operations({"name": PARENT})
    assert time.monotonic() - started >= 0.2


def test_admin_http_round_trip(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient, admin: str
) -> None:
    collection = f"{admin}/v1/{PARENT}/operations"

    status, created = http_json(
        collection, "POST", {"kind": "CreateIssueModel", "finishAfterSeconds": 100}
    )
    assert status == 200 and created["done"] is False
    name = created["name"]
    assert client.get_operation({"name": name}).name == name
    assert http_json(collection)[1]["operations"] == [created]

    status, failed = http_json(f"{admin}/v1/{name}:fail", "POST", {"code": "INVALID_ARGUMENT"})
    assert status == 200 and failed["error"]["code"] == 3
    assert client.get_operation({"name": name}).error.code == 3
    assert http_json(f"{admin}/v1/{name}:succeed", "POST")[0] == 409

    assert http_json(f"{admin}/v1/{name}", "DELETE") == (200, {})
    with pytest.raises(exceptions.NotFound):
        client.get_operation({"name": name})
    status, missing = http_json(f"{admin}/v1/{name}")
    assert status == 404 and "not found" in missing["error"]


def test_admin_http_history_partial_errors_and_passthrough(
    emulator: InsightsEmulator, admin: str, clock: ManualClock
) -> None:
    collection = f"{admin}/v1/{PARENT}/operations"
    _, history = http_json(
        collection,
        "POST",
        {
            "kind": "IngestConversations",
            "outcome": "fail",
            "createdAgoSeconds": 60,
            "finishedAgoSeconds": 30,
            "errorCode": 13,
            "errorMessage": "boom",
            "partialErrors": [{"code": 5, "message": "missing"}],
        },
    )
    value = base64.b64encode(b"\x01\x02").decode()
    _, opaque = http_json(
        collection,
        "POST",
        {
            "kind": PASSTHROUGH_KIND,
            "outcome": "succeed",
            "rawMetadata": {"typeUrl": "type.googleapis.com/a.B", "valueBase64": value},
        },
    )

    assert history["error"] == {"code": 13, "message": "boom"}
    assert history["metadata"]["partialErrors"] == [{"code": 5, "message": "missing"}]
    assert history["metadata"]["endTime"] == "2023-11-14T22:12:50Z"  # ManualClock() - 30 s
    assert opaque["metadata"] == {"@type": "type.googleapis.com/a.B", "valueBase64": value}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", f"/v1/{PARENT}/operations", {"kind": "Nope"}, 400),
        ("POST", f"/v1/{PARENT}/operations", {"kind": "CreateAnalysis", "typo": 1}, 400),
        ("POST", f"/v1/{PARENT}/operations", {"kind": "CreateAnalysis", "outcome": "x"}, 400),
        ("POST", f"/v1/{PARENT}/operations", {"finishAfterSeconds": 1}, 400),
        ("POST", f"/v1/{PARENT}/operations", ["not", "an", "object"], 400),
        ("POST", f"/v1/{PARENT}/operations/1:succeed", None, 404),
        ("POST", "/v1/faults", {"method": "Nope"}, 400),
        ("POST", "/v1/faults", {"errorRate": 2}, 400),
        ("GET", "/v1/nothing", None, 404),
        ("DELETE", "/v1/kinds", None, 405),
    ],
)
def test_admin_http_rejects_bad_input(
    admin: str, method: str, path: str, body: object, status: int
) -> None:
    got, payload = http_json(admin + path, method, body)
    assert got == status
    assert isinstance(payload["error"], str) and payload["error"]


def test_admin_http_faults_and_stats(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient, admin: str
) -> None:
    status, faults = http_json(
        f"{admin}/v1/faults",
        "POST",
        {"method": "ListOperations", "errorRate": 1, "code": "PERMISSION_DENIED", "seed": 1},
    )
    assert status == 200 and faults["faults"]["ListOperations"]["code"] == "PERMISSION_DENIED"
    with pytest.raises(exceptions.PermissionDenied):
        client.list_operations({"name": PARENT})

    _, stats = http_json(f"{admin}/v1/stats")
    assert stats["calls"]["ListOperations"] == 1
    assert stats["injectedErrors"]["ListOperations"] == 1
    assert http_json(f"{admin}/v1/faults", "DELETE") == (200, {"faults": {}})
    client.list_operations({"name": PARENT})
    kinds = http_json(f"{admin}/v1/kinds")[1]["kinds"]
    assert kinds == [*KIND_NAMES, *NEWER_KIND_NAMES, PASSTHROUGH_KIND]
    assert {"GenerativeInsights", "DeleteDataset"} <= set(kinds)


def test_command_line_serves_demo_data_and_stops_on_sigterm() -> None:
    python_path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "insights_emulator", "--port", "0", "--admin-port", "0",
         "--rest-port", "0", "--locations", "l,europe-west1", "--seed", "demo",
         "--project", "p", "--project-number", "123456789012", "--location", "l",
         "--max-page-size", "4"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "no ready line within 30 s"
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Insights emulator listening on (127\.0\.0\.1:\d+) "
            r"\(admin http://(127\.0\.0\.1:\d+), REST http://(127\.0\.0\.1:\d+)\)\n",
            line,
        )
        assert match, line
        with grpc.insecure_channel(match.group(1)) as channel:
            client = ccai.ContactCenterInsightsClient(
                transport=ContactCenterInsightsGrpcTransport(channel=channel)
            )
            first = client.list_operations({"name": PARENT})
            rest = client.list_operations({"name": PARENT, "page_token": first.next_page_token})
            other_served = client.list_operations({"name": "projects/p/locations/europe-west1"})
            with pytest.raises(exceptions.InvalidArgument, match=r" contactcenterinsights\.goog"):
                client.list_operations({"name": "projects/p/locations/us-central1"})
        assert not other_served.operations
        operations = [*first.operations, *rest.operations]
        assert len(first.operations) == 4 and len(operations) == 8
        assert not any(op.done for op in operations)
        assert all(op.name.startswith("projects/123456789012/locations/l/") for op in operations)
        assert (
            len(http_json(f"http://{match.group(2)}/v1/{PARENT}/operations")[1]["operations"]) == 8
        )
        operation_id = operations[0].name.rpartition("/")[2]
        status, body = http_json(f"http://{match.group(3)}/v1/{PARENT}/operations/{operation_id}")
        assert status == 200 and body["name"] == operations[0].name and "done" not in body

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
