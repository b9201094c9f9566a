"""HTTP/JSON admin API of the emulator, for users outside its Python process.

Why: demo scripts, subscriber tests in other processes and curl must be able to create and
finish operations and inject faults without importing the emulator.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import grpc
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, json_format, message
from google.rpc import code_pb2, status_pb2

from insights_emulator import protos
from insights_emulator.faults import ANY_METHOD, Fault, FaultInjector
from insights_emulator.kinds import KINDS
from insights_emulator.serving import BackgroundHTTPServer
from insights_emulator.store import (
    OUTCOMES,
    OperationDoneError,
    OperationNotFoundError,
    OperationStore,
    Outcome,
)

_COLLECTION_RE = re.compile(r"/v1/(projects/[^/]+/locations/[^/]+)/operations")
_OPERATION_RE = re.compile(
    r"/v1/(projects/[^/]+/locations/[^/]+/operations/[^/:]+)(?::(succeed|fail|cancel))?"
)
_STATUS_CODES = {status.value[0]: status for status in grpc.StatusCode}


class _HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def any_to_json(packed: any_pb2.Any) -> dict[str, Any]:
    """JSON of an Any, as the REST API renders it (every field and kind the emulator has);
    a type with no JSON form (the pass-through kind's) keeps its URL and base64 bytes."""
    try:
        return json_format.MessageToDict(packed, descriptor_pool=protos.POOL)
    except (TypeError, KeyError, message.DecodeError, json_format.Error):
        return {"@type": packed.type_url, "valueBase64": base64.b64encode(packed.value).decode()}


def operation_to_json(op: operations_pb2.Operation) -> dict[str, Any]:
    """REST-style JSON of an Operation that, unlike MessageToDict, never fails on an Any."""
    result: dict[str, Any] = {"name": op.name, "done": op.done}
    if op.HasField("metadata"):
        result["metadata"] = any_to_json(op.metadata)
    if op.HasField("error"):
        result["error"] = json_format.MessageToDict(op.error)
    if op.HasField("response"):
        result["response"] = any_to_json(op.response)
    return result


def fault_to_json(fault: Fault) -> dict[str, Any]:
    """JSON of a Fault, in the shape POST /v1/faults accepts."""
    return {
        "errorRate": fault.error_rate,
        "code": fault.code.name,
        "message": fault.message,
        "latencySeconds": fault.latency_seconds,
        "maxErrors": fault.max_errors,
    }


class _Body:
    """A JSON object body whose fields are read with type checks; leftovers are an error."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, dict):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        self._data: dict[str, object] = data

    def _get(self, key: str, kinds: tuple[type, ...], label: str) -> Any:
        value = self._data.pop(key, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise _HttpError(HTTPStatus.BAD_REQUEST, f"{key} must be {label}")
        return value

    def string(self, key: str) -> str | None:
        return cast("str | None", self._get(key, (str,), "a string"))

    def number(self, key: str) -> float | None:
        return cast("float | None", self._get(key, (int, float), "a number"))

    def integer(self, key: str) -> int | None:
        return cast("int | None", self._get(key, (int,), "an integer"))

    def code(self, key: str) -> int | None:
        """A google.rpc code given as a number or a name such as "INVALID_ARGUMENT"."""
        value = self._get(key, (int, str), "a google.rpc code number or name")
        if isinstance(value, str):
            try:
                return int(code_pb2.Code.Value(value))
            except ValueError:
                raise _HttpError(HTTPStatus.BAD_REQUEST, f"unknown code name {value!r}") from None
        return cast("int | None", value)

    def items(self, key: str) -> list[_Body]:
        values = self._get(key, (list,), "a list") or []
        return [_Body(value) for value in values]

    def obj(self, key: str) -> _Body | None:
        value = self._get(key, (dict,), "an object")
        return None if value is None else _Body(value)

    def done(self) -> None:
        if self._data:
            raise _HttpError(HTTPStatus.BAD_REQUEST, f"unknown field(s): {', '.join(self._data)}")


def _outcome(value: str | None) -> Outcome | None:
    if value is not None and value not in OUTCOMES:
        raise _HttpError(HTTPStatus.BAD_REQUEST, f"outcome must be one of {', '.join(OUTCOMES)}")
    return cast("Outcome | None", value)


def _raw_any(body: _Body | None) -> any_pb2.Any | None:
    if body is None:
        return None
    type_url = body.string("typeUrl")
    encoded = body.string("valueBase64") or ""
    body.done()
    if not type_url:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "a raw Any needs a typeUrl")
    try:
        value = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise _HttpError(HTTPStatus.BAD_REQUEST, "valueBase64 is not base64") from None
    return any_pb2.Any(type_url=type_url, value=value)


def _status_code(body: _Body) -> grpc.StatusCode:
    code = body.code("code")
    if code is None:
        return grpc.StatusCode.UNAVAILABLE
    if code not in _STATUS_CODES:
        raise _HttpError(HTTPStatus.BAD_REQUEST, f"unknown status code {code}")
    return _STATUS_CODES[code]


class _AdminHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], store: OperationStore, faults: FaultInjector
    ) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.faults = faults


class _Handler(BaseHTTPRequestHandler):
    server: _AdminHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the emulator runs inside tests and demos whose output matters."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            status, payload = HTTPStatus.OK, self._route(method, unquote(urlsplit(self.path).path))
        except _HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except OperationNotFoundError as exc:
            status, payload = HTTPStatus.NOT_FOUND, {"error": str(exc)}
        except OperationDoneError as exc:
            status, payload = HTTPStatus.CONFLICT, {"error": str(exc)}
        except ValueError as exc:
            status, payload = HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> _Body:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return _Body(json.loads(raw))
        except ValueError:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "the body is not valid JSON") from None

    def _route(self, method: str, path: str) -> dict[str, Any]:
        fixed: dict[str, dict[str, Callable[[], dict[str, Any]]]] = {
            "/v1/kinds": {"GET": lambda: {"kinds": list(KINDS)}},
            "/v1/stats": {"GET": self._stats, "DELETE": self._reset_stats},
            "/v1/faults": {
                "GET": self._faults_json,
                "POST": self._set_fault,
                "DELETE": self._clear_faults,
            },
        }
        store = self.server.store
        handler: Callable[[], dict[str, Any]] | None = None
        if path in fixed:
            handler = fixed[path].get(method)
        elif match := _COLLECTION_RE.fullmatch(path):
            project, location = match.group(1).split("/")[1::2]
            handler = {
                "GET": lambda: {
                    "operations": [
                        operation_to_json(op) for op in store.list_operations(project, location)
                    ]
                },
                "POST": lambda: self._create(project, location),
            }.get(method)
        elif match := _OPERATION_RE.fullmatch(path):
            name, verb = match.group(1), match.group(2)
            if verb is not None:
                handler = {"POST": lambda: self._complete(name, cast(Outcome, verb))}.get(method)
            else:
                handler = {
                    "GET": lambda: operation_to_json(store.get_operation(name)),
                    "DELETE": lambda: self._delete(name),
                }.get(method)
        else:
            raise _HttpError(HTTPStatus.NOT_FOUND, f"no endpoint {path}")
        if handler is None:
            raise _HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}")
        return handler()

    def _create(self, project: str, location: str) -> dict[str, Any]:
        body = self._body()
        kind = body.string("kind")
        if kind is None:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "kind is required")
        outcome = _outcome(body.string("outcome"))
        finish_after = body.number("finishAfterSeconds")
        created_ago = body.number("createdAgoSeconds") or 0.0
        finished_ago = body.number("finishedAgoSeconds")
        error_code, error_message = body.code("errorCode"), body.string("errorMessage")
        response_size_bytes = body.integer("responseSizeBytes")
        raw_metadata = _raw_any(body.obj("rawMetadata"))
        raw_response = _raw_any(body.obj("rawResponse"))
        partial_errors = []
        for item in body.items("partialErrors"):
            status = status_pb2.Status(code=item.code("code") or 0, message=item.string("message"))
            item.done()
            partial_errors.append(status)
        body.done()
        store = self.server.store
        name = store.create(
            kind,
            project,
            location,
            outcome=outcome,
            finish_after=finish_after,
            created_ago=created_ago,
            finished_ago=finished_ago,
            error_code=error_code,
            error_message=error_message,
            partial_errors=partial_errors,
            response_size_bytes=response_size_bytes,
            raw_metadata=raw_metadata,
            raw_response=raw_response,
        )
        return operation_to_json(store.get_operation(name))

    def _complete(self, name: str, outcome: Outcome) -> dict[str, Any]:
        body = self._body()
        code, message = body.code("code"), body.string("message")
        body.done()
        op = self.server.store.complete(name, outcome, error_code=code, error_message=message)
        return operation_to_json(op)

    def _delete(self, name: str) -> dict[str, Any]:
        self.server.store.delete(name)
        return {}

    def _stats(self) -> dict[str, Any]:
        faults = self.server.faults
        return {"calls": faults.calls(), "injectedErrors": faults.injected_errors()}

    def _reset_stats(self) -> dict[str, Any]:
        self.server.faults.reset_stats()
        return self._stats()

    def _clear_faults(self) -> dict[str, Any]:
        self.server.faults.clear_faults()
        return self._faults_json()

    def _faults_json(self) -> dict[str, Any]:
        faults = self.server.faults.faults()
        return {"faults": {method: fault_to_json(fault) for method, fault in faults.items()}}

    def _set_fault(self) -> dict[str, Any]:
        body = self._body()
        method = body.string("method") or ANY_METHOD
        seed = body.integer("seed")
        fault = Fault(
            error_rate=body.number("errorRate") or 0.0,
            code=_status_code(body),
            message=body.string("message") or Fault.message,
            latency_seconds=body.number("latencySeconds") or 0.0,
            max_errors=body.integer("maxErrors"),
        )
        body.done()
        self.server.faults.set_fault(method, fault)
        if seed is not None:
            self.server.faults.reseed(seed)
        return self._faults_json()


class AdminServer(BackgroundHTTPServer):
    """The admin API served by a ThreadingHTTPServer on its own thread, started at once."""

    def __init__(self, store: OperationStore, faults: FaultInjector, host: str, port: int) -> None:
        super().__init__(_AdminHTTPServer((host, port), store, faults), "insights-emulator-admin")
