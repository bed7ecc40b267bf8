"""Where the data plane's own log lines go when a node or the balancer is served."""

from __future__ import annotations

import logging


def log_to_stderr(log: logging.Logger) -> None:
    """Send ``log`` to stderr with a timestamp, and not on to the root logger: stderr is
    the process's log file when the local pool or ``fleetcast up`` starts it."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.propagate = False
