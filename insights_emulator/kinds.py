"""The long-running operation kinds of the Insights API, rendered as the real service renders them.

Why: the poller must be exercised with exactly the metadata and response types (and type URLs)
that the real service puts into ``google.longrunning.Operation``. The real service is the
judge, not the client library: the catalogue follows the v1 discovery document shipped in
google-api-python-client 2.202.0 (``contactcenterinsights.v1.json``, revision 20261104).
Every kind builds its messages from the emulator's private pool (``protos.POOL``): the
library's own messages plus the newer fields and kinds the document has, so over gRPC the
library sees what it would see from the real service (unknown fields, unknown type URLs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from google.protobuf import any_pb2
from google.rpc import status_pb2

from insights_emulator import protos

PASSTHROUGH_KIND = "Passthrough"
"""A test kind with arbitrary bytes: type URLs that are no real type, so nothing can unpack them.

It has no JSON form, so the REST read of such an operation answers 500 INTERNAL.
"""

PASSTHROUGH_METADATA_TYPE_URL = "type.googleapis.com/insights.emulator.v1.PassthroughMetadata"
PASSTHROUGH_RESPONSE_TYPE_URL = "type.googleapis.com/insights.emulator.v1.PassthroughResponse"
# Valid protobuf wire data (field 1 = "emulated", field 2 = 42) so generic decoders cope.
PASSTHROUGH_DEFAULT_VALUE = b"\n\x08emulated\x10\x2a"

_TYPE_URL_PREFIX = "type.googleapis.com/"
_EMPTY = "google.protobuf.Empty"
_SEGMENT_TEXT = (
    "Customer: Hi, I am calling about my last order, it has not arrived yet. "
    "Agent: I am sorry to hear that, let me check the shipping status for you. "
) * 8


@dataclasses.dataclass(frozen=True)
class OperationContext:
    """Everything a kind needs to render one operation as seen at one instant."""

    project: str
    """The project as the service answers it: the project number."""
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
    project_id: str | None = None
    """The project ID, when known: bucket names and BigQuery destinations use it."""
    error: status_pb2.Status | None = None
    """The error the operation failed with (not set while running, on success or cancel)."""

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
    metadata_type_url: str | None
    """None for a kind whose operations carry no metadata at all."""
    response_type_url: str
    supports_partial_errors: bool
    supports_response_size: bool
    pack_metadata: Callable[[OperationContext], any_pb2.Any | None]
    pack_response: Callable[[OperationContext], any_pb2.Any]


def timestamp(seconds: float) -> dict[str, int]:
    """Clock seconds as the fields of a protobuf Timestamp (microseconds, as float time allows).

    A dict rather than a message: the private pool's Timestamp is not the default pool's.
    """
    micros = round(seconds * 1e6)
    return {"seconds": micros // 1_000_000, "nanos": micros % 1_000_000 * 1000}


def _status(status: status_pb2.Status) -> dict[str, Any]:
    return {"code": status.code, "message": status.message}


def _pack(msg: Any) -> any_pb2.Any:
    return any_pb2.Any(
        type_url=_TYPE_URL_PREFIX + msg.DESCRIPTOR.full_name, value=msg.SerializeToString()
    )


def _full_name(name: str) -> str:
    return name if "." in name else f"{protos.PACKAGE}.{name}"


def _typed(
    name: str,
    metadata_type: str | None,
    response_type: str,
    metadata: Callable[[OperationContext], dict[str, Any]] | None,
    response: Callable[[OperationContext], dict[str, Any]] | None = None,
    pad: Callable[[Any, int], None] | None = None,
    *,
    finish: Callable[[Any], None] | None = None,
    partial_errors_elsewhere: bool = False,
) -> Kind:
    """Build a Kind from private-pool type names and field builders (dicts of pb fields).

    ``create_time``, ``end_time`` and ``partial_errors`` are filled in wherever the metadata
    type has them; ``partial_errors_elsewhere`` says the builders put partial errors where
    the schema has them (not at the metadata's top level). ``finish`` completes each
    response message (for fields the constructor cannot take, such as a Struct).
    """
    response_cls: Any = protos.message_class(_full_name(response_type))
    metadata_cls: Any = None
    fields: Any = {}
    if metadata_type is not None:
        metadata_cls = protos.message_class(_full_name(metadata_type))
        fields = metadata_cls.DESCRIPTOR.fields_by_name

    def pack_metadata(ctx: OperationContext) -> any_pb2.Any | None:
        if metadata_cls is None:
            return None
        msg = metadata_cls(**(metadata(ctx) if metadata is not None else {}))
        if "create_time" in fields:
            msg.create_time.FromMicroseconds(round(ctx.create_time * 1e6))
        if "end_time" in fields and ctx.end_time is not None:
            msg.end_time.FromMicroseconds(round(ctx.end_time * 1e6))
        if "partial_errors" in fields:
            for status in ctx.partial_errors:
                msg.partial_errors.add(**_status(status))
        return _pack(msg)

    def pack_response(ctx: OperationContext) -> any_pb2.Any:
        msg = response_cls(**(response(ctx) if response is not None else {}))
        if finish is not None:
            finish(msg)
        if pad is not None and ctx.response_size_bytes is not None:
            pad(msg, ctx.response_size_bytes)
        return _pack(msg)

    return Kind(
        name=name,
        metadata_type_url=(
            None if metadata_cls is None else _TYPE_URL_PREFIX + metadata_cls.DESCRIPTOR.full_name
        ),
        response_type_url=_TYPE_URL_PREFIX + response_cls.DESCRIPTOR.full_name,
        supports_partial_errors="partial_errors" in fields or partial_errors_elsewhere,
        supports_response_size=pad is not None,
        pack_metadata=pack_metadata,
        pack_response=pack_response,
    )


def _scaled(total: int, ctx: OperationContext) -> int:
    """How much of ``total`` is processed at the context's progress."""
    return total if ctx.succeeded else int(total * ctx.progress)


def _conversation_id(ctx: OperationContext, offset: int = 0) -> str:
    return f"{(ctx.number + offset) % 10**12:012d}"


def _conversation(ctx: OperationContext, offset: int = 0) -> str:
    return f"{ctx.parent}/conversations/{_conversation_id(ctx, offset)}"


def _issue_model(ctx: OperationContext) -> str:
    return f"{ctx.parent}/issueModels/{ctx.number % 10**6:06d}"


def _dataset(ctx: OperationContext) -> str:
    return f"{ctx.parent}/datasets/{ctx.number % 10**6:06d}"


def _bucket(ctx: OperationContext) -> str:
    return f"gs://{ctx.project_id or ctx.project}-insights"


def _updated(ctx: OperationContext) -> dict[str, int]:
    return timestamp(ctx.end_time or ctx.create_time)


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
    # Trim the last segment back to the size asked for (a length prefix may shrink a byte).
    last = segments[len(segments) - 1]
    last.text = last.text[: max(len(last.text) - (conversation.ByteSize() - size), 0)]
    while conversation.ByteSize() < size:
        last.text += " "


def _pad_slices(response: Any, size: int) -> None:
    """Add per-agent slices until the serialized QueryMetricsResponse has ``size`` bytes."""
    index = 0
    while response.ByteSize() < size:
        response.slices.add(
            dimensions=[
                {
                    "dimension_key": "AGENT",
                    "agent_dimension_metadata": {
                        "agent_id": f"agent-{index:06d}",
                        "agent_display_name": f"Agent {index}",
                        "agent_team": f"team-{index % 10}",
                    },
                }
            ],
            total={"conversation_measure": {"conversation_count": 1 + index % 50}},
        )
        index += 1


# ---------------------------------------------------------------------------------------------
# The 17 kinds of the client library (their newer fields come from the discovery document).


_ZONE_FLAGS = {"satisfies_pzs": True, "satisfies_pzi": True}


def _upload_conversation_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "parent": ctx.parent,
            "conversation_id": _conversation_id(ctx),
            "conversation": {"medium": "CHAT", "language_code": "en-US"},
        }
    }


