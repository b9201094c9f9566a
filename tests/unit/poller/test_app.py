"""The HTTP handler's answers, on fakes: what a scheduler sees when something breaks."""

from __future__ import annotations

import datetime
import json

import builders
import pytest
from fakes import FakePublisher, FakeReader, InMemoryStateStore

from insights_poller import __version__, app, events, names, requested, triggers
from insights_poller.settings import Settings

SETTINGS = Settings.from_env(
    {"GOOGLE_CLOUD_PROJECT": builders.PROJECT, "RESULTS_TOPIC": "events", "FOLLOW_UP_SECONDS": "0"}
)
"""Follow-ups off: these polls run on the real clock (follow-ups: test_follow_ups.py)."""


class UnreachableStateStore(InMemoryStateStore):
    def watch_start(self, now: datetime.datetime) -> datetime.datetime:
        raise ConnectionError("state store unreachable")


def test_a_failing_state_store_answers_500_json_and_publishes_nothing() -> None:
    publisher = FakePublisher()
    poller = app.Poller(
        SETTINGS, reader=FakeReader(), publisher=publisher, store=UnreachableStateStore()
    )

    body, status = triggers.handle_http("POST", b"", None, lambda: poller)

    assert status == 500
    assert body == {"error": "poll failed", "message": "state store unreachable"}
    assert publisher.published == []


def test_a_good_poll_answers_200_with_the_summary() -> None:
    reader = FakeReader()
    now = datetime.datetime.now(datetime.UTC)
    reader.put(builders.issue_model_operation(builders.name(1), created=now))
    poller = app.Poller(
        SETTINGS, reader=reader, publisher=FakePublisher(), store=InMemoryStateStore()
    )

    body, status = triggers.handle_http("POST", b'{"operations": []}', 18, lambda: poller)

    assert status == 200
    assert (body["published"], body["pending"], body["errors"]) == (0, 1, 0)


def test_log_lines_are_json_with_severity_per_event_error_and_poll(
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    reader = FakeReader()
    reader.put(builders.issue_model_operation(builders.name(1), created=now, ended=now))
    reader.put(builders.issue_model_operation(builders.name(2), created=now, ended=now))
    publisher = FakePublisher()
    publisher.failing.add(builders.name(2))
    store = InMemoryStateStore()
    store.watch_start(now - datetime.timedelta(minutes=1))
    poller = app.Poller(SETTINGS, reader=reader, publisher=publisher, store=store)

    body, status = triggers.handle_http("POST", b"", None, lambda: poller)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 500 and body["errors"] == 1
    published, failed, summary = lines
    assert published["severity"] == "INFO"
    assert (published["operation"], published["state"]) == (builders.name(1), "SUCCEEDED")
    assert published["runId"] == body["runId"]
    assert failed["severity"] == "WARNING"
    assert (failed["code"], failed["stage"]) == ("UNAVAILABLE", "publish")
    assert failed["operation"] == builders.name(2)
    assert summary["severity"] == "ERROR" and summary["summary"] == body
    assert summary["version"] == __version__


def test_too_many_requested_names_is_a_400_before_anything_runs() -> None:
    reader = FakeReader()
    poller = app.Poller(SETTINGS, reader=reader, publisher=FakePublisher(), store=None)
    names = [builders.name(n) for n in range(requested.MAX_REQUESTED_OPERATIONS + 1)]

    body, status = triggers.handle_http(
        "POST", json.dumps({"operations": names}).encode(), None, lambda: poller
    )

    assert status == 400 and "more than 1000" in body["error"]
    assert reader.list_calls == 0 and reader.get_calls == []


def test_a_body_may_name_operations_with_the_project_id_or_number_but_no_other_project() -> None:
    numbered_settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": builders.PROJECT,
            "GOOGLE_CLOUD_PROJECT_NUMBER": "389908145857",
            "RESULTS_TOPIC": "events",
        }
    )
    poller = app.Poller(numbered_settings, reader=FakeReader(), publisher=FakePublisher())
    by_number = "projects/389908145857/locations/us-central1/operations/1"

    assert poller.validate_requested([builders.name(1), by_number]) == [by_number]
    for other in ("projects/other-project", "projects/111111111111"):
        with pytest.raises(requested.BadRequest, match="outside the watched project"):
            poller.validate_requested([f"{other}/locations/us-central1/operations/1"])


def test_a_number_is_refused_while_the_project_number_is_unknown_saying_how_to_set_it() -> None:
    reader = FakeReader()
    poller = app.Poller(SETTINGS, reader=reader, publisher=FakePublisher(), store=None)
    body = {"operations": ["projects/389908145857/locations/us-central1/operations/1"]}

    answer, status = triggers.handle_http("POST", json.dumps(body).encode(), None, lambda: poller)

    assert status == 400
    assert "GOOGLE_CLOUD_PROJECT_NUMBER" in answer["error"]
    assert reader.list_calls == 0 and reader.get_calls == []


def test_no_name_a_request_may_hold_reaches_pubsubs_1024_byte_attribute_limit() -> None:
    """The ``operation`` attribute is cut at 1024 bytes (only a listed name can be that long):
    every segment of a requested name is bounded, so its attribute is the whole name."""
    project = "a" + "b" * 62 + ":" + "c" + "d" * 28 + "e"  # a domain-scoped project ID
    longest = f"projects/{project}/locations/{'l' * 63}/operations/{'9' * 128}"
    longer = [
        f"projects/{project}/locations/{'l' * 63}/operations/{'9' * 129}",
        f"projects/{project}/locations/{'l' * 64}/operations/{'9' * 128}",
        f"projects/{'b' * 64}:{project.partition(':')[2]}/locations/l/operations/9",
        f"projects/{'1' * 21}/locations/l/operations/9",
    ]

    assert names.parse_operation_name(longest).name == longest
    assert len(longest.encode()) == 317 <= events.ATTRIBUTE_VALUE_MAX_BYTES
    for name in longer:
        with pytest.raises(ValueError, match="is not an operation name"):
            names.parse_operation_name(name)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"operations": [42]}', '"operations" must hold strings, found 42'),
        (b'{"operations": [[1, 2]]}', '"operations" must hold strings, found an array'),
        (b'{"operations": [null]}', '"operations" must hold strings, found null'),
        (b'{"operations": ["ab\\u00e9"]}', "'ab\u00e9' is not an operation name of the form"),
        (b'{"operations": ["\\ud800"]}', "'\\ud800' is not an operation name of the form"),
    ],
)
def test_a_bad_item_is_named_in_the_400(body: bytes, expected: str) -> None:
    reader = FakeReader()
    poller = app.Poller(SETTINGS, reader=reader, publisher=FakePublisher(), store=None)

    answer, status = triggers.handle_http("POST", body, len(body), lambda: poller)

    assert (status, answer["error"][: len(expected)]) == (400, expected)
    assert reader.list_calls == 0 and reader.get_calls == []


def test_a_long_item_is_named_by_its_start_and_length_in_the_400() -> None:
    poller = app.Poller(SETTINGS, reader=FakeReader(), publisher=FakePublisher(), store=None)
    item = builders.name("7" * 5000)

    with pytest.raises(requested.BadRequest) as refused:
        poller.validate_requested([item])

    assert str(refused.value) == (
        f"{item[:100]!r}... ({len(item)} characters) is not an operation name of the form "
        "projects/PROJECT/locations/LOCATION/operations/ID"
    )
