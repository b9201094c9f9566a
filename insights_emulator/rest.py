"""The REST read of one operation, ``GET /v1/{name=projects/*/locations/*/operations/*}``.

Why: the REST API's JSON is rendered by the server and carries every field and kind the
service has, while the gRPC client library drops what it does not know. A subscriber or a
human following an event up with ``GET https://{endpoint}/v1/{name}`` sees that JSON; the
emulator serves it, plain HTTP without auth, from the same messages as its gRPC answers.

The body is the proto3 JSON mapping of ``google.longrunning.Operation`` (v1 discovery
document, ``contactcenterinsights.projects.locations.operations.get`` ->
``GoogleLongrunningOperation``): lowerCamelCase names, ``@type`` inside ``Any``, RFC 3339
timestamps, int64 as strings, enum names, default values omitted (so ``done`` is absent while
the operation runs). Errors follow Google's error model (https://cloud.google.com/apis/design/errors):
``{"error": {"code": <HTTP status>, "message": "...", "status": "<google.rpc.Code name>"}}``
with the standard gRPC -> HTTP mapping of ``HTTP_STATUS``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import grpc
from google.longrunning import operations_pb2
from google.protobuf import json_format, message

from insights_emulator import protos
from insights_emulator.faults import FaultInjector
from insights_emulator.regions import LocationGate
from insights_emulator.serving import BackgroundHTTPServer
from insights_emulator.store import OperationNotFoundError

REST_METHOD = "RestGetOperation"
"""The fault and counter key of ``GET /v1/{name}``."""

# google.rpc.Code -> HTTP status, as Google's error model tabulates it
# (https://cloud.google.com/apis/design/errors#handling_errors; google/rpc/code.proto).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

_OPERATION_PATH = re.compile(r"/v1/(projects/[^/]+/locations/[^/]+/operations/[^/:]+)")


class RenderError(Exception):
    """An operation holds an Any with no JSON form here (the pass-through kind's raw bytes)."""


def operation_json(op: operations_pb2.Operation) -> dict[str, Any]:
    """The operation exactly as the REST API renders it (see the module docstring).

    Raises RenderError for an ``Any`` whose type the emulator's pool does not hold: raw
    bytes have no proto3 JSON form.
    """
    try:
        return json_format.MessageToDict(op, descriptor_pool=protos.POOL)
    except (TypeError, KeyError, message.DecodeError, json_format.Error) as exc:
        raise RenderError(f"cannot render operation {op.name} as JSON: {exc}") from None


def error_json(code: grpc.StatusCode, text: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of an error in Google's JSON error shape."""
    status = HTTP_STATUS[code]
    return status, {"error": {"code": status, "message": text, "status": code.name}}


class _RestHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        get_operation: Callable[[str], operations_pb2.Operation],
        gate: LocationGate,
        faults: FaultInjector,
    ) -> None:
        super().__init__(address, _Handler)
        self.get_operation = get_operation
        self.gate = gate
        self.faults = faults


class _Handler(BaseHTTPRequestHandler):
    server: _RestHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the emulator runs inside tests and demos whose output matters."""

    def do_GET(self) -> None:
        self._send(*self._get(unquote(urlsplit(self.path).path)))

    def _not_found(self) -> None:
        method = self.command
        self._send(*error_json(grpc.StatusCode.NOT_FOUND, f"No REST method {method} {self.path}"))

    do_POST = do_PUT = do_PATCH = do_DELETE = _not_found

    def _get(self, path: str) -> tuple[int, dict[str, Any]]:
        match = _OPERATION_PATH.fullmatch(path)
        if match is None:
            return error_json(grpc.StatusCode.NOT_FOUND, f"No REST method GET {path}")
        name = match.group(1)
        injected = self.server.faults.on_call(REST_METHOD)
        if injected is not None:
            return error_json(*injected)
        refusal = self.server.gate.refusal(name)
        if refusal is not None:
            return error_json(grpc.StatusCode.INVALID_ARGUMENT, refusal)
        try:
            return 200, operation_json(self.server.get_operation(name))
        except OperationNotFoundError as exc:
            return error_json(grpc.StatusCode.NOT_FOUND, str(exc))
        except ValueError as exc:
            return error_json(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except RenderError as exc:
            return error_json(grpc.StatusCode.INTERNAL, str(exc))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, indent=2).encode()
        # A caller whose deadline passed may have hung up already: that is its choice.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)


class RestServer(BackgroundHTTPServer):
    """The REST read served by a ThreadingHTTPServer on its own thread, started at once."""

    def __init__(
        self,
        get_operation: Callable[[str], operations_pb2.Operation],
        gate: LocationGate,
        faults: FaultInjector,
        host: str,
        port: int,
    ) -> None:
        super().__init__(
            _RestHTTPServer((host, port), get_operation, gate, faults), "insights-emulator-rest"
        )
