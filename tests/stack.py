"""The real pieces for integration tests: the function under functions-framework, a Pub/Sub
subscription that receives its events, and the state the function keeps."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from contract import assert_valid_event
from google.api_core.exceptions import NotFound
from google.cloud import pubsub_v1

from devstack.gcloud_emulators import free_port

REPO = Path(__file__).resolve().parent.parent
PROJECT = "demo-project"
LOCATION = "us-central1"


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class FunctionProcess:
    """A function served by functions-framework in a process of its own: by default the
    poller's ``main.poll_operations``, with this repository on its PYTHONPATH."""

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
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = workdir / f"function-{self.port}.log"
        environment = {**os.environ, **env}
        if repository_on_path:
            environment["PYTHONPATH"] = str(REPO)
        else:
            environment.pop("PYTHONPATH", None)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "functions_framework", "--source", str(source),
                 "--target", target, "--signature-type", signature_type,
                 "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=workdir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._wait_until_serving()

    def _wait_until_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"function exited early:\n{self.log()}")
            try:
                urllib.request.urlopen(urllib.request.Request(self.url, method="GET"), timeout=2)
                return
            except urllib.error.HTTPError:
                return  # 405 for GET: serving
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"function not serving after {timeout:g} s:\n{self.log()}")

    def post(self, body: bytes = b"", content_type: str = "application/json") -> tuple[int, Any]:
        """POST like Cloud Scheduler; returns (status, parsed JSON body)."""
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def poll(self, operations: list[str] | None = None) -> dict[str, Any]:
        """One successful poll (asserted 200) and its summary."""
        body = b"" if operations is None else json.dumps({"operations": operations}).encode()
        status, summary = self.post(body)
        assert status == 200, (status, summary, self.log()[-3000:])
        result: dict[str, Any] = summary
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self._process)


class EventSink:
    """A subscription on the results topic, pulled synchronously."""

    def __init__(self, project: str, topic_id: str) -> None:
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic = self.publisher.topic_path(project, topic_id)
        self.subscription = self.subscriber.subscription_path(project, f"{topic_id}-sub")
        self.publisher.create_topic(name=self.topic, timeout=30)
        self.subscriber.create_subscription(
            name=self.subscription, topic=self.topic, ack_deadline_seconds=60, timeout=30
        )

    def drain(self, quiet_pulls: int = 2) -> list[pubsub_v1.types.PubsubMessage]:
        """Every message available now (acknowledged), pulling until the topic is quiet; each is
        checked against the published event schema."""
        messages: list[pubsub_v1.types.PubsubMessage] = []
        quiet = 0
        while quiet < quiet_pulls:
            response = self.subscriber.pull(
                subscription=self.subscription, max_messages=1000, return_immediately=True,
                timeout=30,
            )  # fmt: skip
            if not response.received_messages:
                quiet += 1
                time.sleep(0.2)
                continue
            quiet = 0
            for received in response.received_messages:
                assert_valid_event(received.message.data, received.message.attributes)
                messages.append(received.message)
            self.subscriber.acknowledge(
                subscription=self.subscription,
                ack_ids=[received.ack_id for received in response.received_messages],
                timeout=30,
            )
        return messages

    def close(self) -> None:
        """Delete what ``__init__`` created; a test may have deleted some of it already."""
        with contextlib.suppress(NotFound):
            self.subscriber.delete_subscription(subscription=self.subscription, timeout=30)
        with contextlib.suppress(NotFound):
            self.publisher.delete_topic(topic=self.topic, timeout=30)
        self.subscriber.close()


class EmulatorProcess:
    """The Insights emulator as its own process, as an operator runs it: for one endpoint's
    locations, answering names with ``project_number``; driven over its admin HTTP API."""

    _READY = re.compile(
        r"Insights emulator listening on (?P<grpc>\S+) "
        r"\(admin http://(?P<admin>\S+), REST http://(?P<rest>\S+)\)"
    )

    def __init__(self, locations: str, project_number: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "insights_emulator", "--port", "0", "--admin-port", "0",
             "--rest-port", "0", "--locations", locations, "--project", PROJECT,
             "--project-number", project_number],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], 30)
        line = self._process.stdout.readline() if ready else ""
        match = self._READY.search(line)
        if match is None:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.grpc, self.admin, self.rest = match["grpc"], match["admin"], match["rest"]

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One admin call; the JSON answer (an error status raises)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{self.admin}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def create(self, kind: str, location: str, **fields: Any) -> str:
        """A new operation's name, as the emulator answers it (with the project number)."""
        parent = f"projects/{PROJECT}/locations/{location}"
        created = self.request("POST", f"/v1/{parent}/operations", {"kind": kind, **fields})
        name: str = created["name"]
        return name

    def calls(self) -> dict[str, int]:
        """gRPC and REST calls the emulator served, by method."""
        calls: dict[str, int] = self.request("GET", "/v1/stats")["calls"]
        return calls

    def stop(self) -> None:
        stop_process(self._process)
        if self._process.stdout is not None:
            self._process.stdout.close()


Launch = Callable[..., FunctionProcess]
"""Starts a function process on the test's shared state (the ``launch`` fixture)."""


def event_data(message: pubsub_v1.types.PubsubMessage) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.data)
    return data
