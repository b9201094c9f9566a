"""The event contract: one finished operation -> one Pub/Sub message in the CloudEvents binding.

Pure functions of the operation and the time it was detected, so a re-publish of the
same operation carries the same ``ce-id``. The README's "Event contract" section and
``docs`` describe the same fields; change them together.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from google.longrunning import operations_pb2
from google.protobuf import any_pb2, descriptor_pool, json_format, message, message_factory

from insights_poller import timestamps
from insights_poller.model import (
    CANCELLED,
    EXPIRED,
    FAILED,
    SUCCEEDED,
    Event,
    NewOperation,
)
from insights_poller.names import operation_parts

EVENT_TYPE = "insights-poller.operation.v1.finished"
SPEC_VERSION = "1.0"
SOURCE_PREFIX = "//contactcenterinsights.googleapis.com/"
CANCELLED_CODE = 1  # google.rpc.Code.CANCELLED
MAX_EVENT_DATA_BYTES = 9_500_000
"""Pub/Sub refuses publish requests over 10 MB; this leaves room for attributes and framing."""
ATTRIBUTE_VALUE_MAX_BYTES = 1024


def event_id(operation_name: str) -> str:
    """Stable per operation: every (re-)publish of one operation carries the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, SOURCE_PREFIX + operation_name))


def operation_state(operation: operations_pb2.Operation) -> str:
    if operation.HasField("error"):
        return CANCELLED if operation.error.code == CANCELLED_CODE else FAILED
    return SUCCEEDED


def operation_type(operation: operations_pb2.Operation) -> str:
    """``...v1.CreateIssueModelMetadata`` -> ``CreateIssueModel``; ``Unknown`` without metadata."""
    if not operation.HasField("metadata"):
        return "Unknown"
    short_name = str(operation.metadata.type_url).rpartition("/")[2].rpartition(".")[2]
    for suffix in ("OperationMetadata", "Metadata"):
        if short_name.endswith(suffix) and len(short_name) > len(suffix):
            return short_name.removesuffix(suffix)
    return short_name or "Unknown"


def describe(operation: operations_pb2.Operation) -> NewOperation:
    """What the state store keeps about an operation it starts tracking."""
    return NewOperation(
        name=operation.name,
        location=operation_parts(operation.name)[1],
        operation_type=operation_type(operation),
        create_time=metadata_time(operation, "create_time"),
    )


def metadata_time(operation: operations_pb2.Operation, field: str) -> datetime.datetime | None:
    """``create_time`` / ``end_time`` of the metadata, when its type is known and sets it."""
    if not operation.HasField("metadata"):
        return None
    unpacked = _unpack(operation.metadata)
    if unpacked is None or field not in unpacked.DESCRIPTOR.fields_by_name:
        return None
    if not unpacked.HasField(field):
        return None
    stamp = getattr(unpacked, field)
    return stamp.ToDatetime(tzinfo=datetime.UTC)  # type: ignore[no-any-return]


def build_event(
    operation: operations_pb2.Operation,
    *,
    detect_time: datetime.datetime,
    rest_body: Mapping[str, Any] | None = None,
    lossy: bool = False,
) -> Event:
    """The event for a done operation.

    ``rest_body``: the operation's REST JSON, when decoding it here would lose something
    (``needs_rest_body``): its ``response``, ``metadata`` and ``error`` go out verbatim and
    its times come from it. ``lossy``: the REST read failed, so the bodies are what gRPC gave
    (types the library can't read as base64), and the event says so.
    """
    state = operation_state(operation)
    data: dict[str, Any] = {
        "operation": operation.name,
        "operationType": operation_type(operation),
        "state": state,
    }
    if rest_body is not None:
        data.update(_rest_bodies(rest_body, state))
        metadata = rest_body.get("metadata")
        create_time = _json_time(metadata, "createTime")
        end_time = _json_time(metadata, "endTime")
    else:
        data.update(_grpc_bodies(operation, state))
        create_time = metadata_time(operation, "create_time")
        end_time = metadata_time(operation, "end_time")
    if lossy:
        data["lossyBody"] = True
    return _event(data, create_time, end_time, detect_time)


