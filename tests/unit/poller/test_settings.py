"""Configuration from the environment: defaults, and errors that name the variable, every
problem at once."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import typing
from pathlib import Path

import pytest

from insights_poller import app, core, triggers
from insights_poller.model import KNOWN_OPERATION_TYPES
from insights_poller.names import HostOverrides
from insights_poller.settings import (
    DECLARATIONS,
    NUMBERS,
    OPTIONAL_VARIABLES,
    REQUIRED_VARIABLES,
    ConfigurationError,
    Settings,
)
from insights_poller.state import StateLocation

ROOT = Path(__file__).resolve().parents[3]

MINIMAL = {"GOOGLE_CLOUD_PROJECT": "demo-project", "RESULTS_TOPIC": "events"}


def test_defaults_from_a_minimal_environment() -> None:
    settings = Settings.from_env(MINIMAL)

    assert settings.project == "demo-project"
    assert settings.locations == ("us-central1",)
    assert settings.results_topic == "projects/demo-project/topics/events"
    assert settings.state == StateLocation("sqlite", path="poller-state.db")
    assert settings.watch_since is None
    assert settings.operation_types is None
    assert settings.insights_emulator_hosts is None
    assert settings.insights_emulator_rest_hosts is None
    assert settings.project_number is None


def test_every_setting_is_read() -> None:
    settings = Settings.from_env(
        {
            **MINIMAL,
            "INSIGHTS_LOCATIONS": "us-central1, europe-west1,us-central1",
            "RESULTS_TOPIC": "projects/other-project/topics/insights-events",
            "STATE_URL": "firestore://poller/operations",
            "GOOGLE_CLOUD_PROJECT_NUMBER": "389908145857",
            "INSIGHTS_EMULATOR_HOST": "localhost:8089",
            "INSIGHTS_EMULATOR_REST_HOST": "europe-west1=127.0.0.1:9091, 127.0.0.1:9090",
            "WATCH_SINCE": "2026-11-01T10:00:00+01:00",
            "INSIGHTS_TIMEOUT_SECONDS": "12.5",
            "INSIGHTS_PAGE_SIZE": "250",
            "INSIGHTS_MAX_CONCURRENCY": "4",
            "INSIGHTS_MAX_RPS": "2.5",
            "PUBLISH_TIMEOUT_SECONDS": "20",
            "POLL_BUDGET_SECONDS": "100",
            "CLAIM_LEASE_SECONDS": "120",
            "MAX_PENDING_AGE": "3600",
            "OPERATION_TYPES": "ExportInsightsData, CreateIssueModel",
            "FOLLOW_UP_SECONDS": "2.5",
            "FOLLOW_UP_WINDOW_SECONDS": "80",
        }
    )

    assert settings.locations == ("us-central1", "europe-west1")
    assert settings.results_topic == "projects/other-project/topics/insights-events"
    assert settings.state == StateLocation("firestore", database="poller", collection="operations")
    assert settings.project_number == "389908145857"
    assert settings.insights_emulator_hosts == HostOverrides("localhost:8089")
    rest_hosts = settings.insights_emulator_rest_hosts
    assert rest_hosts is not None
    assert rest_hosts.host_for("europe-west1") == "127.0.0.1:9091"
    assert rest_hosts.host_for("us-central1") == "127.0.0.1:9090"
    assert settings.watch_since == datetime.datetime(2026, 11, 1, 9, tzinfo=datetime.UTC)
    assert (settings.insights_timeout_seconds, settings.insights_page_size) == (12.5, 250)
    assert settings.insights_max_concurrency == 4
    assert (settings.publish_timeout_seconds, settings.claim_lease_seconds) == (20, 120)
    assert (settings.poll_budget_seconds, settings.insights_max_rps) == (100, 2.5)
    assert settings.max_pending_age_seconds == 3600
    assert settings.operation_types == frozenset({"ExportInsightsData", "CreateIssueModel"})
    assert settings.poll_options == core.PollOptions(
        locations=("us-central1", "europe-west1"),
        watch_since=settings.watch_since,
        claim_lease=datetime.timedelta(seconds=120),
        max_concurrency=4,
        budget=datetime.timedelta(seconds=100),
        publish_reserve=datetime.timedelta(seconds=20),
        follow_up_interval=datetime.timedelta(seconds=2.5),
        follow_up_window=datetime.timedelta(seconds=80),
        max_pending_age=datetime.timedelta(hours=1),
        operation_types=settings.operation_types,
    )


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("GOOGLE_CLOUD_PROJECT", "", "required"),
        ("GOOGLE_CLOUD_PROJECT", "Not A Project", "not a project id"),
        ("RESULTS_TOPIC", "", "required"),
        ("RESULTS_TOPIC", "projects/p/subscriptions/s", "neither a topic id"),
        ("RESULTS_TOPIC", "goog-reserved", "neither a topic id"),
        ("INSIGHTS_LOCATIONS", "us-central1,,", "not a location id"),
        ("INSIGHTS_LOCATIONS", "US Central", "not a location id"),
        ("STATE_URL", "postgres://db/x", "is not sqlite:///PATH"),
        ("STATE_URL", "sqlite:///", "has no file path"),
        ("STATE_URL", "firestore:///a/b", "must name exactly one collection"),
        ("INSIGHTS_EMULATOR_HOST", "localhost", "not host:port"),
        ("INSIGHTS_EMULATOR_HOST", "localhost:99999", "not host:port"),
        ("INSIGHTS_EMULATOR_HOST", "a:1,b:2", "more than one entry without a LOCATION="),
        ("INSIGHTS_EMULATOR_HOST", "eu=a:1,eu=b:2", "is repeated"),
        ("INSIGHTS_EMULATOR_REST_HOST", "Europe West=a:1", "not a location id"),
        ("GOOGLE_CLOUD_PROJECT_NUMBER", "demo-project", "not a project number"),
        ("WATCH_SINCE", "yesterday", "not an RFC 3339 time"),
        ("WATCH_SINCE", "2026-11-01T10:00:00", "not an RFC 3339 time"),
        ("INSIGHTS_PAGE_SIZE", "ten", "not a number"),
        ("INSIGHTS_PAGE_SIZE", "0", "outside 1..1000"),
        ("INSIGHTS_MAX_CONCURRENCY", "1000", "outside 1..64"),
        ("CLAIM_LEASE_SECONDS", "200", "must exceed POLL_BUDGET_SECONDS"),
        ("POLL_BUDGET_SECONDS", "30", "must exceed PUBLISH_TIMEOUT_SECONDS"),
        ("INSIGHTS_MAX_RPS", "0", "outside 0.1..50"),
        ("MAX_PENDING_AGE", "1", "outside 60..3.1536e+07"),
        ("OPERATION_TYPES", "ExportInsightsData,export-insights", "not an operation type"),
    ],
)
def test_bad_setting_is_refused_naming_the_variable(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**MINIMAL, variable: value})

    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ")
    assert problem in str(raised.value)


def test_every_problem_is_reported_at_once_in_the_order_of_the_declarations() -> None:
    env = {
        "INSIGHTS_LOCATIONS": "US Central",
        "RESULTS_TOPIC": "goog-reserved",
        "INSIGHTS_PAGE_SIZE": "ten",
        "WATCH_SINCE": "yesterday",
        "OPERATION_TYPES": "ExportInsightData",
    }

    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(env)

    error = raised.value
    variables = [variable for variable, _ in error.problems]
    assert variables == [
        "GOOGLE_CLOUD_PROJECT",
        "INSIGHTS_LOCATIONS",
        "RESULTS_TOPIC",
        "WATCH_SINCE",
        "INSIGHTS_PAGE_SIZE",
        "OPERATION_TYPES",
    ]
    assert (error.variable, error.problem) == ("GOOGLE_CLOUD_PROJECT", "is required but not set")
    assert str(error).startswith("GOOGLE_CLOUD_PROJECT: is required but not set; ")
    assert str(error) == "; ".join(f"{variable}: {problem}" for variable, problem in error.problems)
    assert "INSIGHTS_PAGE_SIZE: 'ten' is not a number" in str(error)


def test_a_single_problem_reads_as_before() -> None:
    error = ConfigurationError("RESULTS_TOPIC", "is required but not set")

    assert str(error) == "RESULTS_TOPIC: is required but not set"
    assert error.problems == [("RESULTS_TOPIC", "is required but not set")]
    assert ConfigurationError.of(error.problems).problems == error.problems


@pytest.mark.parametrize(
    ("timing", "expected"),
    [
        # A rule whose numbers did not all parse is not checked: only the parse is reported.
        (
            {"POLL_BUDGET_SECONDS": "soon", "CLAIM_LEASE_SECONDS": "3"},
            [("POLL_BUDGET_SECONDS", "'soon' is not a number")],
        ),
        (
            {"PUBLISH_TIMEOUT_SECONDS": "0", "POLL_BUDGET_SECONDS": "2"},
            [("PUBLISH_TIMEOUT_SECONDS", "0 is outside 1..540")],
        ),
        (
            {"POLL_BUDGET_SECONDS": "30", "CLAIM_LEASE_SECONDS": "-1"},
            [
                ("POLL_BUDGET_SECONDS", "must exceed PUBLISH_TIMEOUT_SECONDS (60)"),
                ("CLAIM_LEASE_SECONDS", "-1 is outside 3..86400"),
            ],
        ),
        # Both rules broken at once: both reported.
        (
            {"POLL_BUDGET_SECONDS": "30", "CLAIM_LEASE_SECONDS": "20"},
            [
                ("POLL_BUDGET_SECONDS", "must exceed PUBLISH_TIMEOUT_SECONDS (60)"),
                ("CLAIM_LEASE_SECONDS", "must exceed POLL_BUDGET_SECONDS (30)"),
            ],
        ),
    ],
)
def test_timing_rules_are_checked_only_between_numbers_that_parsed(
    timing: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**MINIMAL, **timing})

    reported = raised.value.problems
    assert [variable for variable, _ in reported] == [variable for variable, _ in expected]
    for (_, problem), (_, part) in zip(reported, expected, strict=True):
        assert problem.startswith(part), reported


def test_operation_types_accepts_every_known_kind_and_unknown() -> None:
    every = ",".join([*KNOWN_OPERATION_TYPES, "Unknown"])

    settings = Settings.from_env({**MINIMAL, "OPERATION_TYPES": every})

    assert settings.operation_types == frozenset([*KNOWN_OPERATION_TYPES, "Unknown"])


def test_operation_types_outside_the_known_kinds_must_be_marked_deliberate() -> None:
    settings = Settings.from_env(
        {**MINIMAL, "OPERATION_TYPES": "ExportInsightsData, +SomeNewKind,+CreateIssueModel"}
    )

    assert settings.operation_types == frozenset(
        {"ExportInsightsData", "SomeNewKind", "CreateIssueModel"}
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "ExportInsightData",
            "'ExportInsightData' is not a known operation type: did you mean "
            "'ExportInsightsData'? (a kind newer than this poller is written +ExportInsightData)",
        ),
        ("CreateIssueModel,CreateIssuModel", "did you mean 'CreateIssueModel'?"),
        ("exportinsightsdata", "is not an operation type: did you mean 'ExportInsightsData'?"),
        ("unknown", "did you mean 'Unknown'?"),
        ("Zzzzzz", "'Zzzzzz' is not a known operation type (a kind newer than this poller is"),
        ("+some-new-kind", "'+some-new-kind' is not an operation type"),
        ("+", "'+' is not an operation type"),
    ],
)
def test_an_operation_type_typo_is_refused_naming_the_closest_known_kind(
    value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**MINIMAL, "OPERATION_TYPES": value})

    [(variable, reported)] = raised.value.problems
    assert variable == "OPERATION_TYPES"
    assert problem in reported


def test_each_bad_operation_type_is_a_problem_of_its_own() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**MINIMAL, "OPERATION_TYPES": "ExportInsightData,CreateIssuModel"})

    assert [variable for variable, _ in raised.value.problems] == ["OPERATION_TYPES"] * 2
    assert "'ExportInsightsData'" in str(raised.value)
    assert "'CreateIssueModel'" in str(raised.value)


@pytest.mark.parametrize("value", ["", " ", " \t"])
def test_insights_locations_set_but_empty_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**MINIMAL, "INSIGHTS_LOCATIONS": value})

    assert raised.value.problems == [
        (
            "INSIGHTS_LOCATIONS",
            "is set but empty: name the locations to watch (e.g. us-central1,europe-west1), or "
            "unset it for the default us-central1",
        )
    ]


@pytest.mark.parametrize("value", ["us-central1,", ",us-central1", "us-central1, ,europe-west1"])
def test_insights_locations_with_an_empty_item_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**MINIMAL, "INSIGHTS_LOCATIONS": value})

    assert raised.value.variable == "INSIGHTS_LOCATIONS"
    assert "'' is not a location id" in str(raised.value)


def test_the_http_answer_lists_every_problem() -> None:
    def unconfigured() -> app.Poller:
        return app.Poller(Settings.from_env({"INSIGHTS_PAGE_SIZE": "0"}))

    answer, status = triggers.handle_http("POST", b"", 0, unconfigured)

    assert status == 500
    assert answer["error"] == "configuration"
    assert answer["variable"] == "GOOGLE_CLOUD_PROJECT"
    assert answer["problems"] == [
        {"variable": "GOOGLE_CLOUD_PROJECT", "problem": "is required but not set"},
        {"variable": "RESULTS_TOPIC", "problem": "is required but not set"},
        {"variable": "INSIGHTS_PAGE_SIZE", "problem": "0 is outside 1..1000"},
    ]
    assert all(problem["variable"] in answer["message"] for problem in answer["problems"])


def test_serverless_instance_refuses_state_on_local_disk() -> None:
    for state_url in (None, "sqlite:///poller-state.db"):
        env = {**MINIMAL, "K_SERVICE": "insights-poller"}
        if state_url:
            env["STATE_URL"] = state_url
        with pytest.raises(ConfigurationError) as raised:
            Settings.from_env(env)
        assert raised.value.variable == "STATE_URL"

    settings = Settings.from_env(
        {**MINIMAL, "K_SERVICE": "insights-poller", "STATE_URL": "firestore:///ops"}
    )
    assert settings.state == StateLocation("firestore", collection="ops")


class RecordingEnvironment(dict[str, str]):
    """An environment that remembers which variables were asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_the_declared_variables_are_exactly_the_ones_read() -> None:
    env = RecordingEnvironment(dict(MINIMAL))

    Settings.from_env(env)

    assert env.asked - {"K_SERVICE"} == set(REQUIRED_VARIABLES) | set(OPTIONAL_VARIABLES)


