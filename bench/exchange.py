"""Export and import through the real HTTP endpoints, with kcat as the anchor.

    .venv/bin/python bench/exchange.py [--records 1000000] [--size 200] [--bootstrap HOST:PORT]

Starts a broker (or uses --bootstrap) and Daphne on a temporary database, writes --records
records of --size bytes to a 3-partition topic, then in one run:
  1. kcat -C -e -o beginning over the topic (the anchor; `make bench-deps` installs kcat);
  2. GET /api/.../export/?format=lossless to a file: records/s, and Daphne's RSS before and
     at its peak while the download runs;
  3. POST /api/.../import/ of that file into a new topic (dry_run off): records/s, from
     the first byte of the upload to the answer (parsing every line, then sending).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from _common import broker_and_django, daphne_for_bench, rss_mb, session_cookie, table

WORK = Path(tempfile.mkdtemp(prefix="kafkaview-bench-exchange-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'db.sqlite3'}"
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-exchange-secret")


def fill(bootstrap: str, topic: str, records: int, size: int) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1 << 20})
    value = b"v" * (size - 16)
    for i in range(records):
        while True:
            try:
                producer.produce(topic, key=b"key-%010d" % i, value=value, headers=[("n", b"1")])
                break
            except BufferError:
                producer.poll(0.1)
        if i % 10000 == 0:
            producer.poll(0)
    producer.flush(120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Peak(threading.Thread):
    """Samples a process's RSS every 0.1 s until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, rss_mb(pid), threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))


def kcat_anchor(bootstrap: str, topic: str, records: int) -> list[object]:
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    if kcat is None:
        return ["kcat -C -e -o beginning", "not installed: make bench-deps", "", ""]
    started = time.monotonic()
    out = subprocess.run(
        [kcat, "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning", "-q", "-f", "%k %s\n"],
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    took = time.monotonic() - started
    lines = out.count(b"\n")
    return ["kcat -C -e -o beginning", f"{lines:,}", f"{took:.1f}", f"{records / took:,.0f}"]


def export(
    port: int, cookie: str, topic: str, path: Path, pid: int
) -> tuple[int, float, float, float]:
    peak = Peak(pid)
    before = peak.peak
    peak.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.monotonic()
    conn.request(
        "GET",
        f"/api/clusters/local/topics/{topic}/export/?format=lossless",
        headers={"Cookie": cookie},
    )
    answer = conn.getresponse()
    assert answer.status == 200, answer.read()[:500]
    lines = 0
    with path.open("wb") as out:
        while chunk := answer.read(1 << 20):
            lines += chunk.count(b"\n")
            out.write(chunk)
    took = time.monotonic() - started
    peak.stop.set()
    peak.join()
    return lines, took, before, peak.peak


def multipart(path: Path, boundary: str, fields: dict[str, str]) -> Iterator[bytes]:
    for name, value in fields.items():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="export.ndjson"'
        "\r\nContent-Type: application/x-ndjson\r\n\r\n"
    ).encode()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def import_(port: int, cookie: str, topic: str, path: Path) -> tuple[dict, float]:
    import json

    boundary = uuid.uuid4().hex
    fields = {"format": "lossless", "dry_run": "0", "keep_partitions": "1", "keep_timestamps": "1"}
    length = sum(len(p) for p in multipart(path, boundary, fields))
    csrf = cookie.split("csrftoken=")[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.monotonic()
    conn.putrequest("POST", f"/api/clusters/local/topics/{topic}/import/")
    conn.putheader("Cookie", cookie)
    conn.putheader("X-CSRFToken", csrf)
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    for part in multipart(path, boundary, fields):
        conn.send(part)
    answer = conn.getresponse()
    body = json.loads(answer.read())
    took = time.monotonic() - started
    assert answer.status == 200, body
    return body, took


def profile(pid: int, folder: str | None, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy sampling Daphne (all its threads) until profile_end, as a raw folded file."""
    if folder is None:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    spy = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
    out = Path(folder) / f"{name}.folded"
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "-o", str(out)]
    )


def profile_end(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(2)
        spy.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--bootstrap")
    parser.add_argument("--profile", help="write py-spy flame graphs of Daphne to this folder")
    args = parser.parse_args()
    with broker_and_django(bootstrap=args.bootstrap, heap="1g") as bootstrap:
        from confluent_kafka.admin import AdminClient, NewTopic

        topic = f"bench-export-{time.time_ns()}"
        started = time.monotonic()
        fill(bootstrap, topic, args.records, args.size)
        print(
            f"# {args.records:,} records written in {time.monotonic() - started:.1f} s", flush=True
        )
        cookie = session_cookie()
        from django.contrib.auth.models import User

        # The import writes: the bench's user may do everything.
        User.objects.filter(username__startswith="bench-").update(is_superuser=True)
        port = free_port()
        daphne = daphne_for_bench(bootstrap=bootstrap, port=port, log_dir=WORK)
        rows: list[list[object]] = []
        try:
            rows.append(kcat_anchor(bootstrap, topic, args.records))
            path = WORK / "export.lossless.ndjson"
            spy = profile(daphne.pid, args.profile, "export")
            lines, took, before, peak = export(port, cookie, topic, path, daphne.pid)
            profile_end(spy)
            rows.append(
                [
                    "export, lossless (HTTP)",
                    f"{lines:,}",
                    f"{took:.1f}",
                    f"{lines / took:,.0f}",
                    f"{before:.0f} -> {peak:.0f} (+{peak - before:.0f})",
                ]
            )
            target = f"bench-import-{time.time_ns()}"
            admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: a dropped one cancels
            admin.create_topics([NewTopic(target, 3, 1)])[target].result(timeout=30)
            spy = profile(daphne.pid, args.profile, "import")
            body, took = import_(port, cookie, target, path)
            profile_end(spy)
            rows.append(
                [
                    "import of that file (HTTP)",
                    f"{body['delivered']:,}",
                    f"{took:.1f}",
                    f"{body['delivered'] / took:,.0f}",
                    f"failed {body['failed']}",
                ]
            )
            rows[0] += [""]
            print(table(["what", "records", "seconds", "records/s", "Daphne RSS MiB / note"], rows))
            print(f"# file: {path.stat().st_size / 2**20:,.0f} MiB")
        except BaseException:
            print(rows, flush=True)
            raise
        finally:
            daphne.terminate()
            daphne.wait(timeout=10)


if __name__ == "__main__":
    main()
