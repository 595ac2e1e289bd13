"""Local server processes for the benchmarks and the tests: a free port, waiting until a server
answers, stopping it. Everything is bounded and on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

from eval.errors import EvalError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], limit: float = 300) -> None:
    """Wait (bounded) until the server at `url` answers a GET with a success."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EvalError(f"the server exited with {proc.returncode}; see its log")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise EvalError(f"the server did not answer within {limit:g} s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop a process: SIGTERM, then SIGKILL if it is still running after `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
