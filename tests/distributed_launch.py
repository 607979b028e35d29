"""Starting and watching the processes of the multi-process tests (CPU, gloo): a free port, an environment
without any launcher's rank variables, "nodes" on loopback, the ranks Lightning's launcher started, and
whether a process is still alive."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

LAUNCHER_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                      "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra) -> dict:
    """This process's environment without any launcher's rank variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    return {**env, **extra}


def run_nodes(command: list[str], nodes: int = 2, timeout: float = 300, cwd: Path | None = None) -> list[str]:
    """Runs `command` once per node on loopback (NODE_RANK 0..nodes-1, one shared MASTER_PORT; the last node
    starts first, as a real cluster's nodes come up in any order); returns each node's output, node 0 first,
    after checking every node exited with 0."""
    port = str(free_port())
    started = {rank: subprocess.Popen(command, env=clean_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                                                             NODE_RANK=str(rank)),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
               for rank in reversed(range(nodes))}
    try:
        outputs = [started[rank].communicate(timeout=timeout)[0] for rank in range(nodes)]
    finally:
        for process in started.values():
            process.kill()
    codes = [started[rank].returncode for rank in range(nodes)]
    assert codes == [0] * nodes, "\n".join(o[-3000:] for o in outputs)
    return outputs


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc), e.g. the ranks 1.. that Lightning's launcher spawns."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until(condition, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