def shown(value: float) -> str:
    """A number as the README writes it: 604800, 0.1."""
    return str(int(value)) if float(value).is_integer() else str(value)


def test_the_readme_documents_every_variable_with_its_declared_default_and_bounds() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]

    for name, declared in DECLARATIONS.items():
        row = re.search(rf"^\| `{name}` \| (?P<default>[^|]*) \| (?P<meaning>.*) \|$", table, re.M)
        assert row, f"the README's Configuration table has no row for {name}"
        number = declared.number
        default = shown(number.default) if number else declared.default
        if declared.required:
            assert row["default"] == "required", name
        elif default is not None:
            assert row["default"].startswith(f"`{default}`"), name
        if number:
            assert f"({shown(number.low)}–{shown(number.high)}" in row["meaning"], name


DECLARATION_KEYS = {"deploy", "required", "default", "kind", "min", "max", "option", "about"}


def test_every_declaration_is_well_formed() -> None:
    entries = json.loads((ROOT / "insights_poller" / "settings.json").read_text(encoding="utf-8"))
    for name, entry in entries.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        assert set(entry) <= DECLARATION_KEYS, f"{name}: unknown {set(entry) - DECLARATION_KEYS}"
        declared = DECLARATIONS[name]
        assert declared.deploy in {"managed", "tunable", "local"}, name
        assert declared.about.strip() and "\n" not in declared.about, name
        assert not (declared.required and "default" in entry), f"{name} is required: no default"
        assert declared.deploy == "local" or "_EMULATOR_" not in name, f"{name} is never deployed"
        number = declared.number
        if number is None:
            assert not {"min", "max", "option"} & set(entry), f"{name} is not a number"
            continue
        assert number.kind in {"int", "float", "seconds"}, name
        assert number.low <= number.default <= number.high, name
        if number.kind == "int":
            assert all(isinstance(entry[key], int) for key in ("default", "min", "max")), name


def test_every_declared_poll_option_is_a_poll_options_field_of_its_type() -> None:
    """The wiring of numbers into core.PollOptions is generic: this keeps it from drifting."""
    fields = typing.get_type_hints(core.PollOptions)
    kinds = {"seconds": datetime.timedelta, "int": int, "float": float}
    named = {number.option: number.kind for number in NUMBERS.values() if number.option}
    for option, kind in named.items():
        assert option in fields, f"core.PollOptions has no field {option}"
        assert fields[option] is kinds[kind], f"PollOptions.{option} is not a {kinds[kind]}"
    structural = {"locations", "watch_since", "operation_types"}
    assert set(named) | structural == {field.name for field in dataclasses.fields(core.PollOptions)}
