"""The command line, ``python -m insights_poller``: for operators, and for running the poller
from cron on a VM instead of Cloud Functions.

It reads the same environment variables as the function and drives the same ``Poller``, so a
poll from here is a poll like any other (same claims, same events). Exit codes: 0 done, 1
something failed (retry later), 2 bad configuration or arguments (nothing was changed).
Unlike the function, the command line wants STATE_URL set: its SQLite default would quietly
give an operator aiming at the deployed poller a fresh, empty state of their own.
The commands import the Google client libraries they need themselves, so that ``--help``,
a configuration error or ``status`` answers without loading them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import insights_poller
from insights_poller.model import (
    NO_EVENT_BECAUSE,
    OUTCOMES,
    PENDING,
    REPLAY_ATTRIBUTE,
    SETTLED,
    TrackedOperation,
)
from insights_poller.settings import DECLARATIONS, ConfigurationError, Problem, Settings
from insights_poller.timestamps import format_rfc3339, utc_now

if TYPE_CHECKING:
    from insights_poller import core
    from insights_poller.app import Poller

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

PROG = "python -m insights_poller"
STATES = (PENDING, *OUTCOMES)
"""What ``status`` shows: a record's outcome (``TrackedOperation.outcome``)."""

Command = Callable[[Settings, argparse.Namespace], int]

STATE_URL_UNSET = (
    "is not set, and the command line does not fall back to a local file. Against the deployed "
    'poller, use its state: export STATE_URL="$(terraform -chdir=terraform output -raw '
    'state_url)" (firestore://DATABASE/COLLECTION). For a local state file, name it: '
    "STATE_URL=sqlite:///poller-state.db"
)

# What an operator needs against a deployed poller (terraform/iam.tf grants the first to the
# runtime service account); the README's Operator's guide says the same.
INSIGHTS_READ = (
    "the Insights operations reader role Terraform defines (contactcenterinsights.operations.get "
    "and .list, on the project)"
)
PUBLISHER = "roles/pubsub.publisher on the events topic"
PUBLISHES = (
    "It publishes events: only an operator trusted to publish should run it, or run it as the "
    "runtime service account by impersonation (README, Operator's guide)."
)
RUNTIME_ROLES = (
    f"Roles against a deployed poller, those of its runtime service account: {INSIGHTS_READ}, "
    f"roles/datastore.user on the state database, {PUBLISHER}. {PUBLISHES}"
)
STATUS_ROLES = (
    "Roles against a deployed poller: roles/datastore.viewer on the state database; it reads "
    "the state store only, and calls neither Insights nor Pub/Sub."
)
REPLAY_ROLES = (
    f"Roles against a deployed poller: {INSIGHTS_READ}, {PUBLISHER}, roles/datastore.viewer on "
    f"the state database. {PUBLISHES}"
)


