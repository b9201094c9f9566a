"""`make demo` and `make test` say what is missing instead of hanging; the stack's ports."""

from __future__ import annotations

import pytest

from devstack import gcloud_emulators, prerequisites


def test_missing_gcloud_and_java_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    found = prerequisites.problems()

    assert any(problem.startswith("gcloud not found") for problem in found)
    assert any(problem.startswith("java not found") for problem in found)


def test_free_ports_lie_below_the_range_outgoing_connections_take_theirs_from() -> None:
    ports = {gcloud_emulators.free_port() for _ in range(20)}

    assert all(1024 < port < gcloud_emulators.ephemeral_ports_start() for port in ports)
