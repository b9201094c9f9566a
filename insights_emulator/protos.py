"""A private protobuf pool of the Insights messages as the API has them, not as the library does.

Why: the real service is ahead of the client library (google-cloud-contact-center-insights
1.29.0). The v1 discovery document shipped in google-api-python-client 2.202.0
(``googleapiclient/discovery_cache/documents/contactcenterinsights.v1.json``, revision
20261104) lists operation kinds the library has no message for, and newer fields on messages
it does have. To serve both renderings from one source of truth, this module builds a
``DescriptorPool`` of its own:

* copies of the library's Insights file descriptors (and their dependencies), with the newer
  fields added to the known messages (``NEWER_ON_KNOWN``; their JSON names in
  ``NEWER_FIELDS``);
* one more file, in the same package ``google.cloud.contactcenterinsights.v1``, with the
  messages of the kinds the library lacks, built from their discovery schemas.

Over gRPC the emulator serializes these messages into ``Any``, so the library sees unknown
fields on known kinds and unknown type URLs for new kinds, exactly as it would from the real
service; over REST ``json_format.MessageToDict(..., descriptor_pool=POOL)`` renders every field.

The pool is never the default pool: the poller runs in the same process in tests and must
not be able to decode what the installed library cannot.

Field numbers: Google publishes the v1 protos' newer fields and messages only as JSON (the
discovery document has no field numbers). The numbers below are our own choice: newer fields
on known messages take 1001 and up, far from numbers the library uses, and the new messages
number their fields in declaration order. They are not the real ones, and nothing (the poller
least of all) may depend on them.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from google.cloud import contact_center_insights_v1 as ccai
from google.protobuf import (
    descriptor,
    descriptor_pb2,
    descriptor_pool,
    empty_pb2,
    message_factory,
    struct_pb2,
)

PACKAGE = "google.cloud.contactcenterinsights.v1"
NEWER_FILE_NAME = "google/cloud/contact_center_insights_v1/types/emulator_newer_kinds.proto"
"""The file holding the new kinds' messages (a name of ours; Google publishes no such file)."""

_SCALARS: dict[str, int] = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
    "float": descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
}
# Discovery formats -> protobuf well-known types: google-datetime is a Timestamp,
# google-duration a Duration, google-fieldmask a FieldMask, and a bare "object" a Struct.
_TIMESTAMP = ".google.protobuf.Timestamp"
_DURATION = ".google.protobuf.Duration"
_FIELD_MASK = ".google.protobuf.FieldMask"
_STRUCT = ".google.protobuf.Struct"
_STATUS = ".google.rpc.Status"


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    type: str
    """A scalar of ``_SCALARS``, ``.full.MessageName``, or ``enum:.full.EnumName``."""
    repeated: bool = False
    number: int = 0


@dataclasses.dataclass(frozen=True)
class _Enum:
    name: str
    values: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Message:
    name: str
    fields: tuple[_Field, ...] = ()
    nested: tuple[_Message, ...] = ()
    enums: tuple[_Enum, ...] = ()


def _f(name: str, type_: str, *, repeated: bool = False) -> _Field:
    return _Field(name, type_, repeated)


def _m(
    name: str, *fields: _Field, nested: tuple[_Message, ...] = (), enums: tuple[_Enum, ...] = ()
) -> _Message:
    return _Message(name, fields, nested, enums)


def _v1(name: str) -> str:
    return f".{PACKAGE}.{name}"


