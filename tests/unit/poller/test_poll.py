"""The poll's rules, on in-memory fakes: what gets published, once, and what is left for later."""

from __future__ import annotations

import dataclasses
import datetime
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import builders
import pytest
from fakes import FakeClock, FakePublisher, FakeReader, InMemoryStateStore
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2

from insights_poller import core, events, names
from insights_poller.model import Event, Outcome
from insights_poller.ports import CallError

LEASE = datetime.timedelta(minutes=10)


@dataclasses.dataclass
class World:
    reader: FakeReader
    store: InMemoryStateStore
    publisher: FakePublisher
    clock: FakeClock
    locations: tuple[str, ...] = ("us-central1",)
    watch_since: datetime.datetime | None = None
    budget: datetime.timedelta = datetime.timedelta(minutes=4)
    max_pending_age: datetime.timedelta = datetime.timedelta(days=7)
    operation_types: frozenset[str] | None = None
    identity: names.ProjectIdentity = dataclasses.field(
        default_factory=lambda: names.ProjectIdentity(builders.PROJECT)
    )
    runs: int = 0

    def poll(self, requested: Sequence[str] = (), run_id: str | None = None) -> core.PollSummary:
        self.runs += 1
        return core.poll(
            reader=self.reader,
            store=self.store,
            publisher=self.publisher,
            options=core.PollOptions(
                locations=self.locations,
                watch_since=self.watch_since,
                claim_lease=LEASE,
                max_concurrency=4,
                budget=self.budget,
                publish_reserve=datetime.timedelta(seconds=30),
                max_pending_age=self.max_pending_age,
                operation_types=self.operation_types,
            ),
            clock=self.clock,
            run_id=run_id or f"run-{self.runs}",
            identity=self.identity,
            requested=requested,
        )

    def published_states(self) -> dict[str, str]:
        return {event.operation: event.state for event in self.publisher.published}


@pytest.fixture
def world() -> World:
    clock = FakeClock(builders.T0)
    return World(FakeReader(clock=clock), InMemoryStateStore(), FakePublisher(), clock)


def later(world: World, minutes: float = 5) -> datetime.datetime:
    world.clock.advance(minutes * 60)
    return world.clock.now


def test_pending_operation_is_published_once_when_it_succeeds(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(1)))
    first = world.poll()
    assert (first.newly_tracked, first.pending, first.published) == (1, 1, 0)

    world.reader.put(builders.issue_model_operation(builders.name(1), ended=later(world)))
    second = world.poll()
    third = world.poll()

    assert (second.published, second.pending, second.errors) == (1, 0, [])
    assert second.published_by_state == {"SUCCEEDED": 1}
    assert third.published == 0
    assert world.published_states() == {builders.name(1): "SUCCEEDED"}


@pytest.mark.parametrize(
    ("code", "state"), [(code_pb2.INTERNAL, "FAILED"), (code_pb2.CANCELLED, "CANCELLED")]
)
def test_pending_operation_that_fails_or_is_cancelled(world: World, code: int, state: str) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(1)))
    world.poll()
    error = status_pb2.Status(code=code, message="no")
    world.reader.put(
        builders.issue_model_operation(builders.name(1), ended=later(world), error=error)
    )

    world.poll()

    assert world.published_states() == {builders.name(1): state}


def test_operation_that_starts_and_ends_between_two_polls_is_reported(world: World) -> None:
    world.poll()  # the first poll starts the watch
    started = later(world, 1)
    world.reader.put(
        builders.issue_model_operation(builders.name(2), created=started, ended=later(world, 1))
    )

    summary = world.poll()

    assert summary.published == 1
    assert world.published_states() == {builders.name(2): "SUCCEEDED"}


def test_history_before_the_watch_started_is_not_published(world: World) -> None:
    world.reader.put(
        builders.issue_model_operation(
            builders.name(3),
            created=builders.T0 - datetime.timedelta(days=2),
            ended=builders.T0 - datetime.timedelta(days=1),
        )
    )

    world.poll()
    later(world)
    world.poll()

    assert world.publisher.published == []
    assert world.store.get_many([builders.name(3)]) == {}


