"""The contract as a subscriber reads it, held against the code that builds events: the published
schemas (docs/*.schema.json), the example events (docs/examples/) and the README's sample event.

The examples are generated: real events that ``insights_poller.events`` builds from the client
library's messages (``tests/builders.py``), at fixed times, as a subscriber receives them. When
events change, rewrite the examples and the README's sample with

  REGENERATE_CONTRACT_EXAMPLES=1 .venv/bin/python -m pytest tests/unit/poller/test_contract_docs.py

and read the diff: it is what subscribers will see (an additive change keeps ``v1``; see the
README's "The event contract").
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import builders
import jsonschema
import pytest
from contract import (
    ATTRIBUTES_SCHEMA,
    DATA_SCHEMA,
    assert_valid_event,
    schema,
    undocumented,
    validate_published,
)
from google.cloud import contact_center_insights_v1 as insights
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from insights_poller import events
from insights_poller.model import (
    EVENT_STATES,
    EXPIRED_MAX_PENDING_AGE,
    KNOWN_OPERATION_TYPES,
    Event,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples"
README = ROOT / "README.md"
REGENERATE = os.environ.get("REGENERATE_CONTRACT_EXAMPLES") == "1"
REGENERATE_COMMAND = (
    "REGENERATE_CONTRACT_EXAMPLES=1 .venv/bin/python -m pytest "
    "tests/unit/poller/test_contract_docs.py"
)

CREATED = builders.T0
ENDED = CREATED + datetime.timedelta(minutes=20)
DETECTED = ENDED + datetime.timedelta(seconds=42)
PARENT = f"projects/{builders.PROJECT}/locations/{builders.LOCATION}"


def succeeded() -> Event:
    """BulkAnalyzeConversations, done with two partial errors: ``hasPartialErrors`` is true."""
    operation = builders.bulk_analyze_operation(
        builders.name("3462741209364488714"), ended=ENDED, partial_errors=2
    )
    return events.build_event(operation, detect_time=DETECTED)


def failed() -> Event:
    """ExportInsightsData, refused by BigQuery: an error with an ``ErrorInfo`` detail."""
    destination = insights.ExportInsightsDataRequest.BigQueryDestination(
        project_id=builders.PROJECT, dataset="insights", table="conversations"
    )
    metadata = insights.ExportInsightsDataMetadata(
        create_time=CREATED,
        end_time=ENDED,
        request=insights.ExportInsightsDataRequest(
            parent=PARENT, big_query_destination=destination
        ),
    )
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.ErrorInfo(
            reason="IAM_PERMISSION_DENIED",
            domain="bigquery.googleapis.com",
            metadata={"permission": "bigquery.tables.create"},
        )
    )
    operation = operations_pb2.Operation(
        name=builders.name("6058339187207143424"), metadata=builders.pack(metadata), done=True
    )
    operation.error.CopyFrom(
        status_pb2.Status(
            code=code_pb2.PERMISSION_DENIED,
            message=(
                "Access Denied: Dataset demo-project:insights: Permission bigquery.tables.create "
                "denied on dataset demo-project:insights (or it may not exist)."
            ),
            details=[detail],
        )
    )
    return events.build_event(operation, detect_time=DETECTED)


def cancelled() -> Event:
    """CreateIssueModel, cancelled while it trained."""
    error = status_pb2.Status(code=code_pb2.CANCELLED, message="Operation was cancelled.")
    operation = builders.issue_model_operation(
        builders.name("1187265531290329088"), ended=ENDED, error=error
    )
    return events.build_event(operation, detect_time=DETECTED)


def expired() -> Event:
    """CreateIssueModel, still pending when MAX_PENDING_AGE (by default 7 days) ran out."""
    pending = builders.issue_model_operation(builders.name("7402983176120483840"))
    return events.build_expired_event(
        events.describe(pending),
        reason=EXPIRED_MAX_PENDING_AGE,
        detect_time=CREATED + datetime.timedelta(days=7, seconds=42),
    )


def truncated() -> Event:
    """BulkAnalyzeConversations whose 250 000 partial errors take the event over Pub/Sub's
    10 MB: the metadata is cut to its ``@type``."""
    operation = builders.bulk_analyze_operation(
        builders.name("2879116370823626752"), ended=ENDED, partial_errors=250_000
    )
    return events.build_event(operation, detect_time=DETECTED)


BUILT: dict[str, Callable[[], Event]] = {
    "succeeded.json": succeeded,
    "failed.json": failed,
    "cancelled.json": cancelled,
    "expired.json": expired,
    "truncated.json": truncated,
}
"""Each file of docs/examples/ and the event it holds."""


@functools.cache
def rendered(file_name: str) -> str:
    """The example file's content: the event as a subscriber receives it."""
    event = BUILT[file_name]()
    attributes = dict(sorted(event.attributes.items(), key=lambda item: _attribute_rank(item[0])))
    message = {"attributes": attributes, "data": json.loads(event.data)}
    return json.dumps(message, indent=2, ensure_ascii=False) + "\n"


