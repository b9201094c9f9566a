"""Run `terraform validate` and `terraform test` on terraform/, offline.

No provider can be downloaded here, and `terraform init` would try. Instead, in a temporary
directory, this writes one launcher `terraform-provider-NAME` per provider of the configuration
(hashicorp/google, archive, time), each starting `devstack.terraform_offline.plugin` with this
interpreter and terraform/schema/providers.json, and a CLI configuration whose `dev_overrides`
points Terraform at them (`TF_CLI_CONFIG_FILE`). With every provider overridden, Terraform needs
no `init`: `validate` gets the schemas from the plugins, and `test` runs terraform/tests/, whose
files mock every provider (`mock_provider`), so the plugins are asked for schemas and config
validation only.

With TERRAFORM_REAL_PROVIDERS=1 (or --real-providers), where the registry is reachable, the same
checks run against the real providers instead: no overrides, `terraform init -backend=false`
first. Either way Terraform's working directory (TF_DATA_DIR) is the temporary directory, so
nothing is left in terraform/ (a lock file `init` creates there is removed again).

Stdlib only: it runs in any interpreter, but the plugin's interpreter (by default this one) needs
requirements-terraform-offline.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "terraform"
SCHEMA = CONFIGURATION / "schema" / "providers.json"
PROVIDERS = ("google", "archive", "time")
REGISTRY = "registry.terraform.io/hashicorp"
REAL_PROVIDERS_ENV = "TERRAFORM_REAL_PROVIDERS"
PLUGIN_MODULE = "devstack.terraform_offline.plugin"
LOCK_FILE = ".terraform.lock.hcl"
# `terraform test` with mock_provider, override_resource and override_data.
MINIMUM_VERSION = (1, 7)
# Far above a normal run (about 30 s): a plugin that never answers must not hang `make test`.
STEP_TIMEOUT_SECONDS = 900


class CheckFailed(Exception):
    """A step failed; the message says which and why."""


def schema_problems(path: Path) -> list[str]:
    """What keeps `path` from serving every provider of the configuration."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [
            f"{path} does not exist: it holds the provider schemas the offline plugin serves "
            "(terraform/schema/README.md says how it is generated)"
        ]
    except (OSError, ValueError) as error:
        return [f"{path} is not readable JSON: {error}"]
    return [f"{path} {problem}" for problem in schema_problems_of(document)]


def schema_problems_of(document: object) -> list[str]:
    schemas = document.get("provider_schemas") if isinstance(document, dict) else None
    if not isinstance(schemas, dict):
        return ["has no provider_schemas object (`terraform providers schema -json` shape)"]
    return [
        f"has no schema for {REGISTRY}/{name}"
        for name in PROVIDERS
        if f"{REGISTRY}/{name}" not in schemas and f"hashicorp/{name}" not in schemas
    ]


def version_problem(terraform: str) -> str | None:
    """Why `terraform` cannot run the tests, if it cannot."""
    if shutil.which(terraform) is None:
        return f"{terraform} not found on PATH: install Terraform 1.7 or later"
    answer = subprocess.run(
        [terraform, "version", "-json"], capture_output=True, text=True, timeout=60, check=False
    )
    try:
        version = str(json.loads(answer.stdout)["terraform_version"])
        found = tuple(int(part) for part in version.split("-", maxsplit=1)[0].split(".")[:2])
    except (ValueError, KeyError, TypeError):
        return f"{terraform} version -json did not say its version: {answer.stderr.strip()[:200]}"
    if found < MINIMUM_VERSION:
        return f"Terraform {version} cannot mock providers in terraform test: 1.7 or later needed"
    return None


def _hcl_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is an HCL string with the same escapes


