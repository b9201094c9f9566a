"""The Insights adapter's rate limit, retries and deadlines, on a scripted client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import exceptions
from google.longrunning import operations_pb2

from insights_poller.adapters.insights import InsightsOperationsReader, RateLimiter
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
        client,  # type: ignore[arg-type]
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
