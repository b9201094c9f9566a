"""The collaborators the poll needs, as small Protocols (the state store is in ``state.base``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from google.longrunning import operations_pb2

from insights_poller.events import Event


class CallError(Exception):
    """A failed call to an external service; ``code`` is the gRPC status name when known."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class OperationsReader(Protocol):
    """Reads Insights long-running operations. Failures raise ``CallError``."""

    def list_operations(self, location: str) -> Iterator[Sequence[operations_pb2.Operation]]:
        """Every operation of one location, a page at a time."""
        ...

    def get_operation(self, name: str) -> operations_pb2.Operation | None:
        """One operation; None when the API answers NOT_FOUND."""
        ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[Event]) -> Mapping[str, CallError | None]:
        """Publish all, wait for every one; the outcome per operation name (None = published)."""
        ...
