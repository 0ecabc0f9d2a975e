"""Run a command where only loopback exists: a private user + network + PID namespace.

``unshare -rn`` (util-linux, no root needed) gives the command a network namespace whose only
interface is ``lo``; a Ray cluster started inside can reach 127.0.0.1 and nothing else. The
cluster tests and ``benchmarks/cluster_overhead.py`` start their clusters this way.
``--mount-proc`` gives the new PID namespace its own ``/proc`` (Ray checks pids in it) and
``--kill-child`` ends everything inside when ``unshare`` dies.
"""

from __future__ import annotations

# `lo` starts down in a new network namespace; `exec` keeps the command as the namespace's init.
_SCRIPT = 'ip link set lo up && exec "$@"'


def loopback_only(*command: str) -> list[str]:
    """The argv that runs ``command`` in a namespace whose only network is loopback.

    Example:
        >>> loopback_only("sleep", "1")[:2], loopback_only("sleep", "1")[-2:]
        (['unshare', '-rn'], ['sleep', '1'])
    """
    return ["unshare", "-rn", "--pid", "--mount-proc", "--kill-child", "--", "sh", "-c", _SCRIPT, "sh", *command]
