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
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from devstack import gcloud_emulators

REPO = Path(__file__).resolve().parent.parent
PROJECT = "demo-project"
LOCATION = "us-central1"
PROJECT_NUMBER = "389908145857"
"""What the emulator puts in names, as Insights does; the function learns it from them."""
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
        subscription = _create_topic_and_subscription()

        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="poller-demo-")))
        insights_port, admin_port, rest_port = (gcloud_emulators.free_port() for _ in range(3))
        emulator_log = workdir / "insights-emulator.log"
        stack.enter_context(
            _process(
                [sys.executable, "-m", "insights_emulator", "--seed", "demo",
                 "--project", PROJECT, "--project-number", PROJECT_NUMBER,
                 "--location", LOCATION, "--locations", LOCATION,
                 "--port", str(insights_port), "--admin-port", str(admin_port),
                 "--rest-port", str(rest_port)],
                log=emulator_log,
                ready=lambda: f"127.0.0.1:{insights_port}".encode() in emulator_log.read_bytes(),
                env={},
            )
        )  # fmt: skip
        seeded = _seeded_operations(admin_port)
        print(f"Insights emulator: {len(seeded)} operations seeded, finishing over ~30 s")

        function_port = gcloud_emulators.free_port()
        url = f"http://127.0.0.1:{function_port}/"
        state_dir = workdir / "function"
        state_dir.mkdir()
        stack.enter_context(
            _process(
                [sys.executable, "-m", "functions_framework", "--source", str(REPO / "main.py"),
                 "--target", "poll_operations", "--host", "127.0.0.1",
                 "--port", str(function_port)],
                log=workdir / "function.log",
                ready=lambda: _answers(url),
                env={
                    "GOOGLE_CLOUD_PROJECT": PROJECT,
                    "INSIGHTS_LOCATIONS": LOCATION,
                    "RESULTS_TOPIC": TOPIC,
                    "INSIGHTS_EMULATOR_HOST": f"127.0.0.1:{insights_port}",
                    "INSIGHTS_EMULATOR_REST_HOST": f"127.0.0.1:{rest_port}",
                    "PYTHONPATH": str(REPO),
                },
                cwd=str(state_dir),  # the embedded SQLite default lands here, fresh each demo
            )
        )  # fmt: skip
        print(f"Function serving on {url}; polling every {args.schedule_seconds:g} s\n")
        return _run_schedule(url, subscription, seeded, args)
    return 1


def _run_schedule(url: str, subscription: str, seeded: set[str], args: argparse.Namespace) -> int:
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    reported: set[str] = set()
    deadline = time.monotonic() + args.timeout_seconds
    while time.monotonic() < deadline:
        summary = _trigger_poll(url)
        print(
            f"[scheduler] poll: published {summary.get('published')}, "
            f"pending {summary.get('pending')}, errors {summary.get('errors')}",
            flush=True,
        )
        response = subscriber.pull(
            subscription=subscription, max_messages=100, return_immediately=True, timeout=10
        )
        for received in response.received_messages:
            attributes = received.message.attributes
            data = json.loads(received.message.data)
            reported.add(data["operation"])
            print(
                f"  event {attributes['state']:<9} {attributes['operationType']:<26} "
                f"{data['operation']}  ce-id={attributes['ce-id']}",
                flush=True,
            )
            print(f"        metadata: {', '.join(data.get('metadata', {}))}", flush=True)
            if args.json:
                print(json.dumps({"attributes": dict(attributes), "data": data}, indent=2))
        if response.received_messages:
            subscriber.acknowledge(
                subscription=subscription,
                ack_ids=[received.ack_id for received in response.received_messages],
            )
        if seeded <= reported:
            print(f"\nAll {len(seeded)} seeded operations were reported. Done.")
            return 0
        time.sleep(args.schedule_seconds)
    missing = sorted(seeded - reported)
    print(f"error: not reported within {args.timeout_seconds:g} s: {missing}", file=sys.stderr)
    return 1


def _create_topic_and_subscription() -> str:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, TOPIC)
    subscription: str = subscriber.subscription_path(PROJECT, SUBSCRIPTION)
    publisher.create_topic(name=topic, timeout=30)
    subscriber.create_subscription(name=subscription, topic=topic, timeout=30)
    return subscription


def _seeded_operations(admin_port: int) -> set[str]:
    url = f"http://127.0.0.1:{admin_port}/v1/projects/{PROJECT}/locations/{LOCATION}/operations"
    with urllib.request.urlopen(url, timeout=10) as response:
        listing = json.load(response)
    return {operation["name"] for operation in listing["operations"]}


def _trigger_poll(url: str) -> dict[str, object]:
    """POST as Cloud Scheduler does; a 5xx still carries the JSON summary."""
    request = urllib.request.Request(
        url, data=b"", method="POST", headers={"User-Agent": "Google-Cloud-Scheduler"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            summary: dict[str, object] = json.load(response)
    except urllib.error.HTTPError as error:
        summary = json.load(error)
    return summary


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=2)
    except urllib.error.HTTPError:
        return True  # a 405 for GET: it is up
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _process(
    command: list[str],
    *,
    log: Path,
    ready: Callable[[], bool],
    env: dict[str, str],
    cwd: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child in its own process group, output to ``log``, until ``ready()`` says so."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd or REPO,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{' '.join(command[:3])} did not start:\n{tail}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
