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
import difflib
import json
import re
import types
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any, Literal

from insights_poller import core, names, timestamps
from insights_poller.model import KNOWN_OPERATION_TYPES
from insights_poller.state.location import StateLocation

_OPERATION_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{0,99}")
DELIBERATE_KIND = "+"
"""Prefix of an OPERATION_TYPES entry that is meant to be outside ``KNOWN_OPERATION_TYPES``: a
kind newer than this poller (``+SomeNewKind``). Without it, an unknown kind is taken for a typo."""
ACCEPTED_OPERATION_TYPES = frozenset({*KNOWN_OPERATION_TYPES, "Unknown"})
"""The kinds OPERATION_TYPES may name without the prefix (``Unknown``: an operation without
metadata)."""


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


Problem = tuple[str, str]
"""A configuration problem: (the variable, what is wrong with it)."""


class ConfigurationError(ValueError):
    """Settings are missing or malformed: ``problems`` lists every one, as (variable, problem),
    and the message names them all ("VAR: problem; VAR: problem"). ``variable`` and
    ``problem`` are the first one's."""

    def __init__(self, variable: str, problem: str, *more: Problem) -> None:
        self.problems: list[Problem] = [(variable, problem), *more]
        super().__init__("; ".join(f"{name}: {what}" for name, what in self.problems))
        self.variable = variable
        self.problem = problem

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ConfigurationError:
        """One error for several problems (at least one), in their order."""
        (variable, problem), *more = problems
        return cls(variable, problem, *more)


class _Problems:
    """Collects the problems of every setting, so that one error reports them all."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def read(
        self, fields: dict[str, Any], field: str, parse: Callable[..., object], *args: Any
    ) -> None:
        """``fields[field] = parse(*args)``, or the problems it raised noted instead."""
        try:
            fields[field] = parse(*args)
        except ConfigurationError as error:
            self.found.extend(error.problems)


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
        """The settings of ``env``; a ``ConfigurationError`` listing every problem found (the
        rules between numbers are checked once the numbers involved parsed)."""
        problems = _Problems()
        fields: dict[str, Any] = {}
        problems.read(fields, "project", _project, env)
        problems.read(fields, "results_topic", _results_topic, env, fields.get("project"))
        numbers: dict[str, float] = {}
        for name, number in NUMBERS.items():
            problems.read(numbers, name, _number, env, name, number)
        problems.found.extend(_timing_problems(numbers))
        problems.read(fields, "project_number", _project_number, env)
        problems.read(fields, "locations", _locations, env)
        problems.read(fields, "state", _state, env)
        for field, variable in (
            ("insights_emulator_hosts", "INSIGHTS_EMULATOR_HOST"),
            ("insights_emulator_rest_hosts", "INSIGHTS_EMULATOR_REST_HOST"),
        ):
            problems.read(fields, field, _host_overrides, env, variable)
        problems.read(fields, "watch_since", _watch_since, env)
        problems.read(fields, "operation_types", _operation_types, env)
        if problems.found:  # in the order of the declarations, as the README lists them
            order = list(DECLARATIONS)
            raise ConfigurationError.of(sorted(problems.found, key=lambda p: order.index(p[0])))
        return cls(**fields, numbers=types.MappingProxyType(numbers))

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


def _timing_problems(numbers: Mapping[str, float]) -> list[Problem]:
    """The rules between settings: each timing must fit inside the next. A rule is checked
    only when the numbers it involves parsed (``numbers`` lacks the others)."""
    problems: list[Problem] = []
    publish_timeout = numbers.get("PUBLISH_TIMEOUT_SECONDS")
    poll_budget = numbers.get("POLL_BUDGET_SECONDS")
    claim_lease = numbers.get("CLAIM_LEASE_SECONDS")
    if poll_budget is not None and publish_timeout is not None and poll_budget <= publish_timeout:
        problems.append(
            (
                "POLL_BUDGET_SECONDS",
                f"must exceed PUBLISH_TIMEOUT_SECONDS ({publish_timeout:g}): the budget keeps "
                "that much time for publishing",
            )
        )
    if claim_lease is not None and poll_budget is not None and claim_lease <= poll_budget:
        problems.append(
            (
                "CLAIM_LEASE_SECONDS",
                f"must exceed POLL_BUDGET_SECONDS ({poll_budget:g}), or another poll could "
                "claim and publish an operation while the first one is still publishing it",
            )
        )
    return problems


def _project(env: Mapping[str, str]) -> str:
    project = _required(env, "GOOGLE_CLOUD_PROJECT")
    if not names.is_project_id(project):
        raise ConfigurationError("GOOGLE_CLOUD_PROJECT", f"{project!r} is not a project id")
    return project


def _results_topic(env: Mapping[str, str], project: str | None) -> str:
    """The topic's full path; with no valid project, only its shape is checked."""
    topic = _required(env, "RESULTS_TOPIC")
    try:
        return names.topic_path(topic, project or "PROJECT")
    except ValueError as error:
        raise ConfigurationError("RESULTS_TOPIC", str(error)) from None


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
    """The default when unset; set, it must name at least one location, and no empty one."""
    raw = env.get("INSIGHTS_LOCATIONS")
    if raw is None:
        raw = _default("INSIGHTS_LOCATIONS")
    elif not raw.strip():
        raise ConfigurationError(
            "INSIGHTS_LOCATIONS",
            "is set but empty: name the locations to watch (e.g. us-central1,europe-west1), "
            f"or unset it for the default {_default('INSIGHTS_LOCATIONS')}",
        )
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
    """The kinds to publish: known ones (``ACCEPTED_OPERATION_TYPES``), and any other only
    when marked deliberate with ``+`` (a kind newer than this poller); a kind neither known
    nor marked is taken for a typo, and the closest known one suggested."""
    raw = _value(env, "OPERATION_TYPES")
    if raw is None:
        return None
    kinds: set[str] = set()
    problems: list[Problem] = []
    for entry in dict.fromkeys(part.strip() for part in raw.split(",")):
        deliberate = entry.startswith(DELIBERATE_KIND)
        kind = entry.removeprefix(DELIBERATE_KIND).strip() if deliberate else entry
        if not _OPERATION_TYPE.fullmatch(kind):
            closest = _closest_kind(kind)
            hint = f": did you mean {closest!r}?" if closest else " (e.g. ExportInsightsData)"
            problems.append(("OPERATION_TYPES", f"{entry!r} is not an operation type{hint}"))
        elif deliberate or kind in ACCEPTED_OPERATION_TYPES:
            kinds.add(kind)
        else:
            closest = _closest_kind(kind)
            hint = f": did you mean {closest!r}?" if closest else ""
            problems.append(
                (
                    "OPERATION_TYPES",
                    f"{kind!r} is not a known operation type{hint} (a kind newer than this "
                    f"poller is written {DELIBERATE_KIND}{kind})",
                )
            )
    if problems:
        raise ConfigurationError.of(problems)
    return frozenset(kinds)


def _closest_kind(kind: str) -> str | None:
    """The known kind ``kind`` is most likely a typo of (difflib, ignoring case), if any."""
    by_lower = {known.lower(): known for known in sorted(ACCEPTED_OPERATION_TYPES)}
    closest = difflib.get_close_matches(kind.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[closest[0]] if closest else None


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
