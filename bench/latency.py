"""``python -m bench.latency``: how long after an operation ends its event goes out, with
follow-up polls off and on, on the local stack driven as Cloud Scheduler drives it.

Why a benchmark of its own: ``python -m bench`` times one poll that finds everything finished;
detection latency depends on the schedule instead (when an operation ends between two ticks,
and whether the invocation is still re-checking then), which only a run over many ticks shows.

Each run: the Pub/Sub emulator (shared), an Insights emulator process serving two locations
with a latency on every call, the function under functions-framework keeping its state in
SQLite, and a scheduler loop here that POSTs a poll every period, never while one is in flight.
A warm-up poll starts the watch; then the operations are created, each finishing at a uniformly
random time, and the loop runs until every event has arrived (or the drain time is over).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench import report
from bench.stack import Delivery
from devstack import gcloud_emulators
from devstack.stack import (
    PROJECT,
    PROJECT_NUMBER,
    EventSink,
    FunctionProcess,
    InsightsEmulatorProcess,
    event_data,
    function_env,
)
from insights_emulator import KIND_NAMES
from insights_poller import timestamps

RESULTS = Path(__file__).resolve().parent / "results"
LOCATIONS = ("us-central1", "europe-west1")
KINDS = (*(kind for kind in KIND_NAMES if kind != "QueryMetrics"), "SampleConversations")
"""Kinds whose metadata carries the ``endTime`` latency is measured from (QueryMetrics has
none); SampleConversations is newer than the client library, so its events need a REST read."""
OUTCOMES = {"succeed": "SUCCEEDED", "fail": "FAILED", "cancel": "CANCELLED"}
OUTCOME_WEIGHTS = (8, 1, 1)
P50_TARGET_SECONDS = 5.0
P99_TARGET_SECONDS = 12.0
CALLS_PER_MINUTE_TARGET = 60.0
LATE_TICK_SECONDS = 1.0
"""A tick sent more than this after it was due is reported late."""
PULL_PAUSE_SECONDS = 0.1
"""The collector's pause after a pull that found nothing: the resolution of receive times."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """What every run does, whatever its follow-up settings."""

    operations: int
    finish_over_seconds: float
    schedule_seconds: float
    latency_seconds: float
    drain_seconds: float
    """How long after the last operation ends a run may wait for the missing events."""
    seed: int


@dataclasses.dataclass(frozen=True)
class Mode:
    """The follow-up settings of one run (``window_seconds`` None: the function's default)."""

    name: str
    follow_up_seconds: float
    window_seconds: float | None

    def env(self) -> dict[str, str]:
        variables = {"FOLLOW_UP_SECONDS": f"{self.follow_up_seconds:g}"}
        if self.window_seconds is not None:
            variables["FOLLOW_UP_WINDOW_SECONDS"] = f"{self.window_seconds:g}"
        return variables


@dataclasses.dataclass(frozen=True)
class Planned:
    """One operation as created: its outcome as the event must report it, and when it ends."""

    name: str
    kind: str
    location: str
    state: str
    finish_after_seconds: float


@dataclasses.dataclass(frozen=True)
class Tick:
    """One POST of the scheduler loop; times in seconds from the run's start."""

    due: float
    sent: float
    seconds: float
    status: int
    summary: dict[str, Any]
    calls: dict[str, int]
    """Insights calls the emulator served during the POST, by method."""

    @property
    def late(self) -> float:
        return self.sent - self.due


@dataclasses.dataclass(frozen=True)
class Received:
    """One message the sink got; latencies in seconds after the operation's ``endTime``."""

    operation: str
    event_id: str
    ended_at: float
    """``endTime``, in seconds from the run's start."""
    received_latency: float
    """When the collector pulled it."""
    published_latency: float
    """Pub/Sub's ``publish_time``: when the emulator accepted it."""
    logged_latency: float | None
    """``detectionLatencySeconds`` of the function's "published" log line, if it has one."""

    @property
    def latency(self) -> float:
        """What the function measured, else what the sink saw."""
        return self.received_latency if self.logged_latency is None else self.logged_latency


