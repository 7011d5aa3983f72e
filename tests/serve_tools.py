"""Start a real ``vlmr1 serve`` in a subprocess on a free 127.0.0.1 port, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parent

# Runs the real `vlmr1` command, with the fault plugins of tests/fault_plugins.py installed first.
_WITH_FAULTS = ("import sys; sys.path.insert(0, {tests!r}); import fault_plugins; fault_plugins.install(); "
                "from vlmr1.cli import main; sys.argv[0] = 'vlmr1'; main()")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `vlmr1 serve` process; ``url``, ``stop()`` (SIGTERM) and its output."""

    def __init__(self, config: Path | str, *args: str, faults: bool = False, env: dict[str, str] | None = None,
                 port: int | None = None, host: str | None = None, ready_timeout: float = 90.0) -> None:
        self.port = port or free_port()
        cmd = [sys.executable, "-c", _WITH_FAULTS.format(tests=str(TESTS))] if faults else [
            sys.executable, "-m", "vlmr1.cli"]
        cmd += ["serve", "--config", str(config), "--port", str(self.port), *args]
        if host is not None:
            cmd += ["--host", host]
        full_env = {**os.environ, "VLMR1_PLUGINS": "", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"vlmr1-serve-{self.port}.log", "w+")
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vlmr1 serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"vlmr1 serve did not become ready in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            self.log.close()