def test_watch_since_reaches_back_into_history(world: World) -> None:
    world.reader.put(
        builders.issue_model_operation(
            builders.name(3), ended=builders.T0 - datetime.timedelta(hours=1)
        )
    )
    world.watch_since = builders.T0 - datetime.timedelta(hours=2)

    world.poll()

    assert world.published_states() == {builders.name(3): "SUCCEEDED"}


def test_tracked_operation_not_found_becomes_expired_and_is_dropped(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(4)))
    world.poll()
    del world.reader.operations[builders.name(4)]

    summary = world.poll()
    again = world.poll()

    assert (summary.expired, summary.published, summary.pending) == (1, 1, 0)
    assert world.published_states() == {builders.name(4): "EXPIRED"}
    assert world.store.pending() == []
    assert again.published == 0 and again.checked == 0


def test_listing_settles_what_it_shows_without_get_operation(world: World) -> None:
    for operation_id in range(5):
        world.reader.put(builders.issue_model_operation(builders.name(operation_id)))
    world.poll()
    for operation_id in range(5):
        world.reader.put(
            builders.issue_model_operation(builders.name(operation_id), ended=later(world, 0.1))
        )

    summary = world.poll()

    assert summary.published == 5
    assert world.reader.get_calls == []


def test_tracked_operation_missing_from_the_listing_is_checked_with_get(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(5)))
    world.poll()
    world.reader.hidden_from_listing.add(builders.name(5))
    world.reader.put(builders.issue_model_operation(builders.name(5), ended=later(world)))

    summary = world.poll()

    assert world.reader.get_calls == [builders.name(5)]
    assert (summary.checked, summary.published) == (1, 1)


def test_quiet_poll_lists_once_per_page_and_writes_nothing(world: World) -> None:
    for operation_id in range(5):
        world.reader.put(builders.issue_model_operation(builders.name(operation_id)))
    world.poll()
    writes, lists = world.store.writes, world.reader.list_calls

    summary = world.poll()

    assert summary.published == 0 and summary.pending == 5
    assert world.store.writes == writes
    assert world.reader.list_calls - lists == 3  # 5 operations, pages of 2
    assert world.reader.get_calls == []


def test_failed_listing_is_an_error_and_other_locations_still_poll(world: World) -> None:
    world.locations = ("us-central1", "europe-west1")
    world.reader.put(builders.issue_model_operation(builders.name(1)))
    world.reader.put(builders.issue_model_operation(builders.name(2, "europe-west1")))
    world.poll()
    world.reader.failing_locations.add("us-central1")
    world.reader.put(builders.issue_model_operation(builders.name(1), ended=later(world)))
    world.reader.put(
        builders.issue_model_operation(builders.name(2, "europe-west1"), ended=later(world))
    )

    summary = world.poll()

    assert [(e.stage, e.code, e.location) for e in summary.errors] == [
        ("list", "UNAVAILABLE", "us-central1")
    ]
    # The tracked operation of the failed location is still settled, through GetOperation.
    assert set(world.published_states()) == {builders.name(1), builders.name(2, "europe-west1")}


def test_failed_get_is_counted_and_retried_next_poll(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(6)))
    world.poll()
    world.reader.hidden_from_listing.add(builders.name(6))
    world.reader.put(builders.issue_model_operation(builders.name(6), ended=later(world)))
    world.reader.failing_gets.add(builders.name(6))

    failed = world.poll()
    world.reader.failing_gets.clear()
    retried = world.poll()

    assert [(e.stage, e.operation) for e in failed.errors] == [("get", builders.name(6))]
    assert failed.pending == 1
    assert retried.published == 1 and not retried.errors


def test_failed_publish_is_released_and_published_by_a_later_poll(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(7)))
    world.poll()
    world.reader.put(builders.issue_model_operation(builders.name(7), ended=later(world)))
    world.publisher.failing.add(builders.name(7))

    failed = world.poll()
    world.publisher.failing.clear()
    retried = world.poll()

    assert not failed.ok and failed.published == 0
    assert [e.stage for e in failed.errors] == ["publish"]
    assert retried.ok and retried.published == 1
    assert world.published_states() == {builders.name(7): "SUCCEEDED"}


