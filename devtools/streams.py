"""A real Kafka Streams application for the demo and the tests: Kafka's own WordCount example.

It runs from the broker's classpath (kafka-streams-examples is in devtools/kafka/pom.xml)
with `group.protocol=streams`, so the broker sees a streams group (KIP-1071) whose id is
the application id. The example reads `streams-plaintext-input` and writes word counts
to `streams-wordcount-output`; both are created by whoever starts it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO

from devtools.broker import JVM_FLAGS, LOG4J, jars_ensure, java_bin
from devtools.processes import child_start

WORDCOUNT_MAIN = "org.apache.kafka.streams.examples.wordcount.WordCountDemo"
WORDCOUNT_INPUT = "streams-plaintext-input"
WORDCOUNT_OUTPUT = "streams-wordcount-output"


def wordcount_start(
    *,
    bootstrap: str,
    application_id: str,
    cache_dir: Path,
    work_dir: Path,
    log: IO[bytes] | int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start WordCountDemo as a streams-group member; it dies with its parent."""
    lib = jars_ensure(cache_dir=cache_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    props = work_dir / f"{application_id}.properties"
    settings = {
        "bootstrap.servers": bootstrap,
        "application.id": application_id,
        "group.protocol": "streams",
        "state.dir": str(work_dir / "state"),
        # Commit every second so the offsets (and the lag) move while one watches.
        "commit.interval.ms": "1000",
    }
    props.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return child_start(
        [
            java_bin(),
            *JVM_FLAGS,
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            f"{lib}/*",
            WORDCOUNT_MAIN,
            str(props),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