# Newer fields on messages the library knows (discovery schema -> field; JSON names in the
# comments), with the nested messages they need. The top-level fields of every known kind's
# metadata and response were compared programmatically with the discovery document
# (tests/unit/emulator/test_emulator_catalogue.py repeats the comparison): these are all of
# them. Nested messages (request echoes, transcripts, ...) have further newer fields, not
# rendered here.
NEWER_ON_KNOWN: dict[str, _Message] = {
    # GoogleCloudContactcenterinsightsV1BulkAnalyzeConversationsMetadata.relabel
    "BulkAnalyzeConversationsMetadata": _m(
        "BulkAnalyzeConversationsMetadata", _Field("relabel", "bool", number=1001)
    ),
    # GoogleCloudContactcenterinsightsV1IngestConversationsMetadata.sampledConversations
    "IngestConversationsMetadata": _m(
        "IngestConversationsMetadata",
        _Field("sampled_conversations", "string", repeated=True, number=1001),
    ),
    # GoogleCloudContactcenterinsightsV1ExportInsightsDataMetadata.completedExportCount,
    # .failedExportCount
    "ExportInsightsDataMetadata": _m(
        "ExportInsightsDataMetadata",
        _Field("completed_export_count", "int32", number=1001),
        _Field("failed_export_count", "int32", number=1002),
    ),
    # GoogleCloudContactcenterinsightsV1QueryMetricsMetadata.resultIsTruncated
    "QueryMetricsMetadata": _m(
        "QueryMetricsMetadata", _Field("result_is_truncated", "bool", number=1001)
    ),
    # GoogleCloudContactcenterinsightsV1ImportIssueModelResponse.issueModel
    "ImportIssueModelResponse": _m(
        "ImportIssueModelResponse", _Field("issue_model", _v1("IssueModel"), number=1001)
    ),
    # GoogleCloudContactcenterinsightsV1Conversation.correlationInfo, .satisfiesPzs,
    # .satisfiesPzi (UploadConversation's response)
    "Conversation": _m(
        "Conversation",
        _Field("correlation_info", _v1("Conversation.CorrelationInfo"), number=1001),
        _Field("satisfies_pzs", "bool", number=1002),
        _Field("satisfies_pzi", "bool", number=1003),
        nested=(
            # GoogleCloudContactcenterinsightsV1ConversationCorrelationInfo
            _m(
                "CorrelationInfo",
                _f(
                    "correlation_types",
                    "enum:" + _v1("Conversation.CorrelationInfo.CorrelationType"),
                    repeated=True,
                ),
                _f("full_conversation_correlation_id", "string"),
                _f("merged_full_conversation_correlation_id", "string"),
                enums=(
                    _Enum(
                        "CorrelationType",
                        ("CORRELATION_TYPE_UNSPECIFIED", "SEGMENT", "PARTIAL", "FULL", "SYNTHETIC"),
                    ),
                ),
            ),
        ),
    ),
    # GoogleCloudContactcenterinsightsV1Analysis.satisfiesPzs, .satisfiesPzi (CreateAnalysis'
    # response)
    "Analysis": _m(
        "Analysis",
        _Field("satisfies_pzs", "bool", number=1001),
        _Field("satisfies_pzi", "bool", number=1002),
    ),
}

