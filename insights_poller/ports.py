"""The collaborators the poll needs, as small Protocols (the state store is in ``state.base``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from google.longrunning import operations_pb2

from insights_poller.events import Event


class CallError(Exception):
    """A failed call to an external service; ``code`` is the gRPC status name when known."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BudgetExhausted(Exception):
    """A call was not started: it could not begin within the time the poll has left."""


class OperationsReader(Protocol):
    """Reads Insights long-running operations.

    Each call finishes (retries included) within ``timeout_seconds``; failures raise
    ``CallError``, and a call that could not even start in time raises ``BudgetExhausted``.
    """

    def list_page(
        self, location: str, page_token: str, timeout_seconds: float
    ) -> tuple[Sequence[operations_pb2.Operation], str]:
        """One page of a location's operations and the next page token ("" after the last)."""
        ...

    def get_operation(self, name: str, timeout_seconds: float) -> operations_pb2.Operation | None:
        """One operation; None when the API answers NOT_FOUND."""
        ...

    def read_operation_json(self, name: str, timeout_seconds: float) -> dict[str, Any] | None:
        """One operation as the REST API renders it (JSON field names, every field the service
        returned, whatever the installed library knows); None when NOT_FOUND."""
        ...


class EventPublisher(Protocol):
    def publish(
        self, events: Sequence[Event], timeout_seconds: float
    ) -> Mapping[str, CallError | None]:
        """Publish all and wait for every one, retries included, at most ``timeout_seconds``.

        Returns the outcome per operation name (None = published). Once it returns, no
        message it reported as failed can still be sent by a background retry.
        """
        ...