def _grpc_bodies(operation: operations_pb2.Operation, state: str) -> dict[str, Any]:
    bodies: dict[str, Any] = {}
    if state == SUCCEEDED and operation.HasField("response"):
        bodies["response"] = any_to_json(operation.response)
    if operation.HasField("metadata"):
        bodies["metadata"] = any_to_json(operation.metadata)
    if operation.HasField("error"):
        bodies["error"] = {
            "code": operation.error.code,
            "message": operation.error.message,
            "details": [any_to_json(detail) for detail in operation.error.details],
        }
    return bodies


def _rest_bodies(rest_body: Mapping[str, Any], state: str) -> dict[str, Any]:
    """The REST JSON's bodies as they are; the error with the fields the JSON omits when empty."""
    bodies: dict[str, Any] = {}
    if state == SUCCEEDED and isinstance(rest_body.get("response"), dict):
        bodies["response"] = rest_body["response"]
    if isinstance(rest_body.get("metadata"), dict):
        bodies["metadata"] = rest_body["metadata"]
    error = rest_body.get("error")
    if state != SUCCEEDED and isinstance(error, dict):
        bodies["error"] = {
            "code": error.get("code", 0),
            "message": error.get("message", ""),
            "details": error.get("details", []),
        }
    return bodies


def _json_time(body: object, field: str) -> datetime.datetime | None:
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return timestamps.parse_rfc3339(value)
    except ValueError:
        return None


def needs_rest_body(operation: operations_pb2.Operation) -> bool:
    """Whether decoding with the installed library would lose something: a type it cannot
    read, or fields newer than it (which ``MessageToDict`` drops without a word)."""
    packed = [operation.metadata] if operation.HasField("metadata") else []
    if operation.HasField("response"):
        packed.append(operation.response)
    packed.extend(operation.error.details)
    return any(_decodes_lossily(value) for value in packed)


def _decodes_lossily(packed: any_pb2.Any) -> bool:
    unpacked = _unpack(packed)
    if unpacked is None:
        return True
    known_only = type(unpacked)()
    known_only.CopyFrom(unpacked)
    known_only.DiscardUnknownFields()  # recursive: unknown fields of nested messages too
    if known_only.ByteSize() != unpacked.ByteSize():
        return True
    return _decoded_json(packed) is None  # an Any nested inside holds an unknown type


def build_expired_event(
    record: NewOperation, *, reason: str, detect_time: datetime.datetime
) -> Event:
    """The event for a tracked operation no longer watched: the API forgot it (``NOT_FOUND``)
    or it stayed pending too long (``MAX_PENDING_AGE``)."""
    data: dict[str, Any] = {
        "operation": record.name,
        "operationType": record.operation_type,
        "state": EXPIRED,
        "expiredReason": reason,
    }
    return _event(data, record.create_time, None, detect_time)


def any_to_json(packed: any_pb2.Any) -> dict[str, Any]:
    """The proto3 JSON mapping with ``@type``; a type the library can't read keeps its raw bytes."""
    decoded = _decoded_json(packed)
    if decoded is not None:
        return decoded
    return {"@type": packed.type_url, "value": base64.b64encode(packed.value).decode("ascii")}


def _decoded_json(packed: any_pb2.Any) -> dict[str, Any] | None:
    """The proto3 JSON mapping, or None when a type inside is unknown to the library."""
    if _message_class(packed.type_url) is None:
        return None
    try:
        return json_format.MessageToDict(packed)
    except (TypeError, KeyError, ValueError, json_format.Error, message.DecodeError):
        return None


def _event(
    data: dict[str, Any],
    create_time: datetime.datetime | None,
    end_time: datetime.datetime | None,
    detect_time: datetime.datetime,
) -> Event:
    name = data["operation"]
    parent, location, operation_id = operation_parts(name)
    if create_time is not None:
        data["createTime"] = timestamps.format_rfc3339(create_time)
    if end_time is not None:
        data["endTime"] = timestamps.format_rfc3339(end_time)
    data["detectTime"] = timestamps.format_rfc3339(detect_time)
    attributes = {
        "operation": name,
        "operationType": data["operationType"],
        "state": data["state"],
        "location": location,
        "ce-specversion": SPEC_VERSION,
        "ce-id": event_id(name),
        "ce-source": SOURCE_PREFIX + parent,
        "ce-type": EVENT_TYPE,
        "ce-subject": f"operations/{operation_id}",
        "ce-time": timestamps.format_rfc3339(end_time or detect_time),
        "content-type": "application/json",
        "hasPartialErrors": "true" if data.get("metadata", {}).get("partialErrors") else "false",
    }
    return Event(
        operation=name,
        state=data["state"],
        data=_fitted_payload(data),
        attributes={key: _fit_attribute(value) for key, value in attributes.items()},
        end_time=end_time,
    )


