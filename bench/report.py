"""The benchmark's results: medians, the targets, the scaling model, Markdown, JSON and a chart.

Why a model for scaling: a poll that no longer fits its budget needs tens of thousands of
operations, more than the emulators should hold for a routine run. The costs that add up to
a poll's time (per listed page, per pending record read, per operation settled) are measured
at several Insights latencies, the model built from them predicts where a poll stops fitting,
and one run with a small budget checks that prediction against a real cut-short listing.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib import ticker

from bench.coldstart import ColdStart
from bench.runs import NaiveRun, ProjectRun
from bench.stack import PAGE_SIZE, PROJECT
from insights_poller.core import LISTING_SHARE
from insights_poller.settings import Settings

_T = TypeVar("_T")

DEFAULTS = Settings.from_env({"GOOGLE_CLOUD_PROJECT": PROJECT, "RESULTS_TOPIC": "bench-events"})
"""The settings a deployment gets by default: the project runs use exactly these."""
MAX_RPS = 50
"""The highest INSIGHTS_MAX_RPS the settings accept."""
RSS_TARGET_MIB = 256
FUNCTION_MEMORY_MIB = (256, 512)
"""The smallest function memory the Terraform accepts, and its default."""
SPEEDUP_TARGET = 20.0
SPEEDUP_SIZE = 1000
CALLS_PER_OPERATION_TARGET = 0.02
RETAINED_READS_TARGET = 10
"""A quiet poll with every operation finished reads the watch, baselines, cursors and fingerprints
documents, whatever N: O(1), where it used to read N records."""
LARGE_SIZE = 10_000
COLD_START_TARGET_SECONDS = 1.0
WELL_INSIDE_BUDGET = 0.5
"""A poll is "well inside" its budget when it takes at most this share of it."""
SCALING_SIZES = (1_000, 10_000, 30_000, 100_000)
PROJECT_LABEL = "project"
PROJECT_MAX_RPS_LABEL = f"project, INSIGHTS_MAX_RPS={MAX_RPS}"
NAIVE_LABEL = "naive loop"


def median_run(runs: Sequence[_T], key: Callable[[_T], float]) -> _T:
    """The run with the median ``key`` (the lower middle one for an even count)."""
    ordered = sorted(runs, key=key)
    return ordered[(len(ordered) - 1) // 2]


def settle_seconds(run: ProjectRun) -> float:
    """The time to publish and record every operation (one poll unless the budget cut it)."""
    return sum(poll.seconds for poll in run.settle)


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with Path("/proc/meminfo").open(encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclasses.dataclass(frozen=True)
class Results:
    """Everything one ``python -m bench`` measured."""

    date: str
    machine: dict[str, str]
    latency_seconds: float
    repeats: int
    naive_cap_seconds: float | None
    project: dict[int, list[ProjectRun]]
    project_max_rps: dict[int, list[ProjectRun]]
    """The project again with INSIGHTS_MAX_RPS at its maximum: what the limiter's pacing costs."""
    naive: dict[int, list[NaiveRun]]
    scaling: dict[float, list[ProjectRun]]
    """Runs of one size by Insights latency."""
    validation: ProjectRun | None
    cold_start: ColdStart


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the side-by-side table (medians of the repeats; RSS: the highest)."""

    size: int
    contender: str
    seconds: float
    extrapolated: bool
    insights_calls: int
    state_writes: int
    peak_rss_mib: float
    ratio: float | None
    """naive/this, on the project's rows."""


def _project_row(size: int, label: str, runs: Sequence[ProjectRun], naive: NaiveRun | None) -> Row:
    run = median_run(runs, settle_seconds)
    seconds = settle_seconds(run)
    return Row(
        size=size,
        contender=label,
        seconds=seconds,
        extrapolated=False,
        insights_calls=sum(p.list_calls + p.get_calls + p.rest_calls for p in run.settle),
        state_writes=sum(p.store.documents_written for p in run.settle),
        peak_rss_mib=max(r.peak_rss_mib for r in runs),
        ratio=None if naive is None else naive.seconds / seconds,
    )


