"""Demo data: a handful of operations of several kinds that finish over about 30 seconds,
one of a kind newer than the client library.

Why: a demo (or a manual check of the poller) needs events to arrive one after another,
with every kind of ending (success, failure, cancellation) visible within half a minute.
"""

from __future__ import annotations

from google.rpc import code_pb2, status_pb2

from insights_emulator.store import OperationStore


def seed_demo(store: OperationStore, project: str, location: str) -> list[str]:
    """Create the demo operations, finishing between 5 and 30 s from now; return names."""
    bucket_error = status_pb2.Status(
        code=code_pb2.NOT_FOUND, message="Conversation transcript object not found."
    )
    return [
        store.create("UploadConversation", project, location, finish_after=5),
        store.create("CreateAnalysis", project, location, finish_after=9),
        store.create(
            "BulkAnalyzeConversations",
            project,
            location,
            finish_after=13,
            partial_errors=[bucket_error],
        ),
        store.create(
            "IngestConversations",
            project,
            location,
            outcome="fail",
            finish_after=17,
            error_code=code_pb2.INVALID_ARGUMENT,
            error_message=f"Bucket gs://{project}-insights/transcripts does not exist.",
        ),
        store.create("ExportInsightsData", project, location, finish_after=21),
        store.create("CreateIssueModel", project, location, outcome="cancel", finish_after=25),
        store.create("DeployIssueModel", project, location, finish_after=30),
        # A kind the client library cannot decode: only the API's own JSON shows its fields.
        store.create("SampleConversations", project, location, finish_after=11),
    ]