def _conversation_response(ctx: OperationContext) -> dict[str, Any]:
    return {
        "name": _conversation(ctx),
        "create_time": timestamp(ctx.create_time),
        "update_time": _updated(ctx),
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
        # Newer fields (discovery document). Discovery: "a conversation that only has a single
        # segment is both a SEGMENT and a FULL_CONVERSATION". The zone flags are set (their
        # real values are not documented) so that what the library drops is visible.
        "correlation_info": {
            "correlation_types": ["SEGMENT", "FULL"],
            "full_conversation_correlation_id": f"call-{ctx.number % 10**6:06d}",
        },
        **_ZONE_FLAGS,
    }


def _annotators() -> dict[str, Any]:
    return {"run_sentiment_annotator": True, "run_summarization_annotator": True}


def _create_analysis_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {"conversation": _conversation(ctx), "annotator_selector": _annotators()}


def _analysis(ctx: OperationContext) -> dict[str, Any]:
    return {
        "name": f"{_conversation(ctx)}/analyses/{ctx.number % 10**9:09d}",
        "request_time": timestamp(ctx.create_time),
        "create_time": _updated(ctx),
        "annotator_selector": _annotators(),
        **_ZONE_FLAGS,
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
        # Discovery: "Output only. Deprecated: Use request.annotator_selector.
        # run_auto_labeling_annotator instead." Set, so that the newer field shows.
        "relabel": True,
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
        # Discovery: "the conversation resources produced by ingest sampling operations".
        "sampled_conversations": [
            _conversation(ctx, index) for index in range(min(3, _scaled(total - failed, ctx)))
        ],
    }


