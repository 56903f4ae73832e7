"""Run the real service (``satwa serve``) in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.factories import REPO_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """``satwa serve`` with its own database and evidence; start, kill, restart."""

    def __init__(self, database_url: str, evidence_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "SATWA_DATABASE_URL": database_url,
            "SATWA_EVIDENCE_DIR": str(evidence_dir),
            "SATWA_PORT": str(self.port),
            "SATWA_WEIGHTS": str(REPO_ROOT / "weights/satwa-detector.onnx"),
            **{f"SATWA_{name.upper()}": value for name, value in settings.items()},
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> LiveServer:
        command = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "satwa serve exited during start"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise TimeoutError(f"satwa serve not ready on {self.url} in {timeout_s} s")

    def kill(self) -> None:
        """kill -9: no shutdown handlers, no flushing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def peak_rss_bytes(self) -> int:
        """VmHWM: the most resident memory the server process has had."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        return int(line.split()[1]) * 1024
