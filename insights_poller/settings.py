"""Configuration: one frozen object built from the environment; errors name the variable.

Every variable is declared once, in ``settings.json`` next to this module, which Terraform
reads too. An entry, keyed by the variable's name, holds:

* ``deploy``: ``managed`` (Terraform sets it), ``tunable`` (operators may set it through
  ``var.poller_settings``) or ``local`` (emulator hosts and the like, never deployed);
* ``required`` (true) or a ``default``, as the README's Configuration table shows it;
* for a number, its ``kind`` (``int``, ``float`` or ``seconds``), ``min`` and ``max``, and
  optionally the ``option`` of ``core.PollOptions`` it fills (a ``timedelta`` for seconds);
* ``about``: one line saying what it is.

Numbers are parsed from their declaration alone; the other settings have a parser here. A new
numeric knob is thus its entry plus the code that uses it: a poll option through ``option``,
anything else through ``Settings.numbers`` (or a typed property, for the code read often).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import types
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Literal

from insights_poller import core, names, timestamps
from insights_poller.state.location import StateLocation

_OPERATION_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{0,99}")


@dataclasses.dataclass(frozen=True)
class Number:
    """How a numeric setting is parsed, and the poll option it fills, if any."""

    kind: Literal["int", "float", "seconds"]
    default: float
    low: float
    high: float
    option: str | None


@dataclasses.dataclass(frozen=True)
class Declaration:
    """One entry of ``settings.json``."""

    name: str
    deploy: Literal["managed", "tunable", "local"]
    about: str
    required: bool
    default: str | None
    """The value used when unset, for a setting that is not a number and has one."""
    number: Number | None


def _declaration(name: str, entry: dict[str, Any]) -> Declaration:
    number = None
    if "kind" in entry:
        number = Number(
            entry["kind"], entry["default"], entry["min"], entry["max"], entry.get("option")
        )
    return Declaration(
        name=name,
        deploy=entry["deploy"],
        about=entry["about"],
        required=entry.get("required", False),
        default=None if number else entry.get("default"),
        number=number,
    )


DECLARATIONS: Mapping[str, Declaration] = types.MappingProxyType(
    {
        name: _declaration(name, entry)
        for name, entry in json.loads(
            resources.files("insights_poller").joinpath("settings.json").read_text("utf-8")
        ).items()
    }
)
"""Every variable the poller reads (besides K_SERVICE, which Cloud Run sets), by name."""
NUMBERS: Mapping[str, Number] = types.MappingProxyType(
    {name: declared.number for name, declared in DECLARATIONS.items() if declared.number}
)
REQUIRED_VARIABLES = tuple(name for name, declared in DECLARATIONS.items() if declared.required)
OPTIONAL_VARIABLES = tuple(name for name in DECLARATIONS if name not in REQUIRED_VARIABLES)


class ConfigurationError(ValueError):
    """A setting is missing or malformed; ``variable`` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class Settings:
    """The poller's configuration, read once per instance by ``from_env``."""

    project: str
    project_number: str | None
    locations: tuple[str, ...]
    results_topic: str
    state: StateLocation
    insights_emulator_hosts: names.HostOverrides | None
    insights_emulator_rest_hosts: names.HostOverrides | None
    watch_since: datetime.datetime | None
    operation_types: frozenset[str] | None
    numbers: Mapping[str, float] = dataclasses.field(hash=False)
    """Every numeric setting by variable name (an ``int`` for those of kind int): ``poll_options``
    reads them by their declaration, the other code through the typed properties below."""

    @property
    def insights_timeout_seconds(self) -> float:
        return self.numbers["INSIGHTS_TIMEOUT_SECONDS"]

    @property
    def insights_page_size(self) -> int:
        return int(self.numbers["INSIGHTS_PAGE_SIZE"])

    @property
    def insights_max_concurrency(self) -> int:
        return int(self.numbers["INSIGHTS_MAX_CONCURRENCY"])

    @property
    def insights_max_rps(self) -> float:
        return self.numbers["INSIGHTS_MAX_RPS"]

    @property
    def publish_timeout_seconds(self) -> float:
        return self.numbers["PUBLISH_TIMEOUT_SECONDS"]

    @property
    def poll_budget_seconds(self) -> float:
        return self.numbers["POLL_BUDGET_SECONDS"]

    @property
    def claim_lease_seconds(self) -> float:
        return self.numbers["CLAIM_LEASE_SECONDS"]

    @property
    def max_pending_age_seconds(self) -> float:
        return self.numbers["MAX_PENDING_AGE"]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        project = _required(env, "GOOGLE_CLOUD_PROJECT")
        if not names.is_project_id(project):
            raise ConfigurationError("GOOGLE_CLOUD_PROJECT", f"{project!r} is not a project id")
        topic = _required(env, "RESULTS_TOPIC")
        try:
            results_topic = names.topic_path(topic, project)
        except ValueError as error:
            raise ConfigurationError("RESULTS_TOPIC", str(error)) from None
        numbers = {name: _number(env, name, number) for name, number in NUMBERS.items()}
        _check_timing(numbers)
        return cls(
            project=project,
            project_number=_project_number(env),
            locations=_locations(env),
            results_topic=results_topic,
            state=_state(env),
            insights_emulator_hosts=_host_overrides(env, "INSIGHTS_EMULATOR_HOST"),
            insights_emulator_rest_hosts=_host_overrides(env, "INSIGHTS_EMULATOR_REST_HOST"),
            watch_since=_watch_since(env),
            operation_types=_operation_types(env),
            numbers=types.MappingProxyType(numbers),
        )

    @property
    def poll_options(self) -> core.PollOptions:
        """What each poll runs with: a number reaches it through its declared ``option``."""
        options: dict[str, Any] = {
            number.option: _option_value(number, self.numbers[name])
            for name, number in NUMBERS.items()
            if number.option
        }
        return core.PollOptions(
            locations=self.locations,
            watch_since=self.watch_since,
            operation_types=self.operation_types,
            **options,
        )