def _export_insights_metadata(ctx: OperationContext) -> dict[str, Any]:
    total = 50 + ctx.number % 200
    failed = min(len(ctx.partial_errors), total)
    return {
        "request": {
            "parent": ctx.parent,
            "big_query_destination": {
                "project_id": ctx.project_id or ctx.project,
                "dataset": "insights_export",
                "table": "conversations",
            },
            "write_disposition": "WRITE_APPEND",
        },
        "completed_export_count": _scaled(total - failed, ctx),
        "failed_export_count": _scaled(failed, ctx),
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
        "update_time": _updated(ctx),
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


def _import_issue_model_response(ctx: OperationContext) -> dict[str, Any]:
    # Discovery: ImportIssueModelResponse.issueModel, "The issue model that was imported."
    return {"issue_model": _issue_model_response(ctx)}


def _encryption_metadata(ctx: OperationContext) -> dict[str, Any]:
    key = f"{ctx.parent}/keyRings/insights/cryptoKeys/insights-cmek"
    return {
        "request": {"encryption_spec": {"name": f"{ctx.parent}/encryptionSpec", "kms_key": key}}
    }


def _query_metrics_metadata(ctx: OperationContext) -> dict[str, Any]:
    # Discovery: resultIsTruncated, "Whether the result rows were truncated because the result
    # row size is too large to materialize": so when a large result was asked for.
    return {"result_is_truncated": ctx.succeeded and ctx.response_size_bytes is not None}


def _query_metrics_response(ctx: OperationContext) -> dict[str, Any]:
    return {"location": ctx.parent, "update_time": _updated(ctx)}


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


# ---------------------------------------------------------------------------------------------
# Kinds the library lacks, from their discovery schemas.


def _generative_insights_metadata(ctx: OperationContext) -> dict[str, Any]:
    # Discovery: errorMessages, "The error message when the generative insights request fails".
    return {"error_messages": [_status(ctx.error)] if ctx.error is not None else []}


def _generative_insights_response(ctx: OperationContext) -> dict[str, Any]:
    return {
        "generative_responses": [
            {
                "generated_sql_query": (
                    "SELECT agent_id, COUNT(*) AS conversations FROM conversations "
                    "GROUP BY agent_id ORDER BY conversations DESC LIMIT 10"
                ),
                "text_output": "Agents ranked by number of conversations.",
                "text_message": {
                    "text": ["Agents ranked by number of conversations."],
                    "text_type": "FINAL_RESPONSE",
                },
            }
        ],
        "time_zone": "America/Los_Angeles",
        "transcript": {
            "conversation_id": _conversation_id(ctx),
            "create_time": timestamp(ctx.create_time),
            "update_time": _updated(ctx),
            "messages": [
                {
                    "message_id": "1",
                    "create_time": timestamp(ctx.create_time),
                    "user_message": {"text": "Which agents handled the most conversations?"},
                }
            ],
        },
    }


def _chart_spec(response: Any) -> None:
    """The chart spec is a Struct (discovery: an "object", "in the vega-lite format")."""
    response.generative_responses[0].chart_spec.update(
        {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "mark": "bar",
            "encoding": {
                "x": {"field": "agent_id", "type": "nominal"},
                "y": {"field": "conversations", "type": "quantitative"},
            },
        }
    )


def _sample_conversations_metadata(ctx: OperationContext) -> dict[str, Any]:
    total = 100 + ctx.number % 400
    failed = min(len(ctx.partial_errors), total)
    return {
        "request": {
            "parent": ctx.parent,
            "destination_dataset": {
                "name": _dataset(ctx),
                "display_name": "Evaluation sample",
                "type": "EVAL",
            },
            "sample_rule": {"conversation_filter": 'medium="CHAT"', "sample_row": total},
        },
        "sample_conversations_stats": {
            "successful_sample_count": _scaled(total - failed, ctx),
            "failed_sample_count": _scaled(failed, ctx),
        },
    }


def _bulk_delete_labels_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {"request": {"parent": ctx.parent, "filter": 'label_type = "QA_ANSWER_LABEL"'}}


def _performance_overview_response(ctx: OperationContext) -> dict[str, Any]:
    return {
        "summary_text": (
            "Average handle time fell 8% week over week; customer sentiment improved "
            "in chat conversations."
        )
    }


def _correlation_metadata(ctx: OperationContext) -> dict[str, Any]:
    # TestCorrelationConfigMetadata has createTime but no endTime, and keeps partialErrors in
    # its stats (FullConversationCorrelationStats.partialErrors), not at the top level.
    sampled = 20 + ctx.number % 30
    failed = min(len(ctx.partial_errors), sampled)
    return {
        "dataset": _dataset(ctx),
        "stats": {
            "sampled_conversations_count": sampled,
            "correlated_conversations_count": _scaled(sampled - failed, ctx),
            "failed_conversations_count": _scaled(failed, ctx),
            "partial_errors": [_status(status) for status in ctx.partial_errors],
            "conversation_correlation_errors": [
                {"conversation": _conversation(ctx, index), "status": _status(status)}
                for index, status in enumerate(ctx.partial_errors)
            ],
        },
    }


def _correlation_response(ctx: OperationContext) -> dict[str, Any]:
    return {
        "detailed_results": {
            "join_key_results": [
                {
                    "conversation": _conversation(ctx, index),
                    "rule_results": [
                        {"rule_id": "call-id", "correlation_id": f"call-{ctx.number % 10**6}"}
                    ],
                }
                for index in range(2)
            ]
        },
        "partial_errors": [_status(status) for status in ctx.partial_errors],
    }


def _issue(ctx: OperationContext) -> str:
    return f"{_issue_model(ctx)}/issues/{ctx.number % 10**6:06d}"


def _create_issue_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "parent": _issue_model(ctx),
            "issue": {
                "display_name": "Late delivery",
                "display_description": "The customer's order has not arrived.",
            },
        }
    }


