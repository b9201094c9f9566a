"""The local stack that the demo, the benchmark and the integration tests share: the function's
environment, the function under functions-framework, the Insights emulator as a process of its
own, and a subscription that collects what the function publishes.

Why one module: each of them used to build these pieces its own way, and a fix to one (a port
taken, a leaked setting, a process left behind) never reached the others.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from google.api_core.exceptions import NotFound
from google.cloud import pubsub_v1

from devstack.gcloud_emulators import free_port
from insights_poller.settings import OPTIONAL_VARIABLES, REQUIRED_VARIABLES

REPO = Path(__file__).resolve().parent.parent
PROJECT = "demo-project"
LOCATION = "us-central1"
PROJECT_NUMBER = "389908145857"
"""The number of ``PROJECT`` that an emulator process puts in names, as Insights does."""
STARTUP_TIMEOUT = 60.0
"""Seconds a child process may take to start serving."""
_LOG_TAIL_CHARS = 3000


class InsightsHosts(Protocol):
    """Where an Insights emulator serves gRPC and REST reads (None: that face is not started)."""

    @property
    def address(self) -> str | None: ...

    @property
    def rest_address(self) -> str | None: ...


def process_env(variables: Mapping[str, str], *, repository_on_path: bool = True) -> dict[str, str]:
    """A child process's environment: this one without any poller setting, so that a setting
    left in the caller's shell cannot change a run; this repository importable, or nothing on
    PYTHONPATH at all; then ``variables``."""
    settings = {*REQUIRED_VARIABLES, *OPTIONAL_VARIABLES, "PYTHONPATH"}
    environment = {name: value for name, value in os.environ.items() if name not in settings}
    if repository_on_path:
        environment["PYTHONPATH"] = str(REPO)
    return {**environment, **variables}


def function_env(
    insights: InsightsHosts,
    topic: str,
    state_url: str | None = None,
    *,
    project: str = PROJECT,
    project_number: str | None = None,
    **overrides: str,
) -> dict[str, str]:
    """The poller's settings for a run against ``insights``, publishing to ``topic`` (an ID or
    a path). Without ``state_url`` the poller keeps SQLite in its working directory; without
    ``project_number`` it learns the number from the names Insights answers. Follow-ups are
    off unless an override turns them on: a poll then returns once its own work is done, as
    the tests and the throughput benchmark expect."""
    if insights.address is None or insights.rest_address is None:
        raise ValueError("the Insights emulator serves no gRPC or no REST address")
    optional = {"STATE_URL": state_url, "GOOGLE_CLOUD_PROJECT_NUMBER": project_number}
    return {
        "GOOGLE_CLOUD_PROJECT": project,
        "INSIGHTS_LOCATIONS": LOCATION,
        "RESULTS_TOPIC": topic,
        "INSIGHTS_EMULATOR_HOST": insights.address,
        "INSIGHTS_EMULATOR_REST_HOST": insights.rest_address,
        "FOLLOW_UP_SECONDS": "0",
        **{name: value for name, value in optional.items() if value is not None},
        **overrides,
    }


class _Child:
    """A child process in a session of its own, its output in ``log_path``."""

    def __init__(
        self, command: Sequence[str], log_path: Path, env: Mapping[str, str], cwd: Path
    ) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_until(self, ready: Callable[[], bool], what: str) -> None:
        """Return once ``ready()``; stop the child and raise with its log if it exits or takes
        longer than ``STARTUP_TIMEOUT``."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what} did not start:\n{self.log()[-_LOG_TAIL_CHARS:]}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s."""
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class FunctionProcess(_Child):
    """A function under functions-framework in a process of its own, on a free port, with
    ``env`` on top of :func:`process_env`: by default the poller's ``main.poll_operations``.
    Its working directory is ``workdir``, where its log goes too."""

    def __init__(
        self,
        env: Mapping[str, str],
        workdir: Path,
        target: str = "poll_operations",
        *,
        source: Path = REPO / "main.py",
        signature_type: str = "http",
        repository_on_path: bool = True,
    ) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        super().__init__(
            [sys.executable, "-m", "functions_framework", "--source", str(source),
             "--target", target, "--signature-type", signature_type,
             "--host", "127.0.0.1", "--port", str(port)],
            workdir / f"function-{port}.log",
            process_env(env, repository_on_path=repository_on_path),
            workdir,
        )  # fmt: skip
        self._wait_until(self._serving, f"the function {target}")

    def _serving(self) -> bool:
        try:
            urllib.request.urlopen(urllib.request.Request(self.url, method="GET"), timeout=2)
        except urllib.error.HTTPError:
            return True  # 405 for GET: serving
        except OSError:
            return False
        return True

    def post(self, body: bytes = b"") -> tuple[int, Any]:
        """POST as Cloud Scheduler does; (status, parsed JSON body), a 5xx carrying the poll's
        summary too."""
        headers = {"Content-Type": "application/json", "User-Agent": "Google-Cloud-Scheduler"}
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        return json_answer(request, timeout=120)

    def poll(self, operations: list[str] | None = None) -> dict[str, Any]:
        """One poll that must answer 200 (checking ``operations`` now, if given): its summary."""
        body = b"" if operations is None else json.dumps({"operations": operations}).encode()
        status, summary = self.post(body)
        if status != 200:
            raise RuntimeError(
                f"poll answered {status}: {summary}\n{self.log()[-_LOG_TAIL_CHARS:]}"
            )
        result: dict[str, Any] = summary
        return result


