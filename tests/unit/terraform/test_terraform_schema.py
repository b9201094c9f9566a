"""terraform/*.tf held against the real provider schemas, offline.

No provider can be downloaded where the tests run, so `terraform validate` cannot run. What it
would check the configuration against is committed instead: terraform/schema/providers.json, the
schema of every provider, resource and data source type terraform/ uses, taken from the
cdktn-provider-* wheels on PyPI (generated from `terraform providers schema -json` of one provider
release each) by devstack/terraform_schema.py. These tests read only that file and terraform/.

Checked, for every resource, data and provider block, recursively into nested blocks: every
argument and block exists in its type's schema; every required argument and every block with
min_items >= 1 is written; a block is written as a block and an argument as an argument;
max_items holds; computed-only attributes are not set; a literal string (or both literal branches
of a conditional) given to an attribute with documented enum values is one of them.
Meta-arguments are allowed; `dynamic "x" { content { ... } }` is checked as block x.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from devstack.terraform_schema import (
    parse_hcl,
    provider_local_name,
    render,
    required_providers,
    unquote,
    used_types,
)

ROOT = Path(__file__).resolve().parents[3]
TERRAFORM = ROOT / "terraform"
SCHEMA = TERRAFORM / "schema" / "providers.json"
REGENERATE = "regenerate it: .venv/bin/python -m devstack.terraform_schema"

META_ARGUMENTS = {
    "resource": frozenset(
        {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
    ),
    "data": frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"}),
    "provider": frozenset({"alias", "version"}),
}
DYNAMIC_ARGUMENTS = frozenset({"for_each", "iterator", "labels", "content"})
SINGLE_NESTING = frozenset({"single", "group"})

# A conditional whose two results are plain string literals: `cond ? "A" : "B"`.
LITERAL = r'"(?:[^"\\$%]|\\.)*"'
CONDITIONAL = re.compile(rf"^\$\{{.+ \? ({LITERAL}) : ({LITERAL})\}}$", re.S)


@dataclass(frozen=True, order=True)
class Problem:
    where: str  # file:type.name.path
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@cache
def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return document


# --- The checker ---------------------------------------------------------------------------------


def is_block(value: object) -> bool:
    """Whether a parsed value is one or more blocks (python-hcl2 marks them), not an argument."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get("__is_block__") is True for item in value)
    )


