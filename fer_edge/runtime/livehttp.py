"""The live view's HTTP side: the standard library's ThreadingHTTPServer, a bounded number of clients,
the token check, the page, ``/status.json``, ``/stream/<name>.mjpg`` and ``/frame/<name>.jpg``."""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fer_edge.runtime.livepage import page

log = logging.getLogger("fer_edge.runtime.live")

__all__ = ["make_server"]

_BOUNDARY = "fer-edge-frame"
_SEND_TIMEOUT_S = 10.0  # a client that takes no data for this long is dropped
_FRAME_WAIT_S = 1.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, live: Any, address: tuple[str, int], family: int) -> None:
        self.address_family = family
        self.live = live
        self._slots = threading.BoundedSemaphore(live.max_clients)
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        """Serve a connection in its own thread while a slot is free; refuse it (503) otherwise."""
        if not self._slots.acquire(blocking=False):
            with self.live.lock:
                self.live.refused += 1
            log.warning(
                "live view: refused %s (%d clients connected, the most --serve allows)",
                client_address[0],
                self.live.max_clients,
            )
            threading.Thread(target=self._refuse, args=(request,), daemon=True).start()
            return
        with self.live.lock:
            self.live.clients += 1
        super().process_request(request, client_address)

    def _refuse(self, request) -> None:
        try:
            request.settimeout(2.0)
            request.sendall(
                b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\n"
                b"Connection: close\r\n\r\ntoo many live-view clients; try again later\n"
            )
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.live.lock:
                self.live.clients -= 1
            self._slots.release()

    def handle_error(self, request, client_address) -> None:  # a client's error is not ours
        log.debug("live view: %s dropped", client_address[0], exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = _SEND_TIMEOUT_S  # also bounds a client that never finishes its request
    protocol_version = "HTTP/1.0"  # one request per connection: a slot is a connection

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class' name
        log.debug("live view: %s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        live = self.server.live
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if live.token is not None and not self._authorised(live.token, query):
            self._send(HTTPStatus.UNAUTHORIZED, b"a token is required: open the URL fer-edge printed\n", "text/plain")
            return
        path = unquote(url.path)
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, page(live.stream_list()).encode(), "text/html; charset=utf-8")
        elif path == "/status.json":
            try:
                since = int(query.get("since", ["0"])[0])
            except ValueError:
                since = 0
            body = json.dumps(live.status(since)).encode()
            self._send(HTTPStatus.OK, body, "application/json")
        elif path.startswith("/stream/") and path.endswith(".mjpg"):
            self._mjpeg(path[len("/stream/") : -len(".mjpg")])
        elif path.startswith("/frame/") and path.endswith(".jpg"):
            _, jpeg = live.next_jpeg(path[len("/frame/") : -len(".jpg")], 0, 2.0)
            if jpeg is None:
                self._send(HTTPStatus.NOT_FOUND, b"no frame yet (or no such stream)\n", "text/plain")
            else:
                self._send(HTTPStatus.OK, jpeg, "image/jpeg")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _authorised(self, token: str, query: dict[str, list[str]]) -> bool:
        given = query.get("token", [""])[0]
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer ") :].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _mjpeg(self, name: str) -> None:
        """Multipart JPEGs, the newest each time this client is ready for one, until it or the run ends."""
        live = self.server.live
        if not live.watch(name, +1):
            self._send(HTTPStatus.NOT_FOUND, f"no stream {name!r}; see /status.json\n".encode(), "text/plain")
            return
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seq = 0
            while not live.closed:
                seq, jpeg = live.next_jpeg(name, seq, _FRAME_WAIT_S)
                if jpeg is None:
                    continue
                head = f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
        except OSError:  # the client went away (mid-frame included) or stopped reading
            log.debug("live view: %s left %s", self.client_address[0], name)
        finally:
            live.watch(name, -1)


def make_server(live: Any, host: str, port: int) -> _Server:
    """A bound (not yet serving) server for ``live`` (a :class:`~fer_edge.runtime.live.LiveServer`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return _Server(live, (host, port), family)
