"""The long-running operation kinds of the Insights API, rendered as real Insights messages.

Why: the poller must be exercised with exactly the metadata and response types (and type URLs)
that the real service puts into ``google.longrunning.Operation``, so every kind builds the
installed client library's own messages and packs them into ``google.protobuf.Any``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from google.cloud import contact_center_insights_v1 as ccai
from google.protobuf import any_pb2, empty_pb2, message, timestamp_pb2
from google.rpc import status_pb2

PASSTHROUGH_KIND = "Passthrough"
"""A kind whose metadata and response use type URLs the client library cannot unpack."""

PASSTHROUGH_METADATA_TYPE_URL = (
    "type.googleapis.com/google.cloud.contactcenterinsights.v1.GenerativeInsightsMetadata"
)
PASSTHROUGH_RESPONSE_TYPE_URL = (
    "type.googleapis.com/google.cloud.contactcenterinsights.v1.GenerativeInsightsResponse"
)
# Valid protobuf wire data (field 1 = "emulated", field 2 = 42) so generic decoders cope.
PASSTHROUGH_DEFAULT_VALUE = b"\n\x08emulated\x10\x2a"

_TYPE_URL_PREFIX = "type.googleapis.com/"
_SEGMENT_TEXT = (
    "Customer: Hi, I am calling about my last order, it has not arrived yet. "
    "Agent: I am sorry to hear that, let me check the shipping status for you. "
) * 8


@dataclasses.dataclass(frozen=True)
class OperationContext:
    """Everything a kind needs to render one operation as seen at one instant."""

    project: str
    location: str
    operation_id: str
    create_time: float
    end_time: float | None
    progress: float
    succeeded: bool
    partial_errors: tuple[status_pb2.Status, ...] = ()
    response_size_bytes: int | None = None
    raw_metadata: any_pb2.Any | None = None
    raw_response: any_pb2.Any | None = None

    @property
    def parent(self) -> str:
        """The ``projects/P/locations/L`` resource every Insights request is made against."""
        return f"projects/{self.project}/locations/{self.location}"

    @property
    def number(self) -> int:
        """A stable integer derived from the id, used to vary plausible field values."""
        return int(self.operation_id)


@dataclasses.dataclass(frozen=True)
class Kind:
    """One operation kind: how to pack its metadata and its (successful) response."""

    name: str
    metadata_type_url: str
    response_type_url: str
    supports_partial_errors: bool
    supports_response_size: bool
    pack_metadata: Callable[[OperationContext], any_pb2.Any]
    pack_response: Callable[[OperationContext], any_pb2.Any]


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """Convert clock seconds to a protobuf Timestamp (microseconds, as float time allows)."""
    ts = timestamp_pb2.Timestamp()
    ts.FromMicroseconds(round(seconds * 1e6))
    return ts


def _pack(msg: message.Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(msg)
    return packed


def _typed(
    name: str,
    metadata_type: Any,
    response_type: Any,
    metadata: Callable[[OperationContext], dict[str, Any]],
    response: Callable[[OperationContext], dict[str, Any]] | None = None,
    pad: Callable[[Any, int], None] | None = None,
) -> Kind:
    """Build a Kind from proto-plus types and field builders (plain dicts of pb fields)."""
    metadata_cls: Any = metadata_type.pb()
    response_cls: Any = response_type if response_type is empty_pb2.Empty else response_type.pb()
    fields = metadata_cls.DESCRIPTOR.fields_by_name

    def pack_metadata(ctx: OperationContext) -> any_pb2.Any:
        msg = metadata_cls(**metadata(ctx))
        if "create_time" in fields:
            msg.create_time.CopyFrom(timestamp(ctx.create_time))
        if "end_time" in fields and ctx.end_time is not None:
            msg.end_time.CopyFrom(timestamp(ctx.end_time))
        if "partial_errors" in fields:
            msg.partial_errors.extend(ctx.partial_errors)
        return _pack(msg)

    def pack_response(ctx: OperationContext) -> any_pb2.Any:
        msg = response_cls(**(response(ctx) if response is not None else {}))
        if pad is not None and ctx.response_size_bytes is not None:
            pad(msg, ctx.response_size_bytes)
        return _pack(msg)

    return Kind(
        name=name,
        metadata_type_url=_TYPE_URL_PREFIX + metadata_cls.DESCRIPTOR.full_name,
        response_type_url=_TYPE_URL_PREFIX + response_cls.DESCRIPTOR.full_name,
        supports_partial_errors="partial_errors" in fields,
        supports_response_size=pad is not None,
        pack_metadata=pack_metadata,
        pack_response=pack_response,
    )


def _scaled(total: int, ctx: OperationContext) -> int:
    """How much of ``total`` is processed at the context's progress."""
    return total if ctx.succeeded else int(total * ctx.progress)