@dataclasses.dataclass(frozen=True)
class Latencies:
    """The distribution of one run's detection latencies, in seconds (NaN: no event at all)."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Latencies:
        """Percentiles interpolated between ranks (a single value is every percentile)."""
        ordered = sorted(values) or [math.nan]
        cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []
        p50, p99 = (cuts[49], cuts[98]) if cuts else (ordered[0], ordered[0])
        return cls(len(values), p50, p99, ordered[-1])


@dataclasses.dataclass(frozen=True)
class Run:
    """Everything one run measured."""

    mode: Mode
    seconds: float
    """From the first tick until every event had arrived (or the drain time was over)."""
    planned: list[Planned]
    ticks: list[Tick]
    received: list[Received]
    calls: dict[str, int]
    """Insights calls over the run, by method."""
    delivery: Delivery

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    @property
    def duplicates(self) -> int:
        """Messages whose ``ce-id`` an earlier message had."""
        return len(self.received) - len({event.event_id for event in self.received})

    @property
    def lost(self) -> list[str]:
        """Operations that ended with no event."""
        arrived = {event.operation for event in self.received}
        return [op.name for op in self.planned if op.name not in arrived]

    @property
    def logged(self) -> bool:
        """Whether the function logged a detection latency for every event."""
        return all(event.logged_latency is not None for event in self.received)

    def latencies(self) -> Latencies:
        return Latencies.of([event.latency for event in self.received])

    def received_latencies(self) -> Latencies:
        """The cross-check: when the sink pulled each event."""
        return Latencies.of([event.received_latency for event in self.received])

    def calls_per_minute(self) -> float:
        return sum(self.calls.values()) / self.minutes

    def busy_seconds_per_minute(self) -> float:
        """The share of time the function spent answering POSTs."""
        return sum(tick.seconds for tick in self.ticks) / self.minutes


class _Collector(threading.Thread):
    """Pulls the sink continuously, stamping each message with the time it was pulled."""

    def __init__(self, sink: EventSink) -> None:
        super().__init__(daemon=True)
        self._sink = sink
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._received: list[tuple[float, Any]] = []
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                messages = self._sink.pull()
                at = time.time()
                with self._lock:
                    self._received += [(at, message) for message in messages]
                if not messages:
                    self._stopping.wait(PULL_PAUSE_SECONDS)
        except BaseException as error:  # raised again in the loop's thread
            self._error = error

    def received(self) -> list[tuple[float, Any]]:
        """(pulled at, message) of everything so far; a failed pull is raised here."""
        if self._error is not None:
            raise RuntimeError("pulling the events failed") from self._error
        with self._lock:
            return list(self._received)

    def operations(self) -> set[str]:
        return {message.attributes["operation"] for _, message in self.received()}

    def finish(self) -> list[tuple[float, Any]]:
        """Stop pulling; then whatever arrives until the topic stays quiet (late repeats)."""
        self._stopping.set()
        self.join()
        tail = time.time()
        return self.received() + [(tail, message) for message in self._sink.drain(quiet_pulls=5)]


def _create(
    insights: InsightsEmulatorProcess, scenario: Scenario, rng: random.Random
) -> list[Planned]:
    planned = []
    for _ in range(scenario.operations):
        kind = rng.choice(KINDS)
        location = rng.choice(LOCATIONS)
        outcome = rng.choices(list(OUTCOMES), OUTCOME_WEIGHTS)[0]
        after = rng.uniform(0, scenario.finish_over_seconds)
        fields = {"outcome": outcome, "finishAfterSeconds": after}
        name = insights.create(kind, location, **fields)
        planned.append(Planned(name, kind, location, OUTCOMES[outcome], after))
    return planned


def _calls_since(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {
        method: count - before.get(method, 0)
        for method, count in after.items()
        if count > before.get(method, 0)
    }


def _schedule(
    function: FunctionProcess,
    insights: InsightsEmulatorProcess,
    collector: _Collector,
    expected: set[str],
    scenario: Scenario,
) -> tuple[list[Tick], float]:
    """POST every ``schedule_seconds`` (late, never overlapping, when a POST overran) until
    every expected event arrived or the drain time is over; the ticks and the run's seconds."""
    start = time.monotonic()
    deadline = scenario.finish_over_seconds + scenario.drain_seconds
    ticks: list[Tick] = []
    while True:
        due = len(ticks) * scenario.schedule_seconds
        while (now := time.monotonic() - start) < due and not expected <= collector.operations():
            time.sleep(min(0.2, due - now))
        if expected <= collector.operations() or now > deadline:
            return ticks, now
        if now - due > LATE_TICK_SECONDS:
            _say(f"  tick {len(ticks)} late by {now - due:.1f} s: the previous POST overran")
        before = insights.calls()
        status, summary = function.post()
        seconds = time.monotonic() - start - now
        ticks.append(
            Tick(due, now, seconds, status, summary, _calls_since(before, insights.calls()))
        )
        _say(
            f"  t={now:5.0f} s POST {status} in {seconds:.1f} s: published "
            f"{summary.get('published')}, pending {summary.get('pending')}, follow-ups "
            f"{summary.get('followUps', '-')}; events {len(collector.operations())}/{len(expected)}"
        )


