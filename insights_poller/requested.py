"""The operations a request names: checked before a poll starts, so a bad one changes nothing.

The HTTP trigger and the command line take the same names and refuse the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from insights_poller import names

MAX_REQUESTED_OPERATIONS = 1000
_SHOWN_CHARS = 100


class BadRequest(ValueError):
    """The request is malformed; nothing was changed."""


def validated_names(
    requested: object, identity: names.ProjectIdentity, locations: Sequence[str]
) -> list[str]:
    """The operation names of a request, spelled as the API spells them when the project
    number is known, or BadRequest naming the problem."""
    if not isinstance(requested, list):
        raise BadRequest('"operations" must be a list of operation names')
    if len(requested) > MAX_REQUESTED_OPERATIONS:
        raise BadRequest(f'"operations" lists more than {MAX_REQUESTED_OPERATIONS} names')
    valid: list[str] = []
    for item in requested:
        if not isinstance(item, str):
            raise BadRequest(f'"operations" must hold strings, found {shown(item)}')
        try:
            parsed = names.parse_operation_name(item)
        except ValueError:
            raise BadRequest(
                f"{shown(item)} is not an operation name of the form "
                "projects/PROJECT/locations/LOCATION/operations/ID"
            ) from None
        if not identity.owns(parsed.project):
            raise BadRequest(_outside_project(item, parsed.project, identity))
        if parsed.location not in locations:
            raise BadRequest(
                f"{item!r} is outside the watched locations "
                f"({', '.join(locations)}; see INSIGHTS_LOCATIONS)"
            )
        valid.append(identity.canonical(item))
    return list(dict.fromkeys(valid))


def _outside_project(name: str, project: str, identity: names.ProjectIdentity) -> str:
    watched = identity.project_id
    if project.isdigit() and identity.number is None:
        return (
            f"{name!r} names its project by number, and the number of the watched project "
            f"{watched!r} is not known yet: set GOOGLE_CLOUD_PROJECT_NUMBER, or use the ID"
        )
    number = f" (number {identity.number})" if identity.number else ""
    return f"{name!r} is outside the watched project {watched!r}{number}"


class JsonNumber:
    """A number of a request body, kept as its text: no request holds one, and converting it
    could fail (over 4300 digits) or overflow (``1e999`` is infinity)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def shown(value: object) -> str:
    """A value of a request for an error message: short, and never a lone surrogate
    (``repr`` escapes them)."""
    if isinstance(value, JsonNumber):
        return _clipped(value.text)
    if isinstance(value, str):
        return _clipped(value, repr)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return _clipped(repr(value))


def _clipped(text: str, show: Callable[[str], str] = str) -> str:
    if len(text) <= _SHOWN_CHARS:
        return show(text)
    return f"{show(text[:_SHOWN_CHARS])}... ({len(text)} characters)"
