"""Two concurrent polls on one instance publish through one PubSubEventPublisher: a message
one of them reports as failed must never land later because the other's batch carried it.

The real Pub/Sub emulator sits behind a small gRPC proxy that forwards every
``google.pubsub.v1.Publisher`` call to it, except that ``Publish`` answers UNAVAILABLE until
the outage ends. Nothing of the client library is replaced.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures

import grpc
import pytest
from google.cloud import pubsub_v1

from devstack.gcloud_emulators import EMULATOR_PROJECT
from devstack.stack import EventSink
from insights_poller.adapters.pubsub import PubSubEventPublisher, make_publisher_client
from insights_poller.model import Event
from insights_poller.ports import CallError

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 5.0
LONG_TIMEOUT = 30.0
SHORT_TIMEOUT = 2.0
SETTLE_SECONDS = 3.0
"""How long to keep pulling after the outage ended and the long call's messages arrived."""

_PUBLISHER_SERVICE = "/google.pubsub.v1.Publisher/"


class FlakyPublishProxy(grpc.GenericRpcHandler):
    """Forwards the Publisher service to the emulator; Publish fails until the outage ends."""

    def __init__(self, upstream: str) -> None:
        self._upstream = grpc.insecure_channel(upstream)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        self._server.add_generic_rpc_handlers((self,))
        self.address = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"
        self._outage_ends = 0.0
        self._lock = threading.Lock()
        self.refused = 0

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)
        self._upstream.close()

    def fail_publish_for(self, seconds: float) -> float:
        """Answer UNAVAILABLE to every Publish for ``seconds``; the monotonic time it ends."""
        self._outage_ends = time.monotonic() + seconds
        return self._outage_ends

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[bytes, bytes] | None:
        method: str = handler_call_details.method
        if not method.startswith(_PUBLISHER_SERVICE):
            return None
        # No (de)serialisers: the request and response bytes pass through unchanged.
        forward: grpc.UnaryUnaryMultiCallable[bytes, bytes] = self._upstream.unary_unary(method)
        refuse = method == _PUBLISHER_SERVICE + "Publish"

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            if refuse and time.monotonic() < self._outage_ends:
                with self._lock:
                    self.refused += 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "proxy: simulated Publish outage")
            try:
                return forward(request, timeout=context.time_remaining())
            except grpc.RpcError as error:
                if isinstance(error, grpc.Call):
                    context.abort(error.code(), error.details() or "")
                raise

        return grpc.unary_unary_rpc_method_handler(handle)


@pytest.fixture
def proxy(pubsub_emulator: str) -> Iterator[FlakyPublishProxy]:
    server = FlakyPublishProxy(pubsub_emulator)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def subscription(pubsub_emulator: str) -> Iterator[EventSink]:
    """A topic and a subscription on it, made directly on the emulator (not through the proxy)."""
    with contextlib.closing(
        EventSink(EMULATOR_PROJECT, f"isolation-{uuid.uuid4().hex[:12]}")
    ) as made:
        yield made


def _ce_ids(subscription: EventSink) -> list[str]:
    """The ``ce-id`` of every message available now, acknowledged."""
    return [message.attributes["ce-id"] for message in subscription.pull()]


def _events(label: str, count: int) -> list[Event]:
    made = []
    for index in range(count):
        operation = f"projects/p/locations/l/operations/{label}-{index}-{uuid.uuid4().hex[:8]}"
        made.append(
            Event(
                operation=operation,
                state="SUCCEEDED",
                data=f'{{"operation": "{operation}"}}'.encode(),
                attributes={"ce-id": operation, "call": label},
            )
        )
    return made


def _wide_window_client() -> pubsub_v1.PublisherClient:
    """A client that holds a batch open for a whole second: calls a second apart share it."""
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(
            max_messages=500, max_bytes=9_000_000, max_latency=1.0
        )
    )


@pytest.mark.parametrize(
    ("make_client", "stagger"),
    [(make_publisher_client, 0.01), (_wide_window_client, 0.25)],
    ids=["function-batch-settings", "one-second-batch-window"],
)
def test_a_publish_reported_failed_never_lands_on_another_calls_schedule(
    proxy: FlakyPublishProxy,
    subscription: EventSink,
    make_client: Callable[[], pubsub_v1.PublisherClient],
    stagger: float,
) -> None:
    """The long call starts first, the short one ``stagger`` seconds later: well inside the
    client's batch window, so a shared batch would carry the short call's messages on the
    long call's retry schedule."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBSUB_EMULATOR_HOST", proxy.address)
        publisher = PubSubEventPublisher(make_client(), subscription.topic)
    long_events, short_events = _events("long", 3), _events("short", 3)
    started = threading.Barrier(2)
    returned: dict[str, float] = {}

    def publish(
        events: list[Event], timeout: float, delay: float
    ) -> Mapping[str, CallError | None]:
        started.wait()
        time.sleep(delay)
        outcomes = publisher.publish(events, timeout)
        returned[events[0].attributes["call"]] = time.monotonic()
        return outcomes

    outage_ends = proxy.fail_publish_for(OUTAGE_SECONDS)
    began = time.monotonic()
    with futures.ThreadPoolExecutor(max_workers=2) as pool:
        long_call = pool.submit(publish, long_events, LONG_TIMEOUT, 0.0)
        short_call = pool.submit(publish, short_events, SHORT_TIMEOUT, stagger)
        short_outcomes = short_call.result()
        long_outcomes = long_call.result()
    assert returned["short"] - began < stagger + SHORT_TIMEOUT + 1.0, (
        "the short call overran its time"
    )
    assert proxy.refused > 0, "the outage refused no Publish: the scenario did not happen"

    failed_short = {name for name, outcome in short_outcomes.items() if outcome is not None}
    assert failed_short == {event.operation for event in short_events}, (
        f"a {OUTAGE_SECONDS:.0f} s outage should fail a {SHORT_TIMEOUT:.0f} s publish: "
        f"{short_outcomes}"
    )
    assert all(outcome is None for outcome in long_outcomes.values()), long_outcomes

    arrived: dict[str, float] = {}
    long_ids = {event.operation for event in long_events}
    pull_until = outage_ends + SETTLE_SECONDS
    while time.monotonic() < pull_until or not long_ids <= arrived.keys():
        assert time.monotonic() < outage_ends + LONG_TIMEOUT, f"long call lost: {arrived}"
        for ce_id in _ce_ids(subscription):
            arrived.setdefault(ce_id, time.monotonic() - began)
        time.sleep(0.2)

    late = {name: f"{arrived[name]:.1f} s" for name in failed_short & arrived.keys()}
    assert not late, (
        f"messages the short call reported failed at "
        f"{returned['short'] - began:.1f} s landed later, a duplicate once re-published: {late}"
    )
    assert arrived.keys() == long_ids


def test_the_proxy_forwards_publish_once_the_outage_is_over(
    proxy: FlakyPublishProxy, subscription: EventSink
) -> None:
    """The proxy itself: without an outage, a publish through it lands on the emulator."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBSUB_EMULATOR_HOST", proxy.address)
        publisher = PubSubEventPublisher(make_publisher_client(), subscription.topic)
    events = _events("plain", 2)
    assert publisher.publish(events, 10.0) == {event.operation: None for event in events}
    arrived: set[str] = set()
    deadline = time.monotonic() + 10.0
    while len(arrived) < len(events) and time.monotonic() < deadline:
        arrived.update(_ce_ids(subscription))
        time.sleep(0.1)
    assert arrived == {event.operation for event in events}
    assert proxy.refused == 0
