"""Resource names: the only shapes of operation and topic names the poller accepts."""

from __future__ import annotations

import dataclasses
import re
import threading

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


GLOBAL_ENDPOINT = "contactcenterinsights.googleapis.com"
GLOBAL_ENDPOINT_LOCATION = "us-central1"


def regional_endpoint(location: str) -> str:
    """The host that serves ``location``'s Insights data.

    Insights docs, "Regionalization": the global host serves us-central1 only; every other
    location (regions and the multi-regions ``us`` and ``eu``) has its own
    ``{location}-contactcenterinsights.googleapis.com``, and a client on another host does
    not reach that location's data.
    """
    if location == GLOBAL_ENDPOINT_LOCATION:
        return GLOBAL_ENDPOINT
    return f"{location}-{GLOBAL_ENDPOINT}"


@dataclasses.dataclass(frozen=True)
class HostOverrides:
    """``host:port`` servers (emulators) that stand in for Insights' endpoints.

    Parsed from ``host:port`` (every location) or ``LOCATION=host:port,...`` with at most one
    bare ``host:port`` for the locations not named; a location with no entry uses the real
    regional endpoint.
    """

    default: str | None
    by_location: tuple[tuple[str, str], ...] = ()

    def host_for(self, location: str) -> str | None:
        return dict(self.by_location).get(location, self.default)

    @classmethod
    def parse(cls, value: str) -> HostOverrides:
        """ValueError naming the bad entry."""
        default: str | None = None
        by_location: dict[str, str] = {}
        for entry in (part.strip() for part in value.split(",")):
            location, equals, host = entry.rpartition("=")
            if not _is_host_port(host):
                raise ValueError(f"{entry!r} is not host:port or LOCATION=host:port")
            if not equals:
                if default is not None:
                    raise ValueError("more than one entry without a LOCATION=")
                default = host
            elif not is_location_id(location) or location in by_location:
                raise ValueError(f"{entry!r}: {location!r} is not a location id, or is repeated")
            else:
                by_location[location] = host
        return cls(default, tuple(sorted(by_location.items())))


def _is_host_port(value: str) -> bool:
    host, _, port = value.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


class ProjectIdentity:
    """The watched project under both of its spellings: its ID and its number.

    Insights answers resource names with the project number even when called with the ID
    (seen on conversations made by Google's public quickstart; operations are assumed to do
    the same), so both spellings name our project, and the API's (the number) is canonical:
    state is keyed by it. The number comes from GOOGLE_CLOUD_PROJECT_NUMBER or is learned from
    the first name the API returns. Thread-safe: one instance serves concurrent polls.
    """

    def __init__(self, project_id: str, number: str | None = None) -> None:
        self.project_id = project_id
        self._number = number
        self._lock = threading.Lock()

    @property
    def number(self) -> str | None:
        return self._number

    def learn(self, name: str) -> None:
        """Take the project number from a name the API returned, if it carries one."""
        project = name.split("/", 2)[1] if name.startswith("projects/") else ""
        if self._number is None and project.isdigit() and project != self.project_id:
            with self._lock:
                self._number = self._number or project

    def owns(self, project: str) -> bool:
        """Whether ``project`` (an ID or a number) is the watched project, as far as known."""
        return project in (self.project_id, self._number)

    def canonical(self, name: str) -> str:
        """``name`` spelled as the API answers it (the number) once the number is known."""
        prefix = f"projects/{self.project_id}/"
        if self._number is None or not name.startswith(prefix):
            return name
        return f"projects/{self._number}/" + name.removeprefix(prefix)


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
