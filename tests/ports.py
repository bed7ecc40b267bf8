"""Free TCP ports on 127.0.0.1 for tests that start real servers.

Asking the OS for one free port at a time can hand the same port out twice (it
is released as soon as it is reported), and a node port range can cover the
balancer's or the API's port.  :func:`free_ports` holds every port it picks
until all are chosen, so the ranges it returns are disjoint.
"""

from __future__ import annotations

import socket


def _bind(port: int) -> socket.socket | None:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    return s


def free_ports(*spans: int) -> list[int]:
    """For each span, the first of ``span`` consecutive ports that are free now and
    overlap none of the others' ranges."""
    held: list[socket.socket] = []
    starts: list[int] = []
    try:
        for span in spans:
            while True:
                first = _bind(0)
                assert first is not None
                rest = [_bind(first.getsockname()[1] + k) for k in range(1, span)]
                if all(s is not None for s in rest):
                    held += [first, *(s for s in rest if s is not None)]
                    starts.append(int(first.getsockname()[1]))
                    break
                for s in (first, *rest):
                    if s is not None:
                        s.close()
        return starts
    finally:
        for s in held:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]
