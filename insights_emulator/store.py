"""Thread-safe store of emulated operations whose state is derived from a clock at read time.

Why: operations must progress "over time" without background threads, so each record keeps
its schedule and every read decides, against an injectable clock, whether it is done yet.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, get_args

from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2

from insights_emulator.kinds import PASSTHROUGH_KIND, Kind, OperationContext, get_kind

Outcome = Literal["succeed", "fail", "cancel"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)

DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_PAGE_SIZE = 100
DEFAULT_ERROR_CODE = code_pb2.INTERNAL
DEFAULT_ERROR_MESSAGE = "Internal error encountered."
CANCELLED_MESSAGE = "Operation was cancelled."

_SEGMENT = r"[^/\s]+"
_PARENT_RE = re.compile(rf"projects/({_SEGMENT})/locations/({_SEGMENT})")
_NAME_RE = re.compile(rf"projects/({_SEGMENT})/locations/({_SEGMENT})/operations/({_SEGMENT})")
_FILTER_RE = re.compile(r"\s*done\s*=\s*(true|false)\s*", re.IGNORECASE)
_PROJECT_NUMBER_RE = re.compile(r"[0-9]+")
_VALID_PROJECT_NUMBER_RE = re.compile(r"[1-9][0-9]{0,19}")


def derive_project_number(project_id: str) -> str:
    """The 12-digit number (first digit non-zero) given to a project ID with none configured.

    Deterministic (a SHA-256 of the ID), so every process of the emulator agrees on it.
    """
    digest = int.from_bytes(hashlib.sha256(project_id.encode()).digest()[:8], "big")
    return str(10**11 + digest % (9 * 10**11))


def is_project_number(project: str) -> bool:
    """Project IDs start with a letter; a name segment of digits only is a project number."""
    return _PROJECT_NUMBER_RE.fullmatch(project) is not None


class OperationNotFoundError(LookupError):
    """The named operation does not exist (never created, or deleted)."""


class OperationDoneError(RuntimeError):
    """An immediate control was applied to an operation that has already finished."""


class ManualClock:
    """A clock that only moves when told to, for deterministic lifecycle tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        with self._lock:
            self._now += seconds


@dataclasses.dataclass
class _Record:
    seq: int
    name: str
    kind: Kind
    project: str
    project_id: str | None
    location: str
    operation_id: str
    create_time: float
    planned_duration: float | None
    finish_time: float | None
    outcome: Outcome
    error_code: int
    error_message: str
    partial_errors: tuple[status_pb2.Status, ...]
    response_size_bytes: int | None
    raw_metadata: any_pb2.Any | None
    raw_response: any_pb2.Any | None

    def done(self, now: float) -> bool:
        return self.finish_time is not None and now >= self.finish_time

    def snapshot(self, now: float) -> _Snapshot:
        """Capture what rendering needs, so it can happen outside the store's lock."""
        done = self.done(now)
        if done and self.outcome == "succeed":
            progress = 1.0
        elif self.planned_duration:
            elapsed = min(now, self.finish_time or now) - self.create_time
            progress = max(0.0, min(1.0, elapsed / self.planned_duration))
        else:
            progress = 0.0
        failed = done and self.outcome == "fail"
        ctx = OperationContext(
            project=self.project,
            project_id=self.project_id,
            location=self.location,
            operation_id=self.operation_id,
            create_time=self.create_time,
            end_time=self.finish_time if done else None,
            progress=progress,
            succeeded=done and self.outcome == "succeed",
            partial_errors=self.partial_errors,
            response_size_bytes=self.response_size_bytes,
            raw_metadata=self.raw_metadata,
            raw_response=self.raw_response,
            error=(
                status_pb2.Status(code=self.error_code, message=self.error_message)
                if failed
                else None
            ),
        )
        error = status_pb2.Status(code=self.error_code, message=self.error_message)
        return _Snapshot(self.name, self.kind, done, self.outcome, error, ctx)


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    name: str
    kind: Kind
    done: bool
    outcome: Outcome
    error: status_pb2.Status
    ctx: OperationContext

    def render(self) -> operations_pb2.Operation:
        op = operations_pb2.Operation(name=self.name, done=self.done)
        metadata = self.kind.pack_metadata(self.ctx)
        if metadata is not None:
            op.metadata.CopyFrom(metadata)
        if self.done and self.outcome == "succeed":
            op.response.CopyFrom(self.kind.pack_response(self.ctx))
        elif self.done:
            op.error.CopyFrom(self.error)
        return op