def _logged_latencies(log: str) -> dict[str, float]:
    """``detectionLatencySeconds`` of each "published" line of the function's log, by event id."""
    found: dict[str, float] = {}
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if str(entry.get("message", "")).startswith("published ") and (
            "detectionLatencySeconds" in entry
        ):
            found.setdefault(entry["eventId"], float(entry["detectionLatencySeconds"]))
    return found


def _received(
    pulled: Sequence[tuple[float, Any]], started: float, logged: Mapping[str, float]
) -> list[Received]:
    events = []
    for at, message in pulled:
        ended = timestamps.parse_rfc3339(event_data(message)["endTime"]).timestamp()
        event_id = message.attributes["ce-id"]
        events.append(
            Received(
                operation=message.attributes["operation"],
                event_id=event_id,
                ended_at=ended - started,
                received_latency=at - ended,
                published_latency=message.publish_time.timestamp() - ended,
                logged_latency=logged.get(event_id),
            )
        )
    return events


def run_mode(scenario: Scenario, mode: Mode, workdir: Path) -> Run:
    """One run on fresh pieces (Insights emulator, topic, function and its SQLite state);
    PUBSUB_EMULATOR_HOST must name the Pub/Sub emulator."""
    directory = workdir / mode.name
    directory.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        insights = InsightsEmulatorProcess(directory / "insights.log", ",".join(LOCATIONS))
        stack.callback(insights.stop)
        insights.request("POST", "/v1/faults", {"latencySeconds": scenario.latency_seconds})
        sink = EventSink(PROJECT, f"latency-{mode.name}-{uuid.uuid4().hex[:8]}")
        stack.callback(sink.close)
        env = function_env(
            insights,
            sink.topic,
            project_number=PROJECT_NUMBER,
            INSIGHTS_LOCATIONS=",".join(LOCATIONS),
            **mode.env(),
        )
        function = FunctionProcess(env, directory)
        stack.callback(function.stop)
        function.poll()  # the watch starts, the clients connect: a deployed instance's state
        planned = _create(insights, scenario, random.Random(scenario.seed))
        insights.request("DELETE", "/v1/stats")
        collector = _Collector(sink)
        collector.start()
        started = time.time()
        ticks, seconds = _schedule(
            function, insights, collector, {op.name for op in planned}, scenario
        )
        calls = {method: count for method, count in insights.calls().items() if count}
        pulled = collector.finish()
        return Run(
            mode=mode,
            seconds=seconds,
            planned=planned,
            ticks=ticks,
            received=_received(pulled, started, _logged_latencies(function.log())),
            calls=calls,
            delivery=Delivery.of(
                [message for _, message in pulled],
                {op.name: op.state for op in planned},
                len(planned),
            ),
        )


def _targets(run: Run) -> list[report.Target]:
    latencies = run.latencies()
    return [
        report.Target(
            f"p50 <= {P50_TARGET_SECONDS:g} s",
            f"{latencies.p50:.1f} s",
            latencies.p50 <= P50_TARGET_SECONDS,
        ),
        report.Target(
            f"p99 <= {P99_TARGET_SECONDS:g} s",
            f"{latencies.p99:.1f} s",
            latencies.p99 <= P99_TARGET_SECONDS,
        ),
        report.Target(
            f"<= {CALLS_PER_MINUTE_TARGET:g} Insights calls/min",
            f"{run.calls_per_minute():.1f}",
            run.calls_per_minute() <= CALLS_PER_MINUTE_TARGET,
        ),
        report.Target(
            "no duplicate, no loss",
            f"{run.duplicates} duplicates, {len(run.lost)} lost",
            run.duplicates == 0 and not run.lost,
        ),
    ]


