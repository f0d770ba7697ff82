"""Shared by the bench scripts: a real broker, Django pointed at it, timing and a table."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))


@contextmanager
def broker_and_django(*, bootstrap: str | None, heap: str = "1g") -> Iterator[str]:
    """A fresh local broker (unless bootstrap is given), then Django set up against it."""
    from dashboard.kafka.local import LocalBroker

    broker = None
    if bootstrap is None:
        data = tempfile.mkdtemp(prefix="kafkaview-bench-")
        broker = LocalBroker(data_dir=Path(data), heap=heap)
        started = time.monotonic()
        broker.start(timeout=180)
        bootstrap = broker.bootstrap_servers
        print(f"# broker {bootstrap} ready in {time.monotonic() - started:.1f} s", flush=True)
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    os.environ.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaview.settings")
    os.environ.setdefault("KAFKAVIEW_REQUEST_TIMEOUT", "30")
    import django

    django.setup()
    try:
        yield bootstrap
    finally:
        if broker is not None:
            broker.stop()


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Wall-clock seconds of each run, and the last result."""
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return times, result


def view_request(view: Callable[..., Any], path: str, **kwargs: Any) -> Any:
    """Call a view function as Django would, with a logged-in user and no HTTP server."""
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    request = RequestFactory().get(path)
    request.user = User(username="bench", is_active=True)
    response = view(request, **kwargs)
    assert response.status_code == 200, response.content[:500]
    return response


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)
