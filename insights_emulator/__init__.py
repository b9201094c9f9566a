"""An emulator of the Contact Center AI Insights long-running operations API.

Google ships no Insights emulator, yet the poller must be run and tested against something that
speaks ``google.longrunning.Operations`` exactly like Insights does. This package is that
something: a real gRPC server whose operations carry the Insights metadata and response
messages, which finish over time, and which can be made to misbehave. The real service is the
judge: where it differs from the client library (regional endpoints, project numbers in names,
kinds and fields the library does not know yet), the emulator does what the service does, and
where Google's documents are silent it does the less convenient thing. Sources:

* Insights docs, "Regionalization": https://cloud.google.com/contact-center/insights/docs/regionalization
* the v1 discovery document shipped in google-api-python-client 2.202.0,
  ``googleapiclient/discovery_cache/documents/contactcenterinsights.v1.json`` (revision
  20261104);
* Google's API error model: https://cloud.google.com/apis/design/errors

Run it as a process::

    python -m insights_emulator --port 8089 --admin-port 8090 --rest-port 8091 \\
        --locations us-central1 --seed demo --project demo-project --project-number 389908145857

It prints ``Insights emulator listening on 127.0.0.1:8089 (admin http://127.0.0.1:8090,
REST http://127.0.0.1:8091)`` once ready, and stops on SIGTERM or Ctrl-C. ``--seed demo``
creates eight operations of several kinds in ``--project`` (default ``demo-project``) and
``--location`` (default ``us-central1``) that finish 5 to 30 s later: most succeed, one fails,
one is cancelled, and one (SampleConversations) is of a kind newer than the client library.
``--max-page-size`` caps ListOperations pages; ``--random-seed`` makes ids reproducible.
Port 0 picks a free port; the ready line shows the ports bound.

Three servers, one store:

* gRPC ``google.longrunning.Operations`` (``--port``): what the client library calls.
* REST (``--rest-port``): ``GET /v1/{name=projects/*/locations/*/operations/*}`` answers the
  operation exactly as the REST API renders it: proto3 JSON (lowerCamelCase names, ``@type``
  inside ``Any``, RFC 3339 timestamps, int64 as strings, enum names, defaults omitted, so
  ``done`` is absent while running), every field and kind included. Plain HTTP, no auth.
  Errors have Google's JSON shape ``{"error": {"code": 404, "message": "...", "status":
  "NOT_FOUND"}}``, the HTTP code mapped from the gRPC code as the error model tabulates it.
  The pass-through kind's raw bytes have no JSON form: reading one answers 500 INTERNAL
  ``cannot render ... as JSON``. Only this one REST method is served; other paths are 404.
* HTTP admin (``--admin-port``): create, finish and delete operations, faults and stats.

Regional serving (Regionalization docs: ``contactcenterinsights.googleapis.com`` serves
``us-central1`` only; every other location L, the multi-regions ``us`` and ``eu`` included, is
served on ``L-contactcenterinsights.googleapis.com``): ``--locations us-central1,europe-west1``
lists the locations this endpoint serves (default ``us-central1``, like the global endpoint;
one process per location works too). A gRPC (List/Get/Cancel/DeleteOperation) or REST
request for another location is refused with INVALID_ARGUMENT (HTTP 400) whose message names
the location and the endpoint that serves it, and is counted in the stats like any call.
The admin API accepts any location.

Project numbers: the real service answers names with the project *number*
(``projects/389908145857/locations/...``) even when called with the project ID. The emulator
stores and answers every name that way (gRPC and REST, list and get, admin JSON and
``create()``'s return value); requests may spell the project by ID or by number and reach the
same operations, and a number no ID maps to is just another project. ``--project-number``
gives ``--project``'s number; without it (and for every other ID) the number is derived from
the ID (12 digits, deterministic). A page token only works with the parent spelled as in the
request that got it.

Catalogue: kinds follow the discovery document, not the library. ``KIND_NAMES`` are the 17
kinds of google-cloud-contact-center-insights 1.29.0's long-running methods;
``NEWER_KIND_NAMES`` are the kinds the document has and the library lacks (GenerativeInsights,
SampleConversations, BulkDeleteFeedbackLabels, QueryPerformanceOverview,
TestCorrelationConfig, CreateIssue, UpdateQaQuestionTag, DeleteQaQuestionTag, DeleteDataset);
``DISCOVERY_METHOD_KINDS`` maps each of the document's 37 methods returning an operation
(``operations.get`` aside) to its kind. Known kinds carry the document's newer fields
(``protos.NEWER_FIELDS``: e.g. ``IngestConversationsMetadata.sampledConversations``). All are
built in a private protobuf pool (``protos.POOL``), never the default one: over gRPC the
library sees unknown fields and unknown type URLs, as it would from the real service, while
the REST read shows everything. ``tests/unit/emulator/test_emulator_catalogue.py`` checks the
catalogue against the document.

Point the real client at it::

    channel = grpc.insecure_channel("127.0.0.1:8089")
    client = ContactCenterInsightsClient(
        transport=ContactCenterInsightsGrpcTransport(channel=channel))
    client.list_operations({"name": "projects/demo-project/locations/us-central1"})

    curl localhost:8091/v1/projects/demo-project/locations/us-central1/operations/123

Drive it over HTTP (JSON in and out; errors are 4xx with ``{"error": "..."}``)::

    curl -X POST localhost:8090/v1/projects/p/locations/l/operations \\
         -d '{"kind": "UploadConversation", "outcome": "succeed", "finishAfterSeconds": 10}'
    curl -X POST localhost:8090/v1/projects/p/locations/l/operations/123:fail \\
         -d '{"code": 3, "message": "bad input"}'        # also :succeed and :cancel
    curl -X DELETE localhost:8090/v1/projects/p/locations/l/operations/123
    curl localhost:8090/v1/projects/p/locations/l/operations      # list, as JSON
    curl -X POST localhost:8090/v1/faults \\
         -d '{"method": "ListOperations", "errorRate": 0.5, "code": "UNAVAILABLE"}'
    curl localhost:8090/v1/stats                                 # calls per method

Also: ``GET /v1/{name}`` (one operation), ``DELETE /v1/faults``, ``GET /v1/faults``,
``DELETE /v1/stats`` (reset counters), ``GET /v1/kinds`` (every kind). Create accepts ``kind``
(required), ``outcome``, ``finishAfterSeconds``, ``createdAgoSeconds``,
``finishedAgoSeconds``, ``errorCode``, ``errorMessage``, ``partialErrors`` ([{"code",
"message"}]), ``responseSizeBytes`` and, for the pass-through kind,
``rawMetadata``/``rawResponse`` ({"typeUrl", "valueBase64"}). Faults accept ``method``
(``METHODS``: the gRPC methods and ``RestGetOperation`` for the REST read; default ``*``:
all), ``errorRate``, ``code``, ``message``, ``latencySeconds``, ``maxErrors`` and ``seed``;
an injected code reaches REST callers as its HTTP status.

Or use it in-process, e.g. in tests, with an injected clock::

    clock = ManualClock()
    emulator = InsightsEmulator(clock=clock, max_page_size=50, seed=1,
                                locations=["us-central1"],     # None (default): all
                                project_numbers={"p": "389908145857"})
    address = emulator.start()                   # "127.0.0.1:<free port>"
    rest = emulator.start_rest()                 # and start_admin()
    name = emulator.create("CreateAnalysis", "p", "us-central1", finish_after=60)
    # name == "projects/389908145857/locations/us-central1/operations/<id>"
    clock.advance(61)                            # now the operation is done
    history = emulator.create("IngestConversations", "p", "us-central1", outcome="fail",
                              created_ago=3600, finished_ago=1800)
    emulator.faults.set_fault("GetOperation", Fault(error_rate=1.0, max_errors=2))
    emulator.faults.calls()["ListOperations"]
    emulator.project_number("p")                 # "389908145857"
    emulator.stop()

``locations=None`` serves every location: an in-process convenience no real endpoint offers.

Kinds are named after the API's long-running methods, plus ``PASSTHROUGH_KIND`` whose metadata
and response carry arbitrary bytes under type URLs that are no real type; ``KINDS[name]``
tells each kind's type URLs. Whether an operation is done is decided on every read against
the clock; nothing runs in the background. ListOperations pages in creation order, accepts
the filters ``done=true`` and ``done=false``, and rejects other filters.
"""