def _issue_response(ctx: OperationContext) -> dict[str, Any]:
    return {
        "name": _issue(ctx),
        "display_name": "Late delivery",
        "display_description": "The customer's order has not arrived.",
        "create_time": timestamp(ctx.create_time),
        "update_time": _updated(ctx),
    }


def _qa_question_tag(ctx: OperationContext) -> str:
    return f"{ctx.parent}/qaQuestionTags/{ctx.number % 10**6:06d}"


def _update_tag_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {
        "request": {
            "qa_question_tag": {
                "name": _qa_question_tag(ctx),
                "display_name": "Empathy",
                "qa_question_ids": ["q-empathy-1", "q-empathy-2"],
            },
            "update_mask": {"paths": ["display_name", "qa_question_ids"]},
        }
    }


def _tag_response(ctx: OperationContext) -> dict[str, Any]:
    return {
        "name": _qa_question_tag(ctx),
        "display_name": "Empathy",
        "qa_question_ids": ["q-empathy-1", "q-empathy-2"],
        "create_time": timestamp(ctx.create_time - 86400),
        "update_time": _updated(ctx),
    }


def _delete_tag_metadata(ctx: OperationContext) -> dict[str, Any]:
    return {"request": {"name": _qa_question_tag(ctx)}}


# ---------------------------------------------------------------------------------------------
# The passthrough kind.


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