def json_answer(request: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    """(status, parsed JSON body) of one HTTP call; an error status is returned, not raised, as
    the function and the emulators answer errors in JSON too."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


class InsightsEmulatorProcess(_Child):
    """The Insights emulator as its own process, as an operator runs it: for one endpoint's
    ``locations``, answering names with ``project_number``, on ports of its choosing; driven
    over its admin HTTP API. ``seed_location``: seeded there with the demo operations."""

    address: str
    admin_address: str
    rest_address: str
    _READY = re.compile(
        r"Insights emulator listening on (?P<grpc>\S+) "
        r"\(admin http://(?P<admin>\S+), REST http://(?P<rest>\S+)\)"
    )

    def __init__(
        self,
        log_path: Path,
        locations: str,
        project_number: str = PROJECT_NUMBER,
        *,
        seed_location: str | None = None,
    ) -> None:
        seed = [] if seed_location is None else ["--seed", "demo", "--location", seed_location]
        super().__init__(
            [sys.executable, "-m", "insights_emulator", "--port", "0", "--admin-port", "0",
             "--rest-port", "0", "--locations", locations, "--project", PROJECT,
             "--project-number", project_number, *seed],
            log_path,
            process_env({}),
            REPO,
        )  # fmt: skip
        self._wait_until(self._listening, "the Insights emulator")

    def _listening(self) -> bool:
        """Whether the emulator said where it listens; if so, take its addresses."""
        ready = self._READY.search(self.log())
        if ready is not None:
            self.address, self.admin_address, self.rest_address = ready.group(
                "grpc", "admin", "rest"
            )
        return ready is not None

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One admin call; the JSON answer (an error status raises)."""
        data = None if body is None else json.dumps(body).encode()
        url = f"http://{self.admin_address}{path}"
        request = urllib.request.Request(url, data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def create(self, kind: str, location: str, **fields: Any) -> str:
        """A new operation's name, as the emulator answers it (with the project number)."""
        created = self.request(
            "POST", f"/v1/{_parent(location)}/operations", {"kind": kind, **fields}
        )
        name: str = created["name"]
        return name

    def operations(self, location: str) -> set[str]:
        """The names of every operation in ``location``."""
        listing = self.request("GET", f"/v1/{_parent(location)}/operations")
        return {operation["name"] for operation in listing["operations"]}

    def calls(self) -> dict[str, int]:
        """gRPC and REST calls the emulator served, by method."""
        calls: dict[str, int] = self.request("GET", "/v1/stats")["calls"]
        return calls


def _parent(location: str) -> str:
    return f"projects/{PROJECT}/locations/{location}"


class EventSink:
    """A topic and one subscription on it, on the Pub/Sub emulator that PUBSUB_EMULATOR_HOST
    names; pulled synchronously, to see exactly what was published by then."""

    def __init__(self, project: str, topic_id: str, subscription_id: str | None = None) -> None:
        self.topic_id = topic_id
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic = self.publisher.topic_path(project, topic_id)
        self.subscription = self.subscriber.subscription_path(
            project, subscription_id or f"{topic_id}-sub"
        )
        self.publisher.create_topic(name=self.topic, timeout=30)
        self.subscriber.create_subscription(
            name=self.subscription, topic=self.topic, ack_deadline_seconds=60, timeout=30
        )

    def pull(self) -> list[pubsub_v1.types.PubsubMessage]:
        """The messages available now (up to 1000), acknowledged."""
        response = self.subscriber.pull(
            subscription=self.subscription, max_messages=1000, return_immediately=True, timeout=60
        )
        if response.received_messages:
            self.subscriber.acknowledge(
                subscription=self.subscription,
                ack_ids=[received.ack_id for received in response.received_messages],
                timeout=60,
            )
        return [received.message for received in response.received_messages]

    def drain(self, quiet_pulls: int = 2) -> list[pubsub_v1.types.PubsubMessage]:
        """Every message available (acknowledged), pulling until ``quiet_pulls`` pulls in a row
        find none."""
        messages: list[pubsub_v1.types.PubsubMessage] = []
        quiet = 0
        while quiet < quiet_pulls:
            pulled = self.pull()
            messages += pulled
            if pulled:
                quiet = 0
            else:
                quiet += 1
                time.sleep(0.2)
        return messages

    def close(self) -> None:
        """Delete what ``__init__`` created (a test may have deleted some of it already)."""
        with contextlib.suppress(NotFound):
            self.subscriber.delete_subscription(subscription=self.subscription, timeout=30)
        with contextlib.suppress(NotFound):
            self.publisher.delete_topic(topic=self.topic, timeout=30)
        self.subscriber.close()
        self.publisher.stop()


def event_data(message: pubsub_v1.types.PubsubMessage) -> dict[str, Any]:
    """The event a message carries, parsed."""
    data: dict[str, Any] = json.loads(message.data)
    return data
