"""The services the benchmark runs against, and the fresh pieces each run gets on them.

Why fresh pieces: every run has its own Insights emulator, topic, subscription and Firestore
collection, so no run sees another's operations, events or state, and the Firestore emulator
is emptied between runs so its size never grows with the number of runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from google.cloud import pubsub_v1

from devstack import gcloud_emulators
from insights_emulator import KIND_NAMES, Fault, InsightsEmulator

PROJECT = "bench-project"
LOCATION = "us-central1"
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

    @property
    def exactly_once(self) -> bool:
        """Every expected event arrived, once, with the right state, and nothing else."""
        return (
            self.messages == self.distinct == self.expected
            and self.unexpected == 0
            and self.wrong_state == 0
        )


class Sink:
    """A fresh topic with one subscription, through this process's PUBSUB_EMULATOR_HOST."""

    def __init__(self) -> None:
        self._publisher = pubsub_v1.PublisherClient()
        self._subscriber = pubsub_v1.SubscriberClient()
        suffix = uuid.uuid4().hex[:12]
        self.topic = self._publisher.topic_path(PROJECT, f"bench-{suffix}")
        self._subscription = self._subscriber.subscription_path(PROJECT, f"bench-{suffix}")
        self._publisher.create_topic(name=self.topic, timeout=30)
        self._subscriber.create_subscription(
            name=self._subscription, topic=self.topic, ack_deadline_seconds=600, timeout=30
        )

    def drain(self, quiet_pulls: int = 3) -> list[pubsub_v1.types.PubsubMessage]:
        """Every message available (acknowledged), pulling until the topic stays quiet."""
        messages: list[pubsub_v1.types.PubsubMessage] = []
        quiet = 0
        while quiet < quiet_pulls:
            response = self._subscriber.pull(
                subscription=self._subscription,
                max_messages=1000,
                return_immediately=True,
                timeout=60,
            )
            if not response.received_messages:
                quiet += 1
                time.sleep(0.2)
                continue
            quiet = 0
            messages.extend(received.message for received in response.received_messages)
            self._subscriber.acknowledge(
                subscription=self._subscription,
                ack_ids=[received.ack_id for received in response.received_messages],
                timeout=60,
            )
        return messages

    def check(self, finished: Mapping[str, str], expected: int) -> Delivery:
        """Drain and compare: ``expected`` events, each of an operation in ``finished``."""
        messages = self.drain()
        operations = Counter(message.attributes["operation"] for message in messages)
        return Delivery(
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

    def close(self) -> None:
        self._subscriber.delete_subscription(subscription=self._subscription, timeout=30)
        self._publisher.delete_topic(topic=self.topic, timeout=30)
        self._subscriber.close()
        self._publisher.stop()