from insights_emulator.demo import seed_demo
from insights_emulator.faults import ANY_METHOD, METHODS, Fault, FaultInjector
from insights_emulator.kinds import (
    DISCOVERY_METHOD_KINDS,
    KIND_NAMES,
    KINDS,
    NEWER_KIND_NAMES,
    PASSTHROUGH_KIND,
    PASSTHROUGH_METADATA_TYPE_URL,
    PASSTHROUGH_RESPONSE_TYPE_URL,
    Kind,
)
from insights_emulator.protos import NEWER_FIELDS
from insights_emulator.regions import DEFAULT_LOCATIONS
from insights_emulator.rest import HTTP_STATUS, REST_METHOD, operation_json
from insights_emulator.server import InsightsEmulator
from insights_emulator.store import (
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
    derive_project_number,
)

__all__ = [
    "ANY_METHOD",
    "CANCELLED_MESSAGE",
    "DEFAULT_ERROR_CODE",
    "DEFAULT_ERROR_MESSAGE",
    "DEFAULT_LOCATIONS",
    "DEFAULT_MAX_PAGE_SIZE",
    "DEFAULT_PAGE_SIZE",
    "DISCOVERY_METHOD_KINDS",
    "HTTP_STATUS",
    "KINDS",
    "KIND_NAMES",
    "METHODS",
    "NEWER_FIELDS",
    "NEWER_KIND_NAMES",
    "PASSTHROUGH_KIND",
    "PASSTHROUGH_METADATA_TYPE_URL",
    "PASSTHROUGH_RESPONSE_TYPE_URL",
    "REST_METHOD",
    "Fault",
    "FaultInjector",
    "InsightsEmulator",
    "Kind",
    "ManualClock",
    "OperationDoneError",
    "OperationNotFoundError",
    "OperationStore",
    "Outcome",
    "derive_project_number",
    "operation_json",
    "seed_demo",
]
