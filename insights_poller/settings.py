"""Configuration: one frozen object built from the environment; errors name the variable."""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from insights_poller import names, timestamps

DEFAULT_STATE_URL = "sqlite:///poller-state.db"

REQUIRED_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "RESULTS_TOPIC")
OPTIONAL_VARIABLES = (
    "INSIGHTS_LOCATIONS",
    "STATE_URL",
    "GOOGLE_CLOUD_PROJECT_NUMBER",
    "INSIGHTS_EMULATOR_HOST",
    "INSIGHTS_EMULATOR_REST_HOST",
    "WATCH_SINCE",
    "INSIGHTS_TIMEOUT_SECONDS",
    "INSIGHTS_PAGE_SIZE",
    "INSIGHTS_MAX_CONCURRENCY",
    "INSIGHTS_MAX_RPS",
    "PUBLISH_TIMEOUT_SECONDS",
    "POLL_BUDGET_SECONDS",
    "CLAIM_LEASE_SECONDS",
    "MAX_PENDING_AGE",
    "OPERATION_TYPES",
)
"""Every variable the poller reads (besides K_SERVICE, which Cloud Run sets): the README's
table and the Terraform function resource are checked against these."""
_Number = TypeVar("_Number", int, float)
_OPERATION_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{0,99}")


class ConfigurationError(ValueError):
    """A setting is missing or malformed; ``variable`` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class Settings:
    project: str
    project_number: str | None
    locations: tuple[str, ...]
    results_topic: str
    state_url: str
    insights_emulator_hosts: names.HostOverrides | None
    insights_emulator_rest_hosts: names.HostOverrides | None
    watch_since: datetime.datetime | None
    insights_timeout_seconds: float
    insights_page_size: int
    insights_max_concurrency: int
    insights_max_rps: float
    publish_timeout_seconds: float
    poll_budget_seconds: float
    claim_lease_seconds: float
    max_pending_age_seconds: float
    operation_types: frozenset[str] | None

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
        publish_timeout = _number(env, "PUBLISH_TIMEOUT_SECONDS", float, 60.0, 1.0, 540.0)
        poll_budget = _number(env, "POLL_BUDGET_SECONDS", float, 240.0, 2.0, 3540.0)
        if poll_budget <= publish_timeout:
            raise ConfigurationError(
                "POLL_BUDGET_SECONDS",
                f"must exceed PUBLISH_TIMEOUT_SECONDS ({publish_timeout:g}): the budget keeps "
                "that much time for publishing",
            )
        claim_lease = _number(env, "CLAIM_LEASE_SECONDS", float, 600.0, 3.0, 86400.0)
        if claim_lease <= poll_budget:
            raise ConfigurationError(
                "CLAIM_LEASE_SECONDS",
                f"must exceed POLL_BUDGET_SECONDS ({poll_budget:g}), or another poll could "
                "claim and publish an operation while the first one is still publishing it",
            )
        return cls(
            project=project,
            project_number=_project_number(env),
            locations=_locations(env),
            results_topic=results_topic,
            state_url=_state_url(env),
            insights_emulator_hosts=_host_overrides(env, "INSIGHTS_EMULATOR_HOST"),
            insights_emulator_rest_hosts=_host_overrides(env, "INSIGHTS_EMULATOR_REST_HOST"),
            watch_since=_watch_since(env),
            insights_timeout_seconds=_number(
                env, "INSIGHTS_TIMEOUT_SECONDS", float, 30.0, 1.0, 300.0
            ),
            insights_page_size=_number(env, "INSIGHTS_PAGE_SIZE", int, 100, 1, 1000),
            insights_max_concurrency=_number(env, "INSIGHTS_MAX_CONCURRENCY", int, 8, 1, 64),
            insights_max_rps=_number(env, "INSIGHTS_MAX_RPS", float, 10.0, 0.1, 50.0),
            publish_timeout_seconds=publish_timeout,
            poll_budget_seconds=poll_budget,
            claim_lease_seconds=claim_lease,
            max_pending_age_seconds=_number(
                env, "MAX_PENDING_AGE", float, 7 * 86400.0, 60.0, 365 * 86400.0
            ),
            operation_types=_operation_types(env),
        )


def _value(env: Mapping[str, str], variable: str) -> str | None:
    value = env.get(variable, "").strip()
    return value or None


def _required(env: Mapping[str, str], variable: str) -> str:
    value = _value(env, variable)
    if value is None:
        raise ConfigurationError(variable, "is required but not set")
    return value


def _locations(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _value(env, "INSIGHTS_LOCATIONS") or "us-central1"
    locations = tuple(dict.fromkeys(part.strip() for part in raw.split(",")))
    bad = [location for location in locations if not names.is_location_id(location)]
    if bad:
        raise ConfigurationError(
            "INSIGHTS_LOCATIONS", f"{bad[0]!r} is not a location id (expected e.g. us-central1)"
        )
    return locations


def _state_url(env: Mapping[str, str]) -> str:
    url = _value(env, "STATE_URL")
    on_serverless = _value(env, "K_SERVICE") is not None
    if on_serverless and (url is None or not url.startswith("firestore://")):
        raise ConfigurationError(
            "STATE_URL",
            "on Cloud Run / Cloud Functions (K_SERVICE is set) state must live in Firestore "
            "(firestore:///COLLECTION or firestore://DATABASE/COLLECTION): instances share no disk",
        )
    url = url or DEFAULT_STATE_URL
    if not url.startswith(("sqlite:///", "firestore://")):
        raise ConfigurationError(
            "STATE_URL",
            f"{url!r} is not sqlite:///PATH, firestore:///COLLECTION or firestore://DATABASE/COLLECTION",
        )
    return url


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


def _number(
    env: Mapping[str, str],
    variable: str,
    kind: Callable[[str], _Number],
    default: _Number,
    low: _Number,
    high: _Number,
) -> _Number:
    raw = _value(env, variable)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(variable, f"{raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigurationError(variable, f"{raw} is outside {low:g}..{high:g}")
    return value
