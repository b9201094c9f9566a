"""The gRPC ``google.longrunning.Operations`` service and the ``InsightsEmulator`` facade.

Why: the poller talks to Insights through the real client library over gRPC, so the emulator
must be a real gRPC server speaking the same service the library's transport calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import empty_pb2

from insights_poller.emulator.admin import AdminServer
from insights_poller.emulator.faults import FaultInjector
from insights_poller.emulator.store import (
    DEFAULT_MAX_PAGE_SIZE,
    OperationNotFoundError,
    OperationStore,
)


def join_host_port(host: str, port: int) -> str:
    """``host:port``, bracketing IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class OperationsServicer:
    """``google.longrunning.Operations`` over an OperationStore, with faults and counting."""

    def __init__(self, store: OperationStore, faults: FaultInjector) -> None:
        self._store = store
        self._faults = faults

    def _enter(self, method: str, context: grpc.ServicerContext) -> None:
        injected = self._faults.on_call(method)
        if injected is not None:
            context.abort(*injected)

    def _run(self, context: grpc.ServicerContext, call: Callable[[], Any]) -> Any:
        """Run a store call, mapping its errors to the status codes the real service uses."""
        try:
            return call()
        except OperationNotFoundError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    def ListOperations(self, request: Any, context: grpc.ServicerContext) -> Any:
        """One page of a location's operations."""
        self._enter("ListOperations", context)
        operations, token = self._run(
            context,
            lambda: self._store.list_page(
                request.name, request.page_size, request.page_token, request.filter
            ),
        )
        return operations_pb2.ListOperationsResponse(operations=operations, next_page_token=token)

    def GetOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The operation as it is now."""
        self._enter("GetOperation", context)
        return self._run(context, lambda: self._store.get_operation(request.name))

    def CancelOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Cancel a running operation; cancelling a finished one changes nothing."""
        self._enter("CancelOperation", context)
        self._run(context, lambda: self._store.request_cancel(request.name))
        return empty_pb2.Empty()

    def DeleteOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Forget an operation."""
        self._enter("DeleteOperation", context)
        self._run(context, lambda: self._store.delete(request.name))
        return empty_pb2.Empty()

    def WaitOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Not offered: the poller polls, and waiting would tie a thread to the clock."""
        self._enter("WaitOperation", context)
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "WaitOperation is not emulated")


class InsightsEmulator(OperationStore):
    """An OperationStore served over gRPC (``start``) and HTTP admin (``start_admin``).

    ``faults`` holds the fault injection and the per-method call counters.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_page_size: int = DEFAULT_MAX_PAGE_SIZE,
        seed: int | None = None,
        max_workers: int = 16,
    ) -> None:
        super().__init__(clock=clock, max_page_size=max_page_size, seed=seed)
        self.faults = FaultInjector(seed=seed)
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._address: str | None = None
        self._admin: AdminServer | None = None

    @property
    def address(self) -> str | None:
        """``host:port`` of the gRPC server while it runs."""
        return self._address

    @property
    def admin_address(self) -> str | None:
        """``host:port`` of the HTTP admin server while it runs."""
        return self._admin.address if self._admin is not None else None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve gRPC on host:port (0 picks a free port) and return the bound ``host:port``."""
        if self._server is not None:
            raise RuntimeError("the gRPC server is already running")
        # No SO_REUSEPORT: a second emulator on a busy port must fail, not share its traffic.
        server = grpc.server(
            ThreadPoolExecutor(max_workers=self._max_workers), options=[("grpc.so_reuseport", 0)]
        )
        operations_pb2_grpc.add_OperationsServicer_to_server(
            OperationsServicer(self, self.faults), server
        )
        try:
            bound = server.add_insecure_port(join_host_port(host, port))
        except RuntimeError as exc:
            raise OSError(f"cannot bind gRPC server to {host}:{port}") from exc
        if bound == 0:
            raise OSError(f"cannot bind gRPC server to {host}:{port}")
        server.start()
        self._server = server
        self._address = join_host_port(host, bound)
        return self._address

    def start_admin(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the HTTP admin API on host:port (0 picks a free port); return ``host:port``."""
        if self._admin is not None:
            raise RuntimeError("the admin server is already running")
        try:
            self._admin = AdminServer(self, self.faults, host, port)
        except OSError as exc:
            raise OSError(f"cannot bind admin server to {host}:{port}: {exc}") from exc
        return self._admin.address

    def stop(self, grace: float | None = None) -> None:
        """Stop whichever servers run; ``grace`` seconds let in-flight RPCs finish."""
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
            self._address = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
