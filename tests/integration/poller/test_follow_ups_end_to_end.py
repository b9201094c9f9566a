"""Follow-ups end to end: the function under functions-framework, the official Pub/Sub (and
Firestore) emulators, the Insights emulator. A poll is one scheduler tick; the next would come
60 s later, so whatever is published before the POST returns was published by follow-ups."""

from __future__ import annotations

import datetime
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from stack import CheckedSink, Launch

from devstack.stack import LOCATION, PROJECT, event_data
from insights_emulator import InsightsEmulator
from insights_poller.timestamps import parse_rfc3339

FOLLOW_UPS = {"FOLLOW_UP_SECONDS": "5", "FOLLOW_UP_WINDOW_SECONDS": "50"}


def test_an_operation_ending_seconds_after_a_poll_is_published_within_10_s(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(**FOLLOW_UPS)
    name = insights.create("CreateIssueModel", PROJECT, LOCATION, finish_after=3)

    summary = function.poll()

    [message] = sink.drain()
    data = event_data(message)
    assert data["operation"] == name and data["state"] == "SUCCEEDED"
    ended = parse_rfc3339(data["endTime"])
    published = message.publish_time  # stamped by Pub/Sub when the publish arrived
    assert published - ended <= datetime.timedelta(seconds=10)
    assert (summary["published"], summary["pending"], summary["errors"]) == (1, 0, 0)
    assert summary["followUps"] >= 1
    latency = summary["detectionLatencySeconds"]
    assert latency["p50"] == latency["max"] and 0 <= latency["max"] <= 10
    # Nothing ran any more: it returned then, not at the end of the 50 s window.
    assert summary["durationSeconds"] < 20


def test_with_nothing_running_the_invocation_returns_without_following_up(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(**FOLLOW_UPS)
    insights.create("CreateIssueModel", PROJECT, LOCATION, created_ago=7200, finished_ago=3600)

    summary = function.poll()

    assert summary["followUps"] == 0 and summary["pending"] == 0
    assert summary["durationSeconds"] < float(FOLLOW_UPS["FOLLOW_UP_SECONDS"])
    assert sink.drain() == []


@pytest.mark.parametrize("state_url", ["firestore"], indirect=True)
def test_a_window_that_runs_into_the_next_tick_publishes_each_completion_once(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    first, second = launch(**FOLLOW_UPS), launch(**FOLLOW_UPS)  # two instances, one state
    names = [
        insights.create("ExportInsightsData", PROJECT, LOCATION, finish_after=4 * n)
        for n in range(1, 7)
    ]

    with ThreadPoolExecutor(2) as pool:
        early = pool.submit(first.poll)
        time.sleep(6)  # the next tick, while the first window still runs
        late = pool.submit(second.poll)
        summaries = [early.result(), late.result()]

    messages = sink.drain()
    assert sorted(event_data(m)["operation"] for m in messages) == sorted(names)
    assert len({m.attributes["ce-id"] for m in messages}) == len(names)
    assert sum(s["published"] for s in summaries) == len(names)
    assert all(s["errors"] == 0 for s in summaries)
    # The later tick took the follow-ups over: the first invocation stopped instead of reading
    # the same operations for the rest of its 50 s window.
    assert summaries[1]["followUps"] >= 1 and summaries[0]["durationSeconds"] < 20
