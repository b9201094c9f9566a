"""Composition root: one ``Poller`` per instance, built from the settings, whose clients and
state store are created on first use and reused by every request.

The front doors (``triggers`` for the function, ``cli`` for the command line) ask a ``Poller``
for a poll, the records, or a replay; the rules live in ``core``, ``requested`` and ``replay``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from insights_poller import core, names, replay
from insights_poller.adapters.insights import (
    InsightsClients,
    InsightsOperationsReader,
    RateLimiter,
    RestOperations,
)
from insights_poller.adapters.pubsub import PubSubEventPublisher, make_publisher_client
from insights_poller.model import Event, TrackedOperation
from insights_poller.ports import EventPublisher, OperationsReader, StateStore
from insights_poller.requested import validated_names
from insights_poller.settings import Settings
from insights_poller.state import open_state_store
from insights_poller.timestamps import utc_now


class Poller:
    """One instance's poller: owns its clients, safe to share across concurrent requests."""

    def __init__(
        self,
        settings: Settings,
        *,
        reader: OperationsReader | None = None,
        publisher: EventPublisher | None = None,
        store: StateStore | None = None,
    ) -> None:
        """Collaborators not given are built from ``settings`` on first use."""
        self.settings = settings
        self.options = settings.poll_options
        self.identity = names.ProjectIdentity(settings.project, settings.project_number)
        self._lock = threading.Lock()
        self._reader = reader
        self._publisher = publisher
        self._store = store

    def validate_requested(self, requested: object) -> list[str]:
        """The operation names of a request, checked against the watched project and locations."""
        return validated_names(requested, self.identity, self.settings.locations)

    def poll(self, requested: Sequence[str] = ()) -> core.PollSummary:
        reader, publisher, store = self._collaborators()
        return core.poll(
            reader=reader,
            store=store,
            publisher=publisher,
            options=self.options,
            clock=utc_now,
            run_id=uuid.uuid4().hex,
            identity=self.identity,
            requested=requested,
        )

    def records(self, names: Sequence[str]) -> dict[str, TrackedOperation]:
        """The state store's records of ``names`` that exist, by name."""
        return self._state_store().get_many(names)

    def all_records(self) -> list[TrackedOperation]:
        """Every record of the state store, for an operator's report (it reads them all)."""
        return self._state_store().all_records()

    def close(self) -> None:
        """Release the state store's connections (the command line's polls end the process)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def replay(self, name: str) -> Event:
        """Publish the event of ``name`` again (see ``replay.replay``) and return it. The state
        store is opened first: a refusal creates no Insights or Pub/Sub client."""

        def clients() -> tuple[OperationsReader, EventPublisher]:
            reader, publisher, _ = self._collaborators()
            return reader, publisher

        return replay.replay(
            name,
            store=self._state_store(),
            spellings=[self.identity.canonical(name)],
            clients=clients,
            insights_timeout_seconds=self.settings.insights_timeout_seconds,
            publish_timeout_seconds=self.settings.publish_timeout_seconds,
            now=utc_now(),
        )

    def _state_store(self) -> StateStore:
        """The instance's state store, opened on first use (without the other clients)."""
        with self._lock:
            if self._store is None:
                self._store = open_state_store(self.settings.state, project=self.settings.project)
            return self._store

    def _collaborators(self) -> Collaborators:
        """The instance's Insights reader, publisher and state store, built on first use."""
        settings = self.settings
        store = self._state_store()
        with self._lock:
            if self._reader is None:
                self._reader = InsightsOperationsReader(
                    InsightsClients(settings.insights_emulator_hosts).for_location,
                    RestOperations(settings.insights_emulator_rest_hosts),
                    settings.project,
                    page_size=settings.insights_page_size,
                    rpc_timeout_seconds=settings.insights_timeout_seconds,
                    limiter=RateLimiter(settings.insights_max_rps),
                )
            if self._publisher is None:
                self._publisher = PubSubEventPublisher(
                    make_publisher_client(), settings.results_topic
                )
            return Collaborators(self._reader, self._publisher, store)


class Collaborators(NamedTuple):
    """What a poll needs, built once per instance."""

    reader: OperationsReader
    publisher: EventPublisher
    store: StateStore


_instance_lock = threading.Lock()
_instance: Poller | None = None


def instance_poller() -> Poller:
    """The instance's poller; a configuration error is raised again on every request, not cached."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Poller(Settings.from_env(os.environ))
        return _instance