def test_operation_claimed_by_another_live_poll_is_left_to_it(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(8)))
    world.poll()
    operation = builders.issue_model_operation(builders.name(8), ended=later(world))
    world.reader.put(operation)
    now = world.clock.now
    world.store.claim([events.describe(operation)], "other-poll", now, now + LEASE)

    summary = world.poll()

    assert summary.ok and summary.published == 0 and summary.claimed_elsewhere == 1
    assert world.publisher.published == []


def test_poll_that_died_after_publishing_is_followed_by_a_republish_with_the_same_id(
    world: World,
) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(9)))
    world.poll()
    world.reader.put(builders.issue_model_operation(builders.name(9), ended=later(world)))

    def crash(outcomes: Sequence[Outcome]) -> None:
        raise RuntimeError("process killed")

    world.store.mark_settled = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        world.poll()
    del world.store.mark_settled

    within_lease = world.poll()
    later(world, LEASE.total_seconds() / 60 + 1)
    after_lease = world.poll()

    assert within_lease.published == 0 and within_lease.claimed_elsewhere == 1
    assert after_lease.published == 1
    first, second = world.publisher.published
    assert first.event_id == second.event_id
    assert json.loads(first.data)["detectTime"] == json.loads(second.data)["detectTime"]


def test_requested_operations_are_checked_tracked_and_published_even_from_history(
    world: World,
) -> None:
    old = builders.T0 - datetime.timedelta(days=3)
    world.reader.put(builders.issue_model_operation(builders.name(10), created=old, ended=old))
    world.reader.put(builders.issue_model_operation(builders.name(11)))
    world.reader.hidden_from_listing.update({builders.name(10), builders.name(11)})

    summary = world.poll(requested=[builders.name(10), builders.name(11), builders.name(12)])

    assert world.published_states() == {builders.name(10): "SUCCEEDED"}
    assert [record.name for record in world.store.pending()] == [builders.name(11)]
    assert summary.not_found == [builders.name(12)]
    assert summary.ok


def test_published_operation_requested_again_is_not_republished(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(13)))
    world.poll()
    world.reader.put(builders.issue_model_operation(builders.name(13), ended=later(world)))
    world.poll()

    summary = world.poll(requested=[builders.name(13)])

    assert summary.published == 0
    assert len(world.publisher.published) == 1


def test_summary_json_names_the_counts_an_operator_needs(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(1)))

    body = world.poll().to_json()

    assert {"published", "pending", "errors", "runId", "newlyTracked", "listed"} <= set(body)
    assert (body["published"], body["pending"], body["errors"]) == (0, 1, 0)
    json.dumps(body)


def undated_operation(operation_id: int) -> operations_pb2.Operation:
    """A done operation whose metadata type this library can't read: no time is known."""
    url = "type.googleapis.com/google.cloud.contactcenterinsights.v1.SampleConversationsMetadata"
    return operations_pb2.Operation(
        name=builders.name(operation_id), done=True, metadata=any_pb2.Any(type_url=url)
    )


def test_undated_operation_seen_by_the_first_poll_is_history(world: World) -> None:
    world.reader.put(undated_operation(20))

    world.poll()
    later(world)
    second = world.poll()

    assert world.publisher.published == []
    assert second.published == 0
    assert world.store.get_many([builders.name(20)])[builders.name(20)].state == "HISTORY"


def test_undated_operation_that_appears_after_the_first_poll_is_reported(world: World) -> None:
    world.poll()
    later(world)
    world.reader.put(undated_operation(21))

    world.poll()
    later(world)
    again = world.poll()

    assert world.published_states() == {builders.name(21): "SUCCEEDED"}
    assert again.published == 0


