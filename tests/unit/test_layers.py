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
for info in pkgutil.iter_modules(layer.__path__):
    importlib.import_module("dashboard.kafka." + info.name)
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
