"""The HTTP handler's answers, on fakes: what a scheduler sees when something breaks."""

from __future__ import annotations

import datetime
import json

import builders
import pytest
from fakes import FakePublisher, FakeReader, InMemoryStateStore

from insights_poller import app
from insights_poller.settings import Settings

SETTINGS = Settings.from_env({"GOOGLE_CLOUD_PROJECT": builders.PROJECT, "RESULTS_TOPIC": "events"})


class UnreachableStateStore(InMemoryStateStore):
    def watch_start(self, now: datetime.datetime) -> datetime.datetime:
        raise ConnectionError("state store unreachable")


def test_a_failing_state_store_answers_500_json_and_publishes_nothing() -> None:
    publisher = FakePublisher()
    poller = app.Poller(
        SETTINGS, reader=FakeReader(), publisher=publisher, store=UnreachableStateStore()
    )

    body, status = app.handle_http("POST", b"", None, lambda: poller)

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

    body, status = app.handle_http("POST", b'{"operations": []}', 18, lambda: poller)

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

    body, status = app.handle_http("POST", b"", None, lambda: poller)

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


def test_too_many_requested_names_is_a_400_before_anything_runs() -> None:
    reader = FakeReader()
    poller = app.Poller(SETTINGS, reader=reader, publisher=FakePublisher(), store=None)
    names = [builders.name(n) for n in range(app.MAX_REQUESTED_OPERATIONS + 1)]

    body, status = app.handle_http(
        "POST", json.dumps({"operations": names}).encode(), None, lambda: poller
    )

    assert status == 400 and "more than 1000" in body["error"]
    assert reader.list_calls == 0 and reader.get_calls == []