class Refused(Exception):
    """The command cannot do what was asked; nothing was changed (exit 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = _parser().parse_args(argv)
    command: Command = args.run
    try:
        return command(_settings(os.environ), args)
    except ConfigurationError as error:
        for variable, problem in error.problems:
            print(f"error: {variable}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except Refused as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # a store or network outage: say what, without a traceback
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


def _settings(env: Mapping[str, str]) -> Settings:
    """The function's settings, and STATE_URL set: every problem in one error."""
    problems: list[Problem] = []
    if not env.get("STATE_URL", "").strip():
        problems.append(("STATE_URL", STATE_URL_UNSET))
    try:
        settings = Settings.from_env(env)
    except ConfigurationError as error:
        problems.extend(error.problems)
    if problems:
        order = list(DECLARATIONS)
        raise ConfigurationError.of(sorted(problems, key=lambda problem: order.index(problem[0])))
    return settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the commands below, unwrapped
        description=(
            "Poll Contact Center AI Insights operations and publish one event per finished\n"
            "operation, as the Cloud Function does; inspect and steer what it tracks."
        ),
        epilog=(
            "Configuration comes from the same environment variables as the function\n"
            "(GOOGLE_CLOUD_PROJECT, RESULTS_TOPIC, ...; see the README), and STATE_URL\n"
            "must be set, to the deployed state or to a local file:\n"
            '  export STATE_URL="$(terraform -chdir=terraform output -raw state_url)"\n'
            "  export STATE_URL=sqlite:///poller-state.db\n"
            "Each command's --help names the roles it needs against a deployed poller.\n"
            "Exit codes: 0 done, 1 something failed, 2 bad configuration or arguments\n"
            "(nothing changed)."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"insights-poller {insights_poller.__version__}"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    poll = commands.add_parser(
        "poll",
        help="run one poll (for a terminal or a cron job)",
        description="Run one poll, exactly as one trigger of the function does, and print its "
        "summary. Exit code 0 when the poll is ok, 1 when it had errors (what failed is left "
        "for the next poll).",
        epilog=RUNTIME_ROLES,
    )
    poll.add_argument("--json", action="store_true", help="print the JSON summary instead")
    poll.set_defaults(run=_poll)

    status = commands.add_parser(
        "status",
        help="list the tracked operations",
        description="List the operations in the state store: pending ones, and finished ones "
        "with the state their event carried, or HISTORY (ended before the watch started) or "
        "SKIPPED (a type OPERATION_TYPES leaves out) for those that got none. Filters of one "
        "kind are ORed, of different kinds ANDed.",
        epilog=STATUS_ROLES,
    )
    status.add_argument(
        "--state",
        action="append",
        type=str.upper,
        choices=STATES,
        metavar="STATE",
        help=f"only this state ({', '.join(STATES)}); repeatable",
    )
    status.add_argument(
        "--type",
        action="append",
        metavar="TYPE",
        help="only this operation type, e.g. CreateIssueModel (any case); repeatable",
    )
    status.add_argument("--json", action="store_true", help="print a JSON list of objects")
    status.set_defaults(run=_status)

    watch = commands.add_parser(
        "watch",
        help="start tracking operations by name",
        description="Check the named operations now and track them; any already finished is "
        "published now, even if it ended before the watch started (unless published before). "
        "This runs one whole poll, whose summary follows. Exit code 1 when a named operation "
        "could not be tracked or published (not found, an error) or the poll had errors; 2 "
        "for a bad name (nothing changed).",
        epilog=RUNTIME_ROLES,
    )
    watch.add_argument(
        "operations",
        nargs="+",
        metavar="OPERATION",
        help="projects/PROJECT/locations/LOCATION/operations/ID, in the watched project and "
        "locations",
    )
    watch.set_defaults(run=_watch)

    replay = commands.add_parser(
        "replay",
        help="publish a finished operation's event again",
        description="Publish the event of an operation again, with the same ce-id and the "
        f'extra attribute {REPLAY_ATTRIBUTE}="true", for a subscriber that lost it. The state '
        "store's record decides first, before any Insights or Pub/Sub call: an operation it has "
        "no record of, one still pending, or one that got no event (HISTORY, SKIPPED) is "
        "refused (exit code 2). Then the operation is read again with GetOperation and its "
        "event published; the state store is not changed.",
        epilog=REPLAY_ROLES,
    )
    replay.add_argument("operation", metavar="OPERATION", help="the operation's full name")
    replay.set_defaults(run=_replay)
    return parser


# --- poll --------------------------------------------------------------------


def _poll(settings: Settings, args: argparse.Namespace) -> int:
    from insights_poller.app import Poller

    with _progress("polling"):
        summary = Poller(settings).poll()
    if args.json:
        print(json.dumps(summary.to_json()))
    else:
        print("\n".join(_summary_lines(summary)))
    return EXIT_OK if summary.ok else EXIT_FAILED


def _summary_lines(summary: core.PollSummary) -> list[str]:
    """A poll summary for people: totals, then each event and error, then the details."""
    by_state = ", ".join(f"{s} {n}" for s, n in sorted(summary.published_by_state.items()))
    lines = [
        f"poll: published {summary.published}, pending {summary.pending}, "
        f"errors {len(summary.errors)}" + (f" ({by_state})" if by_state else "")
    ]
    for event in summary.published_events:
        lines.append(f"  published {event.state:<9} {event.operation_type:<26} {event.operation}")
    for error in summary.errors:
        where = error.operation or error.location or ""
        lines.append(f"  error     {error.stage} {error.code} {where}: {error.message}")
    details = [
        f"newly tracked {summary.newly_tracked}",
        f"listed {summary.listed}" + ("" if summary.listing_complete else " (listing cut short)"),
        f"checked {summary.checked}",
    ]
    if summary.not_reached:
        details.append(f"not reached {summary.not_reached} (checked first next poll)")
    if summary.claimed_elsewhere:
        details.append(f"held by another poll {summary.claimed_elsewhere}")
    if summary.skipped:
        details.append(f"skipped {summary.skipped} (OPERATION_TYPES)")
    if summary.not_found:
        details.append(f"not found {', '.join(summary.not_found)}")
    if summary.follow_ups:
        details.append(f"follow-ups {summary.follow_ups}")
    latency = summary.detection_latency()
    if latency["max"] is not None:
        details.append(
            f"published {latency['p50']:g} s after the end (p50), {latency['max']:g} s max"
        )
    lines.append(", ".join(details))
    lines.append(
        f"watching since {format_rfc3339(summary.watch_start)}; "
        f"run {summary.run_id} took {summary.duration_seconds:.1f} s"
    )
    return lines


# --- status ------------------------------------------------------------------


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from insights_poller.app import Poller

    poller = Poller(settings)
    try:
        records = poller.all_records()
    finally:
        poller.close()
    states = set(args.state or STATES)
    types = {kind.lower() for kind in args.type} if args.type else None
    shown = [
        record
        for record in records
        if record.outcome in states and (types is None or record.operation_type.lower() in types)
    ]
    if args.json:
        print(json.dumps([_record_json(record) for record in shown]))
    elif not records:
        print("no tracked operations")
    else:
        print("\n".join(_status_table(shown, utc_now())))
        print(f"{len(shown)} of {len(records)} tracked operations")
    return EXIT_OK


def _status_table(records: Sequence[TrackedOperation], now: datetime.datetime) -> list[str]:
    """Aligned columns; age counts from the operation's creation, else from first seen."""
    rows = [("OPERATION", "TYPE", "STATE", "AGE", "LAST CHECKED", "PUBLISHED AT")]
    for record in records:
        checked = record.last_checked
        rows.append(
            (
                record.name,
                record.operation_type,
                record.outcome,
                _duration(now - (record.create_time or record.first_seen)),
                "-" if checked is None else f"{_duration(now - checked)} ago",
                _moment(record.published_at) or "-",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _record_json(record: TrackedOperation) -> dict[str, Any]:
    return {
        "operation": record.name,
        "operationType": record.operation_type,
        "state": record.outcome,
        "location": record.location,
        "createTime": _moment(record.create_time),
        "firstSeen": _moment(record.first_seen),
        "lastChecked": _moment(record.last_checked),
        "detectTime": _moment(record.detect_time),
        "publishedAt": _moment(record.published_at),
        "claimOwner": record.claim_owner,
        "claimUntil": _moment(record.claim_until),
    }


def _moment(value: datetime.datetime | None) -> str | None:
    return None if value is None else format_rfc3339(value.replace(microsecond=0))


def _duration(delta: datetime.timedelta) -> str:
    """Two units at most: 3d4h, 2h05m, 7m09s, 12s."""
    days, rest = divmod(max(int(delta.total_seconds()), 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


# --- watch -------------------------------------------------------------------


def _watch(settings: Settings, args: argparse.Namespace) -> int:
    from insights_poller.app import Poller

    poller = Poller(settings)
    asked = _validated(poller, args.operations)
    with _progress("checking"):
        summary = poller.poll(requested=asked)
    # The poll may have learned the project number: name each operation as the API does.
    names = {name: poller.identity.canonical(name) for name in asked}
    records = poller.records(list(names.values()))
    all_tracked = True
    for name, canonical in names.items():
        outcome, tracked = _watch_outcome(name, canonical, summary, records.get(canonical))
        all_tracked = all_tracked and tracked
        print(f"{canonical}: {outcome}")
    print("\n".join(_summary_lines(summary)))
    return EXIT_OK if all_tracked and summary.ok else EXIT_FAILED


def _watch_outcome(
    name: str, canonical: str, summary: core.PollSummary, record: TrackedOperation | None
) -> tuple[str, bool]:
    """What the poll did with one named operation, and whether it is now tracked or done.

    ``name`` as asked (errors carry it), ``canonical`` as the API spells it (events do).
    """
    for event in summary.published_events:
        if event.operation == canonical:
            return f"published {event.state} (ce-id {event.event_id})", True
    for error in summary.errors:
        if error.operation == name:
            retry = "run watch again" if record is None else "the next poll tries again"
            return f"{error.stage} failed: {error.code}: {error.message}; {retry}", False
    if name in summary.not_found:
        return "not found: Insights has no such operation", False
    if record is None:
        return "not checked: the poll's time budget ran out; run watch again", False
    if record.status == SETTLED:
        state = record.outcome
        if state in NO_EVENT_BECAUSE:
            return f"finished, recorded as {state}: no event, {NO_EVENT_BECAUSE[state]}", True
        return f"already finished, published earlier as {state}", True
    if record.claim_owner is not None:
        return "finished; another poll is publishing it", True
    return "tracked as pending", True


# --- replay ------------------------------------------------------------------


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from insights_poller.app import Poller
    from insights_poller.ports import CallError
    from insights_poller.replay import NothingToReplay, NotPublishedYet, NotTracked

    poller = Poller(settings)
    [asked] = _validated(poller, [args.operation])
    try:
        with _progress("replaying"):
            event = poller.replay(asked)
    except NotPublishedYet as error:
        hint = f"`{PROG} watch {error.name}` checks it now, and publishes it if it has finished"
        spelling = _spelling_hint(poller, error.name) if isinstance(error, NotTracked) else ""
        raise Refused(f"{error}{spelling} ({hint})") from None
    except NothingToReplay as error:
        raise Refused(str(error)) from None
    except CallError as failure:
        print(f"error: publish failed: {failure.code}: {failure.message}", file=sys.stderr)
        return EXIT_FAILED
    kind = event.attributes["operationType"]
    print(f"replayed {event.state} {kind} {event.operation} (ce-id {event.event_id})")
    return EXIT_OK


def _spelling_hint(poller: Poller, name: str) -> str:
    """Why a record may be missed: the operation named with the project ID while the number,
    which records use once Insights answered with it, is not known here."""
    identity = poller.identity
    if identity.number is not None or not name.startswith(f"projects/{identity.project_id}/"):
        return ""
    return (
        " (records use the project number once Insights answered with it: name the operation "
        "projects/NUMBER/..., or set GOOGLE_CLOUD_PROJECT_NUMBER)"
    )


def _validated(poller: Poller, names: list[str]) -> list[str]:
    """The names, checked as the function checks a request body's."""
    from insights_poller.requested import BadRequest

    try:
        return poller.validate_requested(names)
    except BadRequest as error:
        raise Refused(str(error)) from None


# --- progress ----------------------------------------------------------------


@contextlib.contextmanager
def _progress(label: str) -> Iterator[None]:
    """A live "polling... 3 s" line on a terminal's stderr while the block runs; nothing
    otherwise, so cron mails and pipes stay clean."""
    out = sys.stderr
    if not out.isatty():
        yield
        return
    started = time.monotonic()
    stop = threading.Event()

    def draw() -> None:
        for frame in itertools.cycle("|/-\\"):
            out.write(f"\r{frame} {label}... {int(time.monotonic() - started)} s")
            out.flush()
            if stop.wait(0.1):
                break
        out.write("\r\x1b[K")  # leave the line empty for what follows
        out.flush()

    thread = threading.Thread(target=draw, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
