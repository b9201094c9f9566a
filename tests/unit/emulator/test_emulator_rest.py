"""The emulator's REST read, ``GET /v1/{name}``, as the Insights REST API renders operations."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from insights_emulator import (
    KIND_NAMES,
    KINDS,
    NEWER_KIND_NAMES,
    PASSTHROUGH_KIND,
    Fault,
    InsightsEmulator,
    ManualClock,
)

LOCATION = "us-central1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[InsightsEmulator]:
    emulator = InsightsEmulator(clock=clock, seed=11, locations=[LOCATION])
    emulator.start_rest()
    yield emulator
    emulator.stop()


def get(emulator: InsightsEmulator, name: str, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(f"http://{emulator.rest_address}/v1/{name}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Content-Type"].startswith("application/json")
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            assert error.headers["Content-Type"].startswith("application/json")
            return error.code, json.load(error)


def keys(value: Any) -> Iterator[str]:
    """Every object key in a JSON value, at any depth (Struct contents aside)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            if key != "chartSpec":  # a Struct: its keys are the user's, not field names
                yield from keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys(item)


@pytest.mark.parametrize("kind", [*KIND_NAMES, *NEWER_KIND_NAMES])
def test_every_kind_reads_over_rest_while_running_and_when_done(
    emulator: InsightsEmulator, clock: ManualClock, kind: str
) -> None:
    name = emulator.create(kind, "p", LOCATION, finish_after=60)

    status, running = get(emulator, name)
    clock.advance(60)
    _, done = get(emulator, name)

    assert status == 200
    assert running["name"] == done["name"] == name
    assert "done" not in running and "response" not in running  # false is a default: omitted
    assert done["done"] is True
    assert done["response"]["@type"] == KINDS[kind].response_type_url
    if KINDS[kind].metadata_type_url is None:
        assert "metadata" not in done
    else:
        assert done["metadata"]["@type"] == KINDS[kind].metadata_type_url
    assert not [key for key in keys(done) if "_" in key], "field names must be lowerCamelCase"
    for key in ("createTime", "endTime"):
        if key in done.get("metadata", {}):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", done["metadata"][key])
    assert "endTime" not in running.get("metadata", {})


def test_proto3_json_mapping_details(emulator: InsightsEmulator, clock: ManualClock) -> None:
    sample = emulator.create("SampleConversations", "p", LOCATION, outcome="succeed")
    upload = emulator.create("UploadConversation", "p", LOCATION, outcome="succeed")

    request = get(emulator, sample)[1]["metadata"]["request"]
    conversation = get(emulator, upload)[1]["response"]

    assert isinstance(request["sampleRule"]["sampleRow"], str)  # int64 as a string
    assert request["destinationDataset"]["type"] == "EVAL"  # enum by name
    assert conversation["medium"] == "CHAT"
    assert conversation["createTime"] == "2023-11-14T22:13:20Z"  # RFC 3339, ManualClock()
    assert conversation["correlationInfo"]["correlationTypes"] == ["SEGMENT", "FULL"]


def test_a_failed_operation_carries_its_error(emulator: InsightsEmulator) -> None:
    name = emulator.create(
        "GenerativeInsights", "p", LOCATION, outcome="fail", error_code=3, error_message="bad"
    )

    status, body = get(emulator, name)

    assert status == 200 and body["done"] is True
    assert body["error"] == {"code": 3, "message": "bad"}
    assert body["metadata"]["errorMessages"] == [{"code": 3, "message": "bad"}]
    assert "response" not in body


def test_errors_have_googles_json_shape(emulator: InsightsEmulator) -> None:
    missing = f"projects/p/locations/{LOCATION}/operations/123"

    status, body = get(emulator, missing)
    unknown_path = get(emulator, f"projects/p/locations/{LOCATION}/widgets/1")
    wrong_method = get(emulator, missing, method="DELETE")

    assert status == 404
    assert body == {
        "error": {"code": 404, "message": body["error"]["message"], "status": "NOT_FOUND"}
    }
    assert missing in body["error"]["message"]
    assert unknown_path[0] == wrong_method[0] == 404
    assert unknown_path[1]["error"]["status"] == wrong_method[1]["error"]["status"] == "NOT_FOUND"


def test_passthrough_bytes_have_no_json_form(emulator: InsightsEmulator) -> None:
    name = emulator.create(PASSTHROUGH_KIND, "p", LOCATION, outcome="succeed")

    status, body = get(emulator, name)

    assert status == 500
    assert body["error"]["status"] == "INTERNAL" and body["error"]["code"] == 500
    assert body["error"]["message"].startswith(f"cannot render operation {name} as JSON")


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.CANCELLED, 499),
    ],
)
def test_injected_faults_map_to_http_statuses_and_are_counted(
    emulator: InsightsEmulator, code: grpc.StatusCode, http_status: int
) -> None:
    name = emulator.create("CreateAnalysis", "p", LOCATION)
    emulator.faults.set_fault(
        "RestGetOperation", Fault(error_rate=1.0, code=code, message="slow down", max_errors=1)
    )

    failed = get(emulator, name)
    recovered = get(emulator, name)

    assert failed == (
        http_status,
        {"error": {"code": http_status, "message": "slow down", "status": code.name}},
    )
    assert recovered[0] == 200
    assert emulator.faults.calls()["RestGetOperation"] == 2
    assert emulator.faults.injected_errors()["RestGetOperation"] == 1
    assert emulator.faults.calls()["GetOperation"] == 0


def test_fault_latency_and_the_catch_all_apply_to_rest(emulator: InsightsEmulator) -> None:
    name = emulator.create("CreateAnalysis", "p", LOCATION)
    emulator.faults.set_fault("GetOperation", Fault(error_rate=1.0))  # gRPC only
    emulator.faults.set_fault("*", Fault(latency_seconds=0.2))

    started = time.monotonic()
    status, _ = get(emulator, name)

    assert status == 200
    assert time.monotonic() - started >= 0.2


def test_the_admin_api_sets_rest_faults(emulator: InsightsEmulator) -> None:
    admin = emulator.start_admin()
    name = emulator.create("CreateAnalysis", "p", LOCATION)
    body = json.dumps({"method": "RestGetOperation", "errorRate": 1, "code": "ABORTED"}).encode()
    request = urllib.request.Request(f"http://{admin}/v1/faults", data=body, method="POST")
    urllib.request.urlopen(request, timeout=5).close()

    status, error = get(emulator, name)
    with urllib.request.urlopen(f"http://{admin}/v1/stats", timeout=5) as response:
        stats = json.load(response)

    assert status == 409 and error["error"]["status"] == "ABORTED"
    assert stats["calls"]["RestGetOperation"] == 1
    assert stats["injectedErrors"]["RestGetOperation"] == 1


def test_stop_stops_the_rest_server(clock: ManualClock) -> None:
    emulator = InsightsEmulator(clock=clock)
    address = emulator.start_rest()
    name = emulator.create("CreateAnalysis", "p", LOCATION)
    assert emulator.rest_address == address
    with pytest.raises(RuntimeError):
        emulator.start_rest()

    emulator.stop()

    assert emulator.rest_address is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://{address}/v1/{name}", timeout=5)
