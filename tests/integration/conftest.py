"""The integration tier's fixtures. The emulator fixtures start the official Google emulators
lazily, once per session, only when a test asks for them; the stack fixtures build on them.
Being here, they are out of the unit tier's reach: a unit test that asks for one fails."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from stack import CheckedSink, Launch, PollerEnv

from devstack import gcloud_emulators
from devstack.stack import PROJECT, FunctionProcess, function_env
from insights_emulator import InsightsEmulator


def _start_or_fail(start: Callable[[], gcloud_emulators.Emulator]) -> gcloud_emulators.Emulator:
    """Start an emulator; a missing tool or failed start fails the test (never skips it)."""
    try:
        return start()
    except RuntimeError as error:
        message = str(error)
    pytest.fail(message, pytrace=False)  # outside ``except``: no chained traceback


def _run_emulator(start: Callable[[], gcloud_emulators.Emulator], env_var: str) -> Iterator[str]:
    """Start an emulator, point ``env_var`` at it for the session, then stop it."""
    emulator = _start_or_fail(start)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(env_var, emulator.host_port)
            yield emulator.host_port
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """``host:port`` of a Firestore emulator; FIRESTORE_EMULATOR_HOST is set meanwhile."""
    yield from _run_emulator(gcloud_emulators.start_firestore, "FIRESTORE_EMULATOR_HOST")


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[str]:
    """``host:port`` of a Pub/Sub emulator; PUBSUB_EMULATOR_HOST is set meanwhile.

    The emulator's default project is ``gcloud_emulators.EMULATOR_PROJECT``.
    """
    yield from _run_emulator(gcloud_emulators.start_pubsub, "PUBSUB_EMULATOR_HOST")


# --- the stack for integration tests ------------------------------------------------------


@pytest.fixture
def insights() -> Iterator[InsightsEmulator]:
    emulator = InsightsEmulator(seed=7)
    emulator.start()
    emulator.start_rest()
    yield emulator
    emulator.stop()


@pytest.fixture
def sink(pubsub_emulator: str) -> Iterator[CheckedSink]:
    events = CheckedSink(PROJECT, f"events-{uuid.uuid4().hex[:12]}")
    yield events
    events.close()


@pytest.fixture(params=["sqlite"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the function keeps state; parametrize with "firestore" to use the emulator."""
    if request.param == "firestore":
        request.getfixturevalue("firestore_emulator")
        return f"firestore:///poller-{uuid.uuid4().hex[:12]}"
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def poller_env(insights: InsightsEmulator, sink: CheckedSink, state_url: str) -> PollerEnv:
    """The poller's settings on the test's stack, its project number known."""

    def settings(**overrides: str) -> dict[str, str]:
        number = insights.project_number(PROJECT)
        return function_env(insights, sink.topic_id, state_url, project_number=number, **overrides)

    return settings


@pytest.fixture
def launch(poller_env: PollerEnv, tmp_path: Path) -> Iterator[Launch]:
    """Start a function process on the shared state; every one is stopped after the test."""
    started: list[FunctionProcess] = []

    def start(target: str = "poll_operations", **overrides: str) -> FunctionProcess:
        function = FunctionProcess(poller_env(**overrides), tmp_path, target=target)
        started.append(function)
        return function

    yield start
    for function in started:
        function.stop()