# The new kinds' messages, from their discovery schemas GoogleCloudContactcenterinsightsV1<X>
# (nested schemas are named after the path: ...GenerativeInsightsResponseGenerativeResponse is
# GenerativeInsightsResponse.GenerativeResponse). Deeply nested schemas keep a subset of their
# fields; every field declared here exists in the schema (the drift test checks what renders).
_NEW_MESSAGES: tuple[_Message, ...] = (
    _m(
        "GenerativeInsightsMetadata",
        _f("error_messages", _STATUS, repeated=True),
    ),
    _m(
        "GenerativeInsightConversationTranscript",
        _f("conversation_id", "string"),
        _f("create_time", _TIMESTAMP),
        _f("update_time", _TIMESTAMP),
        _f("messages", _v1("GenerativeInsightConversationTranscript.Message"), repeated=True),
        nested=(
            _m(
                "Message",
                _f("message_id", "string"),
                _f("create_time", _TIMESTAMP),
                _f(
                    "user_message",
                    _v1("GenerativeInsightConversationTranscript.Message.UserMessage"),
                ),
                nested=(_m("UserMessage", _f("text", "string")),),
            ),
        ),
    ),
    _m(
        "GenerativeInsightsResponse",
        _f(
            "generative_responses",
            _v1("GenerativeInsightsResponse.GenerativeResponse"),
            repeated=True,
        ),
        _f("time_zone", "string"),
        _f("transcript", _v1("GenerativeInsightConversationTranscript")),
        nested=(
            _m(
                "GenerativeResponse",
                _f("chart_spec", _STRUCT),
                _f("generated_sql_query", "string"),
                _f(
                    "text_message",
                    _v1("GenerativeInsightsResponse.GenerativeResponse.TextOutput"),
                ),
                _f("text_output", "string"),
                nested=(
                    _m(
                        "TextOutput",
                        _f("text", "string", repeated=True),
                        _f(
                            "text_type",
                            "enum:"
                            + _v1("GenerativeInsightsResponse.GenerativeResponse")
                            + ".TextOutput.TextType",
                        ),
                        enums=(
                            _Enum(
                                "TextType",
                                ("TYPE_UNSPECIFIED", "THOUGHT", "FINAL_RESPONSE", "PROGRESS"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
    _m(
        "Dataset",
        _f("name", "string"),
        _f("display_name", "string"),
        _f("description", "string"),
        _f("type", "enum:" + _v1("Dataset.Type")),
        _f("create_time", _TIMESTAMP),
        _f("update_time", _TIMESTAMP),
        _f("ttl", _DURATION),
        _f("satisfies_pzs", "bool"),
        _f("satisfies_pzi", "bool"),
        enums=(_Enum("Type", ("TYPE_UNSPECIFIED", "EVAL", "LIVE")),),
    ),
    _m(
        "SampleRule",
        _f("conversation_filter", "string"),
        _f("dimension", "string"),
        _f("sample_percentage", "double"),
        _f("sample_row", "int64"),
    ),
    _m(
        "SampleConversationsRequest",
        _f("parent", "string"),
        _f("destination_dataset", _v1("Dataset")),
        _f("sample_rule", _v1("SampleRule")),
    ),
    _m(
        "SampleConversationsMetadata",
        _f("create_time", _TIMESTAMP),
        _f("end_time", _TIMESTAMP),
        _f("request", _v1("SampleConversationsRequest")),
        _f("partial_errors", _STATUS, repeated=True),
        _f(
            "sample_conversations_stats",
            _v1("SampleConversationsMetadata.SampleConversationsStats"),
        ),
        nested=(
            _m(
                "SampleConversationsStats",
                _f("successful_sample_count", "int32"),
                _f("failed_sample_count", "int32"),
            ),
        ),
    ),
    _m("SampleConversationsResponse"),
    _m(
        "BulkDeleteFeedbackLabelsRequest",
        _f("parent", "string"),
        _f("filter", "string"),
    ),
    _m(
        "BulkDeleteFeedbackLabelsMetadata",
        _f("request", _v1("BulkDeleteFeedbackLabelsRequest")),
        _f("partial_errors", _STATUS, repeated=True),
    ),
    _m("BulkDeleteFeedbackLabelsResponse"),
    _m("QueryPerformanceOverviewMetadata"),
    _m("QueryPerformanceOverviewResponse", _f("summary_text", "string")),
    _m(
        "TestCorrelationConfigMetadata",
        _f("create_time", _TIMESTAMP),
        _f("dataset", "string"),
        _f("stats", _v1("TestCorrelationConfigMetadata.FullConversationCorrelationStats")),
        nested=(
            _m(
                "FullConversationCorrelationStats",
                _f("sampled_conversations_count", "int32"),
                _f("correlated_conversations_count", "int32"),
                _f("failed_conversations_count", "int32"),
                _f("partial_errors", _STATUS, repeated=True),
                _f(
                    "conversation_correlation_errors",
                    _v1(
                        "TestCorrelationConfigMetadata.FullConversationCorrelationStats"
                        ".ConversationCorrelationError"
                    ),
                    repeated=True,
                ),
                nested=(
                    _m(
                        "ConversationCorrelationError",
                        _f("conversation", "string"),
                        _f("status", _STATUS),
                    ),
                ),
            ),
        ),
    ),
    _m(
        "ConversationCorrelationResult",
        _f("conversation", "string"),
        _f(
            "rule_results",
            _v1("ConversationCorrelationResult.RuleCorrelationResult"),
            repeated=True,
        ),
        nested=(
            _m(
                "RuleCorrelationResult",
                _f("rule_id", "string"),
                _f("correlation_id", "string"),
                _f("error", _STATUS),
            ),
        ),
    ),
    _m(
        "TestCorrelationConfigResponse",
        _f(
            "detailed_results",
            _v1("TestCorrelationConfigResponse.DetailedCorrelationResults"),
        ),
        _f("partial_errors", _STATUS, repeated=True),
        nested=(
            _m(
                "DetailedCorrelationResults",
                _f("join_key_results", _v1("ConversationCorrelationResult"), repeated=True),
            ),
        ),
    ),
    _m(
        "CreateIssueRequest",
        _f("parent", "string"),
        _f("issue", _v1("Issue")),  # the library's Issue: known, unchanged
    ),
    _m(
        "CreateIssueMetadata",
        _f("create_time", _TIMESTAMP),
        _f("end_time", _TIMESTAMP),
        _f("request", _v1("CreateIssueRequest")),
    ),
    _m(
        "QaQuestionTag",
        _f("name", "string"),
        _f("display_name", "string"),
        _f("qa_question_ids", "string", repeated=True),
        _f("create_time", _TIMESTAMP),
        _f("update_time", _TIMESTAMP),
        _f("satisfies_pzs", "bool"),
        _f("satisfies_pzi", "bool"),
    ),
    _m(
        "UpdateQaQuestionTagRequest",
        _f("qa_question_tag", _v1("QaQuestionTag")),
        _f("update_mask", _FIELD_MASK),
    ),
    _m(
        "UpdateQaQuestionTagMetadata",
        _f("create_time", _TIMESTAMP),
        _f("end_time", _TIMESTAMP),
        _f("request", _v1("UpdateQaQuestionTagRequest")),
    ),
    _m("DeleteQaQuestionTagRequest", _f("name", "string")),
    _m(
        "DeleteQaQuestionTagMetadata",
        _f("create_time", _TIMESTAMP),
        _f("end_time", _TIMESTAMP),
        _f("request", _v1("DeleteQaQuestionTagRequest")),
    ),
)


def _field_proto(field: _Field, number: int) -> descriptor_pb2.FieldDescriptorProto:
    proto = descriptor_pb2.FieldDescriptorProto(
        name=field.name,
        number=number,
        label=(
            descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            if field.repeated
            else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
        ),
        json_name=_json_name(field.name),
    )
    if field.type in _SCALARS:
        proto.type = _SCALARS[field.type]  # type: ignore[assignment]
    elif field.type.startswith("enum:"):
        proto.type = descriptor_pb2.FieldDescriptorProto.TYPE_ENUM
        proto.type_name = field.type.removeprefix("enum:")
    else:
        proto.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
        proto.type_name = field.type
    return proto


def _json_name(name: str) -> str:
    """protoc's lowerCamelCase JSON name of a snake_case field name."""
    return re.sub(r"_([a-z0-9])", lambda match: match.group(1).upper(), name)


def _message_proto(
    msg: _Message, proto: descriptor_pb2.DescriptorProto | None = None
) -> descriptor_pb2.DescriptorProto:
    """``msg`` as a DescriptorProto, or added to ``proto`` (a copied library message).

    Fields without a number of their own are numbered in declaration order.
    """
    if proto is None:
        proto = descriptor_pb2.DescriptorProto(name=msg.name)
    names = {field.name for field in proto.field}
    numbers = {field.number for field in proto.field}
    for index, field in enumerate(msg.fields, start=1):
        number = field.number or index
        if field.name in names or number in numbers:
            raise RuntimeError(f"{msg.name}.{field.name} clashes with the library's fields")
        proto.field.append(_field_proto(field, number))
    for nested in msg.nested:
        proto.nested_type.append(_message_proto(nested))
    for enum in msg.enums:
        proto.enum_type.add(
            name=enum.name,
            value=[
                descriptor_pb2.EnumValueDescriptorProto(name=value, number=number)
                for number, value in enumerate(enum.values)
            ],
        )
    return proto


def _copy(file: descriptor.FileDescriptor) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    return proto


def _with_newer_fields(proto: descriptor_pb2.FileDescriptorProto) -> None:
    """Add NEWER_ON_KNOWN to the top-level messages of a copied library file."""
    for msg in proto.message_type:
        if msg.name in NEWER_ON_KNOWN:
            _message_proto(NEWER_ON_KNOWN[msg.name], msg)


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file: descriptor.FileDescriptor) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = _copy(file)
        if proto.package == PACKAGE:
            _with_newer_fields(proto)
        pool.Add(proto)
        added.add(file.name)

    roots: list[Any] = [
        ccai.BulkAnalyzeConversationsMetadata.pb().DESCRIPTOR.file,  # the service's messages
        ccai.Conversation.pb().DESCRIPTOR.file,  # resources
        empty_pb2.DESCRIPTOR,
        struct_pb2.DESCRIPTOR,
    ]
    for root in roots:
        add(root)
    newer = descriptor_pb2.FileDescriptorProto(
        name=NEWER_FILE_NAME,
        package=PACKAGE,
        syntax="proto3",
        dependency=sorted(
            {
                ccai.Conversation.pb().DESCRIPTOR.file.name,
                "google/protobuf/timestamp.proto",
                "google/protobuf/duration.proto",
                "google/protobuf/field_mask.proto",
                "google/protobuf/struct.proto",
                "google/rpc/status.proto",
            }
        ),
    )
    for msg in _NEW_MESSAGES:
        newer.message_type.append(_message_proto(msg))
    pool.Add(newer)
    return pool


POOL: descriptor_pool.DescriptorPool = _build_pool()
"""The private pool: the library's Insights messages plus what the API has beyond them."""


def message_class(full_name: str) -> Any:
    """The private pool's message class for a full name such as ``google.protobuf.Empty``."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


def insights_class(name: str) -> Any:
    """The private pool's class of an Insights message, by short name (``Conversation``)."""
    return message_class(f"{PACKAGE}.{name}")


NEWER_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(_json_name(field.name) for field in msg.fields)
    for name, msg in NEWER_ON_KNOWN.items()
}
"""JSON names of the newer fields, by the short name of the known message they extend."""
