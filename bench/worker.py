"""A benchmark worker process: the project's poll or the naive loop, driven over stdin/stdout.

Why a process of its own: its peak RSS is then that of one function instance alone, and both
contenders start from the same fresh interpreter, configured by the same kind of environment,
against the same services. The peak is the kernel's ``VmHWM`` of the process's own address
space: ``ru_maxrss`` would not do, as Linux carries the parent's high-water mark across
``fork``/``exec`` into it, and the benchmark's own process holds the Insights emulator.

``python -m bench.worker project|naive LOG`` reads one JSON command per line on stdin and
writes one JSON reply per line on stdout. The product's log lines, which go to stdout in
production (Cloud Logging reads them there), are written to LOG instead.

* ``project`` is configured from the environment exactly as the function is
  (``Settings.from_env``); ``{"op": "poll"}`` runs one poll through ``app.handle_http``, as
  ``main.poll_operations`` does, with the state store wrapped in a ``CountingStore``.
* ``naive`` reads the same variables; ``{"op": "track", "names": [...]}`` records the
  operations as its user would have when starting them, and ``{"op": "poll", "stop_after":
  SECONDS or null}`` runs one pass of the loop.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.counting import CountingStore
from bench.naive import NaiveLoop
from insights_poller import app, triggers
from insights_poller.settings import Settings
from insights_poller.state import open_state_store

Command = dict[str, Any]
Handler = Callable[[Command], dict[str, Any]]


def project_handler() -> Handler:
    """Polls of one function instance: one ``Poller`` kept across polls, as a warm instance."""
    importlib.import_module("main")  # the function's module and framework, loaded as deployed
    settings = Settings.from_env(os.environ)
    store = CountingStore(open_state_store(settings.state, project=settings.project))
    poller = app.Poller(settings, store=store)

    def handle(command: Command) -> dict[str, Any]:
        if command["op"] != "poll":
            raise ValueError(f"unknown command {command!r}")
        started = time.perf_counter()
        body, status = triggers.handle_http("POST", b"", None, lambda: poller)
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "status": status,
            "summary": body,
            "store": dataclasses.asdict(store.take()),
        }

    return handle


def naive_handler() -> Handler:
    """The naive loop, configured from the same variables as the function."""
    loop = NaiveLoop(
        project=os.environ["GOOGLE_CLOUD_PROJECT"],
        insights_host=os.environ["INSIGHTS_EMULATOR_HOST"],
        topic=os.environ["RESULTS_TOPIC"],
        collection=os.environ["STATE_URL"].removeprefix("firestore:///"),
    )

    def handle(command: Command) -> dict[str, Any]:
        if command["op"] == "track":
            loop.track(command["names"])
            return {}
        if command["op"] == "poll":
            return dataclasses.asdict(loop.poll(command["stop_after"]))
        raise ValueError(f"unknown command {command!r}")

    return handle


def peak_rss_kib() -> int:
    """The peak resident set size of this process's address space (Linux ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


HANDLERS: dict[str, Callable[[], Handler]] = {"project": project_handler, "naive": naive_handler}


def main(argv: list[str]) -> int:
    mode, log_path = argv
    replies = sys.stdout
    with Path(log_path).open("a", encoding="utf-8") as log:
        sys.stdout = log
        handle = HANDLERS[mode]()
        for line in sys.stdin:
            reply = handle(json.loads(line))
            reply["peak_rss_kib"] = peak_rss_kib()
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