def write_overrides(workdir: Path, schema: Path, python: str) -> Path:
    """Launchers for the plugin and the CLI configuration that overrides every provider with
    them, under `workdir`. Returns the CLI configuration's path."""
    home = workdir / "home"  # `tf` caches its TLS certificate under ~/.cache
    home.mkdir(parents=True, exist_ok=True)
    overrides = []
    for name in PROVIDERS:
        directory = workdir / "plugins" / name
        directory.mkdir(parents=True, exist_ok=True)
        launcher = directory / f"terraform-provider-{name}"
        command = shlex.join([python, "-m", PLUGIN_MODULE, name, str(schema)])
        launcher.write_text(
            "#!/bin/sh\n"
            f"HOME={shlex.quote(str(home))} PYTHONPATH={shlex.quote(str(ROOT))} "
            f"exec {command}\n",
            encoding="utf-8",
        )
        launcher.chmod(0o755)
        overrides.append(f"    {_hcl_string(f'hashicorp/{name}')} = {_hcl_string(str(directory))}")
    config = workdir / "terraform.rc"
    config.write_text(
        "provider_installation {\n"
        "  dev_overrides {\n" + "\n".join(overrides) + "\n  }\n"
        "  direct {}\n"
        "}\n",
        encoding="utf-8",
    )
    return config


def terraform_environment(
    base: Mapping[str, str], workdir: Path, cli_config: Path | None
) -> dict[str, str]:
    """The environment Terraform runs with: no TF_VAR_* or TF_CLI_ARGS* of the caller (the tests
    set their own variables), no version check call home, its working data under `workdir`."""
    environment = {
        key: value
        for key, value in base.items()
        if not key.startswith(("TF_VAR_", "TF_CLI_ARGS")) and key != "TF_DATA_DIR"
    }
    environment |= {
        "TF_DATA_DIR": str(workdir / "data"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }
    if cli_config is not None:
        environment["TF_CLI_CONFIG_FILE"] = str(cli_config)
    return environment


def _run(
    terraform: str, configuration: Path, args: Sequence[str], environment: Mapping[str, str]
) -> float:
    command = [terraform, f"-chdir={configuration}", *args]
    print(f"+ terraform {shlex.join(args)}", flush=True)
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, env=dict(environment), timeout=STEP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise CheckFailed(f"terraform {args[0]} did not finish in {error.timeout:.0f}s") from error
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise CheckFailed(f"terraform {args[0]} failed (exit {result.returncode})")
    return elapsed


def check(
    *,
    terraform: str,
    schema: Path,
    python: str,
    real_providers: bool,
    configuration: Path = CONFIGURATION,
) -> None:
    """validate and test `configuration`, offline unless `real_providers`; raises CheckFailed."""
    problem = version_problem(terraform)
    if problem is not None:
        raise CheckFailed(problem)
    if not real_providers:
        problems = schema_problems(schema)
        if problems:
            raise CheckFailed("; ".join(problems))
    lock_file = configuration / LOCK_FILE
    had_lock_file = lock_file.exists()
    with tempfile.TemporaryDirectory(prefix="terraform-offline-") as temporary:
        workdir = Path(temporary)
        cli_config = None if real_providers else write_overrides(workdir, schema, python)
        environment = terraform_environment(os.environ, workdir, cli_config)
        steps: list[list[str]] = [["validate"], ["test"]]
        if real_providers:
            steps.insert(0, ["init", "-backend=false", "-input=false"])
        try:
            for step in steps:
                elapsed = _run(terraform, configuration, step, environment)
                print(f"terraform {step[0]}: ok in {elapsed:.1f}s", flush=True)
        finally:
            if not had_lock_file:
                lock_file.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.terraform_offline",
        description="terraform validate and terraform test on terraform/, without downloading "
        "providers (a schema-only local plugin stands in for each).",
    )
    parser.add_argument("--terraform", default="terraform", help="the Terraform binary")
    parser.add_argument(
        "--schema", type=Path, default=SCHEMA, help="provider schemas (providers schema -json)"
    )
    parser.add_argument(
        "--configuration",
        type=Path,
        default=CONFIGURATION,
        help="the root configuration (tests in its tests/)",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter of the plugin (has tf installed)"
    )
    parser.add_argument(
        "--real-providers",
        action="store_true",
        default=os.environ.get(REAL_PROVIDERS_ENV, "") not in {"", "0"},
        help=f"download the real providers (terraform init) instead; also {REAL_PROVIDERS_ENV}=1",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    mode = "real providers" if args.real_providers else "offline schema-only providers"
    try:
        check(
            terraform=args.terraform,
            schema=args.schema.resolve(),
            python=args.python,
            real_providers=args.real_providers,
            configuration=args.configuration.resolve(),
        )
    except CheckFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"terraform validate and test passed ({mode}) in {time.monotonic() - started:.1f}s")
    return 0
