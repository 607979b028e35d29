"""The app server under test: the README's `make run` on a free loopback port (optionally serving another
catalogue), its health wait and stop, and the memory of the process that serves (Linux /proc)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from csmae_core.catalogue import CATALOGUE_ENV

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, timeout: float = 300.0, process: subprocess.Popen | None = None) -> None:
    """Until Streamlit's health endpoint at `url` answers 200; RuntimeError when `process` exits first,
    TimeoutError after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app server exited with code {process.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy within {timeout:.0f} s")


@dataclass
class AppServer:
    """`make run` (the README's command) on a free loopback port, optionally with another catalogue;
    its output goes to `log_path`. A context manager: started on entry, stopped on exit. With `tree`: the
    app of another copy of the project (e.g. an older revision) with this project's virtual environment."""

    catalogue: Path | None = None
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    started_at: float = 0.0         # time.perf_counter() at the start of the process
    health_s: float | None = None   # seconds from the start to the first healthy answer
    tree: Path | None = None        # None: this project, started with `make run`
    _log: object = field(default=None, init=False, repr=False)  # the open log file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> "AppServer":
        env = {**os.environ, "STREAMLIT_SERVER_PORT": str(self.port), "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
               "STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
        if self.catalogue is not None:
            env[CATALOGUE_ENV] = str(self.catalogue)
        command, cwd = ["make", "run"], ROOT
        if self.tree is not None:  # its own modules first (the venv's editable install points to ROOT)
            command, cwd = [str(ROOT / ".venv" / "bin" / "streamlit"), "run", "app.py"], self.tree
            env["PYTHONPATH"] = str(self.tree)
        self._log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.started_at = time.perf_counter()
        # its own process group: `make` starts streamlit as a child, and stop() ends both
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_healthy(self.url, timeout, self.process)
        except BaseException:
            self.stop()
            raise
        self.health_s = time.perf_counter() - self.started_at
        return self

    def pid(self) -> int | None:
        """The process that serves the port (streamlit, not make)."""
        return pid_listening(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        if hasattr(self._log, "close"):
            self._log.close()

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def pid_listening(port: int) -> int | None:
    """The process listening on a local TCP port (from /proc; Linux only)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(parts[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def rss_bytes(pid: int | None) -> int | None:
    """Resident memory of a process (VmRSS), None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def mib(value: int | None) -> float | None:
    """Bytes in MiB, one decimal (None stays None)."""
    return round(value / 2**20, 1) if value is not None else None


class RssSampler(threading.Thread):
    """Peak RSS of a process, sampled every `every` seconds while running."""

    def __init__(self, pid: int | None, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self._stop_event = pid, every, rss_bytes(pid), threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            value = rss_bytes(self.pid)
            if value is not None:
                self.peak = max(self.peak or 0, value)

    def stop(self) -> int | None:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak
