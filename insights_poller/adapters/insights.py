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

import requests
from google.api_core import exceptions
from google.longrunning import operations_pb2

from insights_poller import names
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
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def make_insights_client(
    location: str, emulator_host: str | None = None
) -> ContactCenterInsightsClient:
    """The real client for ``location``'s endpoint; or ``emulator_host`` over an insecure
    channel with no credentials."""
    from google.cloud.contact_center_insights_v1 import ContactCenterInsightsClient
    from google.cloud.contact_center_insights_v1.services.contact_center_insights import (
        transports,
    )

    if emulator_host is None:
        return ContactCenterInsightsClient(
            client_options={"api_endpoint": names.regional_endpoint(location)}
        )
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


class InsightsClients:
    """One client per endpoint, created on first use and reused by every poll of the instance.

    Each location is read on its own regional endpoint (``names.regional_endpoint``), or on
    the emulator ``hosts`` name for it.
    """

    def __init__(self, hosts: names.HostOverrides | None) -> None:
        self._hosts = hosts
        self._lock = threading.Lock()
        self._clients: dict[str, ContactCenterInsightsClient] = {}

    def for_location(self, location: str) -> ContactCenterInsightsClient:
        emulator_host = self._hosts.host_for(location) if self._hosts else None
        key = emulator_host or names.regional_endpoint(location)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = make_insights_client(location, emulator_host)
            return client


class RestOperations:
    """``GET /v1/{name}`` on the REST API: the operation's JSON as the service renders it.

    The server renders every field and kind, including those newer than the installed client
    library, which gRPC decoding would drop. Real endpoints get an ``AuthorizedSession`` (the
    default credentials, created on first use); emulator ``hosts`` get plain HTTP. Errors are
    raised as ``google.api_core`` exceptions, like the gRPC client's.
    """

    def __init__(self, hosts: names.HostOverrides | None) -> None:
        self._hosts = hosts
        self._lock = threading.Lock()
        self._authorized: requests.Session | None = None
        self._plain: requests.Session | None = None

    def get(self, request: dict[str, Any], retry: None, timeout: float) -> dict[str, Any]:
        """Same calling convention as the client's methods, so ``_call`` drives both."""
        del retry  # retries are the caller's
        name = request["name"]
        location = names.operation_parts(name)[1]
        emulator_host = self._hosts.host_for(location) if self._hosts else None
        if emulator_host is None:
            url = f"https://{names.regional_endpoint(location)}/v1/{name}"
        else:
            url = f"http://{emulator_host}/v1/{name}"
        try:
            response = self._session(emulator_host is None).get(url, timeout=timeout)
        except requests.Timeout as error:
            raise exceptions.DeadlineExceeded(f"GET {url}: {error}") from error
        except requests.RequestException as error:
            raise exceptions.ServiceUnavailable(f"GET {url}: {error}") from error
        if response.status_code >= 400:
            raise exceptions.from_http_response(response)
        try:
            body: dict[str, Any] = response.json()
        except ValueError as error:
            raise exceptions.InternalServerError(f"GET {url}: not JSON: {error}") from error
        return body

    def _session(self, authorized: bool) -> requests.Session:
        with self._lock:
            if authorized:
                if self._authorized is None:
                    import google.auth
                    from google.auth.transport.requests import AuthorizedSession

                    credentials, _ = google.auth.default(scopes=[_CLOUD_PLATFORM_SCOPE])
                    self._authorized = AuthorizedSession(credentials)
                return self._authorized
            if self._plain is None:
                self._plain = requests.Session()
            return self._plain


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
    """OperationsReader over the Insights API for one project, each location on its endpoint."""

    def __init__(
        self,
        client_for_location: Callable[[str], ContactCenterInsightsClient],
        rest: RestOperations,
        project: str,
        *,
        page_size: int,
        rpc_timeout_seconds: float,
        limiter: RateLimiter,
    ) -> None:
        self._client_for_location = client_for_location
        self._rest = rest
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
        client = self._client_for_location(location)
        response = self._call(client.list_operations, request, timeout_seconds)
        return response.operations, response.next_page_token

    def get_operation(self, name: str, timeout_seconds: float) -> operations_pb2.Operation | None:
        client = self._client_for_location(names.operation_parts(name)[1])
        operation: operations_pb2.Operation | None = self._get(
            client.get_operation, name, timeout_seconds
        )
        return operation

    def read_operation_json(self, name: str, timeout_seconds: float) -> dict[str, Any] | None:
        body: dict[str, Any] | None = self._get(self._rest.get, name, timeout_seconds)
        return body

    def _get(self, method: Any, name: str, timeout_seconds: float) -> Any:
        """One operation by ``method``; None when the API answers NOT_FOUND."""
        try:
            return self._call(method, {"name": name}, timeout_seconds)
        except CallError as error:
            if error.code == "NOT_FOUND":
                return None
            raise

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
