"""A Terraform provider plugin that knows a provider's schema and nothing else.

Terraform starts it (through a launcher that `devstack.terraform_offline.run` writes and a
`dev_overrides` entry) in place of hashicorp/NAME:

    python -m devstack.terraform_offline.plugin NAME SCHEMA_JSON

SCHEMA_JSON has the shape of `terraform providers schema -json`; the plugin serves the schema of
registry.terraform.io/hashicorp/NAME from it over the plugin protocol (tfplugin6), reusing the
`tf` package's generated protobuf messages, gRPC server and go-plugin handshake. That is all
`terraform validate` and `terraform test` with `mock_provider` ask of a provider: the schema and
config validation (which Terraform itself does against the schema; here it always passes).
Anything that would reach a cloud API (plan, apply, read, import) answers with an error
diagnostic, so a run that is not fully mocked fails instead of pretending.

Runs in its own virtualenv (.venv-terraform, requirements-terraform-offline.txt): `tf` needs
protobuf 5. Not type-checked: `tf` is not installed in the main virtualenv mypy runs in.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import tf.provider
from tf.gen import tfplugin_pb2 as pb

REGISTRY = "registry.terraform.io/hashicorp"
USAGE = "usage: python -m devstack.terraform_offline.plugin NAME SCHEMA_JSON"

# Every call the plugin gets is appended here when set (debugging: which RPCs Terraform made).
LOG_ENV = "TERRAFORM_OFFLINE_PLUGIN_LOG"

_BLOCK_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
    "group": pb.Schema.NestedBlock.GROUP,
}
_OBJECT_NESTING = {
    "single": pb.Schema.Object.SINGLE,
    "list": pb.Schema.Object.LIST,
    "set": pb.Schema.Object.SET,
    "map": pb.Schema.Object.MAP,
}


def _log(message: str) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {message}\n")


def attribute(name: str, spec: dict[str, Any]) -> Any:
    fields: dict[str, Any] = {
        "name": name,
        "required": spec.get("required", False),
        "optional": spec.get("optional", False),
        "computed": spec.get("computed", False),
        "sensitive": spec.get("sensitive", False),
        "deprecated": spec.get("deprecated", False),
        "description": spec.get("description", ""),
    }
    if "nested_type" in spec:
        nested = spec["nested_type"]
        fields["nested_type"] = pb.Schema.Object(
            attributes=[attribute(n, a) for n, a in nested.get("attributes", {}).items()],
            nesting=_OBJECT_NESTING[nested["nesting_mode"]],
            min_items=nested.get("min_items", 0),
            max_items=nested.get("max_items", 0),
        )
    else:
        # The JSON form of a type is the wire form too: "string", ["list", "string"], ...
        fields["type"] = json.dumps(spec["type"]).encode()
    return pb.Schema.Attribute(**fields)


def block(spec: dict[str, Any]) -> Any:
    return pb.Schema.Block(
        attributes=[attribute(n, a) for n, a in spec.get("attributes", {}).items()],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=n,
                block=block(nested.get("block", {})),
                nesting=_BLOCK_NESTING[nested["nesting_mode"]],
                min_items=nested.get("min_items", 0),
                max_items=nested.get("max_items", 0),
            )
            for n, nested in spec.get("block_types", {}).items()
        ],
        deprecated=spec.get("deprecated", False),
        description=spec.get("description", ""),
    )


def schema(spec: dict[str, Any]) -> Any:
    return pb.Schema(version=spec.get("version", 0), block=block(spec.get("block", {})))


def provider_schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    """hashicorp/NAME's part of a `terraform providers schema -json` document."""
    schemas: dict[str, Any] = document.get("provider_schemas", {})
    for address in (f"{REGISTRY}/{name}", f"hashicorp/{name}"):
        if address in schemas:
            found: dict[str, Any] = schemas[address]
            return found
    raise KeyError(f"{REGISTRY}/{name} is not in the schema document (has: {sorted(schemas)})")


