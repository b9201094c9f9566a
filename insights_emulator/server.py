"""The gRPC ``google.longrunning.Operations`` service and the ``InsightsEmulator`` facade.

Why: the poller talks to Insights through the real client library over gRPC, so the emulator
must be a real gRPC server speaking the same service the library's transport calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import empty_pb2

from insights_emulator.admin import AdminServer
from insights_emulator.faults import FaultInjector
from insights_emulator.regions import LocationGate
from insights_emulator.rest import RestServer
from insights_emulator.store import (
    DEFAULT_MAX_PAGE_SIZE,
    OperationNotFoundError,
    OperationStore,
)


def join_host_port(host: str, port: int) -> str:
    """``host:port``, bracketing IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class OperationsServicer:
    """``google.longrunning.Operations`` over an OperationStore, with faults and counting.

    Requests for a location the endpoint does not serve are refused (see ``LocationGate``).
    """

    def __init__(self, store: OperationStore, faults: FaultInjector, gate: LocationGate) -> None:
        self._store = store
        self._faults = faults
        self._gate = gate

    def _enter(self, method: str, context: grpc.ServicerContext, name: str) -> None:
        """Count the call, apply its fault, then refuse a location served elsewhere."""
        injected = self._faults.on_call(method)
        if injected is not None:
            context.abort(*injected)
        refusal = self._gate.refusal(name)
        if refusal is not None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, refusal)

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
        self._enter("ListOperations", context, request.name)
        operations, token = self._run(
            context,
            lambda: self._store.list_page(
                request.name, request.page_size, request.page_token, request.filter
            ),
        )
        return operations_pb2.ListOperationsResponse(operations=operations, next_page_token=token)

    def GetOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The operation as it is now."""
        self._enter("GetOperation", context, request.name)
        return self._run(context, lambda: self._store.get_operation(request.name))

    def CancelOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Cancel a running operation; cancelling a finished one changes nothing."""
        self._enter("CancelOperation", context, request.name)
        self._run(context, lambda: self._store.request_cancel(request.name))
        return empty_pb2.Empty()

    def DeleteOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Forget an operation."""
        self._enter("DeleteOperation", context, request.name)
        self._run(context, lambda: self._store.delete(request.name))
        return empty_pb2.Empty()

    def WaitOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Not offered: the poller polls, and waiting would tie a thread to the clock."""
        self._enter("WaitOperation", context, request.name)
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "WaitOperation is not emulated")


class InsightsEmulator(OperationStore):
    """An OperationStore served over gRPC (``start``), REST (``start_rest``) and HTTP admin
    (``start_admin``).

    ``faults`` holds the fault injection and the per-method call counters. ``locations`` are
    the resource locations this endpoint serves: a gRPC or REST request for another one is
    refused with INVALID_ARGUMENT naming the endpoint that serves it (the admin API accepts
    any location). ``None`` serves every location: a convenience for in-process tests, which
    no real endpoint offers. ``project_numbers`` maps project IDs to numbers (see
    ``OperationStore``).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_page_size: int = DEFAULT_MAX_PAGE_SIZE,
        seed: int | None = None,
        max_workers: int = 16,
        locations: Iterable[str] | None = None,
        project_numbers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            clock=clock, max_page_size=max_page_size, seed=seed, project_numbers=project_numbers
        )
        self.faults = FaultInjector(seed=seed)
        self._gate = LocationGate(locations)
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._address: str | None = None
        self._admin: AdminServer | None = None
        self._rest: RestServer | None = None

    @property
    def locations(self) -> frozenset[str] | None:
        """The locations served over gRPC and REST; None: all of them."""
        return self._gate.locations

    @property
    def address(self) -> str | None:
        """``host:port`` of the gRPC server while it runs."""
        return self._address

    @property
    def admin_address(self) -> str | None:
        """``host:port`` of the HTTP admin server while it runs."""
        return self._admin.address if self._admin is not None else None

    @property
    def rest_address(self) -> str | None:
        """``host:port`` of the REST server while it runs."""
        return self._rest.address if self._rest is not None else None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve gRPC on host:port (0 picks a free port) and return the bound ``host:port``."""
        if self._server is not None:
            raise RuntimeError("the gRPC server is already running")
        # No SO_REUSEPORT: a second emulator on a busy port must fail, not share its traffic.
        server = grpc.server(
            ThreadPoolExecutor(max_workers=self._max_workers), options=[("grpc.so_reuseport", 0)]
        )
        operations_pb2_grpc.add_OperationsServicer_to_server(
            OperationsServicer(self, self.faults, self._gate), server
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

    def start_rest(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve ``GET /v1/{name}`` of operations as the REST API renders them (plain HTTP, no
        auth) on host:port (0 picks a free port); return ``host:port``."""
        if self._rest is not None:
            raise RuntimeError("the REST server is already running")
        try:
            self._rest = RestServer(self.get_operation, self._gate, self.faults, host, port)
        except OSError as exc:
            raise OSError(f"cannot bind REST server to {host}:{port}: {exc}") from exc
        return self._rest.address

    def stop(self, grace: float | None = None) -> None:
        """Stop whichever servers run; ``grace`` seconds let in-flight RPCs finish."""
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
            self._address = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._rest is not None:
            self._rest.close()
            self._rest = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
