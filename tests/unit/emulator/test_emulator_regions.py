"""Regional serving: an endpoint serves its locations and names the endpoint of the others.

Insights docs, "Regionalization": contactcenterinsights.googleapis.com serves us-central1
only; every other location L is served on L-contactcenterinsights.googleapis.com.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import contact_center_insights_v1 as ccai
from google.cloud.contact_center_insights_v1.services.contact_center_insights.transports import (
    ContactCenterInsightsGrpcTransport,
)
from google.longrunning import operations_pb2, operations_pb2_grpc

from insights_emulator import InsightsEmulator, ManualClock

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def emulator() -> Iterator[InsightsEmulator]:
    emulator = InsightsEmulator(clock=ManualClock(), seed=5, locations=["us-central1", "us"])
    emulator.start()
    emulator.start_rest()
    yield emulator
    emulator.stop()


@pytest.fixture
def stub(emulator: InsightsEmulator) -> Iterator[operations_pb2_grpc.OperationsStub]:
    assert emulator.address is not None
    with grpc.insecure_channel(emulator.address) as channel:
        yield operations_pb2_grpc.OperationsStub(channel)


def rest_get(address: str | None, name: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://{address}/v1/{name}", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


CALLS: dict[str, Callable[[operations_pb2_grpc.OperationsStub, str], Any]] = {
    "ListOperations": lambda stub, location: stub.ListOperations(
        operations_pb2.ListOperationsRequest(name=f"projects/p/locations/{location}")
    ),
    "GetOperation": lambda stub, location: stub.GetOperation(
        operations_pb2.GetOperationRequest(name=f"projects/p/locations/{location}/operations/1")
    ),
    "CancelOperation": lambda stub, location: stub.CancelOperation(
        operations_pb2.CancelOperationRequest(name=f"projects/p/locations/{location}/operations/1")
    ),
    "DeleteOperation": lambda stub, location: stub.DeleteOperation(
        operations_pb2.DeleteOperationRequest(name=f"projects/p/locations/{location}/operations/1")
    ),
}


@pytest.mark.parametrize("method", CALLS)
@pytest.mark.parametrize(
    ("location", "endpoint"),
    [
        ("europe-west1", "europe-west1-contactcenterinsights.googleapis.com"),
        ("eu", "eu-contactcenterinsights.googleapis.com"),
    ],
)
def test_grpc_refuses_other_locations_naming_their_endpoint(
    emulator: InsightsEmulator,
    stub: operations_pb2_grpc.OperationsStub,
    method: str,
    location: str,
    endpoint: str,
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        CALLS[method](stub, location)

    details = raised.value.details() or ""
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"Location {location} " in details
    assert details.endswith(f" {endpoint}")
    assert emulator.faults.calls()[method] == 1  # counted like any call


def test_served_locations_answer(
    emulator: InsightsEmulator, stub: operations_pb2_grpc.OperationsStub
) -> None:
    central = emulator.create("CreateAnalysis", "p", "us-central1")
    multi_region = emulator.create("CreateAnalysis", "p", "us")

    listed = stub.ListOperations(
        operations_pb2.ListOperationsRequest(name="projects/p/locations/us")
    )
    got = stub.GetOperation(operations_pb2.GetOperationRequest(name=central))

    assert [op.name for op in listed.operations] == [multi_region]
    assert got.name == central
    assert rest_get(emulator.rest_address, multi_region)[0] == 200


def test_admin_creates_anywhere_but_serving_stays_regional(emulator: InsightsEmulator) -> None:
    admin = emulator.start_admin()
    request = urllib.request.Request(
        f"http://{admin}/v1/projects/p/locations/asia-south1/operations",
        data=json.dumps({"kind": "IngestConversations"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        name = json.load(response)["name"]
    assert emulator.get_operation(name).name == name  # in-process reads are not regional

    status, body = rest_get(emulator.rest_address, name)

    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT" and body["error"]["code"] == 400
    assert "asia-south1-contactcenterinsights.googleapis.com" in body["error"]["message"]
    assert emulator.faults.calls()["RestGetOperation"] == 1


def test_the_global_endpoint_is_named_for_us_central1() -> None:
    emulator = InsightsEmulator(locations=["europe-west1"])
    address = emulator.start()
    try:
        with grpc.insecure_channel(address) as channel:
            client = ccai.ContactCenterInsightsClient(
                transport=ContactCenterInsightsGrpcTransport(channel=channel)
            )
            with pytest.raises(exceptions.InvalidArgument) as raised:
                client.list_operations({"name": "projects/p/locations/us-central1"})
    finally:
        emulator.stop()

    assert raised.value.message.endswith(" contactcenterinsights.googleapis.com")
    assert emulator.locations == frozenset({"europe-west1"})


def test_no_locations_means_every_location() -> None:
    emulator = InsightsEmulator()
    address = emulator.start()
    try:
        with grpc.insecure_channel(address) as channel:
            for location in ("us-central1", "europe-west1", "anywhere"):
                request = operations_pb2.ListOperationsRequest(
                    name=f"projects/p/locations/{location}"
                )
                operations_pb2_grpc.OperationsStub(channel).ListOperations(request)
    finally:
        emulator.stop()
    assert emulator.locations is None


@pytest.mark.parametrize("locations", [[], ["Europe West"], ["us-central1", ""], "us-central1"])
def test_bad_locations_are_rejected(locations: list[str] | str) -> None:
    with pytest.raises(ValueError, match="location"):
        InsightsEmulator(locations=locations)


class _Process:
    """The emulator's command line, with its ready line parsed."""

    def __init__(self, *arguments: str) -> None:
        python_path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "insights_emulator", "--port", "0",
             "--admin-port", "0", "--rest-port", "0", *arguments],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(python_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        assert ready, "no ready line within 30 s"
        line = self.process.stdout.readline()
        match = re.fullmatch(
            r"Insights emulator listening on (\S+) \(admin http://(\S+), REST http://(\S+)\)\n",
            line,
        )
        assert match, line
        self.grpc, self.admin, self.rest = match.groups()

    def create(self, location: str) -> str:
        request = urllib.request.Request(
            f"http://{self.admin}/v1/projects/p/locations/{location}/operations",
            data=json.dumps({"kind": "CreateAnalysis"}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            name: str = json.load(response)["name"]
        return name

    def get(self, name: str) -> operations_pb2.Operation:
        with grpc.insecure_channel(self.grpc) as channel:
            stub = operations_pb2_grpc.OperationsStub(channel)
            return stub.GetOperation(operations_pb2.GetOperationRequest(name=name))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_one_process_per_location() -> None:
    processes: list[_Process] = []
    try:
        processes.append(_Process())  # the default: us-central1, like the global endpoint
        processes.append(_Process("--locations", "europe-west1"))
        central, europe = processes
        here = central.create("us-central1")
        there = europe.create("europe-west1")

        assert central.get(here).name == here
        assert europe.get(there).name == there
        with pytest.raises(grpc.RpcError) as wrong_host:
            central.get(there)
        assert (wrong_host.value.details() or "").endswith(
            " europe-west1-contactcenterinsights.googleapis.com"
        )
        assert rest_get(europe.rest, here)[1]["error"]["message"].endswith(
            " contactcenterinsights.googleapis.com"
        )
        assert [process.stop() for process in processes] == [0, 0]
    finally:
        for process in processes:
            process.kill()


def test_command_line_rejects_a_bad_locations_list() -> None:
    python_path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    result = subprocess.run(
        [sys.executable, "-m", "insights_emulator", "--locations", "us-central1,,eu"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(python_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "--locations" in result.stderr
