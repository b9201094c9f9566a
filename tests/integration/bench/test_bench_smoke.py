"""The benchmark's runs at CI size: both contenders deliver every event exactly once.

Correctness only: speed is measured by ``python -m bench``, never asserted by a test. This
keeps the benchmark honest (a contender that dropped or repeated events would look fast) and
keeps it working between the runs of the full benchmark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.runs import run_naive, run_project
from bench.stack import Services

pytestmark = pytest.mark.integration

SIZE = 20
LATENCY_SECONDS = 0.02


@pytest.fixture
def services(pubsub_emulator: str, firestore_emulator: str) -> Services:
    return Services(pubsub_host=pubsub_emulator, firestore_host=firestore_emulator)


def test_project_poll_publishes_every_finished_operation_once(
    services: Services, tmp_path: Path
) -> None:
    run = run_project(services, SIZE, LATENCY_SECONDS, tmp_path)

    assert run.delivery.exactly_once, run.delivery
    assert [poll.newly_tracked for poll in run.track] == [SIZE]
    assert (run.quiet.published, run.quiet.list_calls, run.quiet.get_calls) == (0, 1, 0)
    assert run.quiet.store.documents_written == 0
    assert [(poll.published, poll.errors, poll.get_calls) for poll in run.settle] == [(SIZE, 0, 0)]


def test_naive_loop_publishes_every_finished_operation_once(
    services: Services, tmp_path: Path
) -> None:
    run = run_naive(services, SIZE, LATENCY_SECONDS, tmp_path, stop_after=None)

    assert run.delivery.exactly_once, run.delivery
    assert not run.extrapolated
    assert run.outcome.published == run.outcome.state_writes == run.get_calls == SIZE
