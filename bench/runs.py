"""One run of each contender on fresh pieces of the stack.

Why the split of roles: the worker process times its own polls and reports its peak RSS;
this side owns the Insights emulator, so it reads the Insights call counters around each poll,
finishes the operations between polls, and checks what a subscriber received.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from bench.counting import StoreCounts
from bench.naive import NaiveOutcome
from bench.stack import (
    PROJECT,
    Delivery,
    Services,
    finish_operations,
    seed_operations,
    start_insights,
)
from devstack.stack import REPO, EventSink, function_env, process_env
from insights_emulator import InsightsEmulator

MAX_POLLS = 10
"""Polls a phase may take before the run is declared broken."""
_LOG_TAIL_CHARS = 3000


class Worker:
    """A ``bench.worker`` process, configured by ``env`` as the function would be, and its
    command channel."""

    def __init__(self, mode: str, env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", mode, str(log_path)],
                cwd=REPO,
                env=process_env(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        return stdin, stdout

    def call(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Send one command, wait for its reply."""
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            tail = self.log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
            raise RuntimeError(f"benchmark worker exited; log tail:\n{tail}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        """End of commands: the worker exits; killed if it does not within a minute."""
        self._pipes()[0].close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._pipes()[1].close()


@dataclasses.dataclass(frozen=True)
class _Run:
    """The pieces of one run: ``names`` are the operations seeded on ``insights``."""

    insights: InsightsEmulator
    sink: EventSink
    names: list[str]
    worker: Worker


@contextlib.contextmanager
def _fresh_run(
    services: Services,
    mode: str,
    size: int,
    latency_seconds: float,
    workdir: Path,
    overrides: Mapping[str, str],
) -> Iterator[_Run]:
    """A worker in ``mode`` on pieces of its own: an Insights emulator with ``size`` running
    operations, a topic with its subscription, and a Firestore collection.

    Why fresh pieces: no run sees another's operations, events or state; and the Firestore
    emulator is emptied after each run, so its size never grows with the number of runs.
    """
    insights = start_insights(latency_seconds)
    sink = EventSink(PROJECT, f"bench-{uuid.uuid4().hex[:12]}")
    try:
        names = seed_operations(insights, size)
        state_url = f"firestore:///bench-{uuid.uuid4().hex[:12]}"
        env = function_env(
            insights, sink.topic, state_url, project=PROJECT, **services.env(), **overrides
        )
        log = workdir / f"{mode}-{size}-{uuid.uuid4().hex[:8]}.log"
        with contextlib.closing(Worker(mode, env, log)) as worker:
            yield _Run(insights, sink, names, worker)
    finally:
        sink.close()
        insights.stop()
        services.clear_firestore()


def _delivery(run: _Run, finished: Mapping[str, str], expected: int) -> Delivery:
    """What the run's subscriber received: every message, once the topic stayed quiet."""
    return Delivery.of(run.sink.drain(quiet_pulls=3), finished, expected)


@dataclasses.dataclass(frozen=True)
class PollResult:
    """One poll of the project: the worker's timing and summary, the emulator's call counts."""

    seconds: float
    status: int
    published: int
    pending: int
    newly_tracked: int
    listed: int
    listing_complete: bool
    errors: int
    list_calls: int
    get_calls: int
    rest_calls: int
    """REST reads of bodies the client library would decode lossily."""
    store: StoreCounts
    rss_mib: float


def _poll(worker: Worker, insights: InsightsEmulator) -> PollResult:
    insights.faults.reset_stats()
    reply = worker.call({"op": "poll"})
    calls = insights.faults.calls()
    summary = reply["summary"]
    if "runId" not in summary:
        raise RuntimeError(f"the poll did not run: {summary}")
    return PollResult(
        seconds=reply["seconds"],
        status=reply["status"],
        published=summary["published"],
        pending=summary["pending"],
        newly_tracked=summary["newlyTracked"],
        listed=summary["listed"],
        listing_complete=summary["listingComplete"],
        errors=summary["errors"],
        list_calls=calls["ListOperations"],
        get_calls=calls["GetOperation"],
        rest_calls=calls.get("RestGetOperation", 0),
        store=StoreCounts(**reply["store"]),
        rss_mib=reply["peak_rss_kib"] / 1024,
    )


def _polls_until(
    worker: Worker, insights: InsightsEmulator, done: Callable[[list[PollResult]], bool]
) -> list[PollResult]:
    polls: list[PollResult] = []
    while not done(polls):
        if len(polls) == MAX_POLLS:
            raise RuntimeError(f"not done after {MAX_POLLS} polls: {polls}")
        polls.append(_poll(worker, insights))
    return polls


@dataclasses.dataclass(frozen=True)
class ProjectRun:
    """The project's polls over ``size`` operations: track them, a quiet poll, settle them,
    then a quiet poll with all ``size`` finished and still listed (``retained``).

    ``track`` and ``settle`` hold one poll each unless the budget cut a listing short.
    """

    size: int
    latency_seconds: float
    overrides: dict[str, str]
    track: list[PollResult]
    quiet: PollResult
    settle: list[PollResult]
    retained: PollResult
    delivery: Delivery

    @property
    def peak_rss_mib(self) -> float:
        """The peak is a high-water mark: the last poll's is the process's peak."""
        return self.settle[-1].rss_mib


def run_project(
    services: Services,
    size: int,
    latency_seconds: float,
    workdir: Path,
    overrides: Mapping[str, str] | None = None,
) -> ProjectRun:
    """The real ``Poller`` in a worker process, configured only through its environment."""
    with _fresh_run(services, "project", size, latency_seconds, workdir, overrides or {}) as run:
        track = _polls_until(
            run.worker, run.insights, lambda polls: sum(p.newly_tracked for p in polls) >= size
        )
        quiet = _poll(run.worker, run.insights)
        finished = finish_operations(run.insights, run.names)
        settle = _polls_until(
            run.worker, run.insights, lambda polls: sum(p.published for p in polls) >= size
        )
        retained = _poll(run.worker, run.insights)
        return ProjectRun(
            size=size,
            latency_seconds=latency_seconds,
            overrides=dict(overrides or {}),
            track=track,
            quiet=quiet,
            settle=settle,
            retained=retained,
            delivery=_delivery(run, finished, size),
        )


@dataclasses.dataclass(frozen=True)
class NaiveRun:
    """One pass of the naive loop over ``size`` finished operations."""

    size: int
    latency_seconds: float
    outcome: NaiveOutcome
    get_calls: int
    rss_mib: float
    delivery: Delivery

    @property
    def extrapolated(self) -> bool:
        """The pass was cut short by its time cap; ``seconds`` is then an estimate."""
        return self.outcome.checked < self.outcome.tracked

    @property
    def seconds(self) -> float:
        """The pass's time, measured, or extrapolated linearly from the operations it did."""
        outcome = self.outcome
        return outcome.query_seconds + outcome.loop_seconds * outcome.tracked / outcome.checked


def run_naive(
    services: Services,
    size: int,
    latency_seconds: float,
    workdir: Path,
    stop_after: float | None,
) -> NaiveRun:
    """The naive loop in a worker process of its own, on the same kind of stack."""
    with _fresh_run(services, "naive", size, latency_seconds, workdir, {}) as run:
        run.worker.call({"op": "track", "names": run.names})
        finished = finish_operations(run.insights, run.names)
        run.insights.faults.reset_stats()
        reply = run.worker.call({"op": "poll", "stop_after": stop_after})
        calls = run.insights.faults.calls()
        outcome = NaiveOutcome(
            **{field.name: reply[field.name] for field in dataclasses.fields(NaiveOutcome)}
        )
        return NaiveRun(
            size=size,
            latency_seconds=latency_seconds,
            outcome=outcome,
            get_calls=calls["GetOperation"],
            rss_mib=reply["peak_rss_kib"] / 1024,
            delivery=_delivery(run, finished, outcome.published),
        )
