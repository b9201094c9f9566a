"""The Insights adapter's rate limit, retries and deadlines, on a scripted client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.longrunning import operations_pb2

from insights_poller import names
from insights_poller.adapters.insights import (
    InsightsClients,
    InsightsOperationsReader,
    RateLimiter,
    RestOperations,
)
from insights_poller.names import HostOverrides
from insights_poller.ports import BudgetExhausted, CallError


class ScriptedClient:
    """Answers each call with the next scripted outcome (an exception is raised)."""

    def __init__(self, outcomes: list[Any]) -> None:
        self._outcomes: Iterator[Any] = iter(outcomes)
        self.timeouts: list[float] = []

    def _next(self, request: dict[str, Any], retry: object, timeout: float) -> Any:
        assert retry is None  # retries are the adapter's, not the client's
        self.timeouts.append(timeout)
        outcome = next(self._outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    get_operation = _next
    list_operations = _next


def reader(client: ScriptedClient, rps: float = 1000, rpc_timeout: float = 5) -> Any:
    return InsightsOperationsReader(
        lambda location: client,  # type: ignore[arg-type,return-value]
        RestOperations(None),
        "demo-project",
        page_size=100,
        rpc_timeout_seconds=rpc_timeout,
        limiter=RateLimiter(rps),
    )


def test_transient_errors_are_retried_within_the_deadline() -> None:
    done = operations_pb2.Operation(name="projects/p/locations/l/operations/1", done=True)
    client = ScriptedClient(
        [exceptions.ServiceUnavailable("down"), exceptions.InternalServerError("oops"), done]
    )

    assert reader(client).get_operation(done.name, timeout_seconds=30) == done
    assert len(client.timeouts) == 3
    assert all(0 < timeout <= 5 for timeout in client.timeouts)


def test_not_found_is_none_and_other_errors_carry_the_grpc_code() -> None:
    client = ScriptedClient([exceptions.NotFound("gone"), exceptions.PermissionDenied("no")])

    assert reader(client).get_operation("projects/p/locations/l/operations/1", 30) is None
    with pytest.raises(CallError) as raised:
        reader(client).get_operation("projects/p/locations/l/operations/2", 30)
    assert raised.value.code == "PERMISSION_DENIED"


def test_persistent_unavailability_fails_once_the_rpc_deadline_passes() -> None:
    client = ScriptedClient([exceptions.ServiceUnavailable("down")] * 1000)

    with pytest.raises(CallError) as raised:
        reader(client, rpc_timeout=0.5).get_operation("projects/p/locations/l/operations/1", 30)

    assert raised.value.code == "UNAVAILABLE"
    assert "attempts" in raised.value.message


def test_a_call_cut_short_by_the_poll_budget_was_not_reached_rather_than_failed() -> None:
    client = ScriptedClient([exceptions.DeadlineExceeded("slow")] * 1000)

    with pytest.raises(BudgetExhausted):
        reader(client, rpc_timeout=30).list_page("us-central1", "", timeout_seconds=0.3)


def test_list_page_returns_operations_and_the_next_token() -> None:
    page = operations_pb2.ListOperationsResponse(
        operations=[operations_pb2.Operation(name="projects/p/locations/l/operations/1")],
        next_page_token="next",
    )

    operations, token = reader(ScriptedClient([page])).list_page("us-central1", "", 30)

    assert [operation.name for operation in operations] == ["projects/p/locations/l/operations/1"]
    assert token == "next"


def test_rate_limiter_allows_one_seconds_burst_then_spaces_calls_until_the_deadline() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)

    granted = [limiter.acquire(deadline=101.0) for _ in range(9)]

    assert granted == [True] * 8 + [False]  # a burst of 4, then one every 0.25 s
    assert slept == [0.25, 0.25, 0.25, 0.25]
    assert now[0] == 101.0


# Insights docs, "Regionalization" (cloud.google.com/contact-center/insights/docs/regionalization):
# the endpoint that serves each resource location.
DOCUMENTED_ENDPOINTS = {
    "us-central1": "contactcenterinsights.googleapis.com",
    "us-east1": "us-east1-contactcenterinsights.googleapis.com",
    "us-west1": "us-west1-contactcenterinsights.googleapis.com",
    "northamerica-northeast1": "northamerica-northeast1-contactcenterinsights.googleapis.com",
    "us": "us-contactcenterinsights.googleapis.com",
    "europe-west1": "europe-west1-contactcenterinsights.googleapis.com",
    "europe-west2": "europe-west2-contactcenterinsights.googleapis.com",
    "europe-west3": "europe-west3-contactcenterinsights.googleapis.com",
    "eu": "eu-contactcenterinsights.googleapis.com",
    "europe-west4": "europe-west4-contactcenterinsights.googleapis.com",
    "europe-west6": "europe-west6-contactcenterinsights.googleapis.com",
    "asia-northeast1": "asia-northeast1-contactcenterinsights.googleapis.com",
    "asia-northeast3": "asia-northeast3-contactcenterinsights.googleapis.com",
    "asia-south1": "asia-south1-contactcenterinsights.googleapis.com",
    "asia-southeast1": "asia-southeast1-contactcenterinsights.googleapis.com",
    "asia-southeast2": "asia-southeast2-contactcenterinsights.googleapis.com",
    "australia-southeast1": "australia-southeast1-contactcenterinsights.googleapis.com",
}


@pytest.mark.parametrize(("location", "endpoint"), DOCUMENTED_ENDPOINTS.items())
def test_each_location_is_read_on_its_documented_endpoint(
    location: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "google.auth.default", lambda *args, **kwargs: (AnonymousCredentials(), None)
    )
    clients = InsightsClients(HostOverrides(None, (("europe-west1", "127.0.0.1:1"),)))

    client = clients.for_location(location)

    if location == "europe-west1":  # named in the overrides: the emulator instead
        channel = client.transport.grpc_channel  # type: ignore[attr-defined]
        assert channel._channel.target() == b"dns:///127.0.0.1:1"
    else:
        assert names.regional_endpoint(location) == endpoint
        assert client.transport._host == f"{endpoint}:443"
        assert client is clients.for_location(location)  # created once, reused


def test_rest_reads_go_to_the_operations_regional_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    class Session:
        def get(self, url: str, timeout: float) -> Any:
            asked.append(url)
            response = requests.Response()
            response.status_code, response._content = 200, b'{"name": "n", "done": true}'
            return response

    rest = RestOperations(HostOverrides(None, (("eu", "127.0.0.1:9"),)))
    monkeypatch.setattr(rest, "_session", lambda authorized: Session())
    for location in ("europe-west1", "us-central1", "eu"):
        rest.get({"name": f"projects/1/locations/{location}/operations/2"}, None, 5)

    assert asked == [
        "https://europe-west1-contactcenterinsights.googleapis.com/v1/"
        "projects/1/locations/europe-west1/operations/2",
        "https://contactcenterinsights.googleapis.com/v1/projects/1/locations/us-central1/operations/2",
        "http://127.0.0.1:9/v1/projects/1/locations/eu/operations/2",
    ]


def test_rest_errors_are_the_same_exceptions_as_grpc_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    class Session:
        def get(self, url: str, timeout: float) -> Any:
            response = requests.Response()
            response.status_code = 503
            response._content = (
                b'{"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}'
            )
            response.request = requests.Request("GET", url).prepare()
            return response

    rest = RestOperations(None)
    monkeypatch.setattr(rest, "_session", lambda authorized: Session())

    with pytest.raises(exceptions.ServiceUnavailable, match="busy"):
        rest.get({"name": "projects/1/locations/us/operations/2"}, None, 5)
