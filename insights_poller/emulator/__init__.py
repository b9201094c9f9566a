"""An emulator of the Contact Center AI Insights long-running operations API.

Google ships no Insights emulator, yet the poller must be run and tested against something that
speaks ``google.longrunning.Operations`` exactly like Insights does. This package is that
something: a real gRPC server whose operations carry the Insights client library's own
metadata and response messages, which finish over time, and which can be made to misbehave.

Run it as a process::

    python -m insights_poller.emulator --port 8089 --admin-port 8090 --seed demo

It prints ``Insights emulator listening on 127.0.0.1:8089 (admin http://127.0.0.1:8090)``
once ready, and stops on SIGTERM or Ctrl-C. ``--seed demo`` creates seven operations of
several kinds in ``projects/demo-project/locations/us-central1`` (``--project``,
``--location``) that finish 5 to 30 s later: most succeed, one fails, one is cancelled.
``--max-page-size`` caps ListOperations pages; ``--random-seed`` makes ids reproducible.
Port 0 picks a free port; the ready line shows the ports bound.

Point the real client at it::

    channel = grpc.insecure_channel("127.0.0.1:8089")
    client = ContactCenterInsightsClient(
        transport=ContactCenterInsightsGrpcTransport(channel=channel))
    client.list_operations({"name": "projects/demo-project/locations/us-central1"})

Drive it over HTTP (JSON in and out; errors are 4xx with ``{"error": "..."}``)::

    curl -X POST localhost:8090/v1/projects/p/locations/l/operations \\
         -d '{"kind": "UploadConversation", "outcome": "succeed", "finishAfterSeconds": 10}'
    curl -X POST localhost:8090/v1/projects/p/locations/l/operations/123:fail \\
         -d '{"code": 3, "message": "bad input"}'        # also :succeed and :cancel
    curl -X DELETE localhost:8090/v1/projects/p/locations/l/operations/123
    curl localhost:8090/v1/projects/p/locations/l/operations      # list, as JSON
    curl -X POST localhost:8090/v1/faults \\
         -d '{"method": "ListOperations", "errorRate": 0.5, "code": "UNAVAILABLE"}'
    curl localhost:8090/v1/stats                                 # gRPC calls per method

Also: ``GET /v1/{name}`` (one operation), ``DELETE /v1/faults``, ``GET /v1/faults``,
``DELETE /v1/stats`` (reset counters), ``GET /v1/kinds``. Create accepts ``kind`` (required),
``outcome``, ``finishAfterSeconds``, ``createdAgoSeconds``, ``finishedAgoSeconds``,
``errorCode``, ``errorMessage``, ``partialErrors`` ([{"code", "message"}]),
``responseSizeBytes`` and, for the pass-through kind, ``rawMetadata``/``rawResponse``
({"typeUrl", "valueBase64"}). Faults accept ``method`` (default ``*``: all), ``errorRate``,
``code``, ``message``, ``latencySeconds``, ``maxErrors`` and ``seed``.

Or use it in-process, e.g. in tests, with an injected clock::

    clock = ManualClock()
    emulator = InsightsEmulator(clock=clock, max_page_size=50, seed=1)
    address = emulator.start()                   # "127.0.0.1:<free port>"
    name = emulator.create("CreateAnalysis", "p", "l", finish_after=60)
    clock.advance(61)                            # now the operation is done
    history = emulator.create("IngestConversations", "p", "l", outcome="fail",
                              created_ago=3600, finished_ago=1800)
    emulator.faults.set_fault("GetOperation", Fault(error_rate=1.0, max_errors=2))
    emulator.faults.calls()["ListOperations"]
    emulator.stop()

Kinds are named after the client's long-running methods (``KIND_NAMES``), plus
``PASSTHROUGH_KIND`` whose metadata and response use type URLs no library can unpack;
``KINDS[name]`` tells each kind's type URLs. Whether an operation is done is decided on every
read against the clock; nothing runs in the background. ListOperations pages in creation
order, accepts the filters ``done=true`` and ``done=false``, and rejects other filters.
"""

from insights_poller.emulator.demo import seed_demo
from insights_poller.emulator.faults import ANY_METHOD, METHODS, Fault, FaultInjector
from insights_poller.emulator.kinds import (
    KIND_NAMES,
    KINDS,
    PASSTHROUGH_KIND,
    PASSTHROUGH_METADATA_TYPE_URL,
    PASSTHROUGH_RESPONSE_TYPE_URL,
    Kind,
)
from insights_poller.emulator.server import InsightsEmulator
from insights_poller.emulator.store import (
    CANCELLED_MESSAGE,
    DEFAULT_ERROR_CODE,
    DEFAULT_ERROR_MESSAGE,
    DEFAULT_MAX_PAGE_SIZE,
    DEFAULT_PAGE_SIZE,
    ManualClock,
    OperationDoneError,
    OperationNotFoundError,
    OperationStore,
    Outcome,
)

__all__ = [
    "ANY_METHOD",
    "CANCELLED_MESSAGE",
    "DEFAULT_ERROR_CODE",
    "DEFAULT_ERROR_MESSAGE",
    "DEFAULT_MAX_PAGE_SIZE",
    "DEFAULT_PAGE_SIZE",
    "KINDS",
    "KIND_NAMES",
    "METHODS",
    "PASSTHROUGH_KIND",
    "PASSTHROUGH_METADATA_TYPE_URL",
    "PASSTHROUGH_RESPONSE_TYPE_URL",
    "Fault",
    "FaultInjector",
    "InsightsEmulator",
    "Kind",
    "ManualClock",
    "OperationDoneError",
    "OperationNotFoundError",
    "OperationStore",
    "Outcome",
    "seed_demo",
]
