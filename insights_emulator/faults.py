"""Fault injection and call accounting for the emulated Operations service.

Why: the poller's retry and back-off paths, and benchmarks that count Insights calls, need a
service that fails, slows down and counts calls on demand, reproducibly (seeded RNG).
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable

import grpc

METHODS: tuple[str, ...] = (
    "ListOperations",
    "GetOperation",
    "CancelOperation",
    "DeleteOperation",
    "WaitOperation",
    "RestGetOperation",
)
"""Fault and counter keys: the gRPC methods, and ``RestGetOperation`` for ``GET /v1/{name}``."""
ANY_METHOD = "*"
"""Fault key that applies to every method without a fault of its own."""


@dataclasses.dataclass(frozen=True)
class Fault:
    """What to do to calls of one method: fail some with ``code`` and/or delay all of them."""

    error_rate: float = 0.0
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    message: str = "Injected fault"
    latency_seconds: float = 0.0
    max_errors: int | None = None
    """Stop injecting errors after this many (None: no limit), e.g. to fail only the first N."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be within [0, 1], got {self.error_rate!r}")
        if self.code is grpc.StatusCode.OK:
            raise ValueError("an injected fault needs an error code, not OK")
        if not (math.isfinite(self.latency_seconds) and self.latency_seconds >= 0):
            raise ValueError(f"latency_seconds must be >= 0, got {self.latency_seconds!r}")
        if self.max_errors is not None and self.max_errors < 0:
            raise ValueError(f"max_errors must be >= 0, got {self.max_errors!r}")


class FaultInjector:
    """Thread-safe per-method faults plus counters of calls and injected errors."""

    def __init__(
        self, seed: int | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._rng = random.Random(seed)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._errors_left: dict[str, int | None] = {}
        self._calls = dict.fromkeys(METHODS, 0)
        self._injected = dict.fromkeys(METHODS, 0)

    def set_fault(self, method: str, fault: Fault) -> None:
        """Install ``fault`` for ``method`` (one of METHODS, or ANY_METHOD)."""
        if method != ANY_METHOD and method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected {ANY_METHOD!r} or {METHODS}")
        with self._lock:
            self._faults[method] = fault
            self._errors_left[method] = fault.max_errors

    def clear_faults(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()
            self._errors_left.clear()

    def faults(self) -> dict[str, Fault]:
        """The installed faults by method key."""
        with self._lock:
            return dict(self._faults)

    def reseed(self, seed: int | None) -> None:
        """Restart the error draws from ``seed``, to replay the same failure pattern."""
        with self._lock:
            self._rng.seed(seed)

    def on_call(self, method: str) -> tuple[grpc.StatusCode, str] | None:
        """Count a call, apply its latency and return the error to fail it with, if any."""
        with self._lock:
            self._calls[method] += 1
            key = method if method in self._faults else ANY_METHOD
            fault = self._faults.get(key)
            if fault is None:
                return None
            left = self._errors_left[key]
            failing = left != 0 and fault.error_rate > 0 and self._rng.random() < fault.error_rate
            if failing:
                self._injected[method] += 1
                if left is not None:
                    self._errors_left[key] = left - 1
        if fault.latency_seconds:
            self._sleep(fault.latency_seconds)
        return (fault.code, fault.message) if failing else None

    def calls(self) -> dict[str, int]:
        """Calls received per method, failed ones included."""
        with self._lock:
            return dict(self._calls)

    def injected_errors(self) -> dict[str, int]:
        """Calls per method that were failed by an injected fault."""
        with self._lock:
            return dict(self._injected)

    def reset_stats(self) -> None:
        """Zero the call and injected-error counters."""
        with self._lock:
            self._calls = dict.fromkeys(METHODS, 0)
            self._injected = dict.fromkeys(METHODS, 0)
