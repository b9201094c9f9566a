"""The Terraform configuration (terraform/) held against the code it deploys.

`make test` also runs `terraform fmt -check`, checkov, `terraform validate` and `terraform test`
(terraform/tests/, offline, every provider mocked). These tests parse the HCL (python-hcl2) and
hold it against the code, which none of those sees: the entry point, the environment the code
reads, what the source archive contains, how the scheduler reaches the function, and every IAM
grant.
"""

from __future__ import annotations

import ast
import datetime
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from devstack.terraform_schema import parse_hcl
from insights_poller import names
from insights_poller.settings import (
    DECLARATIONS,
    OPTIONAL_VARIABLES,
    REQUIRED_VARIABLES,
    ConfigurationError,
    Settings,
)
from insights_poller.state import StateLocation

ROOT = Path(__file__).resolve().parents[3]
TERRAFORM = ROOT / "terraform"

RUNTIME = "serviceAccount:${google_service_account.runtime.email}"
INVOKER = "serviceAccount:${google_service_account.invoker.email}"
BUILD = "serviceAccount:${google_service_account.build.email}"
PUBSUB_AGENT = "${local.pubsub_service_agent}"
FUNCTION_URI = "${google_cloudfunctions2_function.main.service_config[0].uri}"

# The resource argument naming what each kind of IAM member resource grants on.
IAM_TARGET_ARGUMENT = {
    "google_project_iam_member": "project",
    "google_pubsub_topic_iam_member": "topic",
    "google_pubsub_subscription_iam_member": "subscription",
    "google_cloud_run_v2_service_iam_member": "name",
    "google_artifact_registry_repository_iam_member": "repository",
    "google_storage_bucket_iam_member": "bucket",
}

# Every grant of the configuration: (resource type, granted on, role, member).
EXPECTED_GRANTS = {
    # Runtime: Insights operations (custom role), its Firestore database, the events topic.
    (
        "google_project_iam_member",
        "${var.project_id}",
        "${google_project_iam_custom_role.main.name}",
        RUNTIME,
    ),
    ("google_project_iam_member", "${var.project_id}", "roles/datastore.user", RUNTIME),
    (
        "google_pubsub_topic_iam_member",
        "${google_pubsub_topic.events.name}",
        "roles/pubsub.publisher",
        RUNTIME,
    ),
    # Invoker: the function's Cloud Run service, nothing else.
    (
        "google_cloud_run_v2_service_iam_member",
        "${google_cloudfunctions2_function.main.service_config[0].service}",
        "roles/run.invoker",
        INVOKER,
    ),
    # Build: logs, its image repository, the source bucket, and (conditioned on their names) the
    # buckets Cloud Functions copies the source into.
    ("google_project_iam_member", "${var.project_id}", "roles/logging.logWriter", BUILD),
    ("google_project_iam_member", "${var.project_id}", "roles/storage.objectViewer", BUILD),
    (
        "google_artifact_registry_repository_iam_member",
        "${google_artifact_registry_repository.main.name}",
        "roles/artifactregistry.writer",
        BUILD,
    ),
    (
        "google_storage_bucket_iam_member",
        "${google_storage_bucket.main.name}",
        "roles/storage.objectViewer",
        BUILD,
    ),
    # Subscribers (var.subscriber_members, one grant each): attach subscriptions to the events
    # topic, from this project or another; nothing on the example subscription.
    (
        "google_pubsub_topic_iam_member",
        "${google_pubsub_topic.events.name}",
        "roles/pubsub.subscriber",
        "${each.value}",
    ),
    # Pub/Sub service agent: dead-lettering of the example subscription.
    (
        "google_pubsub_topic_iam_member",
        "${google_pubsub_topic.dead_letter[0].name}",
        "roles/pubsub.publisher",
        PUBSUB_AGENT,
    ),
    (
        "google_pubsub_subscription_iam_member",
        "${google_pubsub_subscription.example[0].name}",
        "roles/pubsub.subscriber",
        PUBSUB_AGENT,
    ),
}

REQUIRED_APIS = {
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "contactcenterinsights.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
}

CLOUD_SCHEDULER_MAX_ATTEMPT_DEADLINE_SECONDS = 1800


# --- The configuration, parsed -------------------------------------------------------------------


class Config:
    """Every block of terraform/*.tf, by kind and name."""

    def __init__(self, files: Mapping[str, Mapping[str, Any]]) -> None:
        self.files = files
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.data: dict[tuple[str, str], dict[str, Any]] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.locals: dict[str, Any] = {}
        self.terraform: list[dict[str, Any]] = []
        for parsed in files.values():
            for kind, into in (("resource", self.resources), ("data", self.data)):
                for block in parsed.get(kind, []):
                    for type_, named in block.items():
                        for name, body in named.items():
                            assert (type_, name) not in into, f"{kind} {type_}.{name} twice"
                            into[(type_, name)] = body
            for kind, by_name in (("variable", self.variables), ("output", self.outputs)):
                for block in parsed.get(kind, []):
                    for name, body in block.items():
                        assert name not in by_name, f"{kind} {name} twice"
                        by_name[name] = body
            for block in parsed.get("locals", []):
                for name, value in block.items():
                    assert name not in self.locals, f"local {name} twice"
                    self.locals[name] = value
            self.terraform.extend(parsed.get("terraform", []))

    def resource(self, type_: str, name: str) -> dict[str, Any]:
        assert (type_, name) in self.resources, f"terraform/ has no resource {type_}.{name}"
        return self.resources[(type_, name)]

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {name: body for (kind, name), body in self.resources.items() if kind == type_}


@cache
def config() -> Config:
    files = {path.name: parse_hcl(path, raw=False) for path in sorted(TERRAFORM.glob("*.tf"))}
    assert files, "terraform/ holds no .tf file"
    return Config(files)


