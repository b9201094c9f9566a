"""The services the benchmark runs against, the operations each run polls on its own Insights
emulator, and what its subscriber must have received (the rest is ``devstack.stack``)."""

from __future__ import annotations

import contextlib
import dataclasses
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from google.cloud import pubsub_v1

from devstack import gcloud_emulators
from devstack.stack import LOCATION
from insights_emulator import KIND_NAMES, Fault, InsightsEmulator

PROJECT = "bench-project"
PAGE_SIZE = 100
"""The Insights emulator's page cap, as the benchmark's conditions set it."""
FAILING_EVERY = 10
"""One operation in this many fails; the others succeed."""


@dataclasses.dataclass(frozen=True)
class Services:
    """``host:port`` of the running Pub/Sub and Firestore emulators."""

    pubsub_host: str
    firestore_host: str

    def env(self) -> dict[str, str]:
        """The variables that point the client libraries at the emulators."""
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
        }

    def clear_firestore(self) -> None:
        """Delete every document (the emulator's own reset endpoint)."""
        url = (
            f"http://{self.firestore_host}/emulator/v1/projects/{PROJECT}"
            "/databases/(default)/documents"
        )
        with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=60):
            pass


@contextlib.contextmanager
def started_services() -> Iterator[Services]:
    """Start the official emulators (devstack), stop them after."""
    with contextlib.ExitStack() as stack:
        pubsub = gcloud_emulators.start_pubsub(PROJECT)
        stack.callback(pubsub.stop)
        firestore = gcloud_emulators.start_firestore()
        stack.callback(firestore.stop)
        yield Services(pubsub.host_port, firestore.host_port)


def start_insights(latency_seconds: float) -> InsightsEmulator:
    """An Insights emulator (gRPC and REST) adding ``latency_seconds`` to every call, pages
    capped at 100."""
    emulator = InsightsEmulator(max_page_size=PAGE_SIZE, seed=1)
    emulator.faults.set_fault("*", Fault(latency_seconds=latency_seconds))
    emulator.start()
    emulator.start_rest()
    return emulator


def seed_operations(emulator: InsightsEmulator, size: int) -> list[str]:
    """``size`` running operations, of every kind in turn."""
    return [
        emulator.create(KIND_NAMES[index % len(KIND_NAMES)], PROJECT, LOCATION)
        for index in range(size)
    ]


def finish_operations(emulator: InsightsEmulator, names: Sequence[str]) -> dict[str, str]:
    """Finish every operation now; returns the event state each must be reported with."""
    states: dict[str, str] = {}
    for index, name in enumerate(names):
        if index % FAILING_EVERY == FAILING_EVERY - 1:
            emulator.fail(name)
            states[name] = "FAILED"
        else:
            emulator.succeed(name)
            states[name] = "SUCCEEDED"
    return states


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What a subscriber received, against what was expected."""

    messages: int
    distinct: int
    expected: int
    unexpected: int
    wrong_state: int

    @classmethod
    def of(
        cls,
        messages: Sequence[pubsub_v1.types.PubsubMessage],
        finished: Mapping[str, str],
        expected: int,
    ) -> Delivery:
        """``messages`` against ``expected`` events, each of an operation in ``finished``
        reported with the state it maps to."""
        operations = Counter(message.attributes["operation"] for message in messages)
        return cls(
            messages=len(messages),
            distinct=len(operations),
            expected=expected,
            unexpected=sum(1 for name in operations if name not in finished),
            wrong_state=sum(
                1
                for message in messages
                if message.attributes["operation"] in finished
                and finished[message.attributes["operation"]] != message.attributes["state"]
            ),
        )

    @property
    def exactly_once(self) -> bool:
        """Every expected event arrived, once, with the right state, and nothing else."""
        return (
            self.messages == self.distinct == self.expected
            and self.unexpected == 0
            and self.wrong_state == 0
        )
