"""The subscriber example held against the repository it was copied from: its recorded events
against the events the poller builds, its pins against the repository's, its imports against
the repository's modules (it must import none).

``examples/subscriber/`` is self-contained (its tests import nothing from this repository), so it
carries real poller events as files: ``tests/events/*.json`` (what its tests deliver) and
``sample-push.json`` (one of them in the JSON body Pub/Sub push sends, for curl). Here they are
rebuilt with ``insights_poller.events`` from operations of our Insights emulator, at fixed times,
and must be equal to the files; each is checked against the published schemas. When events
change, rewrite the files with ``REGENERATE_COMMAND`` (below; the example's README shows it too)
and review the diff. The example's own tests run in ``make test`` too (examples/subscriber/tests).
"""

from __future__ import annotations

import ast
import base64
import datetime
import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from contract import assert_valid_event

from devstack.stack import PROJECT, PROJECT_NUMBER, REPO
from insights_emulator import InsightsEmulator, ManualClock, Outcome
from insights_poller.events import build_event
from insights_poller.model import Event

EXAMPLE = REPO / "examples" / "subscriber"
EVENTS = EXAMPLE / "tests" / "events"
SAMPLE_PUSH = EXAMPLE / "sample-push.json"
REGENERATE = os.environ.get("REGENERATE_SUBSCRIBER_SAMPLES") == "1"
REGENERATE_COMMAND = (
    "REGENERATE_SUBSCRIBER_SAMPLES=1 .venv/bin/python -m pytest "
    "tests/integration/subscriber/test_subscriber_example_sync.py"
)

LOCATION = "us-central1"
CREATED = datetime.datetime(2026, 11, 28, 3, 0, tzinfo=datetime.UTC)
ENDED = CREATED + datetime.timedelta(minutes=9)
DETECTED = ENDED + datetime.timedelta(seconds=42)
PUBLISHED = DETECTED + datetime.timedelta(milliseconds=518)

BUILT: dict[str, tuple[str, Outcome]] = {
    "export-succeeded.json": ("ExportInsightsData", "succeed"),
    "issue-model-succeeded.json": ("CreateIssueModel", "succeed"),
    "issue-model-failed.json": ("CreateIssueModel", "fail"),
    "issue-model-cancelled.json": ("CreateIssueModel", "cancel"),
}
"""Each file of examples/subscriber/tests/events/: the operation (kind, outcome) it reports."""
SAMPLE_PUSH_EVENT = "export-succeeded.json"
"""The event of sample-push.json: one whose reaction needs no Insights API (it only logs)."""
SAMPLE_MESSAGE_ID = "14702233468021591"
SAMPLE_SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/insights-subscriber"


@functools.cache
def built() -> dict[str, Event]:
    """The events, in file order, from one emulator with a fixed clock and seed."""
    clock = ManualClock(start=(ENDED + datetime.timedelta(minutes=1)).timestamp())
    operations = InsightsEmulator(clock=clock, seed=1, project_numbers={PROJECT: PROJECT_NUMBER})
    events = {}
    for file_name, (kind, outcome) in BUILT.items():
        name = operations.create(
            kind, PROJECT, LOCATION, outcome=outcome, created_ago=600, finished_ago=60
        )
        events[file_name] = build_event(operations.get_operation(name), detect_time=DETECTED)
    return events


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def rendered_event(file_name: str) -> str:
    """As docs/examples/ holds events: the message's ``attributes`` and its ``data``, parsed."""
    event = built()[file_name]
    return render({"attributes": dict(event.attributes), "data": json.loads(event.data)})


def rendered_sample_push() -> str:
    """The JSON body a Pub/Sub push subscription POSTs for the event (Eventarc POSTs the same
    body, with the CloudEvent's ``ce-`` headers): the message with its id and publish time in
    both spellings Pub/Sub writes, and the subscription."""
    event = built()[SAMPLE_PUSH_EVENT]
    publish_time = PUBLISHED.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message = {
        "attributes": dict(event.attributes),
        "data": base64.b64encode(event.data).decode(),
        "messageId": SAMPLE_MESSAGE_ID,
        "message_id": SAMPLE_MESSAGE_ID,
        "publishTime": publish_time,
        "publish_time": publish_time,
    }
    return render({"message": message, "subscription": SAMPLE_SUBSCRIPTION})


def check_file(path: Path, expected: str) -> None:
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected, encoding="utf-8")
    written = path.read_text(encoding="utf-8") if path.exists() else None
    assert written == expected, (
        f"{path.relative_to(REPO)} is not the event events.py builds: rewrite the subscriber "
        f"example's samples with `{REGENERATE_COMMAND}` and review the diff"
    )


@pytest.mark.parametrize("file_name", BUILT)
def test_each_recorded_event_is_the_event_the_poller_builds(file_name: str) -> None:
    check_file(EVENTS / file_name, rendered_event(file_name))


def test_the_sample_push_envelope_carries_the_event_the_poller_builds() -> None:
    check_file(SAMPLE_PUSH, rendered_sample_push())


def test_the_events_folder_holds_only_the_generated_events() -> None:
    assert {path.name for path in EVENTS.iterdir()} == set(BUILT)


@pytest.mark.parametrize("file_name", BUILT)
def test_each_recorded_event_matches_the_published_schemas(file_name: str) -> None:
    recorded = json.loads((EVENTS / file_name).read_text(encoding="utf-8"))

    assert set(recorded) == {"attributes", "data"}
    assert_valid_event(json.dumps(recorded["data"]).encode(), recorded["attributes"])


def test_the_sample_push_envelope_is_a_valid_event_in_pub_sub_push_form() -> None:
    envelope = json.loads(SAMPLE_PUSH.read_text(encoding="utf-8"))
    message = envelope["message"]

    data = base64.b64decode(message["data"], validate=True)
    assert_valid_event(data, message["attributes"])
    assert message["messageId"] == message["message_id"]
    assert message["publishTime"] == message["publish_time"]
    assert envelope["subscription"].startswith(f"projects/{PROJECT}/subscriptions/")


def test_the_regeneration_command_is_documented_next_to_the_samples() -> None:
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")

    assert REGENERATE_COMMAND in readme


def _imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_example_imports_nothing_from_this_repository() -> None:
    """Copied alone, the folder must still run and test: no import of the poller, the emulator,
    devstack or the repository's test helpers (its tests start their own emulators)."""
    ours = {
        path.stem if path.is_file() else path.name
        for folder in (REPO, REPO / "tests")
        for path in folder.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists()) and path.name != "conftest.py"
    }
    python_files = sorted(EXAMPLE.rglob("*.py"))
    assert python_files

    imports = {path: _imported_top_level_modules(path) & ours for path in python_files}

    assert ours >= {"insights_poller", "insights_emulator", "devstack", "main", "stack"}
    found = {
        path.relative_to(EXAMPLE).as_posix(): names for path, names in imports.items() if names
    }
    assert found == {}


def _pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, following ``-r`` includes."""
    pins: dict[str, str] = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        line = text.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins |= _pins(path.parent / line.removeprefix("-r ").strip())
        elif "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_example_pins_the_versions_the_repository_pins() -> None:
    repository = _pins(REPO / "requirements-dev.txt")
    example = _pins(EXAMPLE / "requirements-test.txt")

    assert {"functions-framework", "google-cloud-firestore", "pytest"} <= set(example)
    differing = {name: (version, repository.get(name)) for name, version in example.items()}
    assert {name: pair for name, pair in differing.items() if pair[0] != pair[1]} == {}