def test_budget_stops_new_checks_and_later_polls_reach_every_operation(world: World) -> None:
    names = [builders.name(100 + i) for i in range(40)]
    for name in names:
        world.reader.put(builders.issue_model_operation(name, created=world.clock.now))
    world.poll()
    world.reader.hidden_from_listing.update(names)
    world.reader.seconds_per_call = 1.0  # each GetOperation takes a second
    world.budget = datetime.timedelta(seconds=45)  # 15 s of work after the 30 s reserve

    checked_per_poll = []
    for _ in range(4):
        world.clock.advance(60)
        world.reader.get_calls.clear()
        summary = world.poll()
        checked_per_poll.append(list(world.reader.get_calls))
        assert summary.ok and summary.duration_seconds <= 45
        assert summary.checked + summary.not_reached == 40

    counts = [len(calls) for calls in checked_per_poll]
    assert all(0 < count < 40 for count in counts), counts
    # Oldest-checked first: no operation waits while others are checked twice.
    reached = [name for calls in checked_per_poll[:3] for name in calls]
    assert set(reached) == set(names)


def test_listing_cut_by_the_budget_resumes_where_it_stopped(world: World) -> None:
    for operation_id in range(10):  # five pages of two
        world.reader.put(builders.issue_model_operation(builders.name(operation_id)))
    world.reader.seconds_per_call = 10.0
    world.budget = datetime.timedelta(seconds=60)  # 15 s of listing: two pages a poll

    summaries = [world.poll() for _ in range(3)]
    world.reader.seconds_per_call = 0
    unhurried = world.poll()

    assert all(summary.ok for summary in summaries)
    assert not any(summary.listing_complete for summary in summaries)
    assert [s.newly_tracked for s in summaries] == [4, 4, 2]  # pages 1-2, 3-4, then 5 and 1
    assert summaries[2].pending == 10
    assert unhurried.listing_complete and unhurried.listed == 10
    assert world.store.listing_cursor("us-central1") == ""


def test_stale_listing_cursor_starts_over(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(1)))
    world.store.save_listing_cursor("us-central1", "stale")
    world.reader.list_page = stale_aware(world.reader.list_page)  # type: ignore[method-assign,assignment]

    summary = world.poll()

    assert summary.ok and summary.listing_complete and summary.newly_tracked == 1
    assert world.store.listing_cursor("us-central1") == ""


def stale_aware(list_page: Callable[[str, str, float], Any]) -> Callable[[str, str, float], Any]:
    """The real API answers INVALID_ARGUMENT for a page token it no longer honours."""

    def wrapped(location: str, page_token: str, timeout_seconds: float) -> Any:
        if page_token == "stale":
            raise CallError("INVALID_ARGUMENT", "invalid page token")
        return list_page(location, page_token, timeout_seconds)

    return wrapped


def test_publish_is_given_only_the_time_left_in_the_budget(world: World) -> None:
    world.reader.put(builders.issue_model_operation(builders.name(1)))
    world.poll()
    world.reader.put(builders.issue_model_operation(builders.name(1), ended=later(world)))
    world.reader.seconds_per_call = 5.0

    world.poll()

    assert world.publisher.timeouts == [240 - 5]  # one listing call spent 5 s


def test_operation_pending_too_long_expires_once(world: World) -> None:
    world.max_pending_age = datetime.timedelta(hours=1)
    created = world.clock.now
    world.reader.put(builders.issue_model_operation(builders.name(30), created=created))
    world.poll()
    later(world, 30)
    assert world.poll().published == 0

    later(world, 31)
    summary = world.poll()
    world.reader.put(builders.issue_model_operation(builders.name(30), ended=later(world)))
    after = world.poll()

    assert (summary.expired, summary.pending) == (1, 0)
    [event] = world.publisher.published
    assert json.loads(event.data)["expiredReason"] == "MAX_PENDING_AGE"
    assert after.published == 0


def test_operation_already_too_old_when_first_seen_expires_at_once(world: World) -> None:
    world.max_pending_age = datetime.timedelta(hours=1)
    world.reader.put(
        builders.issue_model_operation(
            builders.name(31), created=world.clock.now - datetime.timedelta(hours=2)
        )
    )

    summary = world.poll()

    assert (summary.newly_tracked, summary.expired) == (1, 1)
    assert world.published_states() == {builders.name(31): "EXPIRED"}