def _fitted_payload(data: dict[str, Any]) -> bytes:
    """The JSON data, under Pub/Sub's size limit: oversized bodies are dropped, and said so.

    The bodies that can give way are ``response`` and ``metadata`` (each replaced by its
    ``@type`` alone), the error's ``details`` (emptied) and the end of its ``message`` (cut to
    1000 characters). The largest go first, so that the fewest go; ``truncated`` and
    ``truncatedFields`` (in the order they went) tell subscribers to fetch the operation.
    """
    payload = _json(data)
    if len(payload) <= MAX_EVENT_DATA_BYTES:
        return payload
    # sorted() is stable: bodies that save as much keep _DROPPABLE's order
    candidates = sorted(_droppable(data), key=lambda candidate: -candidate.saving)
    dropped: list[str] = []
    for candidate in candidates:
        if len(payload) <= MAX_EVENT_DATA_BYTES or candidate.saving <= 0:
            break
        candidate.holder[candidate.key] = candidate.cut
        dropped.append(candidate.field)
        data["truncated"] = True
        data["truncatedFields"] = dropped
        payload = _json(data)
    return payload


_DROPPABLE = ("response", "metadata", "error.details", "error.message")
_ERROR_MESSAGE_KEPT_CHARS = 1000


class _Droppable(NamedTuple):
    field: str
    """As ``truncatedFields`` names it."""
    holder: dict[str, Any]
    key: str
    cut: Any
    """What the body becomes when it gives way."""
    saving: int
    """Bytes of JSON that giving way saves."""


def _droppable(data: dict[str, Any]) -> Iterator[_Droppable]:
    """The bodies of ``data`` that can give way, in ``_DROPPABLE``'s order."""
    for field in _DROPPABLE:
        holder = data.get("error") if field.startswith("error.") else data
        key = field.removeprefix("error.")
        if not isinstance(holder, dict) or key not in holder:
            continue
        body = holder[key]
        cut: Any
        if field == "error.details":
            cut = []
        elif field == "error.message":
            cut = str(body)[:_ERROR_MESSAGE_KEPT_CHARS]
        else:
            cut = {"@type": body.get("@type", "")}
        yield _Droppable(field, holder, key, cut, len(_json(body)) - len(_json(cut)))


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fit_attribute(value: str) -> str:
    """Pub/Sub caps attribute values at 1024 bytes: a longer one keeps its first 1024 bytes
    (whole UTF-8 characters). Only the name-derived attributes of a name the API lists can be
    that long (a request's names are bounded far below); ``data.operation`` keeps it whole."""
    encoded = value.encode("utf-8")
    if len(encoded) <= ATTRIBUTE_VALUE_MAX_BYTES:
        return value
    return encoded[:ATTRIBUTE_VALUE_MAX_BYTES].decode("utf-8", errors="ignore")


def _unpack(packed: any_pb2.Any) -> message.Message | None:
    message_class = _message_class(packed.type_url)
    if message_class is None:
        return None
    unpacked = message_class()
    try:
        unpacked.ParseFromString(packed.value)
    except message.DecodeError:
        return None
    return unpacked


@functools.cache
def _message_class(type_url: str) -> type[message.Message] | None:
    _register_insights_types()
    full_name = type_url.rpartition("/")[2]
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    except KeyError:
        return None
    return message_factory.GetMessageClass(descriptor)


@functools.cache
def _register_insights_types() -> None:
    """Load the Insights protos into the default pool, once and only when first needed."""
    import google.cloud.contact_center_insights_v1  # noqa: F401