_LIBRARY_KINDS: tuple[Kind, ...] = (
    _typed(
        "UploadConversation",
        "UploadConversationMetadata",
        "Conversation",
        _upload_conversation_metadata,
        _conversation_response,
        pad=_pad_transcript,
    ),
    _typed(
        "CreateAnalysis",
        "CreateAnalysisOperationMetadata",
        "Analysis",
        _create_analysis_metadata,
        _analysis,
    ),
    _typed(
        "BulkAnalyzeConversations",
        "BulkAnalyzeConversationsMetadata",
        "BulkAnalyzeConversationsResponse",
        _bulk_analyze_metadata,
        _bulk_analyze_response,
    ),
    _typed(
        "BulkDeleteConversations",
        "BulkDeleteConversationsMetadata",
        "BulkDeleteConversationsResponse",
        _bulk_delete_metadata,
    ),
    _typed(
        "IngestConversations",
        "IngestConversationsMetadata",
        "IngestConversationsResponse",
        _ingest_metadata,
    ),
    _typed(
        "ExportInsightsData",
        "ExportInsightsDataMetadata",
        "ExportInsightsDataResponse",
        _export_insights_metadata,
    ),
    _typed(
        "CreateIssueModel",
        "CreateIssueModelMetadata",
        "IssueModel",
        _create_issue_model_metadata,
        _issue_model_response,
    ),
    _typed("DeleteIssueModel", "DeleteIssueModelMetadata", _EMPTY, _issue_model_request),
    _typed(
        "DeployIssueModel",
        "DeployIssueModelMetadata",
        "DeployIssueModelResponse",
        _issue_model_request,
    ),
    _typed(
        "UndeployIssueModel",
        "UndeployIssueModelMetadata",
        "UndeployIssueModelResponse",
        _issue_model_request,
    ),
    _typed(
        "ExportIssueModel",
        "ExportIssueModelMetadata",
        "ExportIssueModelResponse",
        _export_issue_model_metadata,
    ),
    _typed(
        "ImportIssueModel",
        "ImportIssueModelMetadata",
        "ImportIssueModelResponse",
        _import_issue_model_metadata,
        _import_issue_model_response,
    ),
    _typed(
        "InitializeEncryptionSpec",
        "InitializeEncryptionSpecMetadata",
        "InitializeEncryptionSpecResponse",
        _encryption_metadata,
    ),
    # QueryMetricsMetadata has no create_time/end_time (in the library and in the document).
    _typed(
        "QueryMetrics",
        "QueryMetricsMetadata",
        "QueryMetricsResponse",
        _query_metrics_metadata,
        _query_metrics_response,
        pad=_pad_slices,
    ),
    # The discovery document has no schema for this kind's metadata and response (nor for
    # BulkUploadFeedbackLabels'): they render as the library declares them.
    _typed(
        "TuneQaScorecardRevision",
        "TuneQaScorecardRevisionMetadata",
        "TuneQaScorecardRevisionResponse",
        _tune_scorecard_metadata,
    ),
    _typed(
        "BulkUploadFeedbackLabels",
        "BulkUploadFeedbackLabelsMetadata",
        "BulkUploadFeedbackLabelsResponse",
        _bulk_upload_labels_metadata,
    ),
    _typed(
        "BulkDownloadFeedbackLabels",
        "BulkDownloadFeedbackLabelsMetadata",
        "BulkDownloadFeedbackLabelsResponse",
        _bulk_download_labels_metadata,
    ),
)