def test_kinds_outside_operation_types_are_recorded_as_skipped_not_published(
    world: World,
) -> None:
    world.operation_types = frozenset({"BulkAnalyzeConversations"})
    world.reader.put(builders.issue_model_operation(builders.name(40)))
    world.poll()
    ended = later(world)
    world.reader.put(builders.issue_model_operation(builders.name(40), ended=ended))
    world.reader.put(builders.bulk_analyze_operation(builders.name(41), ended=ended))

    summary = world.poll()
    again = world.poll()

    assert world.published_states() == {builders.name(41): "SUCCEEDED"}
    assert (summary.published, summary.skipped, summary.pending) == (1, 1, 0)
    assert world.store.get_many([builders.name(40)])[builders.name(40)].state == "SKIPPED"
    assert (again.published, again.skipped) == (0, 0)


def test_locations_are_listed_in_parallel(world: World) -> None:
    world.locations = ("us-central1", "europe-west1", "asia-south1")
    in_flight, most = 0, 0
    lock = threading.Lock()
    all_started = threading.Barrier(3, timeout=10)
    list_page = world.reader.list_page

    def observed(location: str, page_token: str, timeout_seconds: float) -> Any:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        all_started.wait()  # times out (and fails) unless all three run at once
        try:
            return list_page(location, page_token, timeout_seconds)
        finally:
            with lock:
                in_flight -= 1

    world.reader.list_page = observed  # type: ignore[method-assign]

    summary = world.poll()

    assert summary.ok and most == 3


def test_a_backlog_is_settled_in_chunks_and_what_the_budget_misses_waits_for_next_poll(
    world: World,
) -> None:
    names = [builders.name(1000 + i) for i in range(1200)]
    for name in names:
        world.reader.put(builders.issue_model_operation(name, created=world.clock.now))
    world.reader.page_size = 1000
    world.poll()
    ended = later(world)
    for name in names:
        world.reader.put(builders.issue_model_operation(name, created=ended, ended=ended))
    publish = world.publisher.publish
    chunk_sizes = []

    def slow_publish(events: Sequence[Event], timeout_seconds: float) -> Any:
        chunk_sizes.append(len(events))
        world.clock.advance(min(130, timeout_seconds))  # a chunk takes 130 s of the 240 s
        return publish(events, timeout_seconds)

    world.publisher.publish = slow_publish  # type: ignore[method-assign]

    first = world.poll()
    second = world.poll()

    assert chunk_sizes == [500, 500, 200]
    assert (first.published, first.not_reached, first.pending) == (1000, 200, 200)  # still owed
    assert first.ok and second.published == 200
    assert len({event.operation for event in world.publisher.published}) == 1200


# --- the real service: project numbers in names, bodies newer than the library ---------------

PROJECT_NUMBER = "389908145857"


def numbered(operation_id: int) -> str:
    """A name as Insights answers it: with the project number."""
    return f"projects/{PROJECT_NUMBER}/locations/{builders.LOCATION}/operations/{operation_id}"


def test_names_spelled_with_the_project_id_or_number_are_one_operation_and_one_event(
    world: World,
) -> None:
    world.reader.project_numbers[builders.PROJECT] = PROJECT_NUMBER
    old = builders.T0 - datetime.timedelta(days=3)
    world.reader.put(builders.issue_model_operation(numbered(30), created=old, ended=old))
    world.reader.put(builders.issue_model_operation(numbered(31), created=old, ended=old))

    first = world.poll(requested=[builders.name(30), numbered(31)])
    again = world.poll(requested=[builders.name(30), builders.name(31)])

    assert first.ok and first.published == 2
    assert world.published_states() == {numbered(30): "SUCCEEDED", numbered(31): "SUCCEEDED"}
    assert [event.event_id for event in world.publisher.published] == [
        events.event_id(numbered(30)),
        events.event_id(numbered(31)),
    ]
    assert again.published == 0
    assert set(world.store.records) == {numbered(30), numbered(31)}