def literal(value: str) -> str | None:
    """The text of a string literal as written (quotes kept by the parser), else None."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"' or "${" in value or "%{" in value:
        return None
    try:
        text = json.loads(value)
    except json.JSONDecodeError:  # a heredoc, or an escape JSON does not share with HCL
        return None
    return text if isinstance(text, str) else None


def literal_strings(value: object) -> list[str]:
    """The string literals a value can take: itself, both branches of a conditional, list items."""
    if isinstance(value, list):
        return [text for item in value for text in literal_strings(item)]
    if not isinstance(value, str):
        return []
    text = literal(value)
    if text is not None:
        return [text]
    conditional = CONDITIONAL.match(value)
    if conditional is None:
        return []
    branches = (literal(conditional.group(1)), literal(conditional.group(2)))
    return [text for text in branches if text is not None]


def check_attribute(
    value: object, attribute: Mapping[str, Any], where: str, problems: list[Problem]
) -> None:
    if attribute.get("computed") and not (attribute.get("optional") or attribute.get("required")):
        problems.append(Problem(where, "is read-only: the provider computes it"))
        return
    if value is None and attribute.get("required"):
        problems.append(Problem(where, "is required, but set to null"))
    enum = attribute.get("enum")
    if enum is None:
        return
    for text in literal_strings(value):
        # Many optional enums also accept "" (unset), which their documentation never lists.
        if text not in enum and not (text == "" and not attribute.get("required")):
            problems.append(Problem(where, f'"{text}" is not one of {", ".join(enum)}'))


def check_body(
    body: Mapping[str, Any],
    block: Mapping[str, Any],
    where: str,
    problems: list[Problem],
    meta_arguments: frozenset[str] = frozenset(),
) -> None:
    """Check one block's body against its schema block, recursively."""
    attributes: Mapping[str, Any] = block.get("attributes", {})
    block_types: Mapping[str, Any] = block.get("block_types", {})
    written: dict[str, list[Mapping[str, Any]]] = {}
    dynamic: dict[str, int] = {}
    for key, value in body.items():
        if key == "__is_block__" or key in meta_arguments:
            continue
        path = f"{where}.{key}"
        if key == "dynamic" and key not in attributes and key not in block_types:
            for labelled in value if isinstance(value, list) else []:
                for label, dynamic_body in labelled.items():
                    name = unquote(label)
                    dynamic[name] = dynamic.get(name, 0) + 1
                    check_dynamic(dynamic_body, name, attributes, block_types, where, problems)
        elif key in attributes:
            if is_block(value):
                problems.append(Problem(path, f"is an argument, written as a block: {key} = ..."))
            else:
                check_attribute(value, attributes[key], path, problems)
        elif key in block_types:
            if is_block(value):
                written[key] = value
            else:
                problems.append(Problem(path, f"is a block, written as an argument: {key} {{...}}"))
        else:
            kind = "block type" if is_block(value) else "argument"
            close = difflib.get_close_matches(key, [*attributes, *block_types], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(Problem(path, f"unsupported {kind}{hint}"))

    for name, attribute in attributes.items():
        if attribute.get("required") and name not in body:
            problems.append(Problem(f"{where}.{name}", "missing required argument"))

    for name, block_type in block_types.items():
        instances = written.get(name, [])
        for index, instance in enumerate(instances):
            suffix = f"[{index}]" if len(instances) > 1 else ""
            check_body(instance, block_type["block"], f"{where}.{name}{suffix}", problems)
        minimum = block_type.get("min_items", 0)
        maximum = block_type.get(
            "max_items", 1 if block_type["nesting_mode"] in SINGLE_NESTING else 0
        )
        if len(instances) < minimum and not dynamic.get(name):
            problems.append(
                Problem(f"{where}.{name}", f"missing required block (at least {minimum})")
            )
        if maximum and len(instances) + dynamic.get(name, 0) > maximum:
            count = len(instances) + dynamic.get(name, 0)
            problems.append(
                Problem(f"{where}.{name}", f"at most {maximum} such block(s), {count} written")
            )


def check_dynamic(
    body: Mapping[str, Any],
    name: str,
    attributes: Mapping[str, Any],
    block_types: Mapping[str, Any],
    where: str,
    problems: list[Problem],
) -> None:
    """``dynamic "name" { for_each = ...; content { ... } }``, checked as block ``name``."""
    path = f"{where}.{name}"
    if name in attributes:
        problems.append(Problem(path, "is an argument, written as a dynamic block"))
        return
    if name not in block_types:
        close = difflib.get_close_matches(name, list(block_types), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(Problem(path, f"unsupported block type (dynamic){hint}"))
        return
    for key in body:
        if key != "__is_block__" and key not in DYNAMIC_ARGUMENTS:
            problems.append(Problem(f"{path}.{key}", "unsupported in a dynamic block"))
    if "for_each" not in body:
        problems.append(Problem(path, "dynamic block without for_each"))
    content = body.get("content")
    if not is_block(content) or not isinstance(content, list) or len(content) != 1:
        problems.append(Problem(path, "a dynamic block needs exactly one content block"))
        return
    check_body(content[0], block_types[name]["block"], path, problems)


def check_configuration(directory: Path, document: Mapping[str, Any]) -> list[Problem]:
    """Every problem of every resource, data and provider block of ``directory``/*.tf."""
    files = {path.name: parse_hcl(path) for path in sorted(directory.glob("*.tf"))}
    providers = required_providers(files)
    schemas: Mapping[str, Any] = document["provider_schemas"]
    problems: list[Problem] = []

    def provider_schema(local: str, where: str) -> Mapping[str, Any] | None:
        source = providers.get(local)
        if source is None:
            problems.append(Problem(where, f"provider {local} is not in required_providers"))
            return None
        if source not in schemas:
            problems.append(Problem(where, f"{SCHEMA.name} has no provider {source}: {REGENERATE}"))
            return None
        found: Mapping[str, Any] = schemas[source]
        return found

    for file_name, parsed in files.items():
        for kind, key in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
            for block in parsed.get(kind, []):
                for type_label, named in block.items():
                    type_ = unquote(type_label)
                    for name_label, body in named.items():
                        prefix = "data." if kind == "data" else ""
                        where = f"{file_name}:{prefix}{type_}.{unquote(name_label)}"
                        found = provider_schema(provider_local_name(type_, body), where)
                        if found is None:
                            continue
                        if type_ not in found[key]:
                            problems.append(
                                Problem(where, f"{SCHEMA.name} has no {kind} {type_}: {REGENERATE}")
                            )
                            continue
                        check_body(
                            body, found[key][type_]["block"], where, problems, META_ARGUMENTS[kind]
                        )
        for block in parsed.get("provider", []):
            for label, body in block.items():
                local = unquote(label)
                where = f"{file_name}:provider.{local}"
                found = provider_schema(local, where)
                if found is not None:
                    provider_block = found["provider"]["block"]
                    check_body(body, provider_block, where, problems, META_ARGUMENTS["provider"])
    return sorted(problems)


# --- The committed schema ------------------------------------------------------------------------


def version_tuple(version: str, length: int = 3) -> tuple[int, ...]:
    parts = [int(part) for part in version.split("-", maxsplit=1)[0].split(".")]
    return tuple(parts + [0] * (length - len(parts)))


def satisfies(version: str, constraints: str) -> bool:
    """Whether ``version`` meets a Terraform version constraint string (``>= 6.0, < 8.0``)."""
    have = version_tuple(version)
    for constraint in constraints.split(","):
        match = re.fullmatch(r"\s*(>=|<=|!=|~>|=|>|<)?\s*([0-9]+(?:\.[0-9]+)*)\s*", constraint)
        assert match is not None, f"cannot read the version constraint {constraint!r}"
        operator, written = match.group(1) or "=", match.group(2)
        bound = version_tuple(written)
        if operator == "~>":  # the last written part may grow: ~> 2.4 is >= 2.4, < 3.0
            parts = [int(part) for part in written.split(".")]
            upper = [*parts[:-2], parts[-2] + 1] if len(parts) > 1 else [parts[0] + 1]
            ok = bound <= have < version_tuple(".".join(map(str, upper)))
        else:
            ok = {
                "=": have == bound,
                "!=": have != bound,
                ">": have > bound,
                ">=": have >= bound,
                "<": have < bound,
                "<=": have <= bound,
            }[operator]
        if not ok:
            return False
    return True


def test_version_constraints_are_read_as_terraform_reads_them() -> None:
    assert satisfies("7.46.1", ">= 6.0, < 8.0")
    assert not satisfies("8.0.0", ">= 6.0, < 8.0")
    assert satisfies("0.14.2", "~> 0.11")
    assert not satisfies("1.0.0", "~> 0.11")
    assert not satisfies("2.8.1", "~> 2.4.0")
    assert satisfies("2.4.9", "~> 2.4.0")
    assert satisfies("8.0.0", "<= 8.0")
    assert satisfies("3.9.0", "~> 3")
    assert not satisfies("4.0.0", "~> 3")


def test_the_schema_is_of_provider_versions_terraform_accepts() -> None:
    (versions,) = [
        terraform
        for path in sorted(TERRAFORM.glob("*.tf"))
        for terraform in parse_hcl(path).get("terraform", [])
        if "required_providers" in terraform
    ]
    (required,) = versions["required_providers"]
    sources = schema()["source"]["providers"]
    for local, requirement in required.items():
        if local == "__is_block__":
            continue
        source = "registry.terraform.io/" + unquote(str(requirement["source"]))
        assert source in sources, f"{SCHEMA.name} names no wheel for {source}: {REGENERATE}"
        version = sources[source]["provider_version"]
        constraint = unquote(str(requirement["version"]))
        assert satisfies(version, constraint), (
            f"{source} {version} (from {sources[source]['wheel']}) does not meet {constraint}"
        )
        assert {"package", "package_version", "wheel", "wheel_sha256"} <= set(sources[source])


def test_the_schema_holds_exactly_the_types_terraform_uses() -> None:
    providers, used = used_types(TERRAFORM)
    assert set(schema()["provider_schemas"]) == set(providers.values()), REGENERATE
    for source, kinds in used.items():
        held = schema()["provider_schemas"][source]
        assert "provider" in held, f"no provider configuration schema for {source}"
        assert set(held["resource_schemas"]) == kinds["resource"], f"{source}: {REGENERATE}"
        assert set(held["data_source_schemas"]) == kinds["data"], f"{source}: {REGENERATE}"


def test_the_schema_file_is_as_the_script_writes_it() -> None:
    text = SCHEMA.read_text(encoding="utf-8")
    assert render(json.loads(text)) == text, f"{SCHEMA.name} was edited by hand: {REGENERATE}"


# --- terraform/ today ----------------------------------------------------------------------------


def test_terraform_matches_the_provider_schemas() -> None:
    problems = check_configuration(TERRAFORM, schema())
    assert not problems, "\n".join(str(problem) for problem in problems)


# --- The checker catches mistakes ----------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    """An edit of one top-level block of a copy of terraform/, and what the checker must say."""

    file: str
    header: str  # the block's first line, as written
    pattern: str  # a regular expression (multiline) matched once inside that block
    replacement: str
    expected: Sequence[tuple[str, str]]  # (where, a fragment of the message)


MISTAKES = {
    "unknown argument": Mistake(
        "pubsub.tf",
        'resource "google_pubsub_topic" "events" {',
        r"\A(.*\n)",
        r'\1  retention_duration = "600s"\n',
        [("pubsub.tf:google_pubsub_topic.events.retention_duration", "unsupported argument")],
    ),
    "unknown argument in a nested block": Mistake(
        "function.tf",
        'resource "google_cloudfunctions2_function" "main" {',
        r"^( +)build_config \{\n",
        r'\g<0>\1  runtime_version = "3.12"\n',
        [
            (
                "function.tf:google_cloudfunctions2_function.main.build_config.runtime_version",
                "unsupported argument",
            )
        ],
    ),
    "unknown argument in a dynamic block's content": Mistake(
        "source.tf",
        'data "archive_file" "main" {',
        r"^( +)filename( +)= ",
        r"\1file_name\2= ",
        [
            ("source.tf:data.archive_file.main.source.file_name", "unsupported argument"),
            ("source.tf:data.archive_file.main.source.filename", "missing required argument"),
        ],
    ),
    "missing required argument": Mistake(
        "scheduler.tf",
        'resource "google_cloud_scheduler_job" "main" {',
        r"^ +name +=.*\n",
        "",
        [("scheduler.tf:google_cloud_scheduler_job.main.name", "missing required argument")],
    ),
    "missing required argument in a nested block": Mistake(
        "scheduler.tf",
        'resource "google_cloud_scheduler_job" "main" {',
        r"^( +oidc_token \{\n) +service_account_email +=.*\n",
        r"\1",
        [
            (
                "scheduler.tf:google_cloud_scheduler_job.main.http_target.oidc_token"
                ".service_account_email",
                "missing required argument",
            )
        ],
    ),
    "missing required block": Mistake(
        "source.tf",
        'resource "google_storage_bucket" "main" {',
        r"^ +action \{\n[^}]*\}\n",
        "",
        [("source.tf:google_storage_bucket.main.lifecycle_rule.action", "missing required block")],
    ),
    "bad enum value": Mistake(
        "firestore.tf",
        'resource "google_firestore_database" "main" {',
        r'^( +type +=) "FIRESTORE_NATIVE"',
        r'\1 "NATIVE"',
        [("firestore.tf:google_firestore_database.main.type", '"NATIVE" is not one of')],
    ),
    "bad enum value in a nested block": Mistake(
        "function.tf",
        'resource "google_cloudfunctions2_function" "main" {',
        r'^( +ingress_settings +=) "ALLOW_INTERNAL_ONLY"',
        r'\1 "INTERNAL_ONLY"',
        [
            (
                "function.tf:google_cloudfunctions2_function.main.service_config.ingress_settings",
                '"INTERNAL_ONLY" is not one of',
            )
        ],
    ),
    "bad enum value in a conditional": Mistake(
        "firestore.tf",
        'resource "google_firestore_database" "main" {',
        r'"POINT_IN_TIME_RECOVERY_DISABLED"',
        '"DISABLED"',
        [
            (
                "firestore.tf:google_firestore_database.main.point_in_time_recovery_enablement",
                '"DISABLED" is not one of',
            )
        ],
    ),
    "block written as an argument": Mistake(
        "source.tf",
        'resource "google_storage_bucket" "main" {',
        r"^( +)versioning \{",
        r"\1versioning = {",
        [("source.tf:google_storage_bucket.main.versioning", "is a block, written as an argument")],
    ),
    "argument written as a block": Mistake(
        "scheduler.tf",
        'resource "google_cloud_scheduler_job" "main" {',
        r"^( +)time_zone +=.*$",
        '\\1time_zone {\n\\1  name = "Etc/UTC"\n\\1}',
        [
            (
                "scheduler.tf:google_cloud_scheduler_job.main.time_zone",
                "is an argument, written as a block",
            )
        ],
    ),
    "argument written as a dynamic block": Mistake(
        "source.tf",
        'data "archive_file" "main" {',
        r'^( +)dynamic "source" \{',
        r'\1dynamic "excludes" {',
        [
            ("source.tf:data.archive_file.main.excludes", "is an argument, written as a dynamic"),
        ],
    ),
    "too many blocks": Mistake(
        "scheduler.tf",
        'resource "google_cloud_scheduler_job" "main" {',
        r"^( +)retry_config \{\n",
        r"\1retry_config {\n\1}\n\n\g<0>",
        [("scheduler.tf:google_cloud_scheduler_job.main.retry_config", "at most 1")],
    ),
    "read-only attribute set": Mistake(
        "source.tf",
        'resource "google_storage_bucket" "main" {',
        r"\A(.*\n)",
        r'\1  self_link = "https://example.com"\n',
        [("source.tf:google_storage_bucket.main.self_link", "is read-only")],
    ),
    "unknown provider argument": Mistake(
        "versions.tf",
        'provider "google" {',
        r"\A(.*\n)",
        r'\1  zones = ["us-central1-a"]\n',
        [("versions.tf:provider.google.zones", "unsupported argument (did you mean zone?)")],
    ),
}


def inject(directory: Path, mistake: Mistake) -> None:
    path = directory / mistake.file
    text = path.read_text(encoding="utf-8")
    assert text.count(mistake.header) == 1, f"{mistake.file} has no one block {mistake.header}"
    start = text.index(mistake.header)
    end = text.index("\n}\n", start) + 1  # terraform fmt closes a top-level block at column 0
    edited, count = re.subn(
        mistake.pattern, mistake.replacement, text[start:end], count=1, flags=re.M
    )
    assert count == 1, f"{mistake.pattern!r} not found in {mistake.header} ({mistake.file})"
    path.write_text(text[:start] + edited + text[end:], encoding="utf-8")


@pytest.fixture
def configuration_copy(tmp_path: Path) -> Path:
    for path in TERRAFORM.glob("*.tf"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.mark.parametrize("name", list(MISTAKES))
def test_each_mistake_is_reported_where_it_is(configuration_copy: Path, name: str) -> None:
    mistake = MISTAKES[name]
    inject(configuration_copy, mistake)
    problems = check_configuration(configuration_copy, schema())
    for where, fragment in mistake.expected:
        assert any(p.where == where and fragment in p.message for p in problems), (
            f"{name}: expected {where}: ...{fragment}..., got:\n"
            + "\n".join(str(p) for p in problems)
        )
    unexpected = [p for p in problems if p.where not in {where for where, _ in mistake.expected}]
    assert not unexpected, "\n".join(str(p) for p in unexpected)


def test_all_mistakes_at_once_are_all_reported(configuration_copy: Path) -> None:
    # All but one: a dynamic block renamed to an argument hides the mistake in its content.
    together = [m for name, m in MISTAKES.items() if name != "argument written as a dynamic block"]
    for mistake in together:
        inject(configuration_copy, mistake)
    problems = check_configuration(configuration_copy, schema())
    expected = {(where, fragment) for mistake in together for where, fragment in mistake.expected}
    missing = [
        (where, fragment)
        for where, fragment in sorted(expected)
        if not any(p.where == where and fragment in p.message for p in problems)
    ]
    assert not missing, f"not reported: {missing}"
    assert len(problems) == len(expected), "\n".join(str(p) for p in problems)
