"""A throwaway PostgreSQL server from Debian's `postgresql` package, for the tests.

    .venv/bin/python -m devtools.postgres -- .venv/bin/python -m pytest tests/integration/...

starts a server in a temporary directory on a free port (trust authentication, socket
and data in that directory, no fsync), runs the command with DATABASE_URL pointing at
it, then stops the server and removes the directory. PostgreSQL refuses to run as root,
so as root the server runs as the `postgres` user the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from devtools.broker import free_port, port_open


class PostgresError(RuntimeError):
    """The server could not be found, initialised or started."""


def postgres_bin() -> Path:
    """The newest installed server's bin directory (/usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]),
    )
    if not found:
        raise PostgresError(
            "no PostgreSQL server: install Debian's postgresql package (`make setup-dev`)"
        )
    return Path(found[-1]).parent


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@contextlib.contextmanager
def postgres_running() -> Iterator[str]:
    """A running server for the duration; yields its DATABASE_URL."""
    bin_dir = postgres_bin()
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="kafkaview-pg-"))
    data = root / "data"
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = free_port()
    log = root / "server.log"
    init = subprocess.run(
        _as_owner(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            owner,
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresError(f"initdb failed:\n{init.stdout[-1500:]}{init.stderr[-1500:]}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run(
        _as_owner(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "start",
            ],
            owner,
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        if started.returncode:
            raise PostgresError(f"pg_ctl start failed:\n{log.read_text()[-2000:]}")
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise PostgresError("PostgreSQL did not listen within 30 s")
            time.sleep(0.1)
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], owner
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Run argv (after `--`) against a fresh server; its exit code is ours."""
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        sys.stderr.write("usage: python -m devtools.postgres -- COMMAND ...\n")
        return 2
    with postgres_running() as url:
        sys.stdout.write(f"# PostgreSQL at {url}\n")
        sys.stdout.flush()
        return subprocess.run(
            command, env={**os.environ, "DATABASE_URL": url}, check=False
        ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
