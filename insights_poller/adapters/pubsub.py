"""Pub/Sub adapter: batch-publish each call's events on their own, and wait for every one,
within a bounded time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent import futures
from typing import TYPE_CHECKING

from google.api_core import exceptions, retry

from insights_poller.model import Event
from insights_poller.ports import CallError

if TYPE_CHECKING:
    from google.cloud.pubsub_v1 import PublisherClient

# Retriable publish errors, as the client library's own default retry lists them.
_TRANSIENT_ERRORS = (
    exceptions.Aborted,
    exceptions.Cancelled,
    exceptions.DeadlineExceeded,
    exceptions.InternalServerError,
    exceptions.ResourceExhausted,
    exceptions.ServiceUnavailable,
    exceptions.Unknown,
)


def make_publisher_client() -> PublisherClient:
    """The instance's client: it owns the one gRPC channel (honouring PUBSUB_EMULATOR_HOST by
    itself) and the batch settings. ``PubSubEventPublisher`` batches each call on a client of
    its own over this channel."""
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(
            max_messages=500, max_bytes=9_000_000, max_latency=0.05
        )
    )


class PubSubEventPublisher:
    """EventPublisher over one topic.

    The client publishes in background batches and retries on its own. Each call here gives
    those retries a deadline of half the time allowed and each attempt 40% of it, so every
    attempt is over before ``publish`` stops waiting: a message it reports as failed cannot
    land later, after another poll has re-published it.

    That holds only if the call's messages travel in batches of their own. One client batches
    the messages of concurrent callers together, and a batch is sent with the retry and
    timeout of its *first* message: with two polls on one instance, a poll with little time
    left would see its messages ride on the other poll's long retries, be reported failed,
    then land. So each call publishes through a client of its own, made from the instance's
    client (its transport, hence its gRPC channel and credentials, and its batch and publisher
    settings): building one costs microseconds and no connection. The call stops that client
    once every message is handed over, which sends the last batch at once and lets no later
    message join it. Calls neither share batches nor wait for each other.
    """

    def __init__(self, client: PublisherClient, topic: str) -> None:
        """``client`` is the instance's (``make_publisher_client``); it is never published on."""
        self._client = client
        self._topic = topic

    def _client_for_one_call(self) -> PublisherClient:
        from google.cloud import pubsub_v1

        shared = self._client
        return pubsub_v1.PublisherClient(
            batch_settings=shared.batch_settings,
            publisher_options=shared.publisher_options,
            transport=shared.transport,
        )

    def publish(
        self, events: Sequence[Event], timeout_seconds: float
    ) -> Mapping[str, CallError | None]:
        if not events:
            return {}
        publish_retry = retry.Retry(
            predicate=retry.if_exception_type(*_TRANSIENT_ERRORS),
            initial=0.1,
            maximum=5.0,
            multiplier=2.0,
            timeout=timeout_seconds * 0.5,
        )
        outcomes: dict[str, CallError | None] = {}
        pending: dict[futures.Future[str], str] = {}
        client = self._client_for_one_call()
        try:
            for event in events:
                try:
                    future = client.publish(
                        self._topic,
                        event.data,
                        retry=publish_retry,
                        timeout=timeout_seconds * 0.4,
                        **event.attributes,
                    )
                except Exception as error:  # refused before sending, e.g. too large
                    outcomes[event.operation] = _call_error(error)
                else:
                    pending[future] = event.operation
        finally:
            client.stop()  # sends the open batch now; the client takes no other message
        done, not_done = futures.wait(pending, timeout=timeout_seconds)
        for future in done:
            failure = future.exception()
            outcomes[pending[future]] = None if failure is None else _call_error(failure)
        for future in not_done:
            outcomes[pending[future]] = CallError(
                "DEADLINE_EXCEEDED", "publish did not finish in time"
            )
        return outcomes


def _call_error(error: BaseException) -> CallError:
    if isinstance(error, exceptions.GoogleAPICallError) and error.grpc_status_code is not None:
        return CallError(error.grpc_status_code.name, error.message or str(error))
    return CallError(type(error).__name__, str(error))
