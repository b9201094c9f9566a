"""The latency benchmark's harness at CI size: a run with follow-ups on delivers every event
exactly once, and the report it writes holds together.

Correctness only: the latency targets are measured by ``python -m bench.latency``, never
asserted by a test. This keeps the harness working between runs of the full benchmark (a
harness that lost or repeated events, or misread them, would report wrong latencies).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bench.latency import Mode, Scenario, run_mode, write

pytestmark = pytest.mark.integration

SCENARIO = Scenario(
    operations=10,
    finish_over_seconds=20.0,
    schedule_seconds=10.0,
    latency_seconds=0.02,
    drain_seconds=30.0,
    seed=1,
)
FOLLOW_UPS = Mode("on", follow_up_seconds=2.0, window_seconds=8.0)
CLOCK_SLACK_SECONDS = 0.1
"""How far the function's and the sink's readings of one clock may disagree."""


def test_follow_up_run_reports_every_event_once(pubsub_emulator: str, tmp_path: Path) -> None:
    run = run_mode(SCENARIO, FOLLOW_UPS, tmp_path / "work")
    text = write(SCENARIO, [run], tmp_path / "results")

    assert run.delivery.exactly_once, run.delivery
    assert (run.duplicates, run.lost) == (0, [])
    assert [tick.status for tick in run.ticks] == [200] * len(run.ticks)
    assert all(
        later.sent >= earlier.sent + earlier.seconds
        for earlier, later in itertools.pairwise(run.ticks)
    ), "a POST was sent while another was in flight"
    assert run.logged, "an event had no detectionLatencySeconds in the function's log"
    for event in run.received:
        assert event.logged_latency is not None
        assert event.logged_latency >= -CLOCK_SLACK_SECONDS
        assert event.logged_latency <= event.received_latency + CLOCK_SLACK_SECONDS
    latencies = run.latencies()
    assert latencies.count == SCENARIO.operations
    assert 0 <= latencies.p50 <= latencies.p99 <= latencies.max
    assert run.calls_per_minute() > 0
    assert 0 < run.busy_seconds_per_minute() <= 60

    results = json.loads((tmp_path / "results" / "latency.json").read_text())
    assert [(saved["duplicates"], saved["lost"]) for saved in results["runs"]] == [(0, [])]
    assert "| detection latency p99 (s) |" in text
    assert (tmp_path / "results" / "latency.png").stat().st_size > 0
