"""A real Confluent-compatible Schema Registry for `make run` and the tests: Apicurio Registry.

Apicurio Registry 3.3.3 comes from Maven Central as one tar.gz (the Quarkus app), fetched
into .cache/ once like the Kafka jars, and serves the Confluent API under
/apis/ccompat/v7 with in-memory storage. It needs Java 21 or newer; Kafka keeps running
on the Java it has.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

from devtools.broker import free_port, port_open
from devtools.processes import ChildServer, child_start

APICURIO_VERSION = "3.3.3"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
CCOMPAT = "/apis/ccompat/v7"
JAVA_DIRS = (Path("/usr/lib/jvm"),)


class RegistryStartError(RuntimeError):
    """The registry could not be fetched or started; the message says what is missing."""


def _java_major(java: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except OSError:
        return None
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else None


def java21_bin() -> Path:
    """A java of version 21 or newer: $JAVA_HOME's, else the newest in Debian's JVM folder."""
    tried = []
    home = os.environ.get("JAVA_HOME")
    candidates = [Path(home) / "bin" / "java"] if home else []
    for folder in JAVA_DIRS:
        if folder.is_dir():
            candidates += sorted(folder.glob("*/bin/java"), reverse=True)
    best: tuple[int, Path] | None = None
    for java in candidates:
        if not java.exists():
            continue
        major = _java_major(java)
        tried.append(f"{java} ({major or '?'})")
        if major is not None and major >= 21 and (best is None or major > best[0]):
            best = (major, java)
    if best is None:
        raise RegistryStartError(
            "the Schema Registry (Apicurio Registry) needs Java 21 or newer; found "
            + (", ".join(tried) or "no java")
            + ". Install a JDK >= 21 (e.g. Debian's openjdk-21-jdk or Temurin) or set JAVA_HOME."
        )
    return best[1]


def app_dir(*, cache_dir: Path) -> Path:
    """Where the unpacked registry app lives."""
    return cache_dir / "apicurio" / APICURIO_VERSION


def app_ensure(*, cache_dir: Path) -> Path:
    """Fetch and unpack the registry once (Maven); return the folder with quarkus-run.jar."""
    try:
        return archive_ensure(ARTIFACT, app_dir(cache_dir=cache_dir))
    except ArchiveError as exc:
        raise RegistryStartError(str(exc)) from None


def archive_ensure(artifact: str, target: Path) -> Path:
    """A tar.gz from Maven Central unpacked once into target (safe beside parallel workers)."""
    if (target / ".complete").exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ArchiveError("Maven (mvn) is not installed; run `make setup`.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="app-", dir=target.parent))
    try:
        result = subprocess.run(
            [mvn, "-B", "-q", "dependency:copy", f"-Dartifact={artifact}",
             f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ArchiveError(
                f"Maven could not fetch {artifact}:\n{(result.stdout or '')[-2000:]}"
            )
        (archive,) = staging.glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        archive.unlink()
        (staging / ".complete").write_text(artifact)
        if (target / ".complete").exists():
            return target  # another process (a parallel test worker) finished first
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class ArchiveError(RuntimeError):
    """An app's archive could not be fetched from Maven Central; says why."""


class LocalRegistry(ChildServer):
    """An Apicurio Registry on 127.0.0.1, in memory, started and stopped by its owner."""

    def __init__(self, *, cache_dir: Path, port: int | None = None, log: Path | None = None):
        self.cache_dir = cache_dir
        self.port = port or free_port()
        self.log_path = log or Path(tempfile.mkdtemp(prefix="registry-")) / "registry.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The Confluent-compatible API's base URL."""
        return f"http://127.0.0.1:{self.port}{CCOMPAT}"

    def start(self, *, timeout: float = 120) -> str:
        """Fetch if needed, start the JVM, wait until /subjects answers; returns the URL."""
        if self.running():
            return self.url
        app = app_ensure(cache_dir=self.cache_dir).resolve()
        java = java21_bin()
        if port_open("127.0.0.1", self.port):
            raise RegistryStartError(f"port {self.port} on 127.0.0.1 is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = child_start(
                [str(java), "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                 f"-Dquarkus.http.port={self.port}", "-Dquarkus.http.host=127.0.0.1",
                 # Its management interface (health, metrics) would take 0.0.0.0:9000.
                 f"-Dquarkus.management.port={free_port()}",
                 "-Dquarkus.management.host=127.0.0.1",
                 "-Dquarkus.log.level=WARN", "-jar", str(app / "quarkus-run.jar")],
                cwd=app, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RegistryStartError(
                    f"the registry exited with code {self.process.returncode}; "
                    f"log: {self.log_path}\n{self.log_tail()}"
                )
            if self.answers():
                return self.url
            time.sleep(0.3)
        self.stop()
        raise RegistryStartError(f"the registry did not answer within {timeout:.0f} s")

    def answers(self) -> bool:
        """Whether GET /subjects answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False


def main() -> None:
    """`python -m devtools.registry [--fetch-only] [--port N]`: fetch, or run in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fetch-only", action="store_true")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache"))
    args = parser.parse_args()
    try:
        if args.fetch_only:
            print(f"Apicurio Registry {APICURIO_VERSION} in {app_ensure(cache_dir=args.cache_dir)}")
            print(f"Java for it: {java21_bin()}")
            return
        registry = LocalRegistry(cache_dir=args.cache_dir, port=args.port)
        print(f"Schema Registry at {registry.start()}", flush=True)
        try:
            while registry.running():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            registry.stop()
    except RegistryStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
