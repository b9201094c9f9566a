"""The rooms of docs/architecture.md, held against the imports: a module that reaches into a room
it may not fails here, before it tangles the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIRST_PARTY = ("insights_poller", "insights_emulator", "devstack", "bench", "tests", "main")

# What each room of the deployed package may import of the project (besides itself).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "names": set(),
    "timestamps": set(),
    "events": {"model", "names", "timestamps"},
    "ports": {"model"},
    "core": {"model", "ports", "events", "names", "timestamps"},
    "replay": {"model", "ports", "events"},
    "requested": {"names"},
    "state": {"model", "ports"},
    "adapters": {"model", "ports", "names"},
    "settings": {"core", "model", "names", "timestamps", "state"},
    "app": {"core", "names", "model", "ports", "replay", "requested", "settings", "state"}
    | {"adapters", "timestamps"},
    "logs": {"core"},
    "triggers": {"app", "core", "logs", "requested", "settings"},
    "cli": {"app", "core", "model", "ports", "replay", "requested", "settings", "timestamps"},
    "__main__": {"cli"},
    "__init__": set(),
}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (function-level ones too, and
    those only a type checker sees: they are a dependency of the design all the same)."""
    found: set[str] = set()
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def room(module: str) -> str | None:
    """The room of a module of the poller: ``insights_poller.state.sqlite`` -> ``state``."""
    parts = module.split(".")
    if parts[0] != "insights_poller" or len(parts) < 2:
        return None
    return parts[1]


def package_modules(name: str) -> list[Path]:
    return sorted((ROOT / name).rglob("*.py"))


@pytest.mark.parametrize(
    "path", package_modules("insights_poller"), ids=lambda path: path.relative_to(ROOT).as_posix()
)
def test_each_room_of_the_poller_imports_only_what_it_may(path: Path) -> None:
    own = room(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert own in ALLOWED, f"{path.name} is in no room of docs/architecture.md"
    imported = imports_of(path)
    project = {m for m in imported if m.split(".")[0] in FIRST_PARTY and m != "insights_poller"}
    elsewhere = sorted(m for m in project if not m.startswith("insights_poller."))
    assert not elsewhere, f"the deployed package imports {elsewhere}: it would not be deployed"
    rooms = {r for r in map(room, project) if r is not None and r != own}
    forbidden = rooms - ALLOWED[own]
    assert not forbidden, f"{own} may not import {sorted(forbidden)}"


def test_the_rules_do_not_go_stale() -> None:
    """Every room named in the rules exists, so a rename cannot silently drop a rule."""
    rooms = {
        room(".".join(p.relative_to(ROOT).with_suffix("").parts))
        for p in package_modules("insights_poller")
    }
    assert set(ALLOWED) == rooms


def test_the_emulator_never_imports_the_poller() -> None:
    """It models the real service: sharing the poller's code would share its assumptions."""
    for path in package_modules("insights_emulator"):
        poller = {m for m in imports_of(path) if m.split(".")[0] == "insights_poller"}
        assert not poller, f"{path.relative_to(ROOT)} imports {sorted(poller)}"


def test_main_holds_entry_points_over_the_triggers_only() -> None:
    imported = {m for m in imports_of(ROOT / "main.py") if m.startswith("insights_poller")}
    assert imported == {"insights_poller", "insights_poller.triggers"}
