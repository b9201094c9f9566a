"""What the integration tests add to the local stack (``devstack.stack``): every event they
receive checked against the published schema, and the types of the fixtures that configure and
start the poller."""

from __future__ import annotations

from collections.abc import Callable

from contract import assert_valid_event
from google.cloud import pubsub_v1

from devstack.stack import EventSink, FunctionProcess


class CheckedSink(EventSink):
    """An event sink that checks each message it pulls against the published event schema."""

    def pull(self) -> list[pubsub_v1.types.PubsubMessage]:
        messages = super().pull()
        for message in messages:
            assert_valid_event(message.data, message.attributes)
        return messages


Launch = Callable[..., FunctionProcess]
"""Starts a function process on the test's shared state (the ``launch`` fixture)."""

PollerEnv = Callable[..., dict[str, str]]
"""The poller's settings on the test's stack, overridden by keyword (the ``poller_env`` fixture)."""
