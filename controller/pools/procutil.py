"""Child-process helpers shared by the local pool and the balancer process.

Both launch long-lived children on loopback ports, so both need the same two
things: a port check that agrees with how the servers bind (``SO_REUSEADDR``),
and a ``preexec_fn`` that makes a child die with its parent (Linux
``PR_SET_PDEATHSIG``), so nothing is orphaned when the launcher is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option as the servers (uvicorn): a port whose old connections sit
        # in TIME_WAIT is free for a new listener.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