# Response types of the new kinds follow the rule the discovery document states on
# GoogleLongrunningOperation.response: "If the original method returns no data on success,
# such as Delete, the response is google.protobuf.Empty. If the original method is standard
# Get/Create/Update, the response should be the resource. For other methods, the response
# should have the type XxxResponse".
_NEWER_KINDS: tuple[Kind, ...] = (
    # No createTime/endTime in GenerativeInsightsMetadata.
    _typed(
        "GenerativeInsights",
        "GenerativeInsightsMetadata",
        "GenerativeInsightsResponse",
        _generative_insights_metadata,
        _generative_insights_response,
        finish=_chart_spec,
    ),
    _typed(
        "SampleConversations",
        "SampleConversationsMetadata",
        "SampleConversationsResponse",
        _sample_conversations_metadata,
    ),
    # No createTime/endTime in BulkDeleteFeedbackLabelsMetadata.
    _typed(
        "BulkDeleteFeedbackLabels",
        "BulkDeleteFeedbackLabelsMetadata",
        "BulkDeleteFeedbackLabelsResponse",
        _bulk_delete_labels_metadata,
    ),
    # QueryPerformanceOverviewMetadata has no properties at all.
    _typed(
        "QueryPerformanceOverview",
        "QueryPerformanceOverviewMetadata",
        "QueryPerformanceOverviewResponse",
        None,
        _performance_overview_response,
    ),
    _typed(
        "TestCorrelationConfig",
        "TestCorrelationConfigMetadata",
        "TestCorrelationConfigResponse",
        _correlation_metadata,
        _correlation_response,
        partial_errors_elsewhere=True,
    ),
    # issueModels.issues.create: a standard Create, so the response is the Issue (a message
    # the library knows; only the metadata is new to it).
    _typed("CreateIssue", "CreateIssueMetadata", "Issue", _create_issue_metadata, _issue_response),
    # qaQuestionTags.patch: a standard Update, so the response is the QaQuestionTag.
    _typed(
        "UpdateQaQuestionTag",
        "UpdateQaQuestionTagMetadata",
        "QaQuestionTag",
        _update_tag_metadata,
        _tag_response,
    ),
    _typed("DeleteQaQuestionTag", "DeleteQaQuestionTagMetadata", _EMPTY, _delete_tag_metadata),
    # datasets.delete: the document has no DeleteDatasetMetadata schema (nor any other schema
    # naming this method), and GoogleLongrunningOperation.metadata says "Some services might
    # not provide such metadata ... should document the metadata type, if any". So these
    # operations carry no metadata at all (no createTime either: the less convenient reading
    # for a poller), and, being a Delete, respond with google.protobuf.Empty.
    _typed("DeleteDataset", None, _EMPTY, None),
)

KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in _LIBRARY_KINDS)
"""The 17 kinds of the Python client's long-running methods, named after the RPC."""

NEWER_KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in _NEWER_KINDS)
"""Kinds the client library lacks (its default pool cannot decode their Insights types)."""

KINDS: dict[str, Kind] = {kind.name: kind for kind in (*_LIBRARY_KINDS, *_NEWER_KINDS)}
KINDS[PASSTHROUGH_KIND] = Kind(
    name=PASSTHROUGH_KIND,
    metadata_type_url=PASSTHROUGH_METADATA_TYPE_URL,
    response_type_url=PASSTHROUGH_RESPONSE_TYPE_URL,
    supports_partial_errors=False,
    supports_response_size=True,
    pack_metadata=_passthrough_metadata,
    pack_response=_passthrough_response,
)

_METHOD_PREFIX = "contactcenterinsights.projects.locations."
DISCOVERY_METHOD_KINDS: dict[str, str] = {
    _METHOD_PREFIX + method: kind
    for method, kind in {
        "bulkDeleteFeedbackLabels": "BulkDeleteFeedbackLabels",
        "bulkDownloadFeedbackLabels": "BulkDownloadFeedbackLabels",
        "bulkUploadFeedbackLabels": "BulkUploadFeedbackLabels",
        "generativeInsights": "GenerativeInsights",
        "queryMetrics": "QueryMetrics",
        "queryPerformanceOverview": "QueryPerformanceOverview",
        "testCorrelationConfig": "TestCorrelationConfig",
        "authorizedViewSets.authorizedViews.generativeInsights": "GenerativeInsights",
        "authorizedViewSets.authorizedViews.queryMetrics": "QueryMetrics",
        "authorizedViewSets.authorizedViews.queryPerformanceOverview": "QueryPerformanceOverview",
        "conversations.bulkAnalyze": "BulkAnalyzeConversations",
        "conversations.bulkDelete": "BulkDeleteConversations",
        "conversations.ingest": "IngestConversations",
        "conversations.sample": "SampleConversations",
        "conversations.upload": "UploadConversation",
        "conversations.analyses.create": "CreateAnalysis",
        # Its request is a BulkAnalyzeConversationsRequest, like conversations.bulkAnalyze.
        "conversations.segments.bulkAnalyze": "BulkAnalyzeConversations",
        "datasets.bulkDeleteFeedbackLabels": "BulkDeleteFeedbackLabels",
        "datasets.bulkDownloadFeedbackLabels": "BulkDownloadFeedbackLabels",
        "datasets.bulkUploadFeedbackLabels": "BulkUploadFeedbackLabels",
        "datasets.delete": "DeleteDataset",
        "datasets.conversations.bulkDelete": "BulkDeleteConversations",
        "datasets.conversations.ingest": "IngestConversations",
        "datasets.conversations.sample": "SampleConversations",
        "datasets.insightsdata.export": "ExportInsightsData",
        "encryptionSpec.initialize": "InitializeEncryptionSpec",
        "insightsdata.export": "ExportInsightsData",
        "issueModels.create": "CreateIssueModel",
        "issueModels.delete": "DeleteIssueModel",
        "issueModels.deploy": "DeployIssueModel",
        "issueModels.export": "ExportIssueModel",
        "issueModels.import": "ImportIssueModel",
        "issueModels.undeploy": "UndeployIssueModel",
        "issueModels.issues.create": "CreateIssue",
        "qaQuestionTags.delete": "DeleteQaQuestionTag",
        "qaQuestionTags.patch": "UpdateQaQuestionTag",
        "qaScorecards.revisions.tuneQaScorecardRevision": "TuneQaScorecardRevision",
    }.items()
}
"""Every v1 discovery method returning an operation (but ``operations.get``) -> its kind."""


def get_kind(name: str) -> Kind:
    """Look a kind up by name, failing with the list of valid names."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; expected one of {', '.join(KINDS)}") from None
