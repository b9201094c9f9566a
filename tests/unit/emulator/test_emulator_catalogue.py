"""Drift test: the emulator's catalogue against the Insights v1 discovery document.

The document ships in google-api-python-client 2.202.0 (revision 20261104), a dev dependency,
so this needs no network. It is the judge of which methods create operations, and of the
JSON the REST API renders for each kind; the installed client library is the judge of what a
gRPC caller can decode.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from google.cloud import contact_center_insights_v1 as ccai
from google.protobuf import descriptor_pool, json_format
from google.rpc import status_pb2

from insights_emulator import (
    DISCOVERY_METHOD_KINDS,
    KIND_NAMES,
    KINDS,
    NEWER_FIELDS,
    NEWER_KIND_NAMES,
    ManualClock,
    OperationStore,
    operation_json,
)

SCHEMA_PREFIX = "GoogleCloudContactcenterinsightsV1"
INSIGHTS_PACKAGE = "google.cloud.contactcenterinsights.v1."
# Types the library declares for its kinds but the document has no schema for: they render
# as the library has them (the other tests unpack them with the library).
NOT_IN_DOCUMENT = {
    "TuneQaScorecardRevisionMetadata",
    "TuneQaScorecardRevisionResponse",
    "BulkUploadFeedbackLabelsMetadata",
    "BulkUploadFeedbackLabelsResponse",
}
# Newer fields known to matter, written out independently of the emulator's table (the
# programmatic comparison below finds these and any others).
EXPECTED_NEWER_FIELDS = {
    "IngestConversationsMetadata": {"sampledConversations"},
    "ExportInsightsDataMetadata": {"completedExportCount", "failedExportCount"},
    "BulkAnalyzeConversationsMetadata": {"relabel"},
    "QueryMetricsMetadata": {"resultIsTruncated"},
    "ImportIssueModelResponse": {"issueModel"},
}
PARTIAL_ERRORS = [status_pb2.Status(code=5, message="conversation not found")]


@functools.cache
def discovery() -> dict[str, Any]:
    path = resources.files("googleapiclient").joinpath(
        "discovery_cache/documents/contactcenterinsights.v1.json"
    )
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert document["revision"] == "20261104", "the pinned document changed: review the catalogue"
    return document


def schemas() -> dict[str, Any]:
    result: dict[str, Any] = discovery()["schemas"]
    return result


def operation_methods() -> Iterator[str]:
    """Ids of every method returning an operation, recursively, but ``operations.get``."""

    def walk(resource_map: dict[str, Any]) -> Iterator[str]:
        for resource in resource_map.values():
            for method in resource.get("methods", {}).values():
                returns_operation = method.get("response", {}).get("$ref") == (
                    "GoogleLongrunningOperation"
                )
                if returns_operation and not method["id"].endswith(".operations.get"):
                    yield method["id"]
            yield from walk(resource.get("resources", {}))

    return walk(discovery()["resources"])


def schema_name(type_url: str) -> str:
    full_name = type_url.rpartition("/")[2]
    if full_name.startswith(INSIGHTS_PACKAGE):
        return SCHEMA_PREFIX + full_name.removeprefix(INSIGHTS_PACKAGE)
    return "".join(part[:1].upper() + part[1:] for part in full_name.split("."))


def mismatches(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Where a rendered JSON value is not what the schema says (name or JSON type)."""
    if "$ref" in schema:
        return mismatches(value, schemas()[schema["$ref"]], path)
    kind = schema.get("type")
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        return [
            problem
            for index, item in enumerate(value)
            for problem in mismatches(item, schema["items"], f"{path}[{index}]")
        ]
    if "properties" in schema or (kind == "object" and "additionalProperties" not in schema):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        problems = []
        for key, item in value.items():
            if key == "@type" and path.count(".") == 0:
                continue
            if key not in schema.get("properties", {}):
                problems.append(f"{path}.{key}: no such property in the schema")
            else:
                problems += mismatches(item, schema["properties"][key], f"{path}.{key}")
        return problems
    return _scalar_mismatch(value, schema, path)


