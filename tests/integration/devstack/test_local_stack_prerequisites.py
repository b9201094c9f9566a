"""The integration tier's machine: what the local stack needs is installed (gcloud, the Pub/Sub
and Firestore emulator components, Java)."""

from __future__ import annotations

from devstack import prerequisites


def test_this_machine_has_what_the_local_stack_needs() -> None:
    assert prerequisites.problems() == []