def test_a_name_requested_with_the_id_is_kept_under_the_number_the_api_answers_with(
    world: World,
) -> None:
    world.reader.project_numbers[builders.PROJECT] = PROJECT_NUMBER
    world.reader.put(builders.issue_model_operation(numbered(32)))
    world.reader.hidden_from_listing.add(numbered(32))

    first = world.poll(requested=[builders.name(32)])
    world.reader.hidden_from_listing.clear()
    world.reader.put(builders.issue_model_operation(numbered(32), ended=later(world)))
    second = world.poll()

    assert (first.ok, first.newly_tracked) == (True, 1)
    assert [record.name for record in world.store.records.values()] == [numbered(32)]
    assert world.identity.number == PROJECT_NUMBER
    assert (second.published, second.pending) == (1, 0)
    assert world.published_states() == {numbered(32): "SUCCEEDED"}


SAMPLE_METADATA_URL = (
    "type.googleapis.com/google.cloud.contactcenterinsights.v1.SampleConversationsMetadata"
)
INGEST_METADATA_URL = (
    "type.googleapis.com/google.cloud.contactcenterinsights.v1.IngestConversationsMetadata"
)


def ingest_operation_with_a_newer_field(operation_id: int, ended: datetime.datetime) -> Any:
    """A done IngestConversations operation whose metadata carries a field the library lacks."""
    from google.cloud import contact_center_insights_v1 as insights  # noqa: PLC0415

    metadata = insights.IngestConversationsMetadata(create_time=builders.T0, end_time=ended)
    known = type(metadata).pb(metadata).SerializeToString()
    newer_field = b"\xa0\x06\x07"  # field 100, varint 7: unknown to this library
    return operations_pb2.Operation(
        name=builders.name(operation_id),
        done=True,
        metadata=any_pb2.Any(type_url=INGEST_METADATA_URL, value=known + newer_field),
        response=any_pb2.Any(
            type_url="type.googleapis.com/google.cloud.contactcenterinsights.v1."
            "IngestConversationsResponse"
        ),
    )


def test_bodies_the_library_would_decode_lossily_are_published_from_the_rest_json(
    world: World,
) -> None:
    world.poll()
    ended = later(world)
    unknown_kind = undated_operation(40)
    newer_field = ingest_operation_with_a_newer_field(41, ended)
    world.reader.put(unknown_kind)
    world.reader.put(newer_field)
    sample_metadata = {
        "@type": SAMPLE_METADATA_URL,
        "createTime": "2026-11-01T12:01:00.250Z",
        "endTime": "2026-11-01T12:04:00Z",
        "request": {"parent": f"projects/{PROJECT_NUMBER}/locations/us-central1"},
    }
    ingest_metadata = {
        "@type": INGEST_METADATA_URL,
        "createTime": "2026-11-01T12:00:00Z",
        "endTime": "2026-11-01T12:05:00Z",
        "sampledConversations": ["conversations/7"],
    }
    world.reader.rest_bodies[unknown_kind.name] = {
        "name": unknown_kind.name,
        "done": True,
        "metadata": sample_metadata,
        "response": {"@type": SAMPLE_METADATA_URL.replace("Metadata", "Response")},
    }
    world.reader.rest_bodies[newer_field.name] = {
        "name": newer_field.name,
        "done": True,
        "metadata": ingest_metadata,
    }

    summary = world.poll()

    assert summary.ok and summary.lossy_bodies == 0
    sample, ingest = (json.loads(event.data) for event in world.publisher.published)
    assert sample["operationType"] == "SampleConversations"
    assert sample["metadata"] == sample_metadata
    assert (sample["createTime"], sample["endTime"]) == (
        "2026-11-01T12:01:00.250000Z",  # the event's own format, as for every kind
        "2026-11-01T12:04:00Z",
    )
    assert ingest["metadata"]["sampledConversations"] == ["conversations/7"]
    assert ingest["endTime"] == "2026-11-01T12:05:00Z"
    assert "lossyBody" not in sample and "lossyBody" not in ingest


