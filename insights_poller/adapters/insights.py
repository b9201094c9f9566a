"""Insights adapter: the real ContactCenterInsightsClient, rate limited, every RPC with a deadline.

The Insights API has one quota per project (3000 requests/min) shared with everything else
the contact centre runs, and its client sets no retry or timeout on ListOperations or
GetOperation. So each attempt here waits for the rate limiter, carries a deadline, and
transient failures are retried with capped exponential backoff and full jitter, all within
the time the caller gives.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions
from google.longrunning import operations_pb2

from insights_poller.ports import BudgetExhausted, CallError

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
_FIRST_BACKOFF_SECONDS = 0.25
_MAX_BACKOFF_SECONDS = 4.0


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

    # No message size cap, as the client's own channel: responses can be megabytes.
    channel = grpc.insecure_channel(
        emulator_host,
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    transport = transports.ContactCenterInsightsGrpcTransport(
        channel=channel, credentials=AnonymousCredentials()
    )
    return ContactCenterInsightsClient(transport=transport)


class RateLimiter:
    """A token bucket of ``per_second`` calls, shared by every thread of the instance.

    It holds one second's calls, so a short burst (a poll's first pages) goes at once while
    any minute stays within ``60 * per_second`` calls, plus that one second's burst.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = per_second
        self._capacity = max(1.0, per_second)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self._capacity
        self._updated = clock()

    def acquire(self, deadline: float) -> bool:
        """Take a token, waiting for it; False (without waiting) if it comes after ``deadline``."""
        with self._lock:
            now = self._clock()
            refill = (now - self._updated) * self._rate
            self._tokens = min(self._capacity, self._tokens + refill)
            self._updated = now
            wait = max(0.0, (1.0 - self._tokens) / self._rate)
            if now + wait > deadline:
                return False
            self._tokens -= 1.0  # reserved: later callers queue behind this one
        if wait > 0:
            self._sleep(wait)
        return True


class InsightsOperationsReader:
    """OperationsReader over the Insights API for one project."""

    def __init__(
        self,
        client: ContactCenterInsightsClient,
        project: str,
        *,
        page_size: int,
        rpc_timeout_seconds: float,
        limiter: RateLimiter,
    ) -> None:
        self._client = client
        self._project = project
        self._page_size = page_size
        self._rpc_timeout = rpc_timeout_seconds
        self._limiter = limiter

    def list_page(
        self, location: str, page_token: str, timeout_seconds: float
    ) -> tuple[Sequence[operations_pb2.Operation], str]:
        request = {
            "name": f"projects/{self._project}/locations/{location}",
            "page_size": self._page_size,
            "page_token": page_token,
        }
        response = self._call(self._client.list_operations, request, timeout_seconds)
        return response.operations, response.next_page_token

    def get_operation(self, name: str, timeout_seconds: float) -> operations_pb2.Operation | None:
        try:
            operation: operations_pb2.Operation = self._call(
                self._client.get_operation, {"name": name}, timeout_seconds
            )
        except CallError as error:
            if error.code == "NOT_FOUND":
                return None
            raise
        return operation

    def _call(self, method: Any, request: dict[str, Any], timeout_seconds: float) -> Any:
        """One call, retried on transient codes, within its deadline.

        When the caller's time (the poll's budget), not the RPC deadline, is what runs out,
        the call was not reached rather than failed: ``BudgetExhausted``.
        """
        cut_by_caller = timeout_seconds < self._rpc_timeout
        deadline = time.monotonic() + min(self._rpc_timeout, timeout_seconds)
        backoff = _FIRST_BACKOFF_SECONDS
        attempt = 0
        while True:
            if not self._limiter.acquire(deadline):
                if attempt == 0 or cut_by_caller:
                    raise BudgetExhausted(f"no Insights call slot in time for {request}")
                raise CallError("DEADLINE_EXCEEDED", "retries ran out of time (rate limited)")
            attempt += 1
            try:
                return method(request, retry=None, timeout=max(deadline - time.monotonic(), 0.01))
            except TRANSIENT_ERRORS as error:
                pause = random.uniform(0, backoff)  # full jitter
                if time.monotonic() + pause >= deadline:
                    if cut_by_caller and isinstance(error, exceptions.DeadlineExceeded):
                        raise BudgetExhausted(
                            f"the poll's time ran out during {request}"
                        ) from error
                    raise _call_error(error, attempt) from error
                time.sleep(pause)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            except exceptions.GoogleAPICallError as error:
                raise _call_error(error, attempt) from error


def _call_error(error: exceptions.GoogleAPICallError, attempts: int) -> CallError:
    code = error.grpc_status_code
    name = code.name if code is not None else type(error).__name__
    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
    return CallError(name, (error.message or str(error)) + suffix)
