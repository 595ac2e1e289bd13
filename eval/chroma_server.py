"""A Chroma server (`chroma run`, from the same chromadb package) on 127.0.0.1, for benchmarks
and tests of server mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from eval.processes import free_port, stop


class ChromaServer:
    """`chroma run --path PATH --host 127.0.0.1 --port PORT`, started and stopped on demand."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start it and wait (bounded) until it accepts connections."""
        chroma = Path(sys.executable).with_name("chroma")
        self.proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"chroma run did not start within {timeout:g} s")

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 30 s)."""
        if self.proc is not None:
            stop(self.proc)

    @property
    def env(self) -> dict[str, str]:
        """The settings that point the assistant at this server."""
        return {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(self.port)}
