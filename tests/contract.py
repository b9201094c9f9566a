"""The published event contract (docs/*.schema.json), checked on every event the suite sees."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

DOCS = Path(__file__).resolve().parent.parent / "docs"


@functools.cache
def _validator(schema_file: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((DOCS / schema_file).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid_event(data: bytes, attributes: Mapping[str, str]) -> dict[str, Any]:
    """Raise unless the message matches the published schemas; returns the decoded data."""
    decoded: dict[str, Any] = json.loads(data)
    _validator("event.schema.json").validate(decoded)
    _validator("event-attributes.schema.json").validate(dict(attributes))
    assert decoded["state"] == attributes["state"]
    # The attribute is the name cut to Pub/Sub's 1024 bytes; the data always holds it whole.
    assert decoded["operation"].encode()[:1024].decode(errors="ignore") == attributes["operation"]
    assert decoded["operationType"] == attributes["operationType"]
    assert all(len(value.encode()) <= 1024 for value in attributes.values())
    return decoded