def block(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The one nested block ``name`` of a block body."""
    blocks = body.get(name)
    assert isinstance(blocks, list), f"no {name} block"
    assert len(blocks) == 1, f"{len(blocks)} {name} blocks, expected one"
    only = blocks[0]
    assert isinstance(only, dict)
    return only


def strings(value: object) -> Iterator[str]:
    """Every string anywhere in a parsed value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def variable_default(name: str) -> Any:
    variable = config().variables[name]
    assert "default" in variable, f"variable {name} has no default"
    return variable["default"]


def validation_conditions(name: str) -> list[str]:
    return [str(rule["condition"]) for rule in config().variables[name].get("validation", [])]


# --- Versions, variables, outputs ----------------------------------------------------------------


def test_terraform_and_provider_versions_are_pinned() -> None:
    (terraform,) = config().terraform
    assert terraform["required_version"] == ">= 1.5"
    providers = block(terraform, "required_providers")
    assert providers["google"] == {"source": "hashicorp/google", "version": ">= 6.0, < 8.0"}
    assert providers["archive"]["source"] == "hashicorp/archive"
    used = {type_.split("_")[0] for type_, _ in [*config().resources, *config().data]}
    assert used <= set(providers), f"providers used but not required: {used - set(providers)}"


def test_every_variable_is_typed_described_and_numbers_carry_their_unit() -> None:
    units = ("_seconds", "_minutes", "_days", "_mib", "_count", "_attempts")
    for name, variable in config().variables.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"variable {name} is not snake_case"
        assert variable.get("type"), f"variable {name} has no type"
        assert str(variable.get("description", "")).strip(), f"variable {name} has no description"
        if variable["type"] == "number":
            assert name.endswith(units), f"number variable {name} names no unit ({units})"


def test_every_output_is_described() -> None:
    for name, output in config().outputs.items():
        assert str(output.get("description", "")).strip(), f"output {name} has no description"
    wanted = {
        "function_name",
        "function_url",
        "results_topic_id",
        "runtime_service_account_email",
        "invoker_service_account_email",
        "scheduler_job_name",
        "state_url",
        "resource_names",
        "dashboard_id",
    }
    assert wanted <= set(config().outputs)


def test_every_object_name_is_snake_case() -> None:
    named = [*config().resources, *config().data]
    for type_, name in named:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"{type_}.{name} is not snake_case"
    for name in config().locals:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"local {name} is not snake_case"


def test_a_block_alone_of_its_type_is_named_main() -> None:
    named = [*config().resources, *config().data]
    for type_, name in named:
        alone = [other for other, _ in named if other == type_] == [type_]
        assert not alone or name == "main", f"{type_}.{name} is the only one: name it main"


def test_readme_documents_every_input_and_output_and_the_deploy_and_poll_commands() -> None:
    readme = (TERRAFORM / "README.md").read_text(encoding="utf-8")
    for name in [*config().variables, *config().outputs]:
        assert re.search(rf"^\| `{name}` \|", readme, re.MULTILINE), f"README table lacks {name}"
    for command in (
        "terraform -chdir=terraform init",
        "terraform -chdir=terraform apply",
        "gcloud scheduler jobs run",
    ):
        assert command in readme, f"README does not show {command}"


def test_example_tfvars_sets_only_declared_variables() -> None:
    text = (TERRAFORM / "terraform.tfvars.example").read_text(encoding="utf-8")
    assigned = set(re.findall(r"^#?\s*([a-z][a-z0-9_]*)\s*=", text, re.MULTILINE))
    unknown = assigned - set(config().variables)
    assert not unknown, f"terraform.tfvars.example sets undeclared variables {unknown}"
    assert "project_id" in assigned


# --- APIs -----------------------------------------------------------------------------------------


def test_every_api_the_deployment_needs_is_enabled_and_left_on_destroy() -> None:
    services = config().resource("google_project_service", "main")
    assert services["for_each"] == "${toset(local.services)}"
    assert services["disable_on_destroy"] is False
    assert set(config().locals["services"]) >= REQUIRED_APIS


# --- The function ---------------------------------------------------------------------------------


def test_the_entry_point_is_an_http_function_defined_in_main() -> None:
    build = block(config().resource("google_cloudfunctions2_function", "main"), "build_config")
    assert build["runtime"] == "python312"
    entry_point = build["entry_point"]
    tree = ast.parse((ROOT / "main.py").read_text(encoding="utf-8"))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert entry_point in functions, f"main.py defines no function {entry_point!r}"
    decorators = {ast.unparse(decorator) for decorator in functions[entry_point].decorator_list}
    assert "functions_framework.http" in decorators, f"{entry_point} is not an HTTP function"


def test_the_function_runs_as_its_own_account_and_is_internal_only() -> None:
    function = config().resource("google_cloudfunctions2_function", "main")
    service = block(function, "service_config")
    assert service["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert service["service_account_email"] == "${google_service_account.runtime.email}"
    assert service["timeout_seconds"] == "${var.function_timeout_seconds}"
    assert service["available_memory"] == "${var.function_memory_mib}Mi"
    build = block(function, "build_config")
    assert build["service_account"] == "${google_service_account.build.id}"
    assert build["docker_repository"] == "${google_artifact_registry_repository.main.id}"
    # The build starts only once the build account's grants had time to propagate.
    assert "${time_sleep.main}" in function["depends_on"]
    waits_for = set(config().resource("time_sleep", "main")["depends_on"])
    build_grants = {
        f"${{{type_}.{name}}}"
        for (type_, name), body in config().resources.items()
        if type_ in IAM_TARGET_ARGUMENT and body["member"] == BUILD
    }
    assert build_grants, "no grant to the build service account"
    assert build_grants <= waits_for, f"the build does not wait for {build_grants - waits_for}"


def test_the_three_service_accounts_are_distinct() -> None:
    accounts = config().of_type("google_service_account")
    assert set(accounts) == {"runtime", "invoker", "build"}
    ids = [account["account_id"] for account in accounts.values()]
    assert len(set(ids)) == 3, ids


# --- The environment ------------------------------------------------------------------------------


def managed_environment() -> dict[str, str]:
    environment = config().locals["poller_environment"]
    assert isinstance(environment, dict)
    return environment


def declared(deploy: str) -> set[str]:
    """The settings insights_poller/settings.json declares deployed as ``deploy``."""
    return {name for name, setting in DECLARATIONS.items() if setting.deploy == deploy}


def tunable_settings() -> set[str]:
    """What local.tunable_poller_settings evaluates to: the settings declared tunable."""
    locals_ = config().locals
    assert locals_["declared_poller_settings"] == (
        '${jsondecode(file("${local.repository_root}/insights_poller/settings.json"))}'
    )
    assert locals_["tunable_poller_settings"] == (
        "${[for name, setting in local.declared_poller_settings : "
        'name if setting.deploy == "tunable"]}'
    )
    return declared("tunable")


def test_the_function_environment_is_exactly_the_poller_environment_plus_tunables() -> None:
    service = block(config().resource("google_cloudfunctions2_function", "main"), "service_config")
    # Managed variables come last, so a poller_settings entry can never override them.
    assert service["environment_variables"] == (
        "${merge(var.poller_settings, local.poller_environment)}"
    )
    preconditions = block(
        config().resource("google_cloudfunctions2_function", "main"), "lifecycle"
    )["precondition"]
    assert (
        "${alltrue([for key in keys(var.poller_settings) : "
        "contains(local.tunable_poller_settings, key)])}"
    ) in [rule["condition"] for rule in preconditions]


def test_every_variable_the_code_requires_is_set() -> None:
    missing = set(REQUIRED_VARIABLES) - set(managed_environment())
    assert not missing, f"the function does not set required variables {missing}"


def test_every_variable_the_function_can_get_is_known_to_the_code() -> None:
    known = set(REQUIRED_VARIABLES) | set(OPTIONAL_VARIABLES)
    unknown = (set(managed_environment()) | tunable_settings()) - known
    assert not unknown, f"the function would be given variables the code never reads: {unknown}"
    assert not set(managed_environment()) & tunable_settings(), "a managed variable is tunable"


def test_the_managed_environment_is_exactly_the_settings_declared_managed() -> None:
    assert set(managed_environment()) == declared("managed")


def test_every_optional_setting_is_deployed_or_tunable_and_local_ones_never_are() -> None:
    deployable = set(managed_environment()) | tunable_settings()
    local = declared("local")
    assert not deployable & local, f"a local setting would be deployed: {deployable & local}"
    unreachable = set(OPTIONAL_VARIABLES) - local - deployable
    assert not unreachable, (
        f"optional settings {sorted(unreachable)} cannot be set on the deployed function: declare "
        'them "tunable" in insights_poller/settings.json, or "managed" and set them in '
        "local.poller_environment"
    )
    description = config().variables["poller_settings"]["description"]
    assert "Configuration table of the project README" in description
    assert 'insights_poller/settings.json declares "tunable"' in description


def test_the_environment_values_are_wired_to_their_resources() -> None:
    environment = managed_environment()
    assert environment["GOOGLE_CLOUD_PROJECT"] == "${var.project_id}"
    assert environment["RESULTS_TOPIC"] == "${google_pubsub_topic.events.id}"
    assert environment["INSIGHTS_LOCATIONS"] == '${join(",", var.insights_locations)}'
    assert environment["STATE_URL"] == "${local.state_url}"
    assert environment["POLL_BUDGET_SECONDS"] == "${tostring(local.poll_budget_seconds)}"
    assert environment["FOLLOW_UP_WINDOW_SECONDS"] == "${tostring(local.follow_up_window_seconds)}"
    assert config().locals["firestore_database_id"] == (
        "${var.create_firestore_database ? google_firestore_database.main[0].name"
        " : local.configured_firestore_database_id}"
    )


def render(template: str, values: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        assert match[1] in values, f"cannot render {match[0]}"
        return values[match[1]]

    return re.sub(r"\$\{([a-z_.]+)\}", substitute, template)


@pytest.mark.parametrize("default_database", [True, False], ids=["default-database", "named"])
def test_the_deployed_settings_are_accepted_by_the_code_on_cloud_run(
    default_database: bool,
) -> None:
    """The values Terraform renders with the default variables pass Settings.from_env."""
    # With firestore_database_id and firestore_collection null, both are the name (a name of 4
    # characters or more: the default).
    assert variable_default("firestore_database_id") is None
    assert variable_default("firestore_collection") is None
    name = variable_default("name")
    assert len(name) >= 4
    database_id = "(default)" if default_database else name
    collection = name
    state_url = config().locals["state_url"]
    # cond ? "firestore:///COLLECTION" : "firestore://DATABASE/COLLECTION", "(default)" first.
    match = re.fullmatch(
        r'\$\{local\.firestore_database_id == "\(default\)" \? "(?P<default>[^"]+)"'
        r' : "(?P<named>[^"]+)"\}',
        state_url,
    )
    assert match, f"unexpected local.state_url {state_url!r}"
    template = match["default"] if database_id == "(default)" else match["named"]
    values = {
        "local.firestore_collection": collection,
        "local.firestore_database_id": database_id,
    }
    url = render(template, values)
    if database_id == "(default)":
        assert url == f"firestore:///{collection}"
    else:
        assert url == f"firestore://{database_id}/{collection}"

    project = "my-project"
    budget = variable_default("function_timeout_seconds") - poll_budget_margin_seconds()
    window = derived_follow_up_window(
        variable_default("schedule"),
        variable_default("function_timeout_seconds"),
        declared_default("PUBLISH_TIMEOUT_SECONDS"),
    )
    assert window is not None, "the default schedule gives no follow-up window"
    topic_name = render(
        config().resource("google_pubsub_topic", "events")["name"],
        {"var.name": variable_default("name")},
    )
    settings = Settings.from_env(
        {
            "K_SERVICE": variable_default("name"),  # as on Cloud Run: Firestore is required
            "GOOGLE_CLOUD_PROJECT": project,
            "RESULTS_TOPIC": f"projects/{project}/topics/{topic_name}",  # google_pubsub_topic.id
            "INSIGHTS_LOCATIONS": ",".join(variable_default("insights_locations")),
            "STATE_URL": url,
            "POLL_BUDGET_SECONDS": str(budget),
            "FOLLOW_UP_WINDOW_SECONDS": str(window),
        }
    )
    assert settings.state == StateLocation.parse(url)
    assert settings.poll_budget_seconds == budget
    assert settings.numbers["FOLLOW_UP_WINDOW_SECONDS"] == window
    assert settings.results_topic == f"projects/{project}/topics/{topic_name}"
    assert settings.locations == tuple(variable_default("insights_locations"))


def poll_budget_margin_seconds() -> int:
    budget = config().locals["poll_budget_seconds"]
    match = re.fullmatch(r"\$\{var\.function_timeout_seconds - (\d+)\}", budget)
    assert match, f"local.poll_budget_seconds {budget!r} does not follow the function timeout"
    return int(match[1])


def timeout_bounds() -> tuple[int, int]:
    (condition,) = validation_conditions("function_timeout_seconds")
    lower = re.search(r"var\.function_timeout_seconds >= (\d+)", condition)
    upper = re.search(r"var\.function_timeout_seconds <= (\d+)", condition)
    assert lower and upper, "function_timeout_seconds is not bounded on both sides"
    return int(lower[1]), int(upper[1])


def test_the_poll_budget_leaves_the_function_time_to_start_and_answer() -> None:
    margin = poll_budget_margin_seconds()
    assert margin >= 30, "a cold start and the answer must fit between budget and timeout"
    description = config().variables["function_timeout_seconds"]["description"]
    assert f"POLL_BUDGET_SECONDS is {margin} s less" in description


def declared_default(name: str) -> float:
    number = DECLARATIONS[name].number
    assert number is not None, f"{name} is not a number"
    return number.default


def test_the_timing_defaults_terraform_assumes_are_the_declared_ones() -> None:
    locals_ = config().locals
    for local, variable in (
        ("publish_timeout_seconds", "PUBLISH_TIMEOUT_SECONDS"),
        ("claim_lease_seconds", "CLAIM_LEASE_SECONDS"),
    ):
        assert locals_[local] == (
            f'${{tonumber(lookup(var.poller_settings, "{variable}", '
            f'local.declared_poller_settings["{variable}"].default))}}'
        )
    function = config().resource("google_cloudfunctions2_function", "main")
    conditions = [rule["condition"] for rule in block(function, "lifecycle")["precondition"]]
    assert (
        "${local.publish_timeout_seconds < local.poll_budget_seconds && "
        "local.poll_budget_seconds < local.claim_lease_seconds}"
    ) in conditions


@pytest.mark.parametrize("bound", ["lowest", "default", "highest"])
def test_the_plan_time_timing_check_agrees_with_the_code(bound: str) -> None:
    """With poller_settings left empty, the precondition passes exactly when the code accepts."""
    lowest, highest = timeout_bounds()
    timeout = {"lowest": lowest, "default": variable_default("function_timeout_seconds")}.get(
        bound, highest
    )
    budget = timeout - poll_budget_margin_seconds()
    publish = declared_default("PUBLISH_TIMEOUT_SECONDS")
    lease = declared_default("CLAIM_LEASE_SECONDS")
    terraform_accepts = publish < budget < lease
    environment = {
        "GOOGLE_CLOUD_PROJECT": "my-project",
        "RESULTS_TOPIC": "t-1",
        "POLL_BUDGET_SECONDS": str(budget),
    }
    try:
        Settings.from_env(environment)
    except ConfigurationError:
        code_accepts = False
    else:
        code_accepts = True
    assert terraform_accepts == code_accepts, (timeout, budget)
    if bound != "highest":
        assert code_accepts, f"function_timeout_seconds = {timeout} is allowed but cannot run"


# --- The follow-up window ------------------------------------------------------------------------

# What local.schedule_minute_step, local.schedule_period_seconds and local.follow_up_window_seconds
# are (terraform/main.tf): derived_follow_up_window below is their rule in Python.
SCHEDULE_MINUTE_STEP = (
    '${one([for match in regexall("^(?:\\\\*|\\\\*/([1-9][0-9]*))(?: +\\\\*){4}$", '
    "trimspace(var.schedule)) : match[0] == null ? 1 : tonumber(match[0])])}"
)
SCHEDULE_PERIOD_SECONDS = (
    "${local.schedule_minute_step == null ? null : 60 * min(local.schedule_minute_step, "
    "60 - local.schedule_minute_step * floor(59 / local.schedule_minute_step))}"
)
FOLLOW_UP_WINDOW_SECONDS = (
    "${var.follow_up_window_seconds != null ? var.follow_up_window_seconds : "
    "local.schedule_period_seconds == null ? null : "
    "min(local.schedule_period_seconds - local.follow_up_margin_seconds, "
    "local.poll_work_seconds)}"
)


def follow_up_margin_seconds() -> int:
    margin = config().locals["follow_up_margin_seconds"]
    assert isinstance(margin, int), f"local.follow_up_margin_seconds {margin!r} is not a number"
    return margin


def derived_follow_up_window(
    schedule: str, timeout: float, publish: float, explicit: float | None = None
) -> float | None:
    """local.follow_up_window_seconds for these inputs; None where the plan fails for it."""
    if explicit is not None:
        return explicit
    match = re.fullmatch(r"(?:\*|\*/([1-9][0-9]*))(?: +\*){4}", schedule.strip())
    if match is None:
        return None
    step = int(match[1]) if match[1] else 1
    period = 60 * min(step, 60 - step * (59 // step))
    budget = timeout - poll_budget_margin_seconds()
    return min(period - follow_up_margin_seconds(), budget - publish)


def test_the_follow_up_window_rule_is_the_one_mirrored_here() -> None:
    locals_ = config().locals
    assert locals_["schedule_minute_step"] == SCHEDULE_MINUTE_STEP
    assert locals_["schedule_period_seconds"] == SCHEDULE_PERIOD_SECONDS
    assert locals_["follow_up_window_seconds"] == FOLLOW_UP_WINDOW_SECONDS
    assert locals_["poll_work_seconds"] == (
        "${local.poll_budget_seconds - local.publish_timeout_seconds}"
    )
    assert follow_up_margin_seconds() == 10
    function = config().resource("google_cloudfunctions2_function", "main")
    conditions = [rule["condition"] for rule in block(function, "lifecycle")["precondition"]]
    assert "${local.follow_up_window_seconds != null}" in conditions
    assert (
        "${local.follow_up_window_seconds == null ? true : "
        "local.follow_up_window_seconds <= local.poll_work_seconds}"
    ) in conditions


@pytest.mark.parametrize(
    ("schedule", "timeout", "window"),
    [
        ("*/5 * * * *", None, 290),  # the defaults: the period, less 10 s
        ("* * * * *", None, 50),
        ("*/7 * * * *", None, 230),  # :56 to :00 is the shortest gap
        ("*/5 * * * *", 180, 60),  # capped at POLL_BUDGET_SECONDS 120 - PUBLISH_TIMEOUT_SECONDS 60
        ("0 * * * *", None, None),  # not derivable: follow_up_window_seconds is required
        ("*/5 9-17 * * *", None, None),
    ],
)
def test_the_follow_up_window_derived_from_the_schedule(
    schedule: str, timeout: int | None, window: int | None
) -> None:
    timeout = timeout or variable_default("function_timeout_seconds")
    publish = declared_default("PUBLISH_TIMEOUT_SECONDS")
    assert derived_follow_up_window(schedule, timeout, publish) == window


def test_the_follow_up_window_variable_is_bounded_like_the_setting() -> None:
    variable = config().variables["follow_up_window_seconds"]
    assert variable["type"] == "number"
    assert variable["default"] is None
    (condition,) = validation_conditions("follow_up_window_seconds")
    number = DECLARATIONS["FOLLOW_UP_WINDOW_SECONDS"].number
    assert number is not None
    assert f"var.follow_up_window_seconds >= {number.low:g}" in condition
    assert f"var.follow_up_window_seconds <= {number.high:g}" in condition
    assert "floor(var.follow_up_window_seconds) == var.follow_up_window_seconds" in condition


def follow_up_cases() -> Iterator[tuple[str, int, int | None]]:
    """(schedule, function timeout, follow_up_window_seconds or None): derived windows at the
    timeout's bounds, and explicit ones on either side of the work deadline."""
    lowest, highest = timeout_bounds()
    default = variable_default("function_timeout_seconds")
    for schedule in ("*/5 * * * *", "* * * * *", "*/30 * * * *"):
        for timeout in (lowest, default, highest):
            yield schedule, timeout, None
    work = default - poll_budget_margin_seconds() - declared_default("PUBLISH_TIMEOUT_SECONDS")
    for explicit in (0, int(work), int(work) + 1):
        yield "0 * * * *", default, explicit


@pytest.mark.parametrize(("schedule", "timeout", "explicit"), list(follow_up_cases()))
def test_the_plan_time_follow_up_window_check_agrees_with_the_code(
    schedule: str, timeout: int, explicit: int | None
) -> None:
    """With poller_settings left empty: the timing precondition fails exactly when the code
    refuses the environment, and a window the follow-up precondition lets through reaches the
    poll whole. The code never follows up past the work deadline (POLL_BUDGET_SECONDS -
    PUBLISH_TIMEOUT_SECONDS): a longer window would be refused or silently cut short there,
    so the plan fails for it instead."""
    budget = timeout - poll_budget_margin_seconds()
    publish = declared_default("PUBLISH_TIMEOUT_SECONDS")
    lease = declared_default("CLAIM_LEASE_SECONDS")
    window = derived_follow_up_window(schedule, timeout, publish, explicit)
    assert window is not None, schedule
    environment = {
        "GOOGLE_CLOUD_PROJECT": "my-project",
        "RESULTS_TOPIC": "t-1",
        "POLL_BUDGET_SECONDS": str(budget),
        "FOLLOW_UP_WINDOW_SECONDS": str(window),
    }
    try:
        settings: Settings | None = Settings.from_env(environment)
    except ConfigurationError:
        settings = None
    case = (schedule, timeout, budget, window)
    if not publish < budget < lease:  # the function's timing precondition fails
        assert settings is None, case
        return
    if window <= budget - publish:  # the follow-up precondition passes
        assert settings is not None, case
        options = settings.poll_options
        assert options.follow_up_window == datetime.timedelta(seconds=window), case
        assert options.follow_up_window <= options.budget - options.publish_reserve, case
    else:  # the plan fails: the code refuses the window, or would end follow-ups before it
        assert settings is None or (
            settings.poll_options.follow_up_window
            > settings.poll_options.budget - settings.poll_options.publish_reserve
        ), case


def test_the_locations_validation_is_the_codes_location_pattern() -> None:
    (condition,) = validation_conditions("insights_locations")
    assert f'can(regex("^{names.LOCATION_PATTERN}$", location))' in condition
    for location in variable_default("insights_locations"):
        assert names.is_location_id(location)


# --- The source archive ---------------------------------------------------------------------------


def deployed_files() -> set[str]:
    """What local.source_files evaluates to: the root files and the package globs."""
    locals_ = config().locals
    assert locals_["source_files"] == (
        "${sort(concat(local.source_root_files, flatten([for glob in "
        "local.source_package_globs : tolist(fileset(local.repository_root, glob))])))}"
    )
    assert locals_["repository_root"] == "${path.module}/.."
    files = set(locals_["source_root_files"])
    for pattern in locals_["source_package_globs"]:
        files.update(
            path.relative_to(ROOT).as_posix() for path in ROOT.glob(pattern) if path.is_file()
        )
    return files


def test_the_archive_holds_the_poller_package_and_nothing_else_of_the_repo() -> None:
    """The poller imports nothing outside its package (tests/unit/test_architecture.py), so
    the package, main.py and requirements.txt are the whole function."""
    files = deployed_files()
    package = {
        path.relative_to(ROOT).as_posix()
        for pattern in ("insights_poller/**/*.py", "insights_poller/**/*.json")
        for path in ROOT.glob(pattern)
    }
    assert files == {"main.py", "requirements.txt"} | package
    assert {"insights_poller/state/firestore.py", "insights_poller/settings.json"} <= files


def test_the_archive_is_built_from_the_allow_list_and_its_hash_names_the_object() -> None:
    archive = config().data[("archive_file", "main")]
    assert archive["type"] == "zip"
    assert "source_dir" not in archive and "source_file" not in archive
    (dynamic,) = archive["dynamic"]
    source = dynamic["source"]
    assert source["for_each"] == "${toset(local.source_files)}"
    assert block(source, "content") == {
        "content": '${file("${local.repository_root}/${source.value}")}',
        "filename": "${source.value}",
    }
    assert not re.search(r"(^|[^.])\.\./", archive["output_path"].replace("${path.module}", ""))
    uploaded = config().resource("google_storage_bucket_object", "main")
    assert "${data.archive_file.main.output_md5}" in uploaded["name"]
    assert uploaded["source"] == "${data.archive_file.main.output_path}"
    storage = block(
        block(
            block(config().resource("google_cloudfunctions2_function", "main"), "build_config"),
            "source",
        ),
        "storage_source",
    )
    assert storage == {
        "bucket": "${google_storage_bucket.main.name}",
        "object": "${google_storage_bucket_object.main.name}",
    }


def test_the_source_bucket_is_private_and_cleans_up() -> None:
    bucket = config().resource("google_storage_bucket", "main")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    rule = block(bucket, "lifecycle_rule")
    assert block(rule, "action")["type"] == "Delete"


# --- The schedule --------------------------------------------------------------------------------


def test_the_scheduler_posts_to_the_function_url_with_an_oidc_token_of_the_invoker() -> None:
    job = config().resource("google_cloud_scheduler_job", "main")
    target = block(job, "http_target")
    assert target["http_method"] == "POST"
    assert target["uri"] == FUNCTION_URI  # the run.app URL: internal ingress admits Scheduler
    assert block(target, "oidc_token") == {
        "service_account_email": "${google_service_account.invoker.email}",
        "audience": FUNCTION_URI,
    }
    assert "oauth_token" not in target
    assert block(job, "retry_config")["retry_count"] == "${var.scheduler_retry_count}"
    assert job["schedule"] == "${var.schedule}"
    assert variable_default("schedule") == "*/5 * * * *"


def test_the_attempt_deadline_outlasts_the_function_timeout() -> None:
    job = config().resource("google_cloud_scheduler_job", "main")
    match = re.fullmatch(r"\$\{var\.function_timeout_seconds \+ (\d+)\}s", job["attempt_deadline"])
    assert match, f"attempt_deadline {job['attempt_deadline']!r} does not follow the timeout"
    margin = int(match[1])
    assert timeout_bounds()[1] + margin <= CLOUD_SCHEDULER_MAX_ATTEMPT_DEADLINE_SECONDS


# --- Pub/Sub and Firestore -----------------------------------------------------------------------


def test_the_example_subscription_dead_letters_to_its_own_kept_topic() -> None:
    example = config().resource("google_pubsub_subscription", "example")
    assert example["topic"] == "${google_pubsub_topic.events.id}"
    dead_letter = block(example, "dead_letter_policy")
    assert dead_letter["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    assert dead_letter["max_delivery_attempts"] == (
        "${var.example_subscription_max_delivery_attempts}"
    )
    kept = config().resource("google_pubsub_subscription", "dead_letter")
    assert kept["topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    optional = "${var.create_example_subscription ? 1 : 0}"
    for type_, name in [
        ("google_pubsub_topic", "dead_letter"),
        ("google_pubsub_subscription", "example"),
        ("google_pubsub_subscription", "dead_letter"),
        ("google_pubsub_topic_iam_member", "dead_letter_publisher"),
        ("google_pubsub_subscription_iam_member", "main"),
    ]:
        assert config().resource(type_, name)["count"] == optional, f"{type_}.{name}"
    assert config().locals["pubsub_service_agent"] == (
        "serviceAccount:service-${data.google_project.main.number}"
        "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )


def test_the_firestore_database_is_native_and_optional() -> None:
    database = config().resource("google_firestore_database", "main")
    assert database["type"] == "FIRESTORE_NATIVE"
    assert database["count"] == "${var.create_firestore_database ? 1 : 0}"
    assert database["name"] == "${local.configured_firestore_database_id}"
    # Named after var.name unless set; the default name keeps the id of earlier versions.
    assert variable_default("firestore_database_id") is None
    assert variable_default("firestore_collection") is None
    assert variable_default("name") == "insights-poller"
    assert config().locals["configured_firestore_database_id"] == (
        "${coalesce(var.firestore_database_id, "
        'length(var.name) >= 4 ? var.name : "${var.name}-state")}'
    )
    assert config().locals["firestore_collection"] == (
        "${coalesce(var.firestore_collection, var.name)}"
    )
    assert database["deletion_policy"] == "ABANDON"
    assert database["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"


# --- Several deployments in one project ----------------------------------------------------------

# The argument naming each kind of named resource in the project (or, for alert policies and
# dashboards, which the API names itself, what people tell them apart by).
NAME_ARGUMENT = {
    "google_cloudfunctions2_function": "name",
    "google_cloud_scheduler_job": "name",
    "google_pubsub_topic": "name",
    "google_pubsub_subscription": "name",
    "google_service_account": "account_id",
    "google_project_iam_custom_role": "role_id",
    "google_storage_bucket": "name",
    "google_artifact_registry_repository": "repository_id",
    "google_firestore_database": "name",
    "google_logging_metric": "name",
    "google_monitoring_alert_policy": "display_name",
}


def test_every_name_in_the_project_derives_from_the_name_variable() -> None:
    """Two deployments with different names share no resource (terraform/tests/
    two_shards.tftest.hcl plans two side by side): every named resource's name holds var.name."""
    named = 0
    for (type_, name), body in config().resources.items():
        if type_ in NAME_ARGUMENT:
            value = body[NAME_ARGUMENT[type_]]
            assert (
                "${var.name}" in value
                or "replace(var.name" in value
                or value == "${local.configured_firestore_database_id}"
            ), f"{type_}.{name}: {NAME_ARGUMENT[type_]} = {value!r} does not derive from var.name"
            named += 1
    assert named >= 20
    dashboard = config().resource("google_monitoring_dashboard", "main")
    assert dashboard["dashboard_json"] == "${jsonencode(local.dashboard)}"
    assert config().locals["dashboard"]["displayName"] == "${var.name}: Insights poller"
    names = config().outputs["resource_names"]["value"]
    assert names["firestore_database"] == "${local.firestore_database_id}"
    for type_, argument in NAME_ARGUMENT.items():
        for resource in config().of_type(type_):
            reference = f"{type_}.{resource}"
            assert type_ == "google_firestore_database" or any(
                reference in str(value) for value in names.values()
            ), f"output resource_names lacks {reference}.{argument}"


def test_the_name_leaves_room_for_the_longest_derived_ids() -> None:
    """Service account IDs have 6-30 characters, Firestore database IDs 4-63, bucket names 3-63."""
    (condition,) = validation_conditions("name")
    match = re.search(r'regex\("\^\[a-z\]\[a-z0-9-\]\{(\d+),(\d+)\}\[a-z0-9\]\$"', condition)
    assert match is not None, condition
    shortest, longest = int(match[1]) + 2, int(match[2]) + 2
    for account in config().of_type("google_service_account").values():
        suffix = account["account_id"].removeprefix("${var.name}")
        assert shortest + len(suffix) >= 6 and longest + len(suffix) <= 30, account["account_id"]
    bucket = config().resource("google_storage_bucket", "main")["name"]
    assert bucket == "${var.project_id}-${var.name}-source"
    assert 30 + 1 + longest + len("-source") <= 63


# --- IAM ------------------------------------------------------------------------------------------


def grants() -> set[tuple[str, str, str, str]]:
    found = set()
    for (type_, name), body in config().resources.items():
        if not re.search(r"_iam_(member|binding|policy)$", type_):
            continue
        assert type_ in IAM_TARGET_ARGUMENT, (
            f"{type_}.{name}: only additive *_iam_member resources of known kinds are expected"
        )
        found.add((type_, body[IAM_TARGET_ARGUMENT[type_]], body["role"], body["member"]))
    return found


def test_the_grants_are_exactly_the_least_privileged_set() -> None:
    found = grants()
    assert found - EXPECTED_GRANTS == set(), f"unexpected grants: {found - EXPECTED_GRANTS}"
    assert EXPECTED_GRANTS - found == set(), f"missing grants: {EXPECTED_GRANTS - found}"


def test_no_basic_role_and_no_public_member_anywhere() -> None:
    forbidden = ("allUsers", "allAuthenticatedUsers", "roles/owner", "roles/editor", "roles/viewer")
    for file_name, parsed in config().files.items():
        for text in strings(parsed):
            for word in forbidden:
                assert word not in text, f"{file_name} mentions {word}"


def test_insights_access_is_a_custom_role_reading_operations_only() -> None:
    role = config().resource("google_project_iam_custom_role", "main")
    assert sorted(role["permissions"]) == [
        "contactcenterinsights.operations.get",
        "contactcenterinsights.operations.list",
    ]


def test_firestore_access_is_limited_to_the_state_database() -> None:
    (member,) = [
        body
        for body in config().of_type("google_project_iam_member").values()
        if body["role"] == "roles/datastore.user"
    ]
    assert block(member, "condition")["expression"] == (
        'resource.name == "projects/${var.project_id}/databases/${local.firestore_database_id}"'
    )


def test_the_build_reads_only_the_buckets_cloud_functions_copies_sources_into() -> None:
    (member,) = [
        body
        for body in config().of_type("google_project_iam_member").values()
        if body["role"] == "roles/storage.objectViewer"
    ]
    expression = block(member, "condition")["expression"]
    terms = expression.split(" || ")
    assert sorted(terms) == sorted(
        f'resource.name.startsWith("projects/_/buckets/{prefix}")'
        for prefix in ("gcf-v2-sources-", "gcf-v2-uploads-", "run-sources-")
    )


def test_only_the_invoker_may_invoke_and_nothing_invokes_unauthenticated() -> None:
    invokers = {
        (member, target)
        for type_, target, role, member in grants()
        if role in {"roles/run.invoker", "roles/cloudfunctions.invoker"}
    }
    assert invokers == {
        (INVOKER, "${google_cloudfunctions2_function.main.service_config[0].service}")
    }


def test_subscribers_may_attach_subscriptions_to_the_events_topic_only() -> None:
    subscribers = config().resource("google_pubsub_topic_iam_member", "events_subscribers")
    assert subscribers["for_each"] == "${toset(var.subscriber_members)}"
    assert subscribers["role"] == "roles/pubsub.subscriber"
    assert subscribers["topic"] == "${google_pubsub_topic.events.name}"
    assert subscribers["member"] == "${each.value}"
    on_subscriptions = {member for type_, _, _, member in grants() if "subscription" in type_}
    assert on_subscriptions == {PUBSUB_AGENT}, "only the service agent is granted on a subscription"
    (condition,) = validation_conditions("subscriber_members")
    pattern = re.search(r'regex\("(.+)", member\)', condition)
    assert pattern is not None, condition
    # The HCL string's escapes, then RE2 read as Python's re (the same for this pattern).
    regex = re.compile(pattern[1].encode().decode("unicode_escape"))
    for member in (
        "serviceAccount:reader@other-project.iam.gserviceaccount.com",
        "group:insights-consumers@example.com",
        "user:someone@example.com",
        "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/s",
        "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/*",
    ):
        assert regex.fullmatch(member), member
    for member in (
        "all" + "Users",
        "all" + "AuthenticatedUsers",
        "domain:example.com",
        "reader@other-project.iam.gserviceaccount.com",
        "serviceAccount:reader",
        "serviceAccount:a b@example.com",
        "projectViewer:my-project",
    ):
        assert not regex.fullmatch(member), member


# --- Monitoring -----------------------------------------------------------------------------------


def _published_event_log_line(latency_seconds: float | None = None) -> dict[str, Any]:
    """The JSON line the poller logs for one published event: of an ExportInsightsData operation
    that ended ``latency_seconds`` before the publish, or of one with no end time."""
    import json
    from contextlib import redirect_stdout
    from io import StringIO

    from google.cloud import contact_center_insights_v1 as insights
    from google.longrunning import operations_pb2

    from insights_poller import core, events, logs

    published_at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    operation = operations_pb2.Operation(
        name="projects/p/locations/us-central1/operations/1", done=True
    )
    if latency_seconds is not None:
        ended = published_at - datetime.timedelta(seconds=latency_seconds)
        metadata = insights.ExportInsightsDataMetadata(
            create_time=ended - datetime.timedelta(minutes=1), end_time=ended
        )
        operation.metadata.Pack(type(metadata).pb(metadata))
    summary = core.PollSummary(run_id="r", watch_start=published_at)
    event = events.build_event(operation, detect_time=published_at)
    summary.published_events.append(core.PublishedEvent.of(event, published_at))
    output = StringIO()
    with redirect_stdout(output):
        logs.log_summary(summary)
    line: dict[str, Any] = json.loads(output.getvalue().splitlines()[0])
    return line


def test_the_published_events_metric_reads_fields_the_poller_logs() -> None:
    metric = config().resource("google_logging_metric", "published_events")
    line = _published_event_log_line()
    assert "jsonPayload.eventId:*" in metric["filter"] and "eventId" in line
    assert f"severity={line['severity']}" in metric["filter"]
    extracted = {
        label: re.fullmatch(r"EXTRACT\(jsonPayload\.(\w+)\)", extractor)
        for label, extractor in metric["label_extractors"].items()
    }
    assert set(extracted) == {"state", "operation_type"}
    for label, match in extracted.items():
        assert match is not None, label
        assert match[1] in line, f"the poller logs no {match[1]} for label {label}"
    declared = {label["key"] for label in block(metric, "metric_descriptor")["labels"]}
    assert declared == set(extracted)


def test_the_detection_latency_metric_reads_the_latency_the_poller_logs() -> None:
    """The distribution's value and labels are fields of the poller's line per published event
    (``detectionLatencySeconds``: publish time minus the operation's endTime), selected as the
    published-events metric selects them; an event without an end time logs no latency."""
    metric = config().resource("google_logging_metric", "detection_latency")
    published = config().resource("google_logging_metric", "published_events")
    line = _published_event_log_line(latency_seconds=42.5)
    match = re.fullmatch(r"EXTRACT\(jsonPayload\.(\w+)\)", metric["value_extractor"])
    assert match is not None, metric["value_extractor"]
    field = match[1]
    assert field == "detectionLatencySeconds"
    assert field in line, f"the poller logs no {field} (is the follow-up change in?): {line}"
    assert line[field] == pytest.approx(42.5)
    assert metric["filter"] == published["filter"].replace(
        " AND severity=", f" AND jsonPayload.{field}:* AND severity="
    )
    assert metric["label_extractors"] == published["label_extractors"]
    declared = {label["key"] for label in block(metric, "metric_descriptor")["labels"]}
    assert declared == set(metric["label_extractors"])
    for extractor in metric["label_extractors"].values():
        label_field = re.fullmatch(r"EXTRACT\(jsonPayload\.(\w+)\)", extractor)
        assert label_field is not None and label_field[1] in line, extractor
    assert field not in _published_event_log_line(latency_seconds=None)


def test_the_detection_latency_buckets_span_a_tenth_of_a_second_to_an_hour() -> None:
    metric = config().resource("google_logging_metric", "detection_latency")
    descriptor = block(metric, "metric_descriptor")
    assert (descriptor["metric_kind"], descriptor["value_type"], descriptor["unit"]) == (
        "DELTA",
        "DISTRIBUTION",
        "s",
    )
    buckets = block(block(metric, "bucket_options"), "exponential_buckets")
    scale, growth, count = (
        buckets["scale"],
        buckets["growth_factor"],
        buckets["num_finite_buckets"],
    )
    # Finite bucket i is [scale * growth^(i-1), scale * growth^i), i = 1..count.
    assert scale <= 0.1 and scale * growth**count >= 3600
    assert growth <= 2, "buckets this coarse would make percentiles meaningless"


def test_poll_metrics_count_the_function_services_request_log() -> None:
    for name, status in (("successful_polls", "=200"), ("failed_polls", ">=500")):
        metric_filter = config().resource("google_logging_metric", name)["filter"]
        assert "${local.service_logs}" in metric_filter and "${local.request_log}" in metric_filter
        assert metric_filter.endswith(f"httpRequest.status{status}")
    service_logs = config().locals["service_logs"]
    assert "${google_cloudfunctions2_function.main.name}" in service_logs


def test_alerts_wait_for_their_metrics_to_become_available() -> None:
    sleep = config().resource("time_sleep", "metrics")
    assert sleep["create_duration"] == "600s"  # "could take up to 10 minutes" (the API's 404)
    metrics = config().of_type("google_logging_metric")
    for name in metrics:
        assert f"google_logging_metric.{name}.id" in sleep["triggers"]["metrics"], name
    for name, policy in config().of_type("google_monitoring_alert_policy").items():
        assert "${time_sleep.metrics}" in policy["depends_on"], name


def test_the_four_alerts_notify_the_configured_channels() -> None:
    policies = config().of_type("google_monitoring_alert_policy")
    assert set(policies) == {"polls_failing", "no_successful_poll", "expired_operations", "backlog"}
    for name, policy in policies.items():
        assert policy["notification_channels"] == "${var.alert_notification_channels}", name
        assert block(policy, "documentation")["content"], name
    failing = block(block(policies["polls_failing"], "conditions"), "condition_threshold")
    assert "google_logging_metric.failed_polls.name" in failing["filter"]
    absent = block(block(policies["no_successful_poll"], "conditions"), "condition_absent")
    assert "google_logging_metric.successful_polls.name" in absent["filter"]
    assert absent["duration"] == "${var.alert_no_successful_poll_minutes * 60}s"
    expired = block(block(policies["expired_operations"], "conditions"), "condition_threshold")
    assert 'metric.label.state="EXPIRED"' in expired["filter"] or (
        'metric.label.state="EXPIRED"' in expired["filter"]
    )
    backlog = policies["backlog"]["conditions"]
    assert len(backlog) == 2 and policies["backlog"]["combiner"] == "OR"
    age, pending = (block(condition, "condition_threshold") for condition in backlog)
    assert "google_logging_metric.oldest_pending_age.name" in age["filter"]
    assert age["threshold_value"] == "${var.alert_oldest_pending_age_minutes * 60}"
    assert "google_logging_metric.pending_operations.name" in pending["filter"]
    assert pending["threshold_value"] == "${var.alert_pending_operations_count}"
    assert block(pending, "aggregations")["alignment_period"] == (
        "${var.alert_backlog_minutes * 60}s"
    )
    for condition in (age, pending):
        # One value per poll: the mean of a distribution is exact, whatever its buckets.
        assert block(condition, "aggregations")["per_series_aligner"] == "ALIGN_MEAN"


def _summary_log_line(**fields: Any) -> dict[str, Any]:
    """The JSON summary line the poller logs for one poll, with ``fields`` of its summary set."""
    import json
    from contextlib import redirect_stdout
    from io import StringIO

    from insights_poller import core, logs

    summary = core.PollSummary(
        run_id="r", watch_start=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    )
    for name, value in fields.items():
        setattr(summary, name, value)
    output = StringIO()
    with redirect_stdout(output):
        logs.log_summary(summary)
    (text,) = output.getvalue().splitlines()
    line: dict[str, Any] = json.loads(text)
    assert "summary" in line, line
    return line


BACKLOG_METRICS = {
    "pending_operations": ("pending", "pending"),
    "not_reached_operations": ("notReached", "not_reached"),
    "oldest_pending_age": ("oldestPendingAgeSeconds", "oldest_pending_age_seconds"),
}


@pytest.mark.parametrize("metric_name", sorted(BACKLOG_METRICS))
def test_the_backlog_metrics_read_numbers_of_the_poll_summary(metric_name: str) -> None:
    """Each backlog metric is a DELTA distribution of one field of the poll's summary line,
    selected by a numeric comparison that the field, as the poller logs it, satisfies."""
    field, attribute = BACKLOG_METRICS[metric_name]
    metric = config().resource("google_logging_metric", metric_name)
    descriptor = block(metric, "metric_descriptor")
    assert (descriptor["metric_kind"], descriptor["value_type"]) == ("DELTA", "DISTRIBUTION")
    assert metric["value_extractor"] == f"EXTRACT(jsonPayload.summary.{field})"
    assert metric["filter"] == f"${{local.service_logs}} AND jsonPayload.summary.{field}>=0"
    line = _summary_log_line(**{attribute: 42})
    assert line["summary"][field] == 42, f"the poller logs no summary.{field}: {line['summary']}"
    assert "severity" not in metric["filter"], "failed polls (severity ERROR) count too"


def test_the_oldest_pending_age_is_null_when_nothing_is_pending() -> None:
    """No value then: `>=0` leaves a JSON null out of the metric (and the alert)."""
    assert _summary_log_line()["summary"]["oldestPendingAgeSeconds"] is None


def test_incomplete_listings_count_summary_lines_with_listing_cut_short() -> None:
    metric = config().resource("google_logging_metric", "incomplete_listings")
    assert metric["filter"] == (
        "${local.service_logs} AND jsonPayload.summary.listingComplete=false"
    )
    assert _summary_log_line(listing_complete=False)["summary"]["listingComplete"] is False
    assert _summary_log_line(listing_complete=True)["summary"]["listingComplete"] is True


def test_the_dashboard_charts_every_metric() -> None:
    metrics = config().of_type("google_logging_metric")
    filters = config().locals["metric_filters"]
    for name in metrics:
        assert f"google_logging_metric.{name}" in str(filters), f"no dashboard filter for {name}"
    charted = {
        data_set["filter"]
        for tile in config().locals["dashboard_tiles"]
        for data_set in tile["data_sets"]
    }
    assert charted == {f"${{local.metric_filters.{name}}}" for name in metrics}
