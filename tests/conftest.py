"""The test tiers are folders: ``tests/unit`` (no emulator, no network: ``make unit``) and
``tests/integration`` (the official emulators and the function served over HTTP). Tests of the
integration tier carry the ``integration`` marker, so ``-m`` selects tiers too. The helpers
next to this file (builders, fakes, the stack's test additions) serve both."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(TESTS).parts[0] == "integration":
            item.add_marker(pytest.mark.integration)