def _option_value(number: Number, value: float) -> float | datetime.timedelta:
    return datetime.timedelta(seconds=value) if number.kind == "seconds" else value


def _check_timing(numbers: Mapping[str, float]) -> None:
    """The rules between settings: each timing must fit inside the next."""
    publish_timeout = numbers["PUBLISH_TIMEOUT_SECONDS"]
    poll_budget = numbers["POLL_BUDGET_SECONDS"]
    if poll_budget <= publish_timeout:
        raise ConfigurationError(
            "POLL_BUDGET_SECONDS",
            f"must exceed PUBLISH_TIMEOUT_SECONDS ({publish_timeout:g}): the budget keeps "
            "that much time for publishing",
        )
    if numbers["CLAIM_LEASE_SECONDS"] <= poll_budget:
        raise ConfigurationError(
            "CLAIM_LEASE_SECONDS",
            f"must exceed POLL_BUDGET_SECONDS ({poll_budget:g}), or another poll could "
            "claim and publish an operation while the first one is still publishing it",
        )


def _value(env: Mapping[str, str], variable: str) -> str | None:
    value = env.get(variable, "").strip()
    return value or None


def _required(env: Mapping[str, str], variable: str) -> str:
    value = _value(env, variable)
    if value is None:
        raise ConfigurationError(variable, "is required but not set")
    return value


def _default(variable: str) -> str:
    default = DECLARATIONS[variable].default
    assert default is not None, f"settings.json gives {variable} no default"
    return default


def _locations(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _value(env, "INSIGHTS_LOCATIONS") or _default("INSIGHTS_LOCATIONS")
    locations = tuple(dict.fromkeys(part.strip() for part in raw.split(",")))
    bad = [location for location in locations if not names.is_location_id(location)]
    if bad:
        raise ConfigurationError(
            "INSIGHTS_LOCATIONS", f"{bad[0]!r} is not a location id (expected e.g. us-central1)"
        )
    return locations


def _state(env: Mapping[str, str]) -> StateLocation:
    url = _value(env, "STATE_URL")
    on_serverless = _value(env, "K_SERVICE") is not None
    if on_serverless and (url is None or not url.startswith("firestore://")):
        raise ConfigurationError(
            "STATE_URL",
            "on Cloud Run / Cloud Functions (K_SERVICE is set) state must live in Firestore "
            "(firestore:///COLLECTION or firestore://DATABASE/COLLECTION): instances share no disk",
        )
    try:
        return StateLocation.parse(url or _default("STATE_URL"))
    except ValueError as error:
        raise ConfigurationError("STATE_URL", str(error)) from None


def _operation_types(env: Mapping[str, str]) -> frozenset[str] | None:
    raw = _value(env, "OPERATION_TYPES")
    if raw is None:
        return None
    kinds = frozenset(part.strip() for part in raw.split(","))
    bad = sorted(kind for kind in kinds if not _OPERATION_TYPE.fullmatch(kind))
    if bad:
        raise ConfigurationError(
            "OPERATION_TYPES",
            f"{bad[0]!r} is not an operation type (e.g. ExportInsightsData,CreateIssueModel)",
        )
    return kinds


def _host_overrides(env: Mapping[str, str], variable: str) -> names.HostOverrides | None:
    value = _value(env, variable)
    if value is None:
        return None
    try:
        return names.HostOverrides.parse(value)
    except ValueError as error:
        raise ConfigurationError(variable, str(error)) from None


def _project_number(env: Mapping[str, str]) -> str | None:
    value = _value(env, "GOOGLE_CLOUD_PROJECT_NUMBER")
    if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 20):
        raise ConfigurationError(
            "GOOGLE_CLOUD_PROJECT_NUMBER",
            f"{value!r} is not a project number (the digits Insights puts in resource names)",
        )
    return value


def _watch_since(env: Mapping[str, str]) -> datetime.datetime | None:
    value = _value(env, "WATCH_SINCE")
    if value is None:
        return None
    try:
        return timestamps.parse_rfc3339(value)
    except ValueError:
        raise ConfigurationError(
            "WATCH_SINCE", f"{value!r} is not an RFC 3339 time such as 2026-01-31T00:00:00Z"
        ) from None


def _number(env: Mapping[str, str], variable: str, number: Number) -> float:
    """The value of a numeric setting (an ``int`` for kind int), within its bounds."""
    parse: Callable[[str | float], float] = int if number.kind == "int" else float
    raw = _value(env, variable)
    if raw is None:
        return parse(number.default)
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigurationError(variable, f"{raw!r} is not a number") from None
    if not number.low <= value <= number.high:
        raise ConfigurationError(variable, f"{raw} is outside {number.low:g}..{number.high:g}")
    return value