def _conversation_id(ctx: OperationContext) -> str:
    return f"{ctx.number % 10**12:012d}"


def _issue_model(ctx: OperationContext) -> str:
    return f"{ctx.parent}/issueModels/{ctx.number % 10**6:06d}"


def _bucket(ctx: OperationContext) -> str:
    return f"gs://{ctx.project}-insights"


def _pad_transcript(conversation: Any, size: int) -> None:
    """Grow the transcript until the serialized Conversation has at least ``size`` bytes."""
    # ByteSize() is O(size): measure one segment's cost, add them in bulk, then top up.
    segments = conversation.transcript.transcript_segments
    segments.add(text=_SEGMENT_TEXT, channel_tag=1)
    first = conversation.ByteSize()
    segments.add(text=_SEGMENT_TEXT, channel_tag=2)
    per_segment = conversation.ByteSize() - first
    for index in range(max(size - first, 0) // per_segment - 1):
        segments.add(text=_SEGMENT_TEXT, channel_tag=1 + index % 2)
    while conversation.ByteSize() < size:
        segments.add(text=_SEGMENT_TEXT, channel_tag=1 + len(segments) % 2)


def _upload_conversation_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "parent": ctx.parent,
            "conversation_id": _conversation_id(ctx),
            "conversation": {"medium": "CHAT", "language_code": "en-US"},
        }
    }


def _conversation(ctx: OperationContext) -> dict[str, Any]:
    return {
        "name": f"{ctx.parent}/conversations/{_conversation_id(ctx)}",
        "create_time": timestamp(ctx.create_time),
        "update_time": timestamp(ctx.end_time or ctx.create_time),
        "language_code": "en-US",
        "medium": "CHAT",
        "agent_id": f"agent-{ctx.number % 1000:03d}",
        "turn_count": 2,
        "transcript": {
            "transcript_segments": [
                {"text": "Hi, my order has not arrived.", "channel_tag": 2},
                {"text": "Let me check that for you.", "channel_tag": 1},
            ]
        },
    }


def _annotators() -> dict[str, Any]:
    return {"run_sentiment_annotator": True, "run_summarization_annotator": True}


def _create_analysis_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "conversation": f"{ctx.parent}/conversations/{_conversation_id(ctx)}",
        "annotator_selector": _annotators(),
    }


def _analysis(ctx: OperationContext) -> dict[str, Any]:
    conversation = f"{ctx.parent}/conversations/{_conversation_id(ctx)}"
    return {
        "name": f"{conversation}/analyses/{ctx.number % 10**9:09d}",
        "request_time": timestamp(ctx.create_time),
        "create_time": timestamp(ctx.end_time or ctx.create_time),
        "annotator_selector": _annotators(),
    }


def _bulk_analyze_totals(ctx: OperationContext) -> tuple[int, int]:
    total = 10 + ctx.number % 90
    return total, min(len(ctx.partial_errors), total)


def _bulk_analyze_metadata(ctx: OperationContext) -> dict[str, Any]:
    total, failed = _bulk_analyze_totals(ctx)
    return {
        "request": {
            "parent": ctx.parent,
            "filter": 'medium="CHAT"',
            "analysis_percentage": 100.0,
            "annotator_selector": _annotators(),
        },
        "completed_analyses_count": _scaled(total - failed, ctx),
        "failed_analyses_count": _scaled(failed, ctx),
        "total_requested_analyses_count": total,
    }


def _bulk_analyze_response(ctx: OperationContext) -> dict[str, Any]:
    total, failed = _bulk_analyze_totals(ctx)
    return {"successful_analysis_count": total - failed, "failed_analysis_count": failed}


def _bulk_delete_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "parent": ctx.parent,
            "filter": 'create_time < "2020-01-01T00:00:00Z"',
            "max_delete_count": 1000,
            "force": True,
        }
    }


def _ingest_metadata(ctx: OperationContext) -> dict[str, Any]:
    total = 20 + ctx.number % 80
    failed = min(len(ctx.partial_errors), total)
    return {
        "request": {
            "parent": ctx.parent,
            "gcs_source": {
                "bucket_uri": f"{_bucket(ctx)}/transcripts",
                "bucket_object_type": "TRANSCRIPT",
            },
            "transcript_object_config": {"medium": "CHAT"},
        },
        "ingest_conversations_stats": {
            "processed_object_count": _scaled(total, ctx),
            "successful_ingest_count": _scaled(total - failed, ctx),
            "failed_ingest_count": _scaled(failed, ctx),
        },
    }


