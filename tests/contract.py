"""The published event contract (docs/*.schema.json), checked on every event the suite sees.

Two checks, on purpose. The published schemas are what a subscriber may hold events to: they
require the documented fields and attributes and allow others, so that an additive change
keeps ``v1`` (README, "The event contract": Compatibility). The suite holds the poller's own
events to more: every field and attribute must be one the schemas document, so an accidental
new one fails here until it is documented.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

DOCS = Path(__file__).resolve().parent.parent / "docs"
DATA_SCHEMA = "event.schema.json"
ATTRIBUTES_SCHEMA = "event-attributes.schema.json"


def schema(schema_file: str) -> dict[str, Any]:
    """A published schema, as a fresh dict (callers may change it)."""
    loaded: dict[str, Any] = json.loads((DOCS / schema_file).read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _validator(schema_file: str) -> jsonschema.Draft202012Validator:
    published = schema(schema_file)
    jsonschema.Draft202012Validator.check_schema(published)
    return jsonschema.Draft202012Validator(
        published, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate_published(data: Mapping[str, Any], attributes: Mapping[str, str]) -> None:
    """Raise unless the message matches the published schemas: what a subscriber can check."""
    _validator(DATA_SCHEMA).validate(dict(data))
    _validator(ATTRIBUTES_SCHEMA).validate(dict(attributes))


@functools.cache
def _documented() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The names the schemas document: data fields, the error's fields, attributes."""
    data_properties = schema(DATA_SCHEMA)["properties"]
    return (
        frozenset(data_properties),
        frozenset(data_properties["error"]["properties"]),
        frozenset(schema(ATTRIBUTES_SCHEMA)["properties"]),
    )


def undocumented(data: Mapping[str, Any], attributes: Mapping[str, str]) -> list[str]:
    """The data fields (``error.*`` for the error's) and attributes the schemas do not document."""
    data_fields, error_fields, attribute_names = _documented()
    found = [f"data.{key}" for key in data if key not in data_fields]
    error = data.get("error")
    if isinstance(error, Mapping):
        found += [f"data.error.{key}" for key in error if key not in error_fields]
    found += [f"attributes.{key}" for key in attributes if key not in attribute_names]
    return found


def assert_valid_event(data: bytes, attributes: Mapping[str, str]) -> dict[str, Any]:
    """Raise unless the message matches the published schemas and carries only what they
    document; returns the decoded data."""
    decoded: dict[str, Any] = json.loads(data)
    validate_published(decoded, attributes)
    extra = undocumented(decoded, attributes)
    assert not extra, (
        f"{extra} not in docs/*.schema.json: document them there and in the README's event "
        "contract (an additive change), or do not send them"
    )
    assert decoded["state"] == attributes["state"]
    # The attribute is the name cut to Pub/Sub's 1024 bytes; the data always holds it whole.
    assert decoded["operation"].encode()[:1024].decode(errors="ignore") == attributes["operation"]
    assert decoded["operationType"] == attributes["operationType"]
    assert all(len(value.encode()) <= 1024 for value in attributes.values())
    return decoded