def _attribute_rank(name: str) -> int:
    """CloudEvents attributes first, as the README's table has them, then the plain ones."""
    return 0 if name.startswith("ce-") else 1 if name == "content-type" else 2


def example(file_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / file_name).read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("file_name", BUILT)
def test_each_example_is_the_event_the_poller_builds(file_name: str) -> None:
    path = EXAMPLES / file_name
    if REGENERATE:
        path.write_text(rendered(file_name), encoding="utf-8")
    written = path.read_text(encoding="utf-8") if path.exists() else None
    assert written == rendered(file_name), (
        f"docs/examples/{file_name} is not the event events.py builds: rewrite the examples "
        f"with `{REGENERATE_COMMAND}` and review the diff"
    )


def test_the_examples_folder_holds_only_the_generated_examples() -> None:
    assert {path.name for path in EXAMPLES.iterdir()} == {*BUILT, "README.md"}
    assert REGENERATE_COMMAND in (EXAMPLES / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("file_name", BUILT)
def test_each_example_matches_both_schemas_and_carries_only_what_they_document(
    file_name: str,
) -> None:
    message = example(file_name)

    assert set(message) == {"attributes", "data"}
    assert_valid_event(json.dumps(message["data"]).encode(), message["attributes"])


def test_the_examples_show_every_state_partial_errors_and_a_truncated_event() -> None:
    messages = [json.loads(rendered(file_name)) for file_name in BUILT]

    assert sorted(message["data"]["state"] for message in messages[:4]) == sorted(EVENT_STATES)
    assert [message["data"].get("truncated", False) for message in messages] == [False] * 4 + [True]
    assert messages[0]["attributes"]["hasPartialErrors"] == "true"
    assert messages[0]["data"]["metadata"]["partialErrors"]
    assert messages[4]["data"]["truncatedFields"] == ["metadata"]


SAMPLE = re.compile(
    r"<!-- (?P<file>docs/examples/[a-z]+\.json) -->\n```json\n(?P<body>.*?)```\n", re.S
)
"""A sample event in the README: a marker naming its example file, then the file's content."""


def readme_contract_section(readme: str) -> tuple[int, int]:
    """Where "## The event contract" starts and ends in the README."""
    start = readme.index("\n## The event contract\n")
    end = readme.find("\n## ", start + 1)
    return start, len(readme) if end == -1 else end


def test_the_readme_sample_events_are_generated_examples() -> None:
    """The README shows a real event: one of docs/examples/, marked with the file it is."""
    readme = README.read_text(encoding="utf-8")
    start, end = readme_contract_section(readme)
    section = readme[start:end]
    samples = list(SAMPLE.finditer(section))
    assert samples, "the README's event contract shows no sample event"
    assert len(samples) == section.count("```json\n"), "a JSON block without its example marker"
    if REGENERATE:
        regenerated = SAMPLE.sub(
            lambda sample: sample[0].replace(
                sample["body"], rendered(Path(sample["file"]).name), 1
            ),
            section,
        )
        if regenerated != section:
            README.write_text(readme[:start] + regenerated + readme[end:], encoding="utf-8")
        return
    for sample in samples:
        file_name = Path(sample["file"]).name
        assert file_name in BUILT, f"{sample['file']} is not a generated example"
        assert sample["body"] == rendered(file_name), (
            f"the README's sample is not {sample['file']}: rewrite it with `{REGENERATE_COMMAND}`"
        )


OPERATION_TYPE_REF = {"$ref": "#/$defs/operationType"}


@pytest.mark.parametrize("schema_file", [DATA_SCHEMA, ATTRIBUTES_SCHEMA])
def test_the_schemas_list_the_known_operation_types_and_unknown(schema_file: str) -> None:
    published = schema(schema_file)
    described = published["$defs"]["operationType"]

    assert published["properties"]["operationType"] == OPERATION_TYPE_REF
    listed, other = described["anyOf"]
    assert listed["enum"] == [*KNOWN_OPERATION_TYPES, "Unknown"]
    assert all(re.fullmatch(other["pattern"], name) for name in listed["enum"])
    assert "Unknown" in described["description"]


def test_both_schemas_describe_the_operation_type_alike() -> None:
    def described(schema_file: str) -> dict[str, Any]:
        definition: dict[str, Any] = schema(schema_file)["$defs"]["operationType"]
        definition.pop("$comment")
        return definition

    assert described(DATA_SCHEMA) == described(ATTRIBUTES_SCHEMA)


def test_a_kind_newer_than_the_list_is_named_from_its_metadata_and_valid() -> None:
    url = "type.googleapis.com/google.cloud.contactcenterinsights.v1.ReticulateSplinesMetadata"
    operation = operations_pb2.Operation(
        name=builders.name(11), done=True, metadata=any_pb2.Any(type_url=url, value=b"")
    )

    event = events.build_event(operation, detect_time=DETECTED, lossy=True)

    assert assert_valid_event(event.data, event.attributes)["operationType"] == "ReticulateSplines"
    message = example("succeeded.json")
    message["data"]["operationType"] = message["attributes"]["operationType"] = "not a name"
    with pytest.raises(jsonschema.ValidationError):
        validate_published(message["data"], message["attributes"])


def future_event() -> dict[str, Any]:
    """The FAILED example as a later v1 could send it: a field, an error field and attributes
    more (one a CloudEvents extension)."""
    message = example("failed.json")
    message["data"]["reviewUri"] = "https://example.com/review/6058339187207143424"
    message["data"]["error"]["retryable"] = False
    message["attributes"]["ce-traceparent"] = (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )
    message["attributes"]["priority"] = "high"
    return message


def test_a_future_event_with_more_fields_and_attributes_matches_the_published_schemas() -> None:
    message = future_event()

    validate_published(message["data"], message["attributes"])

    assert sorted(undocumented(message["data"], message["attributes"])) == [
        "attributes.ce-traceparent",
        "attributes.priority",
        "data.error.retryable",
        "data.reviewUri",
    ]


def test_the_suite_still_fails_an_event_of_ours_with_an_undocumented_field_or_attribute() -> None:
    message = example("succeeded.json")
    with_field = copy.deepcopy(message)
    with_field["data"]["newField"] = 1
    with_attribute = copy.deepcopy(message)
    with_attribute["attributes"]["newAttribute"] = "x"

    for strayed in (with_field, with_attribute, future_event()):
        with pytest.raises(AssertionError, match=r"not in docs/\*\.schema\.json"):
            assert_valid_event(json.dumps(strayed["data"]).encode(), strayed["attributes"])


@pytest.mark.parametrize("schema_file", [DATA_SCHEMA, ATTRIBUTES_SCHEMA])
def test_the_published_schemas_still_require_every_documented_required_one(
    schema_file: str,
) -> None:
    part = "data" if schema_file == DATA_SCHEMA else "attributes"
    for name in schema(schema_file)["required"]:
        message = future_event()
        del message[part][name]
        with pytest.raises(jsonschema.ValidationError):
            validate_published(message["data"], message["attributes"])


def test_an_attribute_more_is_still_a_string_within_pubsub_limits() -> None:
    for key, value in [("priority", 1), ("p" * 257, "x")]:
        message = example("succeeded.json")
        message["attributes"][key] = value
        with pytest.raises(jsonschema.ValidationError):
            validate_published(message["data"], message["attributes"])
