"""Checks of a Ray head's address before ``ray.init``: each mistake one line, the connect bounded.

``ray.init(address=...)`` retries an absent head for minutes (and ignores SIGTERM meanwhile),
starts an embedded Ray for an empty address and fails deep inside when ``TMPDIR`` is too long
for its unix sockets; these checks run first.
"""

from __future__ import annotations

import os
import re

from fer_edge.core.errors import FerEdgeError

__all__ = ["CONNECT_S", "DIGITS", "check_address", "check_temp_dir", "probe_head"]

DIGITS = re.compile(r"[0-9]{1,6}")  # str.isdigit() also accepts '²', which int() refuses


def check_address(address: str, text: str | None = None) -> tuple[str, int]:
    """``HOST:PORT`` split and checked: a host name or IP, a port in 1..65535.

    Raises:
        FerEdgeError: one line naming what is wrong.

    Example:
        >>> check_address("127.0.0.1:6379")
        ('127.0.0.1', 6379)
    """
    where = f"executor '{text or 'ray=' + address}'"
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not DIGITS.fullmatch(port):
        raise FerEdgeError(f"{where}: the address must be auto or HOST:PORT (e.g. ray=10.0.0.5:6379)")
    if not 1 <= int(port) <= 65535:
        raise FerEdgeError(f"{where}: port {port} is out of range (1-65535); Ray's head listens on 6379 by default")
    if not re.fullmatch(r"[A-Za-z0-9.\-:_]+", host):
        raise FerEdgeError(f"{where}: '{host}' is not a host name or IP address")
    return host, int(port)


#: Seconds to wait for a TCP connection to the head before saying nothing listens there.
CONNECT_S = 5.0
#: The HTTP/2 client preface and an empty SETTINGS frame (RFC 9113, 3.4).
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
#: Longest AF_UNIX socket path (Linux sun_path is 108 bytes with its terminating NUL).
_SOCKET_MAX = 107
#: What Ray appends to its temp folder for a node's sockets (a session's name has this length).
_RAY_SOCKET_TAIL = "/ray/session_2026-01-01_00-00-00_000000_1234567/sockets/plasma_store"


def probe_head(address: str, timeout: float = CONNECT_S) -> None:
    """Fail in ``timeout`` seconds, in one line, when nothing accepts connections at ``address``.

    ``ray.init`` itself retries an absent head for minutes and ignores SIGTERM meanwhile.
    """
    import socket

    host, port = check_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            # Ray's head (GCS) is a gRPC server: to the HTTP/2 preface it answers a SETTINGS frame.
            conn.sendall(_H2_PREFACE)
            reply = b""
            while len(reply) < 9:
                chunk = conn.recv(9 - len(reply))
                if not chunk:
                    break
                reply += chunk
    except TimeoutError:
        why = f"no answer in {timeout:g} s"
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
    else:
        if len(reply) == 9 and reply[3] == 0x4:
            return
        why = "something listens there but it is not a Ray head (no gRPC answer)"
    raise FerEdgeError(
        f"no Ray head answers at {address} ({why}); start one there with: ray start --head --port={port} "
        "(see docs/cluster.md)"
    ) from None


def check_temp_dir() -> None:
    """Ray puts unix sockets under ``$RAY_TMPDIR`` or ``$TMPDIR``: too long a folder breaks them."""
    base = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"
    name = "RAY_TMPDIR" if os.environ.get("RAY_TMPDIR") else "TMPDIR"
    if len(base.rstrip("/") + _RAY_SOCKET_TAIL) > _SOCKET_MAX:
        room = _SOCKET_MAX - len(_RAY_SOCKET_TAIL)
        raise FerEdgeError(
            f"{name} is {len(base)} characters long; Ray's socket paths under it would pass the {_SOCKET_MAX}-byte "
            f"limit of unix sockets: run with RAY_TMPDIR set to a folder of at most {room} characters (e.g. /tmp)"
        )