def _targets_table(runs: Sequence[Run]) -> str:
    verdicts = {True: "yes", False: "**no**", None: "n/a"}
    targets = [_targets(run) for run in runs]
    lines = [
        "| target | " + " | ".join(_label(run.mode) for run in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for row in zip(*targets, strict=True):
        cells = [f"{target.measured}: {verdicts[target.met]}" for target in row]
        lines.append(f"| {row[0].name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(mode: Mode) -> str:
    """The mode and the settings it runs with."""
    settings = ", ".join(f"{name}={value}" for name, value in mode.env().items())
    return f"follow-ups {mode.name} ({settings})"


def _comparison(runs: Sequence[Run]) -> str:
    rows = [
        (f"{name} {field} (s)", [f"{getattr(latencies(run), field):.2f}" for run in runs])
        for name, latencies in (
            ("detection latency", Run.latencies),
            ("cross-check: received by the sink,", Run.received_latencies),
        )
        for field in ("p50", "p99", "max")
    ]
    rows += [
        ("Insights calls/min", [f"{run.calls_per_minute():.1f}" for run in runs]),
        *[
            (
                f"  {method}/min",
                [f"{run.calls.get(method, 0) / run.minutes:.1f}" for run in runs],
            )
            for method in sorted({method for run in runs for method in run.calls})
        ],
        ("function-busy s/min", [f"{run.busy_seconds_per_minute():.1f}" for run in runs]),
        ("POSTs (late ones)", [f"{len(run.ticks)} ({_late(run)})" for run in runs]),
        ("run minutes", [f"{run.minutes:.1f}" for run in runs]),
        ("events / operations", [f"{len(run.received)} / {len(run.planned)}" for run in runs]),
        ("duplicates (same ce-id)", [str(run.duplicates) for run in runs]),
        ("losses (ended, no event)", [str(len(run.lost)) for run in runs]),
        ("wrong state", [str(run.delivery.wrong_state) for run in runs]),
    ]
    lines = [
        "| | " + " | ".join(_label(run.mode) for run in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
    return "\n".join(lines)


def _late(run: Run) -> int:
    return sum(1 for tick in run.ticks if tick.late > LATE_TICK_SECONDS)


def _ticks_table(run: Run) -> str:
    methods = sorted({method for tick in run.ticks for method in tick.calls})
    lines = [
        f"{_label(run.mode)}:",
        "",
        "| sent at s | late s | POST s | status | published | pending | follow-ups | "
        + " | ".join(methods)
        + " |",
        "|" + "---:|" * (7 + len(methods)),
    ]
    for tick in run.ticks:
        summary = tick.summary
        cells = [
            f"{tick.sent:.0f}",
            f"{max(tick.late, 0.0):.1f}",
            f"{tick.seconds:.1f}",
            str(tick.status),
            str(summary.get("published", "")),
            str(summary.get("pending", "")),
            str(summary.get("followUps", "n/a")),
            *[str(tick.calls.get(method, 0)) for method in methods],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _chart(scenario: Scenario, runs: Sequence[Run], path: Path) -> None:
    """Left: the CDF of detection latency per run; right: latency against when the operation
    ended, which shows what the schedule leaves uncovered."""
    figure, (cdf, timeline) = plt.subplots(1, 2, figsize=(12, 5), dpi=120)
    for run in runs:
        values = sorted(event.latency for event in run.received)
        shares = [(index + 1) / len(values) for index in range(len(values))]
        label = f"follow-ups {run.mode.name}"
        cdf.step(values, shares, where="post", label=label)
        timeline.plot(
            [event.ended_at for event in run.received],
            [event.latency for event in run.received],
            ".",
            label=label,
        )
    for name, target, style in (
        ("p50", P50_TARGET_SECONDS, "--"),
        ("p99", P99_TARGET_SECONDS, ":"),
    ):
        cdf.axvline(target, color="grey", linestyle=style, label=f"{name} target {target:g} s")
    cdf.set_xlabel("detection latency (s)")
    cdf.set_ylabel("share of events")
    timeline.set_xlabel("operation ended (s after the first tick)")
    timeline.set_ylabel("detection latency (s)")
    for axes in (cdf, timeline):
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower right" if axes is cdf else "upper right")
    figure.suptitle(
        f"{scenario.operations} operations ending within {scenario.finish_over_seconds:g} s, "
        f"a POST every {scenario.schedule_seconds:g} s, Insights +"
        f"{scenario.latency_seconds * 1000:g} ms\n" + "; ".join(_label(run.mode) for run in runs),
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write(scenario: Scenario, runs: Sequence[Run], directory: Path) -> str:
    """Write latency.json, latency.md and latency.png into ``directory``; return the Markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    _chart(scenario, runs, directory / "latency.png")
    machine = report.machine()
    sources = ", ".join(
        f"{run.mode.name}: {'the function log' if run.logged else 'receive times'}" for run in runs
    )
    posts = "\n\n".join(_ticks_table(run) for run in runs)
    text = f"""# Detection latency: follow-up polls off and on

Generated by `python -m bench.latency` on {report.now()}. Machine: {machine["nproc"]} CPUs \
({machine["cpu"]}), {machine["memory"]} memory, Python {machine["python"]}.

Scenario: {scenario.operations} operations of {len(KINDS)} kinds in {" and ".join(LOCATIONS)}, \
created at the start, each ending at a uniformly random time within \
{scenario.finish_over_seconds:g} s (outcomes succeed:fail:cancel \
{":".join(map(str, OUTCOME_WEIGHTS))}); the Insights emulator adds \
{scenario.latency_seconds * 1000:g} ms to every call; the function under functions-framework \
with SQLite state, the official Pub/Sub emulator; a POST every {scenario.schedule_seconds:g} s, \
never while one is in flight. Detection latency: when the event was published (the function's \
`detectionLatencySeconds`; receive times at the sink where the function does not log it) less \
the operation's `endTime`. Source per run: {sources}.

{_comparison(runs)}

![detection latency](latency.png)

## Targets

The targets are those of follow-ups on; the run with them off shows what they change.

{_targets_table(runs)}

## Each POST

Insights calls by method during each POST (the emulator's counters).

{posts}
"""
    (directory / "latency.md").write_text(text, encoding="utf-8")
    data = {
        "date": report.now(),
        "machine": machine,
        "scenario": dataclasses.asdict(scenario),
        "runs": [
            {
                **dataclasses.asdict(run),
                "latencies": dataclasses.asdict(run.latencies()),
                "receivedLatencies": dataclasses.asdict(run.received_latencies()),
                "callsPerMinute": run.calls_per_minute(),
                "busySecondsPerMinute": run.busy_seconds_per_minute(),
                "duplicates": run.duplicates,
                "lost": run.lost,
                "targets": [dataclasses.asdict(target) for target in _targets(run)],
            }
            for run in runs
        ],
    }
    (directory / "latency.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return text


def _modes(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not set(names) <= {"off", "on"}:
        raise argparse.ArgumentTypeError(f"{text!r}: expected off, on, or both comma-separated")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--operations", type=int, default=200, help="operations per run (default 200)")
    add("--finish-over", type=float, default=600.0, help="they end within this, s (default 600)")
    add("--schedule", type=float, default=60.0, help="seconds between POSTs (default 60)")
    add("--follow-up", type=float, default=5.0, help="FOLLOW_UP_SECONDS when on (default 5)")
    add("--window", type=float, default=50.0, help="FOLLOW_UP_WINDOW_SECONDS when on (default 50)")
    add("--latency", type=float, default=0.02, help="Insights latency, s (default 0.02)")
    add("--drain", type=float, default=180.0, help="wait after the last end, s (default 180)")
    add("--modes", type=_modes, default="off,on", help="runs, in order (default off,on)")
    add("--seed", type=int, default=1, help="random seed of kinds, outcomes and end times")
    add("--output", type=Path, default=RESULTS, help="where to write (default bench/results)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    scenario = Scenario(
        args.operations, args.finish_over, args.schedule, args.latency, args.drain, args.seed
    )
    runs = []
    with contextlib.ExitStack() as stack:
        _say("Starting the Pub/Sub emulator...")
        pubsub = gcloud_emulators.start_pubsub(PROJECT)
        stack.callback(pubsub.stop)
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub.host_port  # here and in the children
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-latency-"))
        known = {"off": Mode("off", 0.0, None), "on": Mode("on", args.follow_up, args.window)}
        for mode in (known[name] for name in args.modes):
            _say(f"Run: {_label(mode)}, {scenario.operations} operations")
            runs.append(run_mode(scenario, mode, Path(workdir)))
    print(write(scenario, runs, args.output))
    broken = [run.mode.name for run in runs if not run.delivery.exactly_once]
    if broken:
        _say(f"not every event exactly once, with its state, in: {', '.join(broken)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
