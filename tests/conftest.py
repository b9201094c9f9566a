"""Shared fixtures. The emulator fixtures start the real Google emulators lazily,
once per session, only when a test asks for them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from devstack import gcloud_emulators


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