def _export_insights_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "parent": ctx.parent,
            "big_query_destination": {
                "project_id": ctx.project,
                "dataset": "insights_export",
                "table": "conversations",
            },
            "write_disposition": "WRITE_APPEND",
        }
    }


def _create_issue_model_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "parent": ctx.parent,
            "issue_model": {
                "display_name": "Order issues",
                "input_data_config": {"medium": "CHAT", "filter": 'medium="CHAT"'},
            },
        }
    }


def _issue_model_response(ctx: OperationContext) -> dict[str, Any]:
    return {
        "name": _issue_model(ctx),
        "display_name": "Order issues",
        "create_time": timestamp(ctx.create_time),
        "update_time": timestamp(ctx.end_time or ctx.create_time),
        "state": "UNDEPLOYED",
        "language_code": "en-US",
    }


def _issue_model_request(ctx: OperationContext) -> dict[str, Any]:
    return {"request": {"name": _issue_model(ctx)}}


def _export_issue_model_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "name": _issue_model(ctx),
            "gcs_destination": {"object_uri": f"{_bucket(ctx)}/issue-model.json"},
        }
    }


def _import_issue_model_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "parent": ctx.parent,
            "gcs_source": {"object_uri": f"{_bucket(ctx)}/issue-model.json"},
            "create_new_model": True,
        }
    }


def _encryption_metadata(ctx: OperationContext) -> dict[str, Any]:
    key = f"{ctx.parent}/keyRings/insights/cryptoKeys/insights-cmek"
    return {
        "request": {"encryption_spec": {"name": f"{ctx.parent}/encryptionSpec", "kms_key": key}}
    }


def _query_metrics_response(ctx: OperationContext) -> dict[str, Any]:
    return {"location": ctx.parent, "update_time": timestamp(ctx.end_time or ctx.create_time)}


def _tune_scorecard_metadata(ctx: OperationContext) -> dict[str, Any]:
    revision = f"{ctx.parent}/qaScorecards/default/revisions/{ctx.number % 1000:03d}"
    return {
        "request": {"parent": revision, "filter": 'medium="CHAT"'},
        "tuning_completion_ratio": 1.0 if ctx.succeeded else ctx.progress,
    }


def _bulk_upload_labels_metadata(ctx: OperationContext) -> dict[str, Any]:
    total = 5 + ctx.number % 45
    return {
        "request": {
            "parent": ctx.parent,
            "gcs_source": {"format_": "CSV", "object_uri": f"{_bucket(ctx)}/labels.csv"},
        },
        "upload_stats": {
            "processed_object_count": _scaled(total, ctx),
            "successful_upload_count": _scaled(total, ctx),
        },
    }


def _bulk_download_labels_metadata(ctx: OperationContext) -> dict[str, Any]:
    total = 5 + ctx.number % 45
    return {
        "request": {
            "parent": ctx.parent,
            "gcs_destination": {"format_": "JSON", "object_uri": f"{_bucket(ctx)}/labels"},
        },
        "download_stats": {
            "processed_object_count": _scaled(total, ctx),
            "successful_download_count": _scaled(total, ctx),
            "total_files_written": 1 if ctx.succeeded else 0,
            "file_names": [f"{_bucket(ctx)}/labels/labels-0.json"] if ctx.succeeded else [],
        },
    }


def _opaque(ctx: OperationContext) -> bytes:
    """Default pass-through response bytes, grown to the requested size as field 1."""
    if ctx.response_size_bytes is None:
        return PASSTHROUGH_DEFAULT_VALUE
    payload = b"x" * ctx.response_size_bytes
    length = len(payload)
    varint = bytearray()
    while True:
        varint.append((length & 0x7F) | (0x80 if length > 0x7F else 0))
        length >>= 7
        if not length:
            return b"\n" + bytes(varint) + payload


def _passthrough_metadata(ctx: OperationContext) -> any_pb2.Any:
    if ctx.raw_metadata is not None:
        return ctx.raw_metadata
    return any_pb2.Any(type_url=PASSTHROUGH_METADATA_TYPE_URL, value=PASSTHROUGH_DEFAULT_VALUE)


