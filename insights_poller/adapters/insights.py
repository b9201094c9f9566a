"""Insights adapter: the real ContactCenterInsightsClient, a deadline and retries on every RPC."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions, retry
from google.longrunning import operations_pb2

from insights_poller.ports import CallError

if TYPE_CHECKING:
    from google.cloud.contact_center_insights_v1 import ContactCenterInsightsClient

# Codes a retry can cure. INTERNAL is safe here: listing and getting are read-only.
TRANSIENT_ERRORS = (
    exceptions.ServiceUnavailable,
    exceptions.DeadlineExceeded,
    exceptions.TooManyRequests,
    exceptions.ResourceExhausted,
    exceptions.InternalServerError,
)


def make_insights_client(emulator_host: str | None) -> ContactCenterInsightsClient:
    """The real client; against ``emulator_host`` over an insecure channel with no credentials."""
    from google.cloud.contact_center_insights_v1 import ContactCenterInsightsClient
    from google.cloud.contact_center_insights_v1.services.contact_center_insights import (
        transports,
    )

    if emulator_host is None:
        return ContactCenterInsightsClient()
    import grpc
    from google.auth.credentials import AnonymousCredentials

    channel = grpc.insecure_channel(emulator_host)
    transport = transports.ContactCenterInsightsGrpcTransport(
        channel=channel, credentials=AnonymousCredentials()
    )
    return ContactCenterInsightsClient(transport=transport)


class InsightsOperationsReader:
    """OperationsReader over the Insights API for one project."""

    def __init__(
        self,
        client: ContactCenterInsightsClient,
        project: str,
        *,
        page_size: int,
        timeout_seconds: float,
    ) -> None:
        self._client = client
        self._project = project
        self._page_size = page_size
        self._timeout = timeout_seconds
        # Retries share the RPC's deadline, with exponential backoff and jitter.
        self._retry = retry.Retry(
            predicate=retry.if_exception_type(*TRANSIENT_ERRORS),
            initial=0.25,
            maximum=4.0,
            multiplier=2.0,
            timeout=timeout_seconds,
        )

    def list_operations(self, location: str) -> Iterator[Sequence[operations_pb2.Operation]]:
        parent = f"projects/{self._project}/locations/{location}"
        page_token = ""
        while True:
            request = {"name": parent, "page_size": self._page_size, "page_token": page_token}
            response = self._call(self._client.list_operations, request)
            yield response.operations
            page_token = response.next_page_token
            if not page_token:
                return

    def get_operation(self, name: str) -> operations_pb2.Operation | None:
        try:
            operation: operations_pb2.Operation = self._call(
                self._client.get_operation, {"name": name}
            )
        except CallError as error:
            if error.code == "NOT_FOUND":
                return None
            raise
        return operation

    def _call(self, method: Any, request: dict[str, Any]) -> Any:
        try:
            return method(request, retry=self._retry, timeout=self._timeout)
        except exceptions.GoogleAPICallError as error:
            raise CallError(_code_name(error), error.message or str(error)) from error
        except exceptions.RetryError as error:
            raise CallError("DEADLINE_EXCEEDED", str(error)) from error


def _code_name(error: exceptions.GoogleAPICallError) -> str:
    code = error.grpc_status_code
    return code.name if code is not None else type(error).__name__
