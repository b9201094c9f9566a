"""``python -m bench``: start the stack, run both contenders side by side, write the results.

Order: one discarded warm-up run of each contender (the emulators' JVMs compile their hot
paths over the first thousands of requests); then, for each repeat, every size with the
project, the project at the maximum rate and the naive loop in turn (so any drift of the
machine hits all alike), and the scaling runs; then the small-budget check. The cold start is
measured last, with the emulators stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import coldstart, report
from bench.runs import NaiveRun, ProjectRun, run_naive, run_project
from bench.stack import started_services

RESULTS = Path(__file__).resolve().parent / "results"
WARM_UP_SIZE = 1000
VALIDATION = {
    "POLL_BUDGET_SECONDS": "20",
    "PUBLISH_TIMEOUT_SECONDS": "5",
    "CLAIM_LEASE_SECONDS": "60",
}
"""A small budget whose listing share (7.5 s) a few thousand operations overflow, at the
highest scaling latency, to check the model's prediction against a real cut-short listing."""
MAX_RPS = {"INSIGHTS_MAX_RPS": str(report.MAX_RPS)}
"""The project again at the highest rate its settings allow: what the limiter's pacing costs."""


def _numbers(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in _numbers(text)],
        default=[100, 1000, 10000],
        help="operations per run, comma-separated (default 100,1000,10000)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument(
        "--latency", type=float, default=0.02, help="Insights latency, s (default 0.02)"
    )
    parser.add_argument(
        "--naive-cap",
        type=float,
        default=90.0,
        help="seconds after which the naive loop stops and its time is extrapolated (default 90)",
    )
    parser.add_argument(
        "--scaling-latencies",
        type=_numbers,
        default=[0.02, 0.1, 0.25],
        help="Insights latencies of the scaling runs, s (default 0.02,0.1,0.25)",
    )
    parser.add_argument(
        "--scaling-size", type=int, default=2000, help="operations per scaling run (default 2000)"
    )
    parser.add_argument(
        "--validation-size",
        type=int,
        default=4000,
        help="operations of the small-budget run that checks the scaling model (default 4000)",
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling runs")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="where to write (default bench/results)"
    )
    return parser


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _project_line(run: ProjectRun) -> str:
    settle = run.settle
    return (
        f"settle {report.settle_seconds(run):.2f} s in {len(settle)} poll(s), "
        f"{sum(p.list_calls for p in settle)} List + {sum(p.get_calls for p in settle)} Get + "
        f"{sum(p.rest_calls for p in settle)} REST, "
        f"{sum(p.store.documents_written for p in settle)} writes; "
        f"quiet {run.quiet.seconds:.2f} s; peak RSS {run.peak_rss_mib:.0f} MiB; "
        f"exactly once: {run.delivery.exactly_once}"
    )


def _naive_line(run: NaiveRun) -> str:
    how = f"extrapolated from {run.outcome.checked}" if run.extrapolated else "measured"
    return (
        f"{run.seconds:.2f} s ({how}), {run.get_calls} Get, {run.outcome.state_writes} writes; "
        f"RSS {run.rss_mib:.0f} MiB; exactly once: {run.delivery.exactly_once}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    project: dict[int, list[ProjectRun]] = {size: [] for size in args.sizes}
    project_max_rps: dict[int, list[ProjectRun]] = {size: [] for size in args.sizes}
    naive: dict[int, list[NaiveRun]] = {size: [] for size in args.sizes}
    scaling: dict[float, list[ProjectRun]] = {}
    validation: ProjectRun | None = None
    with contextlib.ExitStack() as stack:
        _say("Starting the Pub/Sub and Firestore emulators...")
        services = stack.enter_context(started_services())
        os.environ.update(services.env())  # for this process's topic and subscription clients
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        warm_up = min(WARM_UP_SIZE, max(args.sizes))
        _say(f"Warm-up (discarded): N={warm_up}")
        run_project(services, warm_up, args.latency, workdir)
        run_naive(services, warm_up // 5, args.latency, workdir, args.naive_cap)
        for repeat in range(1, args.repeats + 1):
            for size in args.sizes:
                label = f"N={size:,} repeat {repeat}/{args.repeats}"
                project[size].append(run_project(services, size, args.latency, workdir))
                _say(f"[project] {label}: {_project_line(project[size][-1])}")
                project_max_rps[size].append(
                    run_project(services, size, args.latency, workdir, MAX_RPS)
                )
                _say(f"[max rps] {label}: {_project_line(project_max_rps[size][-1])}")
                naive[size].append(run_naive(services, size, args.latency, workdir, args.naive_cap))
                _say(f"[naive]   {label}: {_naive_line(naive[size][-1])}")
            if not args.no_scaling:
                for latency in args.scaling_latencies:
                    run = run_project(services, args.scaling_size, latency, workdir)
                    scaling.setdefault(latency, []).append(run)
                    _say(f"[scaling] {latency * 1000:.0f} ms #{repeat}: {_project_line(run)}")
        if not args.no_scaling:
            validation = run_project(
                services, args.validation_size, max(args.scaling_latencies), workdir, VALIDATION
            )
            _say(f"[scaling] small budget: {_project_line(validation)}")
    _say("Cold start...")
    results = report.Results(
        date=report.now(),
        machine=report.machine(),
        latency_seconds=args.latency,
        repeats=args.repeats,
        naive_cap_seconds=args.naive_cap,
        project=project,
        project_max_rps=project_max_rps,
        naive=naive,
        scaling=scaling,
        validation=validation,
        cold_start=coldstart.measure(),
    )
    print(report.write(results, args.output))
    runs: list[ProjectRun | NaiveRun] = [validation] if validation else []
    for group in (project, project_max_rps, naive, scaling):
        runs += [run for runs_of_key in group.values() for run in runs_of_key]
    broken = [run for run in runs if not run.delivery.exactly_once]
    if broken:
        _say(f"{len(broken)} run(s) did not deliver every event exactly once: {broken}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