def _passthrough_response(ctx: OperationContext) -> any_pb2.Any:
    if ctx.raw_response is not None:
        return ctx.raw_response
    return any_pb2.Any(type_url=PASSTHROUGH_RESPONSE_TYPE_URL, value=_opaque(ctx))


_KINDS: tuple[Kind, ...] = (
    _typed(
        "UploadConversation",
        ccai.UploadConversationMetadata,
        ccai.Conversation,
        _upload_conversation_metadata,
        _conversation,
        pad=_pad_transcript,
    ),
    _typed(
        "CreateAnalysis",
        ccai.CreateAnalysisOperationMetadata,
        ccai.Analysis,
        _create_analysis_metadata,
        _analysis,
    ),
    _typed(
        "BulkAnalyzeConversations",
        ccai.BulkAnalyzeConversationsMetadata,
        ccai.BulkAnalyzeConversationsResponse,
        _bulk_analyze_metadata,
        _bulk_analyze_response,
    ),
    _typed(
        "BulkDeleteConversations",
        ccai.BulkDeleteConversationsMetadata,
        ccai.BulkDeleteConversationsResponse,
        _bulk_delete_metadata,
    ),
    _typed(
        "IngestConversations",
        ccai.IngestConversationsMetadata,
        ccai.IngestConversationsResponse,
        _ingest_metadata,
    ),
    _typed(
        "ExportInsightsData",
        ccai.ExportInsightsDataMetadata,
        ccai.ExportInsightsDataResponse,
        _export_insights_metadata,
    ),
    _typed(
        "CreateIssueModel",
        ccai.CreateIssueModelMetadata,
        ccai.IssueModel,
        _create_issue_model_metadata,
        _issue_model_response,
    ),
    _typed(
        "DeleteIssueModel",
        ccai.DeleteIssueModelMetadata,
        empty_pb2.Empty,
        _issue_model_request,
    ),
    _typed(
        "DeployIssueModel",
        ccai.DeployIssueModelMetadata,
        ccai.DeployIssueModelResponse,
        _issue_model_request,
    ),
    _typed(
        "UndeployIssueModel",
        ccai.UndeployIssueModelMetadata,
        ccai.UndeployIssueModelResponse,
        _issue_model_request,
    ),
    _typed(
        "ExportIssueModel",
        ccai.ExportIssueModelMetadata,
        ccai.ExportIssueModelResponse,
        _export_issue_model_metadata,
    ),
    _typed(
        "ImportIssueModel",
        ccai.ImportIssueModelMetadata,
        ccai.ImportIssueModelResponse,
        _import_issue_model_metadata,
    ),
    _typed(
        "InitializeEncryptionSpec",
        ccai.InitializeEncryptionSpecMetadata,
        ccai.InitializeEncryptionSpecResponse,
        _encryption_metadata,
    ),
    # QueryMetricsMetadata has no fields at all, so it carries no create_time/end_time.
    _typed(
        "QueryMetrics",
        ccai.QueryMetricsMetadata,
        ccai.QueryMetricsResponse,
        lambda ctx: {},
        _query_metrics_response,
    ),
    _typed(
        "TuneQaScorecardRevision",
        ccai.TuneQaScorecardRevisionMetadata,
        ccai.TuneQaScorecardRevisionResponse,
        _tune_scorecard_metadata,
    ),
    _typed(
        "BulkUploadFeedbackLabels",
        ccai.BulkUploadFeedbackLabelsMetadata,
        ccai.BulkUploadFeedbackLabelsResponse,
        _bulk_upload_labels_metadata,
    ),
    _typed(
        "BulkDownloadFeedbackLabels",
        ccai.BulkDownloadFeedbackLabelsMetadata,
        ccai.BulkDownloadFeedbackLabelsResponse,
        _bulk_download_labels_metadata,
    ),
)

KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in _KINDS)
"""The 17 kinds of the Python client's long-running methods, named after the RPC."""

KINDS: dict[str, Kind] = {kind.name: kind for kind in _KINDS}
KINDS[PASSTHROUGH_KIND] = Kind(
    name=PASSTHROUGH_KIND,
    metadata_type_url=PASSTHROUGH_METADATA_TYPE_URL,
    response_type_url=PASSTHROUGH_RESPONSE_TYPE_URL,
    supports_partial_errors=False,
    supports_response_size=True,
    pack_metadata=_passthrough_metadata,
    pack_response=_passthrough_response,
)


def get_kind(name: str) -> Kind:
    """Look a kind up by name, failing with the list of valid names."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; expected one of {', '.join(KINDS)}") from None
