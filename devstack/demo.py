"""`make demo`: the poller end to end on a local stack, as a subscriber sees it.

Starts the Pub/Sub emulator, the Insights emulator seeded with operations that finish
over about 30 s, and the function under functions-framework; triggers a poll every few
seconds as Cloud Scheduler would; prints each event pulled from a subscription; exits
0 once every seeded operation was reported, stopping everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from devstack import gcloud_emulators
from devstack.stack import (
    LOCATION,
    PROJECT,
    EventSink,
    FunctionProcess,
    InsightsEmulatorProcess,
    event_data,
    function_env,
)

TOPIC = "insights-operation-events"
SUBSCRIPTION = "demo-subscriber"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedule-seconds", type=float, default=5.0, help="time between polls")
    parser.add_argument("--timeout-seconds", type=float, default=180.0, help="give up after this")
    parser.add_argument("--json", action="store_true", help="also print each event in full")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        print("Starting the Pub/Sub emulator...", flush=True)
        pubsub = gcloud_emulators.start_pubsub(PROJECT)
        stack.callback(pubsub.stop)
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub.host_port
        sink = EventSink(PROJECT, TOPIC, SUBSCRIPTION)
        stack.callback(sink.close)

        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="poller-demo-")))
        insights = InsightsEmulatorProcess(
            workdir / "insights-emulator.log", LOCATION, seed_location=LOCATION
        )
        stack.callback(insights.stop)
        seeded = insights.operations(LOCATION)
        print(f"Insights emulator: {len(seeded)} operations seeded, finishing over ~30 s")

        # Its working directory is the fresh workdir: the embedded SQLite default lands there.
        function = FunctionProcess(function_env(insights, TOPIC), workdir)
        stack.callback(function.stop)
        print(f"Function serving on {function.url}; polling every {args.schedule_seconds:g} s\n")
        return _run_schedule(function, sink, seeded, args)
    return 1


def _run_schedule(
    function: FunctionProcess, sink: EventSink, seeded: set[str], args: argparse.Namespace
) -> int:
    reported: set[str] = set()
    deadline = time.monotonic() + args.timeout_seconds
    while time.monotonic() < deadline:
        _, summary = function.post()
        print(
            f"[scheduler] poll: published {summary.get('published')}, "
            f"pending {summary.get('pending')}, errors {summary.get('errors')}",
            flush=True,
        )
        for message in sink.pull():
            attributes = message.attributes
            data = event_data(message)
            reported.add(data["operation"])
            print(
                f"  event {attributes['state']:<9} {attributes['operationType']:<26} "
                f"{data['operation']}  ce-id={attributes['ce-id']}",
                flush=True,
            )
            print(f"        metadata: {', '.join(data.get('metadata', {}))}", flush=True)
            if args.json:
                print(json.dumps({"attributes": dict(attributes), "data": data}, indent=2))
        if seeded <= reported:
            print(f"\nAll {len(seeded)} seeded operations were reported. Done.")
            return 0
        time.sleep(args.schedule_seconds)
    missing = sorted(seeded - reported)
    print(f"error: not reported within {args.timeout_seconds:g} s: {missing}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