def test_a_body_the_library_decodes_in_full_costs_no_rest_read(world: World) -> None:
    world.poll()
    world.reader.put(builders.bulk_analyze_operation(builders.name(42), ended=later(world)))

    world.poll()

    assert world.published_states() == {builders.name(42): "SUCCEEDED"}
    assert world.reader.rest_calls == []


def test_a_failed_rest_read_publishes_the_grpc_body_once_marked_lossy(world: World) -> None:
    world.poll()
    later(world)
    world.reader.put(undated_operation(43))
    world.reader.failing_rest_reads.add(builders.name(43))

    first = world.poll()
    later(world)
    second = world.poll()

    [event] = world.publisher.published
    data = json.loads(event.data)
    assert data["lossyBody"] is True
    assert data["metadata"] == {"@type": SAMPLE_METADATA_URL, "value": ""}
    assert first.lossy_bodies == 1
    assert [(error.stage, error.operation) for error in first.errors] == [
        ("body", builders.name(43))
    ]
    assert second.published == 0 and second.ok


# --- issue 10: completions lost, misreported or costing for ever ------------------------------


@pytest.mark.parametrize("outage", ["failing", "not reached"])
def test_an_operation_near_its_max_age_is_not_expired_while_its_check_fails(
    world: World, outage: str
) -> None:
    world.max_pending_age = datetime.timedelta(hours=1)
    world.reader.put(builders.issue_model_operation(builders.name(50), created=world.clock.now))
    world.poll()
    world.reader.hidden_from_listing.add(builders.name(50))
    if outage == "failing":
        world.reader.failing_gets.add(builders.name(50))
    else:
        world.budget = datetime.timedelta(seconds=30)  # all of it the publish reserve
    later(world, 61)
    during = world.poll()

    world.reader.failing_gets.clear()
    world.budget = datetime.timedelta(minutes=4)
    world.reader.put(builders.issue_model_operation(builders.name(50), ended=later(world, 1)))
    after = world.poll()

    assert (during.published, during.expired) == (0, 0)
    assert after.published_by_state == {"SUCCEEDED": 1}
    assert world.published_states() == {builders.name(50): "SUCCEEDED"}


def test_an_operation_expired_for_age_costs_no_more_writes_or_claims(world: World) -> None:
    world.max_pending_age = datetime.timedelta(hours=1)
    world.reader.put(builders.issue_model_operation(builders.name(51), created=world.clock.now))
    world.poll()
    later(world, 61)
    expired = world.poll()
    writes = world.store.writes

    later(world)
    quiet = world.poll()

    assert expired.expired == 1
    assert (quiet.newly_tracked, quiet.claimed_elsewhere, quiet.published) == (0, 0, 0)
    assert world.store.writes == writes


# --- a claim that fails is an error, not another poll's claim --------------------------------


def test_a_failed_claim_is_an_error_and_the_next_poll_publishes_it_once(world: World) -> None:
    for operation_id in (60, 61, 62):
        world.reader.put(builders.issue_model_operation(builders.name(operation_id)))
    world.poll()
    ended = later(world)
    for operation_id in (60, 61, 62):
        world.reader.put(builders.issue_model_operation(builders.name(operation_id), ended=ended))
    world.store.failing_claims.add(builders.name(61))

    failed = world.poll()
    world.store.failing_claims.clear()
    later(world, 1)  # well within any lease: nothing holds the operation whose claim failed
    retried = world.poll()

    assert not failed.ok
    assert [error.to_json() for error in failed.errors] == [
        {
            "stage": "claim",
            "code": "UNAVAILABLE",
            "message": f"claim of {builders.name(61)} failed",
            "operation": builders.name(61),
        }
    ]
    assert (failed.published, failed.claimed_elsewhere, failed.pending) == (2, 0, 1)
    assert retried.ok
    assert (retried.published, retried.claimed_elsewhere, retried.pending) == (1, 0, 0)
    assert [event.operation for event in world.publisher.published] == [
        builders.name(60),
        builders.name(62),
        builders.name(61),  # by the next poll, once
    ]