def comparison(results: Results) -> list[Row]:
    """Size by size: the project, the project at the maximum rate, the naive loop."""
    rows: list[Row] = []
    for size in sorted(results.project):
        naive_runs = results.naive.get(size, [])
        naive = median_run(naive_runs, lambda run: run.seconds) if naive_runs else None
        rows.append(_project_row(size, PROJECT_LABEL, results.project[size], naive))
        if results.project_max_rps.get(size):
            fast = results.project_max_rps[size]
            rows.append(_project_row(size, PROJECT_MAX_RPS_LABEL, fast, naive))
        if naive is not None:
            rows.append(
                Row(
                    size=size,
                    contender=NAIVE_LABEL,
                    seconds=naive.seconds,
                    extrapolated=naive.extrapolated,
                    insights_calls=naive.get_calls,
                    state_writes=naive.outcome.state_writes,
                    peak_rss_mib=max(run.rss_mib for run in naive_runs),
                    ratio=None,
                )
            )
    return rows


def _seconds(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def comparison_table(rows: Sequence[Row]) -> str:
    lines = [
        "| N | contender | wall s | events/s | Insights calls | calls/op "
        "| state writes | peak RSS MiB | naive/project |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    estimated = {row.size for row in rows if row.extrapolated}
    for row in rows:
        mark = "~" if row.extrapolated else ""
        ratio = ""
        if row.ratio is not None:
            ratio = f"{'~' if row.size in estimated else ''}{row.ratio:.1f}x"
        lines.append(
            f"| {row.size:,} | {row.contender} | {mark}{_seconds(row.seconds)} "
            f"| {mark}{row.size / row.seconds:,.0f} | {row.insights_calls:,} "
            f"| {row.insights_calls / row.size:.3f} | {row.state_writes:,} "
            f"| {row.peak_rss_mib:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def polls_table(results: Results) -> str:
    """Each poll of the project's median run per size."""
    lines = [
        "| N | poll | wall s | List | Get | REST | published | state writes | state reads "
        "| store s | RSS MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sorted(results.project):
        run = median_run(results.project[size], settle_seconds)
        named = [("track", p) for p in run.track] + [("quiet", run.quiet)]
        named += [("settle", p) for p in run.settle]
        for name, poll in named:
            lines.append(
                f"| {size:,} | {name} | {_seconds(poll.seconds)} | {poll.list_calls} "
                f"| {poll.get_calls} | {poll.rest_calls} | {poll.published:,} "
                f"| {poll.store.documents_written:,} "
                f"| {poll.store.documents_read:,} | {poll.store.seconds:.2f} "
                f"| {poll.rss_mib:.0f} |"
            )
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None
    """None: not measured in this run (a size it needs was not among ``--sizes``)."""


def targets(results: Results, rows: Sequence[Row]) -> list[Target]:
    found: list[Target] = []
    ratio = next(
        (r.ratio for r in rows if r.size == SPEEDUP_SIZE and r.contender == PROJECT_LABEL), None
    )
    found.append(
        Target(
            f"{SPEEDUP_SIZE:,} finished: the project >= {SPEEDUP_TARGET:.0f}x faster than naive",
            "not measured" if ratio is None else f"{ratio:.1f}x",
            None if ratio is None else ratio >= SPEEDUP_TARGET,
        )
    )
    per_operation = {
        r.size: r.insights_calls / r.size
        for r in rows
        if r.contender == PROJECT_LABEL and r.size >= PAGE_SIZE
    }
    found.append(
        Target(
            f"Insights calls per settled operation <= {CALLS_PER_OPERATION_TARGET} "
            f"(N >= {PAGE_SIZE}: fewer still take one page)",
            ", ".join(f"{v:.3f} (N={k:,})" for k, v in per_operation.items()) or "not measured",
            all(v <= CALLS_PER_OPERATION_TARGET for v in per_operation.values())
            if per_operation
            else None,
        )
    )
    quiet: list[str] = []
    quiet_ok = True
    for size, runs in sorted(results.project.items()):
        poll = median_run(runs, settle_seconds).quiet
        pages = math.ceil(size / PAGE_SIZE)
        quiet.append(
            f"N={size:,}: {poll.list_calls} List (ceil {pages}), {poll.get_calls} Get, "
            f"{poll.store.documents_written} writes"
        )
        quiet_ok &= (poll.list_calls, poll.get_calls, poll.store.documents_written) == (pages, 0, 0)
    found.append(
        Target("Quiet poll: ceil(N/page) List calls, no state writes", "; ".join(quiet), quiet_ok)
    )
    retained: list[str] = []
    retained_ok = True
    for size, runs in sorted(results.project.items()):
        poll = median_run(runs, settle_seconds).retained
        retained.append(
            f"N={size:,}: {poll.store.documents_read} documents read, "
            f"{poll.store.documents_written} written, {poll.get_calls} Get"
        )
        retained_ok &= poll.store.documents_read <= RETAINED_READS_TARGET
        retained_ok &= (poll.store.documents_written, poll.get_calls) == (0, 0)
    found.append(
        Target(
            f"Quiet poll with N finished still listed: <= {RETAINED_READS_TARGET} state documents"
            " read (O(pending), not O(history)), none written",
            "; ".join(retained),
            retained_ok,
        )
    )
    large = results.project.get(LARGE_SIZE)
    budget = DEFAULTS.poll_budget_seconds
    if large is None:
        found.append(Target(f"{LARGE_SIZE:,} pending: RSS and budget", "not measured", None))
    else:
        rss = max(run.peak_rss_mib for run in large)
        slowest = max(max(p.seconds for p in [*run.track, run.quiet, *run.settle]) for run in large)
        found.append(
            Target(
                f"{LARGE_SIZE:,} pending: peak RSS < {RSS_TARGET_MIB} MiB",
                f"{rss:.0f} MiB (highest of {len(large)} runs)",
                rss < RSS_TARGET_MIB,
            )
        )
        found.append(
            Target(
                f"{LARGE_SIZE:,} pending: every poll well inside the {budget:.0f} s budget "
                f"(<= {WELL_INSIDE_BUDGET:.0%} of it)",
                f"slowest poll {slowest:.1f} s = {slowest / budget:.0%} of the budget",
                slowest <= budget * WELL_INSIDE_BUDGET,
            )
        )
    cold = results.cold_start
    connects = "unchecked" if cold.network_connects is None else str(cold.network_connects)
    found.append(
        Target(
            f"Cold start: import main < {COLD_START_TARGET_SECONDS:.0f} s, no network at import",
            f"{cold.process_seconds:.2f} s ({cold.import_seconds:.2f} s of it the import); "
            f"{connects} connections; client libraries loaded: "
            f"{', '.join(cold.client_modules_loaded) or 'none'}",
            cold.process_seconds < COLD_START_TARGET_SECONDS
            and not cold.network_connects
            and not cold.client_modules_loaded,
        )
    )
    return found


def targets_table(found: Sequence[Target]) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    verdicts = {True: "yes", False: "**no**", None: "n/a"}
    lines += [f"| {t.name} | {t.measured} | {verdicts[t.met]} |" for t in found]
    return "\n".join(lines)


def listing_share(budget: float, publish_reserve: float) -> float:
    """Seconds of a poll its listing may take (``core``: half of the budget less the reserve)."""
    return (budget - publish_reserve) * LISTING_SHARE


@dataclasses.dataclass(frozen=True)
class LatencyModel:
    """A poll's costs at one Insights latency, from the median run there."""

    latency_seconds: float
    list_seconds_per_page: float
    read_seconds_per_pending: float
    settle_seconds_per_operation: float

    @classmethod
    def of(cls, runs: Sequence[ProjectRun]) -> LatencyModel:
        """Listing: the quiet poll less its store time. Settling: settle less quiet."""
        run = median_run(runs, settle_seconds)
        quiet = run.quiet
        return cls(
            latency_seconds=run.latency_seconds,
            list_seconds_per_page=(quiet.seconds - quiet.store.seconds) / quiet.list_calls,
            read_seconds_per_pending=quiet.store.seconds / run.size,
            settle_seconds_per_operation=(settle_seconds(run) - quiet.seconds) / run.size,
        )

    def _seconds_per_operation(self) -> float:
        return (
            self.list_seconds_per_page / PAGE_SIZE
            + self.read_seconds_per_pending
            + self.settle_seconds_per_operation
        )

    def poll_seconds(self, size: int) -> float:
        """One poll that lists ``size`` pending operations, all finished, and settles them."""
        return size * self._seconds_per_operation()

    def listing_seconds(self, size: int) -> float:
        return math.ceil(size / PAGE_SIZE) * self.list_seconds_per_page

    def listing_capacity(self, listing_seconds: float) -> int:
        """Operations one poll can list in ``listing_seconds``."""
        return int(listing_seconds / self.list_seconds_per_page) * PAGE_SIZE

    def budget_capacity(self, budget_seconds: float) -> int:
        """Operations one poll can list and settle within ``budget_seconds``."""
        return int(budget_seconds / self._seconds_per_operation())


@dataclasses.dataclass(frozen=True)
class MemoryModel:
    """Peak RSS as a line in the operations settled by one poll, through the two largest N."""

    base_mib: float
    mib_per_operation: float

    @classmethod
    def of(cls, runs: dict[int, list[ProjectRun]]) -> MemoryModel | None:
        sizes = sorted(runs)[-2:]
        if len(sizes) < 2:
            return None
        small, large = (
            median_run(runs[size], lambda run: run.peak_rss_mib).peak_rss_mib for size in sizes
        )
        slope = (large - small) / (sizes[1] - sizes[0])
        return cls(base_mib=small - slope * sizes[0], mib_per_operation=slope)

    def peak_mib(self, size: int) -> float:
        return self.base_mib + self.mib_per_operation * size

    def capacity(self, limit_mib: float) -> int:
        return int((limit_mib - self.base_mib) / self.mib_per_operation)


def scaling_section(results: Results) -> str:
    """The measured costs per latency, the predicted limits, and the small-budget check."""
    if not results.scaling:
        return "Not measured in this run (`--no-scaling`)."
    budget = DEFAULTS.poll_budget_seconds
    share = listing_share(budget, DEFAULTS.publish_timeout_seconds)
    memory = MemoryModel.of(results.project)
    models = [LatencyModel.of(runs) for _, runs in sorted(results.scaling.items())]
    size = next(iter(results.scaling.values()))[0].size
    memory_columns = "".join(f" one poll, {mib} MiB |" for mib in FUNCTION_MEMORY_MIB)
    lines = [
        f"Costs measured with N = {size:,} at each Insights latency (median of "
        f"{results.repeats}), default settings: budget {budget:.0f} s of which the listing "
        f"may take {share:.0f} s, INSIGHTS_MAX_RPS={DEFAULTS.insights_max_rps:g}. The last "
        "columns: the most operations one poll can list and settle, and what limits it, on a "
        "function instance with that much memory.",
        "",
        "| Insights latency | list s/page | pending read ms/op | settle ms/op "
        f"| listable in its share | listed + settled in the budget |{memory_columns}",
        "|---:|---:|---:|---:|---:|---:|" + "---:|" * len(FUNCTION_MEMORY_MIB),
    ]
    for model in models:
        limits = {"listing": model.listing_capacity(share), "budget": model.budget_capacity(budget)}
        cells = []
        for mib in FUNCTION_MEMORY_MIB:
            bound = dict(limits, memory=memory.capacity(mib)) if memory else limits
            binding = min(bound, key=lambda name: bound[name])
            cells.append(f" {bound[binding]:,} ({binding}) |")
        lines.append(
            f"| {model.latency_seconds * 1000:.0f} ms | {model.list_seconds_per_page:.3f} "
            f"| {model.read_seconds_per_pending * 1000:.2f} "
            f"| {model.settle_seconds_per_operation * 1000:.2f} "
            f"| {limits['listing']:,} | {limits['budget']:,} |" + "".join(cells)
        )
    lines += [
        "",
        "Predicted time of one poll that lists N pending operations, all finished, and "
        "settles them. `!` the listing exceeds its share: it is cut and resumes next poll; "
        "`!!` the poll exceeds the budget; "
        + " / ".join(
            f"`{'M' * (i + 1)}` peak RSS over {mib} MiB"
            for i, mib in enumerate(FUNCTION_MEMORY_MIB)
        )
        + ".",
        "",
        "| Insights latency | " + " | ".join(f"N={n:,}" for n in SCALING_SIZES) + " |",
        "|---:|" + "---:|" * len(SCALING_SIZES),
    ]
    for model in models:
        cells = []
        for n in SCALING_SIZES:
            seconds = model.poll_seconds(n)
            flags = "!!" if seconds > budget else "!" if model.listing_seconds(n) > share else ""
            if memory is not None:
                over = sum(1 for mib in FUNCTION_MEMORY_MIB if memory.peak_mib(n) > mib)
                flags += " " + "M" * over if over else ""
            cells.append(f"{seconds:.0f} s{flags}")
        lines.append(f"| {model.latency_seconds * 1000:.0f} ms | " + " | ".join(cells) + " |")
    if memory is not None:
        fits = ", ".join(f"{memory.capacity(mib):,} fit {mib} MiB" for mib in FUNCTION_MEMORY_MIB)
        lines += [
            "",
            f"Memory: peak RSS ~ {memory.base_mib:.0f} MiB + "
            f"{memory.mib_per_operation * 1000:.1f} MiB per 1,000 operations settled by one "
            f"poll (a line through the two largest N): {fits}.",
        ]
    get_rate = DEFAULTS.insights_max_rps
    work_seconds = budget - DEFAULTS.publish_timeout_seconds
    lines += [
        "",
        "Operations the listing does not cover (named in a request, or beyond a cut listing) "
        f"are read one by one with GetOperation, at most {get_rate:g}/s: "
        f"{int(get_rate * work_seconds):,} per poll at best.",
    ]
    if results.validation is not None:
        lines += ["", _validation_text(results.validation, models)]
    return "\n".join(lines)


def _validation_text(run: ProjectRun, models: Sequence[LatencyModel]) -> str:
    budget = float(run.overrides["POLL_BUDGET_SECONDS"])
    reserve = float(run.overrides["PUBLISH_TIMEOUT_SECONDS"])
    share = listing_share(budget, reserve)
    model = min(models, key=lambda m: abs(m.latency_seconds - run.latency_seconds))
    first = run.track[0]
    return (
        f"Check of the model: N = {run.size:,} at {run.latency_seconds * 1000:.0f} ms with "
        f"POLL_BUDGET_SECONDS={budget:g} and PUBLISH_TIMEOUT_SECONDS={reserve:g} (the listing "
        f"may take {share:.1f} s). Predicted listable in one poll: "
        f"{model.listing_capacity(share):,}; measured: the first poll listed {first.listed:,} "
        f"in {first.seconds:.1f} s (listingComplete={str(first.listing_complete).lower()}). "
        f"Tracking all took {len(run.track)} poll(s) and settling all {len(run.settle)} "
        f"(the longest poll {max(p.seconds for p in run.settle):.1f} s); every event "
        f"exactly once: {'yes' if run.delivery.exactly_once else 'NO'}."
    )


def chart(results: Results, rows: Sequence[Row], path: Path) -> None:
    """Time vs N for each contender, log-log; extrapolated naive points hollow."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    styles = {
        PROJECT_LABEL: ("o-", "tab:blue"),
        PROJECT_MAX_RPS_LABEL: ("^:", "tab:green"),
        NAIVE_LABEL: ("s--", "tab:red"),
    }
    for label, (style, color) in styles.items():
        line = [r for r in rows if r.contender == label]
        if line:
            sizes, seconds = [r.size for r in line], [r.seconds for r in line]
            axes.plot(sizes, seconds, style, color=color, label=label)
    extrapolated = [r for r in rows if r.extrapolated]
    if extrapolated:
        axes.plot(
            [r.size for r in extrapolated],
            [r.seconds for r in extrapolated],
            "s",
            color="white",
            markeredgecolor="tab:red",
            label=f"{NAIVE_LABEL}, extrapolated",
        )
    estimated = {row.size for row in extrapolated}
    for row in rows:
        if row.contender == PROJECT_LABEL and row.ratio is not None:
            mark = "~" if row.size in estimated else ""
            axes.annotate(
                f"{mark}{row.ratio:.0f}x faster",
                (row.size, row.seconds),
                textcoords="offset points",
                xytext=(-8, 8),
                horizontalalignment="right",
                fontsize=8,
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.margins(x=0.2)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,g}"))
        axis.set_minor_formatter(ticker.NullFormatter())
    axes.set_xlabel("operations found finished by one poll (N)")
    axes.set_ylabel("wall time to publish and record them all (s)")
    axes.set_title(
        f"Insights +{results.latency_seconds * 1000:.0f} ms per call, pages of {PAGE_SIZE}; "
        f"median of {results.repeats}"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def markdown(results: Results, rows: Sequence[Row], chart_name: str) -> str:
    m = results.machine
    cold = results.cold_start
    cap = results.naive_cap_seconds
    cap_note = (
        ""
        if cap is None
        else f" The naive loop stops after {cap:g} s; `~` marks a value extrapolated linearly "
        "from the operations it did in that time."
    )
    connects = "not checked (no strace)" if cold.network_connects is None else cold.network_connects
    return f"""# Benchmark results

Generated by `python -m bench` on {results.date}.

Machine: {m["nproc"]} CPUs ({m["cpu"]}), {m["memory"]} memory, Python {m["python"]}, \
{m["system"]}. Every number is the median of {results.repeats} repeats unless said otherwise.

Conditions: the Insights emulator adds {results.latency_seconds * 1000:.0f} ms to every \
call and caps pages at {PAGE_SIZE} operations; the official Pub/Sub and Firestore emulators. \
`{PROJECT_LABEL}` runs with the default settings \
(INSIGHTS_MAX_RPS={DEFAULTS.insights_max_rps:g}, \
INSIGHTS_MAX_CONCURRENCY={DEFAULTS.insights_max_concurrency}, \
POLL_BUDGET_SECONDS={DEFAULTS.poll_budget_seconds:g}); `{PROJECT_MAX_RPS_LABEL}` only \
changes the rate limit; the naive loop has none.{cap_note}

## Poll vs naive loop

One poll that finds N operations finished publishes and records them all. Peak RSS: the \
highest of the repeats.

{comparison_table(rows)}

![time vs N]({chart_name})

## The project's polls

Each poll of the median run: `track` finds N new pending operations, `quiet` finds nothing \
changed, `settle` finds all N finished. List/Get: Insights calls (the emulator's counters). \
State writes/reads: records the poll asked the store to write / records the store returned \
(counted by a proxy around the state store); store s: time spent in the store.

{polls_table(results)}

## Targets

{targets_table(targets(results, rows))}

## Cold start

`python -c "import main"` in a fresh process: {cold.process_seconds:.2f} s (median of \
{cold.runs}, bytecode cached), of which the import itself {cold.import_seconds:.2f} s. \
Network connections opened during the import: {connects}. Client libraries loaded by the \
import: {", ".join(cold.client_modules_loaded) or "none"}.

## Scaling

{scaling_section(results)}
"""


def write(results: Results, directory: Path) -> str:
    """Write results.md, results.json and the chart; return the Markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = comparison(results)
    chart_name = "poll-vs-naive.png"
    chart(results, rows, directory / chart_name)
    text = markdown(results, rows, chart_name)
    (directory / "results.md").write_text(text, encoding="utf-8")
    data: dict[str, Any] = dataclasses.asdict(results)
    data["comparison"] = [dataclasses.asdict(row) for row in rows]
    (directory / "results.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return text
