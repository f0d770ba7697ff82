"""The layers hold: the client layer imports no Django, the tail's socket no HTTP middleware."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers import BASE_DIR

KAFKA_LAYER = BASE_DIR / "dashboard" / "kafka"

# Imports every module of the client layer in a fresh interpreter in which importing
# Django fails, so a Django import anywhere on the way is caught, direct or not.
PROBE = """
import importlib, importlib.abc, pkgutil, sys

class NoDjango(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "django" or name.startswith("django."):
            raise ImportError("the client layer imported " + name)
        return None

sys.meta_path.insert(0, NoDjango())
import dashboard.kafka as layer
# walk_packages: every submodule, in every folder of the layer (client/, groups/, ...).
for info in pkgutil.walk_packages(layer.__path__, "dashboard.kafka."):
    importlib.import_module(info.name)
print("ok")
"""


def test_the_client_layer_imports_no_django() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_only_the_client_layer_and_devtools_import_confluent_kafka() -> None:
    offenders = []
    for path in (BASE_DIR / "dashboard").rglob("*.py"):
        if KAFKA_LAYER in path.parents:
            continue
        if any(m.split(".")[0] == "confluent_kafka" for m in imported_modules(path)):
            offenders.append(str(path.relative_to(BASE_DIR)))
    assert offenders == []


def test_the_websocket_consumer_does_not_import_the_http_middleware() -> None:
    consumer = BASE_DIR / "dashboard" / "tail" / "consumer.py"
    assert "dashboard.web.middleware" not in imported_modules(consumer)


def test_the_running_dashboard_does_not_import_devtools() -> None:
    offenders = [
        str(path.relative_to(BASE_DIR))
        for path in (BASE_DIR / "dashboard").rglob("*.py")
        if any(m.split(".")[0] == "devtools" for m in imported_modules(path))
    ]
    assert offenders == []


def layer_graph() -> dict[str, set[str]]:
    """Module -> the client-layer modules it imports (at any place in the file)."""
    graph: dict[str, set[str]] = {}
    modules = {
        ".".join(p.relative_to(BASE_DIR).with_suffix("").parts).removesuffix(".__init__"): p
        for p in KAFKA_LAYER.rglob("*.py")
    }
    for name, path in modules.items():
        graph[name] = {
            m for m in imported_modules(path) if m in modules and m not in (name, "dashboard.kafka")
        }
        # `from dashboard.kafka.x import y` where y is itself a module.
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in modules:
                        graph[name].add(sub)
        graph[name] -= {m for m in graph[name] if name.startswith(m + ".") and m.count(".") < 3}
    return graph


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph (as a path), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_client_layer_has_no_import_cycle() -> None:
    graph = layer_graph()
    assert len(graph) > 30  # every module of every folder was read
    assert cycle_in(graph) is None, " -> ".join(cycle_in(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None


def test_protocol_imports_nothing_else_of_the_layer() -> None:
    offenders = {
        name: sorted(m for m in imports if not m.startswith("dashboard.kafka.protocol"))
        for name, imports in layer_graph().items()
        if name.startswith("dashboard.kafka.protocol")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
