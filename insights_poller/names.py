"""Resource names: the only shapes of operation and topic names the poller accepts."""

from __future__ import annotations

import dataclasses
import re

# Segments are checked strictly so that a name from a request can never carry a
# path trick ("..", "%2F", an empty segment) into an RPC or a state document id.
PROJECT_PATTERN = r"(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}"
LOCATION_PATTERN = r"[a-z][a-z0-9-]{0,62}"
_OPERATION_ID_PATTERN = r"[A-Za-z0-9_-]{1,128}"
_TOPIC_ID_PATTERN = r"[A-Za-z][A-Za-z0-9._~%+-]{2,254}"

_OPERATION_NAME = re.compile(
    rf"projects/(?P<project>{PROJECT_PATTERN})"
    rf"/locations/(?P<location>{LOCATION_PATTERN})"
    rf"/operations/(?P<id>{_OPERATION_ID_PATTERN})"
)
_PROJECT = re.compile(PROJECT_PATTERN)
_LOCATION = re.compile(LOCATION_PATTERN)
_TOPIC_ID = re.compile(_TOPIC_ID_PATTERN)
_TOPIC_PATH = re.compile(
    rf"projects/(?P<project>{PROJECT_PATTERN})/topics/(?P<topic>{_TOPIC_ID_PATTERN})"
)


@dataclasses.dataclass(frozen=True)
class OperationName:
    """A parsed ``projects/P/locations/L/operations/ID``."""

    project: str
    location: str
    operation_id: str

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/operations/{self.operation_id}"

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"


def parse_operation_name(name: str) -> OperationName:
    """Parse an operation name, raising ValueError that says what is wrong."""
    match = _OPERATION_NAME.fullmatch(name)
    if match is None:
        raise ValueError(
            f"{name!r} is not an operation name of the form "
            "projects/PROJECT/locations/LOCATION/operations/ID"
        )
    return OperationName(match["project"], match["location"], match["id"])


def operation_parts(name: str) -> tuple[str, str, str]:
    """(parent, location, id) of a name as the API gave it.

    Lenient on purpose: an operation the API lists must be reported even if its name has a
    shape this module would refuse in a request.
    """
    parent, _, operation_id = name.rpartition("/operations/")
    location = parent.rpartition("/locations/")[2]
    return parent, location, operation_id


def is_project_id(value: str) -> bool:
    return _PROJECT.fullmatch(value) is not None


def is_location_id(value: str) -> bool:
    return _LOCATION.fullmatch(value) is not None


def topic_path(value: str, project: str) -> str:
    """A full topic path from a topic id (in ``project``) or a full path; ValueError if neither."""
    if _TOPIC_PATH.fullmatch(value):
        return value
    if _TOPIC_ID.fullmatch(value) and not value.startswith("goog"):
        return f"projects/{project}/topics/{value}"
    raise ValueError(f"{value!r} is neither a topic id nor projects/PROJECT/topics/TOPIC")