def test_requested_names_the_budget_cut_short_are_kept_and_published_even_from_history(
    world: World,
) -> None:
    old = builders.T0 - datetime.timedelta(days=3)
    names = [builders.name(60 + index) for index in range(12)]
    for name in names:
        world.reader.put(builders.issue_model_operation(name, created=old, ended=old))
    world.reader.hidden_from_listing.update(names)
    world.reader.seconds_per_call = 1
    world.budget = datetime.timedelta(seconds=35)  # 5 s of work after the publish reserve

    cut = world.poll(requested=names)
    world.budget = datetime.timedelta(minutes=4)
    world.reader.hidden_from_listing.clear()  # listed from now on: and ended before the watch
    later(world)
    rest = world.poll()
    again = world.poll()

    assert 0 < cut.published < 12 and cut.not_reached > 0
    assert cut.pending == 12 - cut.published
    assert rest.published == 12 - cut.published
    assert again.published == 0
    assert sorted(world.published_states()) == sorted(names)


def test_an_undated_operation_tracked_by_an_overlapping_poll_is_not_turned_into_history(
    world: World,
) -> None:
    """Two overlapping first polls: B tracks X running while A, listing X done a moment
    before, records its undated history; X must stay tracked and be published."""
    running = operations_pb2.Operation(
        name=builders.name(70), metadata=undated_operation(70).metadata
    )
    world.reader.put(undated_operation(70))
    overlapping: list[core.PollSummary] = []
    listing = world.reader.list_page

    def list_page_then_let_another_poll_run(
        location: str, page_token: str, timeout_seconds: float
    ) -> tuple[Sequence[operations_pb2.Operation], str]:
        page = listing(location, page_token, timeout_seconds)
        if not overlapping:  # poll B runs between A's listing and A's bookkeeping
            overlapping.append(core.PollSummary(run_id="", watch_start=world.clock.now))
            world.reader.put(running)
            overlapping[0] = world.poll(run_id="poll-b")
            world.reader.put(undated_operation(70))
        return page

    world.reader.list_page = list_page_then_let_another_poll_run  # type: ignore[method-assign]
    world.poll(run_id="poll-a")
    world.reader.list_page = listing  # type: ignore[method-assign]
    later(world)
    world.poll()

    assert overlapping[0].newly_tracked == 1
    assert world.published_states() == {builders.name(70): "SUCCEEDED"}


def test_undated_history_of_a_location_is_baselined_by_its_first_complete_listing(
    world: World,
) -> None:
    europe = "europe-west1"
    world.locations = (builders.LOCATION, europe)
    world.reader.put(undated_operation(71))  # history in us-central1
    world.reader.put(  # history in europe-west1, whose first listing fails
        operations_pb2.Operation(
            name=builders.name(72, europe), done=True, metadata=undated_operation(72).metadata
        )
    )
    world.reader.failing_locations.add(europe)
    first = world.poll()
    world.reader.failing_locations.clear()
    later(world)
    second = world.poll()
    added = "asia-south1"  # a location added to INSIGHTS_LOCATIONS later
    world.reader.put(
        operations_pb2.Operation(
            name=builders.name(73, added), done=True, metadata=undated_operation(73).metadata
        )
    )
    world.locations = (builders.LOCATION, europe, added)
    later(world)
    third = world.poll()
    world.reader.put(  # an undated operation that appears after the baseline: new
        operations_pb2.Operation(
            name=builders.name(74, europe), done=True, metadata=undated_operation(74).metadata
        )
    )
    later(world)
    fourth = world.poll()

    assert not first.ok and second.ok and third.ok
    assert (first.published, second.published, third.published) == (0, 0, 0)
    assert world.published_states() == {builders.name(74, europe): "SUCCEEDED"}
    assert fourth.published == 1
    states = {r.name: r.state for r in world.store.all_records()}
    assert states[builders.name(72, europe)] == states[builders.name(73, added)] == "HISTORY"