class SchemaOnlyServicer(tf.provider.ProviderServicer):
    """The provider protocol, answered from a schema document."""

    def __init__(self, app: SchemaOnlyProvider) -> None:
        super().__init__(app)
        self._spec = app.spec
        self._capabilities = pb.ServerCapabilities(
            plan_destroy=True, get_provider_schema_optional=True
        )

    @staticmethod
    def _unsupported(response: Any, call: str) -> Any:
        _log(f"unsupported {call}")
        return response(
            diagnostics=[
                pb.Diagnostic(
                    severity=pb.Diagnostic.ERROR,
                    summary=f"offline schema-only provider: {call} is not supported",
                    detail=(
                        "This provider knows only the schema: mock it in the test "
                        "(mock_provider), or run with the real providers "
                        "(TERRAFORM_REAL_PROVIDERS=1)."
                    ),
                )
            ]
        )

    def GetMetadata(self, request: Any, context: Any) -> Any:
        _log("GetMetadata")
        return pb.GetMetadata.Response(server_capabilities=self._capabilities)

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        _log("GetProviderSchema")
        spec = self._spec
        return pb.GetProviderSchema.Response(
            provider=schema(spec.get("provider", {})),
            provider_meta=schema({}),
            resource_schemas={t: schema(s) for t, s in spec.get("resource_schemas", {}).items()},
            data_source_schemas={
                t: schema(s) for t, s in spec.get("data_source_schemas", {}).items()
            },
            server_capabilities=self._capabilities,
        )

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        _log("ValidateProviderConfig")
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        _log(f"ValidateResourceConfig {request.type_name}")
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        _log(f"ValidateDataResourceConfig {request.type_name}")
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        _log("ConfigureProvider")
        return pb.ConfigureProvider.Response()

    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        return self._unsupported(
            pb.UpgradeResourceState.Response, f"UpgradeResourceState {request.type_name}"
        )

    def ReadResource(self, request: Any, context: Any) -> Any:
        return self._unsupported(pb.ReadResource.Response, f"ReadResource {request.type_name}")

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        return self._unsupported(
            pb.PlanResourceChange.Response, f"PlanResourceChange {request.type_name}"
        )

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        return self._unsupported(
            pb.ApplyResourceChange.Response, f"ApplyResourceChange {request.type_name}"
        )

    def ImportResourceState(self, request: Any, context: Any) -> Any:
        return self._unsupported(
            pb.ImportResourceState.Response, f"ImportResourceState {request.type_name}"
        )

    def MoveResourceState(self, request: Any, context: Any) -> Any:
        return self._unsupported(pb.MoveResourceState.Response, "MoveResourceState")

    def ReadDataSource(self, request: Any, context: Any) -> Any:
        return self._unsupported(pb.ReadDataSource.Response, f"ReadDataSource {request.type_name}")

    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    def StopProvider(self, request: Any, context: Any) -> Any:
        _log("StopProvider")
        return pb.StopProvider.Response()


class SchemaOnlyProvider:
    """What `tf.runner.run_provider` needs of a provider: its address (and no functions)."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.spec = spec

    def full_name(self) -> str:
        return f"{REGISTRY}/{self.name}"

    def get_functions(self) -> list[Any]:
        return []


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    name, schema_path = args
    try:
        document = json.loads(Path(schema_path).read_text(encoding="utf-8"))
        app = SchemaOnlyProvider(name, provider_schema(document, name))
    except (OSError, ValueError, KeyError) as error:
        # Before the handshake: Terraform shows this stderr in its "failed to instantiate" error.
        print(f"terraform_offline plugin: {error}", file=sys.stderr)
        return 1
    _log(f"start {name}")
    # run_provider instantiates tf.provider.ProviderServicer(app), looked up when it runs (tf
    # 1.2.0, pinned): point that name at the schema-only servicer.
    tf.provider.ProviderServicer = SchemaOnlyServicer
    from tf.runner import run_provider

    run_provider(app, [sys.argv[0]])
    # Terraform has shut the plugin down. Exit without waiting for gRPC's threads to wind down:
    # one `terraform test` starts the plugins over a hundred times.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