def _scalar_mismatch(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    kind, form = schema.get("type"), schema.get("format")
    if kind == "object":  # a map, a Struct or an Any: free-form
        return [] if isinstance(value, dict) else [f"{path}: expected an object"]
    if kind == "string" and form in {"int64", "uint64"}:  # proto3 JSON: 64-bit ints as strings
        ok = isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None
    elif kind == "string" and form == "google-datetime":
        ok = isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", value) is not None
    elif kind == "string" and "enum" in schema:
        ok = value in schema["enum"]
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    else:
        ok = True
    return [] if ok else [f"{path}: {value!r} is not a {kind} ({form or 'plain'})"]


def path_parameters(kind: str) -> set[str]:
    """Names of the path parameters of the methods creating ``kind`` (not in body schemas)."""

    def methods(resource_map: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for resource in resource_map.values():
            yield from resource.get("methods", {}).values()
            yield from methods(resource.get("resources", {}))

    return {
        name
        for method in methods(discovery()["resources"])
        if DISCOVERY_METHOD_KINDS.get(method["id"]) == kind
        for name, parameter in method.get("parameters", {}).items()
        if parameter.get("location") == "path"
    }


def rendered(kind: str, **kwargs: Any) -> dict[str, Any]:
    """The REST JSON of a ``kind`` operation, done and successful unless told otherwise."""
    store = OperationStore(clock=ManualClock(), seed=3)
    kwargs.setdefault("outcome", "succeed")
    if KINDS[kind].supports_partial_errors:
        kwargs.setdefault("partial_errors", PARTIAL_ERRORS)
    name = store.create(kind, "p", "us-central1", created_ago=60, **kwargs)
    return operation_json(store.get_operation(name))


def kind_request(kind: str) -> str:
    return f"{SCHEMA_PREFIX}{kind}Request"


def test_every_method_returning_an_operation_has_a_kind() -> None:
    methods = set(operation_methods())

    missing = sorted(methods - DISCOVERY_METHOD_KINDS.keys())
    stale = sorted(DISCOVERY_METHOD_KINDS.keys() - methods)

    assert not missing, f"DISCOVERY_METHOD_KINDS lacks these discovery methods: {missing}"
    assert not stale, f"DISCOVERY_METHOD_KINDS names methods the document lacks: {stale}"
    assert len(methods) == 37
    assert set(DISCOVERY_METHOD_KINDS.values()) == {*KIND_NAMES, *NEWER_KIND_NAMES}


@pytest.mark.parametrize("kind", [*KIND_NAMES, *NEWER_KIND_NAMES])
@pytest.mark.parametrize("outcome", ["succeed", "fail", None])
def test_rendered_json_matches_the_discovery_schema(kind: str, outcome: str | None) -> None:
    body = rendered(kind, outcome=outcome, finish_after=None if outcome else 120)

    for part in ("metadata", "response"):
        if part not in body:
            continue
        name = schema_name(body[part]["@type"])
        if name.removeprefix(SCHEMA_PREFIX) in NOT_IN_DOCUMENT:
            assert name not in schemas(), f"{name} is in the document now: check its fields"
            # The request echo has a schema (the method's body), which leaves out the path.
            echo = body[part].get("request", {})
            assert (
                path_parameters(kind) >= echo.keys() - schemas()[kind_request(kind)]["properties"]
            )
            path = path_parameters(kind)
            body_only = {key: value for key, value in echo.items() if key not in path}
            assert not mismatches(body_only, {"$ref": kind_request(kind)}, "request")
            continue
        assert name in schemas(), f"{kind} {part}: the document has no schema {name}"
        assert not mismatches(body[part], schemas()[name], part)
    if outcome is None:
        assert "done" not in body and "response" not in body


def test_metadata_times_and_partial_errors_follow_each_schema() -> None:
    for kind in (*KIND_NAMES, *NEWER_KIND_NAMES):
        metadata = rendered(kind).get("metadata", {})
        name = schema_name(metadata.get("@type", "none"))
        if name.removeprefix(SCHEMA_PREFIX) in NOT_IN_DOCUMENT:
            library = getattr(ccai, name.removeprefix(SCHEMA_PREFIX)).pb().DESCRIPTOR
            properties = {field.json_name for field in library.fields}
        else:
            properties = set(schemas().get(name, {}).get("properties", {}))
        for field in ("createTime", "endTime", "partialErrors"):
            assert (field in metadata) == (field in properties), (kind, field)


def test_a_kind_without_a_metadata_schema_renders_no_metadata() -> None:
    # datasets.delete: no DeleteDatasetMetadata in the document (the day it appears, this
    # fails, and the kind must get its metadata).
    assert SCHEMA_PREFIX + "DeleteDatasetMetadata" not in schemas()
    body = rendered("DeleteDataset")

    assert "metadata" not in body
    assert body["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}


def test_the_newer_fields_are_all_the_document_has_beyond_the_library() -> None:
    library_messages = {
        url.rpartition(".")[2]
        for kind in KIND_NAMES
        for url in (KINDS[kind].metadata_type_url, KINDS[kind].response_type_url)
        if url is not None and INSIGHTS_PACKAGE in url
    }
    beyond: dict[str, set[str]] = {}
    for short_name in sorted(library_messages - NOT_IN_DOCUMENT):
        library = getattr(ccai, short_name).pb().DESCRIPTOR
        documented = set(schemas()[SCHEMA_PREFIX + short_name].get("properties", {}))
        if extra := documented - {field.json_name for field in library.fields}:
            beyond[short_name] = extra

    assert {name: set(fields) for name, fields in NEWER_FIELDS.items()} == beyond
    for name, fields in EXPECTED_NEWER_FIELDS.items():
        assert fields <= beyond.get(name, set()), name


@pytest.mark.parametrize("message_name", sorted(NEWER_FIELDS))
def test_the_rest_json_has_the_newer_fields_the_library_drops(message_name: str) -> None:
    kind = next(
        kind
        for kind in KIND_NAMES
        for url in (KINDS[kind].metadata_type_url, KINDS[kind].response_type_url)
        if url is not None and url.endswith("." + message_name)
    )
    part = "metadata" if message_name.endswith("Metadata") else "response"
    options: dict[str, Any] = {"response_size_bytes": 10_000} if kind == "QueryMetrics" else {}
    store = OperationStore(clock=ManualClock(), seed=3)
    name = store.create(kind, "p", "us-central1", outcome="succeed", **options)
    if KINDS[kind].supports_partial_errors:  # failedExportCount needs a failure to count
        name = store.create(
            kind, "p", "us-central1", outcome="succeed", partial_errors=PARTIAL_ERRORS
        )
    op = store.get_operation(name)

    rest = operation_json(op)[part]
    decoded = getattr(ccai, message_name).pb()()
    assert getattr(op, part).Unpack(decoded)
    library = json_format.MessageToDict(decoded)

    for field in NEWER_FIELDS[message_name]:
        assert field in rest, f"{message_name}.{field} missing from the REST JSON"
        assert field not in library, f"the library decoded {message_name}.{field}"
    assert set(library) < set(rest) - {"@type"}


@pytest.mark.parametrize("kind", NEWER_KIND_NAMES)
def test_the_library_cannot_decode_the_new_kinds(kind: str) -> None:
    # What the library does know among the new kinds' types: CreateIssue answers the Issue,
    # a standard Create's resource; deletes answer google.protobuf.Empty.
    known = {"CreateIssue": "Issue", "DeleteQaQuestionTag": "Empty", "DeleteDataset": "Empty"}
    store = OperationStore(clock=ManualClock(), seed=3)
    op = store.get_operation(store.create(kind, "p", "us-central1", outcome="succeed"))
    default = descriptor_pool.Default()

    for packed in (op.metadata, op.response):
        if not packed.type_url:
            continue
        full_name = packed.type_url.rpartition("/")[2]
        if full_name.rpartition(".")[2] == known.get(kind):
            default.FindMessageTypeByName(full_name)
            continue
        with pytest.raises(KeyError):
            default.FindMessageTypeByName(full_name)
    if op.HasField("metadata"):
        with pytest.raises(TypeError, match="type_url"):
            json_format.MessageToDict(op)  # what a caller using the library gets
    assert operation_json(op)["response"]["@type"] == op.response.type_url
