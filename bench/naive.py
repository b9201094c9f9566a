"""The polling loop a user typically writes, as the benchmark's baseline.

For each tracked operation, one at a time: ``GetOperation``; if it is done, publish its event
and wait for it (``future.result()``), then mark its Firestore record published. It uses the
same real clients as the project (the Insights client the project builds, the Pub/Sub
publisher with its default settings, the Firestore client) and publishes the same event
(``events.build_event``), so what differs is the polling strategy alone.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from google.cloud import firestore, pubsub_v1
from google.cloud.firestore_v1.base_query import FieldFilter

from insights_poller import events
from insights_poller.adapters.insights import make_insights_client
from insights_poller.timestamps import utc_now

_BATCH = 500  # Firestore's limit of writes per batch


@dataclasses.dataclass(frozen=True)
class NaiveOutcome:
    """One pass of the loop; ``checked`` < tracked when ``stop_after`` cut it short."""

    tracked: int
    checked: int
    published: int
    state_writes: int
    query_seconds: float
    loop_seconds: float


class NaiveLoop:
    """The user's poller: tracked operations are Firestore documents with a ``status``."""

    def __init__(self, project: str, insights_host: str, topic: str, collection: str) -> None:
        self.insights = make_insights_client("us-central1", insights_host)  # the bench location
        self.publisher = pubsub_v1.PublisherClient()
        self.database = firestore.Client(project=project)
        self.records = self.database.collection(collection)
        self.topic = topic

    def track(self, names: Sequence[str]) -> None:
        """What the user's code did when it started the operations: one PENDING record each."""
        for start in range(0, len(names), _BATCH):
            batch = self.database.batch()
            for name in names[start : start + _BATCH]:
                batch.set(self._record(name), {"name": name, "status": "PENDING"})
            batch.commit()

    def poll(self, stop_after: float | None = None) -> NaiveOutcome:
        """One pass over the tracked operations; stops early after ``stop_after`` seconds."""
        started = time.perf_counter()
        tracked = self.records.where(filter=FieldFilter("status", "==", "PENDING")).get()
        queried = time.perf_counter()
        checked = published = 0
        for record in tracked:
            if stop_after is not None and time.perf_counter() - started >= stop_after:
                break
            operation = self.insights.get_operation({"name": record.get("name")})
            checked += 1
            if not operation.done:
                continue
            event = events.build_event(operation, detect_time=utc_now())
            self.publisher.publish(self.topic, event.data, **event.attributes).result()
            record.reference.update(
                {"status": "PUBLISHED", "state": event.state, "published_at": utc_now()}
            )
            published += 1
        return NaiveOutcome(
            tracked=len(tracked),
            checked=checked,
            published=published,
            state_writes=published,
            query_seconds=queried - started,
            loop_seconds=time.perf_counter() - queried,
        )

    def _record(self, name: str) -> firestore.DocumentReference:
        return self.records.document(name.rsplit("/", 1)[1])
