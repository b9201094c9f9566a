"""Command line: run the emulator until SIGTERM or SIGINT.

Why: the demo, local development of the Cloud Function and out-of-process tests need the
emulator as a standalone process that says when it is ready and stops cleanly.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from insights_emulator.demo import seed_demo
from insights_emulator.regions import DEFAULT_LOCATIONS, LocationGate
from insights_emulator.server import InsightsEmulator
from insights_emulator.store import DEFAULT_MAX_PAGE_SIZE, is_project_number


def _page_size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _locations(text: str) -> tuple[str, ...]:
    locations = tuple(part.strip() for part in text.split(","))
    try:
        LocationGate(locations)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return locations


def _project_number(text: str) -> str:
    if not is_project_number(text) or text.startswith("0"):
        raise argparse.ArgumentTypeError("must be a project number such as 389908145857")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m insights_emulator",
        description="Emulate the Contact Center AI Insights long-running operations API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=8089, help="gRPC port (0: any free port)")
    parser.add_argument(
        "--admin-port", type=int, default=8090, help="HTTP admin port (0: any free port)"
    )
    parser.add_argument(
        "--rest-port", type=int, default=8091, help="REST read port (0: any free port)"
    )
    parser.add_argument(
        "--locations",
        type=_locations,
        default=DEFAULT_LOCATIONS,
        help="comma-separated locations this endpoint serves over gRPC and REST "
        f"(default {','.join(DEFAULT_LOCATIONS)}, like the global endpoint)",
    )
    parser.add_argument(
        "--seed", choices=["demo"], help="create demo operations finishing over ~30 s"
    )
    parser.add_argument("--project", default="demo-project", help="project of seeded operations")
    parser.add_argument(
        "--project-number",
        type=_project_number,
        help="number of --project, which names are answered with (default: derived from it)",
    )
    parser.add_argument("--location", default="us-central1", help="location of seeded operations")
    parser.add_argument(
        "--max-page-size",
        type=_page_size,
        default=DEFAULT_MAX_PAGE_SIZE,
        help="ListOperations page size cap",
    )
    parser.add_argument(
        "--random-seed", type=int, help="seed for operation ids and fault draws (reproducible)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until a termination signal arrives."""
    args = _parser().parse_args(argv)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.project_number is not None and is_project_number(args.project):
        print("error: --project-number needs --project to be a project ID", file=sys.stderr)
        return 2
    emulator = InsightsEmulator(
        max_page_size=args.max_page_size,
        seed=args.random_seed,
        locations=args.locations,
        project_numbers=(
            {args.project: args.project_number} if args.project_number is not None else None
        ),
    )
    try:
        address = emulator.start(args.host, args.port)
        admin = emulator.start_admin(args.host, args.admin_port)
        rest = emulator.start_rest(args.host, args.rest_port)
        if args.seed == "demo":
            if args.location not in args.locations:
                print(
                    f"warning: seeding {args.location}, which this endpoint does not serve "
                    f"(--locations {','.join(args.locations)})",
                    file=sys.stderr,
                )
            for name in seed_demo(emulator, args.project, args.location):
                print(f"seeded {name}", file=sys.stderr)
        print(
            f"Insights emulator listening on {address} (admin http://{admin}, REST http://{rest})",
            flush=True,
        )
        stopping.wait()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        emulator.stop(grace=1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