def parse_parent(parent: str) -> tuple[str, str]:
    """Split ``projects/P/locations/L`` into (P, L), rejecting anything else."""
    match = _PARENT_RE.fullmatch(parent)
    if match is None:
        raise ValueError(f"invalid name {parent!r}: expected projects/*/locations/*")
    return match.group(1), match.group(2)


def _check_name(name: str) -> None:
    if _NAME_RE.fullmatch(name) is None:
        raise ValueError(
            f"invalid operation name {name!r}: expected projects/*/locations/*/operations/*"
        )


def _error_for(outcome: str, code: int | None, message: str | None) -> tuple[int, str]:
    """Validate and default the google.rpc code and message an outcome ends with."""
    if outcome not in OUTCOMES:
        raise ValueError(f"invalid outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    if outcome != "fail":
        if code is not None or message is not None:
            raise ValueError("an error code or message applies only to outcome 'fail'")
        return (code_pb2.CANCELLED, CANCELLED_MESSAGE) if outcome == "cancel" else (0, "")
    if code is None:
        code = DEFAULT_ERROR_CODE
    if not code_pb2.CANCELLED <= code <= code_pb2.UNAUTHENTICATED:
        raise ValueError(f"invalid error code {code}: a failure needs a google.rpc code 1..16")
    return code, DEFAULT_ERROR_MESSAGE if message is None else message


def _check_amount(label: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")


class OperationStore:
    """Thread-safe set of emulated operations, rendered as ``google.longrunning.Operation``.

    Operations are listed in creation order (the order ``create`` was called in).

    Like the real service (which answers ``projects/389908145857/...`` when called with the
    project ID: seen on the conversations of Insights' public quickstart; the docs say nothing
    of operation names, so the emulator takes the less convenient spelling for them too),
    operations are stored and answered with the project *number*: requests may
    name the project by ID or by number and reach the same operations. ``project_numbers``
    maps project IDs to numbers; any other ID gets ``derive_project_number(id)``. A number
    no ID maps to is simply a project of its own.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_page_size: int = DEFAULT_MAX_PAGE_SIZE,
        seed: int | None = None,
        project_numbers: Mapping[str, str] | None = None,
    ) -> None:
        if max_page_size < 1:
            raise ValueError("max_page_size must be >= 1")
        self._numbers: dict[str, str] = {}
        self._ids: dict[str, str] = {}
        for project_id, number in (project_numbers or {}).items():
            if is_project_number(project_id) or not project_id:
                raise ValueError(f"{project_id!r} is not a project ID: IDs start with a letter")
            if _VALID_PROJECT_NUMBER_RE.fullmatch(number) is None:
                raise ValueError(f"project number {number!r} of {project_id!r} is not a number")
            if number in self._ids:
                other = self._ids[number]
                raise ValueError(f"projects {other!r} and {project_id!r} share number {number}")
            self._numbers[project_id] = number
            self._ids[number] = project_id
        self.clock = clock
        self.max_page_size = max_page_size
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._seq = 0
        self._records: dict[str, _Record] = {}
        self._used_ids: set[str] = set()

    def project_number(self, project: str) -> str:
        """The number of a project ID (configured, or derived); a number is returned as is."""
        if is_project_number(project):
            return project
        number = self._numbers.get(project)
        if number is None:
            number = derive_project_number(project)
            with self._lock:
                self._ids.setdefault(number, project)
        return number

    def _project_id(self, number: str) -> str | None:
        """The ID a number belongs to, if any ID has been configured or used for it."""
        with self._lock:
            return self._ids.get(number)

    def canonical_name(self, name: str) -> str:
        """``name`` with its project spelled as the service answers it: by number."""
        match = _NAME_RE.fullmatch(name) or _PARENT_RE.fullmatch(name)
        if match is None:
            return name
        project = match.group(1)
        return f"projects/{self.project_number(project)}" + name[len(f"projects/{project}") :]

    def create(
        self,
        kind: str,
        project: str,
        location: str,
        *,
        outcome: Outcome | None = None,
        finish_after: float | None = None,
        created_ago: float = 0.0,
        finished_ago: float | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
        partial_errors: Sequence[status_pb2.Status] = (),
        response_size_bytes: int | None = None,
        raw_metadata: any_pb2.Any | None = None,
        raw_response: any_pb2.Any | None = None,
    ) -> str:
        """Create an operation and return its name (with the project number, see the class).

        With neither ``outcome`` nor a schedule the operation runs until ``complete`` (or
        ``succeed``/``fail``/``cancel``) is called. ``finish_after`` seconds after its create
        time it finishes with ``outcome`` (default ``"succeed"``); an ``outcome`` without a
        schedule is reached at once. ``created_ago`` backdates the create time;
        ``finished_ago`` (instead of ``finish_after``) makes history that ended that long ago.
        """
        spec = get_kind(kind)
        parse_parent(f"projects/{project}/locations/{location}")
        for label, amount in (
            ("created_ago", created_ago),
            ("finish_after", finish_after),
            ("finished_ago", finished_ago),
            ("response_size_bytes", response_size_bytes),
        ):
            _check_amount(label, amount)
        if finished_ago is not None:
            if finish_after is not None:
                raise ValueError("give finish_after or finished_ago, not both")
            if finished_ago > created_ago:
                raise ValueError("finished_ago must not exceed created_ago")
            finish_after = created_ago - finished_ago
        scheduled = finish_after is not None
        if outcome is not None and finish_after is None:
            finish_after = 0.0
        code, message = _error_for(outcome or "succeed", error_code, error_message)
        if partial_errors and not spec.supports_partial_errors:
            raise ValueError(f"{kind} metadata has no partial_errors field")
        if response_size_bytes is not None and not spec.supports_response_size:
            raise ValueError(f"{kind} has no variable-size response to grow")
        if (raw_metadata is not None or raw_response is not None) and kind != PASSTHROUGH_KIND:
            raise ValueError(f"raw metadata or response applies only to kind {PASSTHROUGH_KIND}")
        if raw_response is not None and response_size_bytes is not None:
            raise ValueError("give raw_response or response_size_bytes, not both")
        number = self.project_number(project)
        project_id = self._project_id(number)
        with self._lock:
            create_time = self.clock() - created_ago
            operation_id = self._new_id()
            name = f"projects/{number}/locations/{location}/operations/{operation_id}"
            self._seq += 1
            self._records[name] = _Record(
                seq=self._seq,
                name=name,
                kind=spec,
                project=number,
                project_id=project_id,
                location=location,
                operation_id=operation_id,
                create_time=create_time,
                planned_duration=finish_after if scheduled else None,
                finish_time=None if finish_after is None else create_time + finish_after,
                outcome=outcome or "succeed",
                error_code=code,
                error_message=message,
                partial_errors=tuple(partial_errors),
                response_size_bytes=response_size_bytes,
                raw_metadata=raw_metadata,
                raw_response=raw_response,
            )
        return name

    def _new_id(self) -> str:
        """A 19-digit id like the service's, never reused here (caller holds the lock)."""
        while (candidate := str(self._rng.randrange(10**18, 10**19))) in self._used_ids:
            pass
        self._used_ids.add(candidate)
        return candidate

    def complete(
        self,
        name: str,
        outcome: Outcome = "succeed",
        *,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> operations_pb2.Operation:
        """Finish a running operation now; raises OperationDoneError if it already finished."""
        code, message = _error_for(outcome, error_code, error_message)
        canonical = self._canonical_operation(name)
        with self._lock:
            record = self._record(canonical, name)
            now = self.clock()
            if record.done(now):
                raise OperationDoneError(f"operation {name} is already done")
            record.finish_time = now
            record.outcome = outcome
            record.error_code, record.error_message = code, message
            snapshot = record.snapshot(now)
        return snapshot.render()

    def succeed(self, name: str) -> operations_pb2.Operation:
        """Finish a running operation now with its response."""
        return self.complete(name, "succeed")

    def fail(
        self, name: str, code: int = DEFAULT_ERROR_CODE, message: str = DEFAULT_ERROR_MESSAGE
    ) -> operations_pb2.Operation:
        """Finish a running operation now with a google.rpc error."""
        return self.complete(name, "fail", error_code=code, error_message=message)

    def cancel(self, name: str) -> operations_pb2.Operation:
        """Finish a running operation now as cancelled (google.rpc code 1)."""
        return self.complete(name, "cancel")

    def request_cancel(self, name: str) -> None:
        """Cancel like the CancelOperation RPC: a no-op for an operation that is done."""
        with contextlib.suppress(OperationDoneError):
            self.cancel(name)

    def delete(self, name: str) -> None:
        """Forget an operation, so that later reads of it are not found."""
        canonical = self._canonical_operation(name)
        with self._lock:
            self._record(canonical, name)
            del self._records[canonical]

    def get_operation(self, name: str) -> operations_pb2.Operation:
        """The operation as it is now."""
        canonical = self._canonical_operation(name)
        with self._lock:
            record = self._record(canonical, name)
            snapshot = record.snapshot(self.clock())
        return snapshot.render()

    def list_operations(
        self, project: str | None = None, location: str | None = None
    ) -> list[operations_pb2.Operation]:
        """All operations as they are now, optionally only one project's and/or location's.

        ``project`` may be an ID or a number.
        """
        if project is not None:
            project = self.project_number(project)
        with self._lock:
            now = self.clock()
            picked = [
                r.snapshot(now)
                for r in self._records.values()
                if project in (None, r.project) and location in (None, r.location)
            ]
        return [snapshot.render() for snapshot in picked]

    def list_page(
        self, parent: str, page_size: int = 0, page_token: str = "", filter_: str = ""
    ) -> tuple[list[operations_pb2.Operation], str]:
        """One page of ListOperations: (operations, next_page_token or "").

        ``filter_`` may be empty, ``done=true`` or ``done=false``. Raises ValueError for a
        bad parent, page size, filter or token. The parent may name the project by ID or by
        number; a page token is bound to the parent exactly as spelled in the request that got
        it (the real service documents nothing here: the stricter reading).
        """
        project, location = parse_parent(parent)
        project = self.project_number(project)
        if page_size < 0:
            raise ValueError(f"page_size must be >= 0, got {page_size}")
        size = min(page_size or DEFAULT_PAGE_SIZE, self.max_page_size)
        wanted_done = _parse_filter(filter_)
        start = _decode_token(page_token, parent, filter_) if page_token else 0
        with self._lock:
            now = self.clock()
            matches = [
                r
                for r in self._records.values()
                if r.project == project
                and r.location == location
                and r.seq >= start
                and (wanted_done is None or r.done(now) == wanted_done)
            ]
            picked = [r.snapshot(now) for r in matches[:size]]
        token = _encode_token(parent, filter_, matches[size].seq) if len(matches) > size else ""
        return [snapshot.render() for snapshot in picked], token

    def _canonical_operation(self, name: str) -> str:
        """Validate an operation name and spell its project by number."""
        _check_name(name)
        return self.canonical_name(name)

    def _record(self, canonical: str, requested: str | None = None) -> _Record:
        """The record for a canonical name (caller holds the lock)."""
        try:
            return self._records[canonical]
        except KeyError:
            shown = requested or canonical
            raise OperationNotFoundError(f"operation {shown} not found") from None


def _parse_filter(filter_: str) -> bool | None:
    if not filter_.strip():
        return None
    match = _FILTER_RE.fullmatch(filter_)
    if match is None:
        raise ValueError(f"unsupported filter {filter_!r}: only done=true or done=false")
    return match.group(1).lower() == "true"


def _encode_token(parent: str, filter_: str, seq: int) -> str:
    raw = json.dumps({"p": parent, "f": filter_, "s": seq}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: str, parent: str, filter_: str) -> int:
    """The sequence number a page starts at; the token must come from the same query."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("invalid page_token") from None
    if (
        not isinstance(data, dict)
        or data.get("p") != parent
        or data.get("f") != filter_
        or type(data.get("s")) is not int
    ):
        raise ValueError("invalid page_token: not issued for this name and filter")
    seq: int = data["s"]
    return seq
