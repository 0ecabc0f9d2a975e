"""The live view (``fer-edge demo --serve``): token, bounded and slow clients, a client leaving
mid-frame, and a real headless Chromium watching a demo."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.live import LiveServer, parse_address, resolve_token
from fer_edge.runtime.pipeline import FaceResult

ROOT = Path(__file__).resolve().parents[2]


def _frame(i: int, size=(240, 320)) -> np.ndarray:
    rng = np.random.default_rng(i)  # noise: big JPEGs, so slow clients' socket buffers fill
    return rng.integers(0, 255, (*size, 3), dtype=np.uint8)


def _face(i: int) -> FaceResult:
    label = "happy" if (i // 10) % 2 == 0 else "sad"
    return FaceResult(1, (20, 20, 60, 60), label, {"happy": 0.6, "sad": 0.4}, None)


class _Publisher(threading.Thread):
    """The loop's side: publish frames of stream ``cam0`` as fast as they come, ``count`` of them."""

    def __init__(self, live: LiveServer, count: int, size=(240, 320), delay: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.live, self.count, self.delay = live, count, delay
        self.frames = [_frame(i, size) for i in range(8)]
        self.done = 0
        self.stop = threading.Event()

    def run(self) -> None:
        for i in range(self.count):
            if self.stop.is_set():
                break
            frame = self.frames[i % 8].copy()
            frame[:16, :16] = i % 251  # every frame differs, so every JPEG does
            self.live.publish("cam0", frame, [_face(i)], 25.0)
            self.done += 1
            if self.delay:
                time.sleep(self.delay)


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _stream_socket(live: LiveServer, name: str = "cam0") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    sock.sendall(f"GET /stream/{name}.mjpg HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def _read_parts(sock: socket.socket, parts: int) -> list[bytes]:
    """Read the multipart stream until ``parts`` JPEGs have arrived; their bytes."""
    data, jpegs = b"", []
    while len(jpegs) < parts:
        chunk = sock.recv(1 << 16)
        assert chunk, "the server ended the stream"
        data += chunk
        while True:
            head_end = data.find(b"\r\n\r\n", data.find(b"--fer-edge-frame"))
            if data.find(b"--fer-edge-frame") < 0 or head_end < 0:
                break
            head = data[data.find(b"--fer-edge-frame") : head_end].decode()
            length = int(head.split("Content-Length:")[1].split()[0])
            if len(data) < head_end + 4 + length:
                break
            jpegs.append(data[head_end + 4 : head_end + 4 + length])
            data = data[head_end + 4 + length :]
    return jpegs


def _until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def test_address_and_token_rules():
    assert parse_address(None) == ("127.0.0.1", 8080)
    assert parse_address("9000") == ("127.0.0.1", 9000)
    with pytest.raises(FerEdgeError, match="HOST:]PORT"):
        parse_address("0.0.0.0:http")
    assert resolve_token("127.0.0.1", None) is None and resolve_token("::1", None) is None
    generated = {resolve_token("0.0.0.0", None) for _ in range(3)}
    assert len(generated) == 3 and all(len(t) >= 20 for t in generated)  # a new secret each time
    assert resolve_token("192.168.1.2", None) is not None and resolve_token("pi.local", None) is not None
    assert resolve_token("0.0.0.0", "my-own-token") == "my-own-token"
    with pytest.raises(FerEdgeError, match="at least 8"):
        resolve_token("0.0.0.0", "short")


def test_big_frames_are_sent_scaled_down():
    with LiveServer(port=0, streams=["cam0"]) as live:
        pub = _Publisher(live, 10**6, size=(1080, 1920), delay=0.02)
        pub.start()
        sock = _stream_socket(live)
        jpeg = _read_parts(sock, 1)[0]
        sock.close()
        pub.stop.set()
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (540, 960, 3)


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(FerEdgeError, match="pick another --serve PORT"):
            LiveServer(port=taken.getsockname()[1])


def test_token_is_required_everywhere():
    with LiveServer(port=0, token="s3cret-token", streams=["cam0"]) as live:
        pub = _Publisher(live, 5)
        pub.run()
        base = f"http://127.0.0.1:{live.port}"
        assert live.url == f"{base}/?token=s3cret-token"
        for path in ("/", "/status.json", "/stream/cam0.mjpg", "/frame/cam0.jpg"):
            assert _get(base + path)[0] == 401
            assert _get(base + path + "?token=wrong-token")[0] == 401
        status, body = _get(live.url)
        assert status == 200 and b"fer-edge live" in body and b"<script src" not in body
        status, body = _get(base + "/status.json", {"Authorization": "Bearer s3cret-token"})
        assert status == 200 and json.loads(body)["streams"]["cam0"]["frames"] == 5
        assert _get(base + "/nothing?token=s3cret-token")[0] == 404


def test_status_reports_label_changes_not_every_frame():
    with LiveServer(port=0) as live:
        _Publisher(live, 25).run()
        live.publish("cam0", _frame(0), [], None)
        status = json.loads(_get(f"http://127.0.0.1:{live.port}/status.json")[1])
        cam = status["streams"]["cam0"]
        assert cam["frames"] == 26 and cam["faces"] == []
        assert [(e["frame"], e["event"], e["label"]) for e in cam["events"]] == [
            (0, "appears", "happy"),
            (10, "changes", "sad"),
            (20, "changes", "happy"),
            (25, "leaves", None),
        ]
        live.publish("cam1", _frame(1), [_face(0)], None)  # several streams on one server
        assert set(json.loads(_get(f"http://127.0.0.1:{live.port}/status.json")[1])["streams"]) == {"cam0", "cam1"}
        later = json.loads(_get(f"http://127.0.0.1:{live.port}/status.json?since={cam['events'][1]['id']}")[1])
        assert [e["frame"] for e in later["streams"]["cam0"]["events"]] == [20, 25]


def test_fifty_slow_clients_never_hold_up_the_pipeline():
    """50 clients that never read: the loop publishes every frame, a reading client still gets new frames."""
    with LiveServer(port=0, max_clients=60, max_fps=100.0, streams=["cam0"]) as live:
        slow = [_stream_socket(live) for _ in range(50)]
        try:
            _until(lambda: live.status()["streams"]["cam0"]["viewers"] == 50)
            pub = _Publisher(live, 400, size=(480, 640), delay=0.002)
            pub.start()
            fast = _stream_socket(live)
            jpegs = _read_parts(fast, 5)
            fast.close()
            pub.join(timeout=120)
            assert not pub.is_alive() and pub.done == 400  # never blocked by a client
            assert len(set(jpegs)) == 5  # newest frames, one after the other
            image = cv2.imdecode(np.frombuffer(jpegs[-1], np.uint8), cv2.IMREAD_COLOR)
            assert image.shape == (480, 640, 3)  # under max_side: full size
            assert live.status()["clients"] >= 50  # the slow ones are still connected, still waited for
        finally:
            for s in slow:
                s.close()
        _until(lambda: live.status()["clients"] == 0)


def test_clients_are_bounded_and_each_refusal_is_one_log_line(caplog):
    with LiveServer(port=0, max_clients=3, streams=["cam0"]) as live:
        pub = _Publisher(live, 10**6, delay=0.01)
        pub.start()
        held = [_stream_socket(live) for _ in range(3)]
        _until(lambda: live.status()["streams"]["cam0"]["viewers"] == 3)
        with caplog.at_level(logging.WARNING, logger="fer_edge.runtime.live"):
            extra = socket.create_connection(("127.0.0.1", live.port), timeout=10)
            extra.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = extra.makefile("rb").read()
            extra.close()
        assert reply.startswith(b"HTTP/1.0 503")
        refused = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == 1 and "3 clients" in refused[0].getMessage()
        for s in held:
            s.close()
        _until(lambda: live.status()["clients"] == 0)
        assert _get(f"http://127.0.0.1:{live.port}/status.json")[0] == 200  # a freed slot serves again
        assert json.loads(_get(f"http://127.0.0.1:{live.port}/status.json")[1])["refused"] == 1
        pub.stop.set()


def test_a_client_leaving_mid_frame_frees_its_slot(caplog):
    with LiveServer(port=0, max_clients=2, streams=["cam0"]) as live:
        pub = _Publisher(live, 10**6, size=(480, 640), delay=0.005)
        pub.start()
        for _ in range(3):  # more times than there are slots: each one must come back
            sock = _stream_socket(live)
            data = b""
            while b"Content-Type: image/jpeg" not in data:
                data += sock.recv(4096)
            data += sock.recv(1000)  # inside a JPEG
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not FIN
            sock.close()
            _until(lambda: live.status()["clients"] == 0)
            assert live.status()["streams"]["cam0"]["viewers"] == 0
        good = _stream_socket(live)
        assert len(_read_parts(good, 2)) == 2
        good.close()
        pub.stop.set()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def _demo_video(tmp_path: Path) -> Path:
    from tests.support.videos import two_faces_video

    return two_faces_video(tmp_path / "two.avi", frames=200)[0]


@pytest.mark.slow
def test_chromium_watches_a_demo(tmp_path):
    """A real browser opens the page while ``fer-edge demo --serve`` runs: a video frame shows, events arrive."""
    from tests.support.browser import Chromium
    from tests.support.ovmodels import frame_bundle

    chromium = Chromium.find()
    assert chromium, "Debian's chromium is missing: `make test` installs it (apt-get install -y chromium)"
    bundle = frame_bundle(tmp_path / "bundle").path
    video = _demo_video(tmp_path)
    # --fps 5: served, the file plays for 40 s, time for a browser to start on a busy machine;
    # the test stops the demo (SIGINT) once it has seen what it needs.
    argv = ["demo", "--source", str(video), "--bundle", str(bundle), "--detector", "haar"]
    argv += ["--serve", "127.0.0.1:0", "--fps", "5", "--no-show", "--no-save"]
    # A runtime-only install: the demo and its live view never import TensorFlow, Keras or NNCF.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'nncf'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from fer_edge.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    cmd = [sys.executable, "-c", code]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    demo = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = next((line.split(": ", 1)[1].strip() for line in demo.stdout if line.startswith("live view:")), None)
        assert url, "the demo printed no live-view URL"
        with Chromium(chromium) as browser:
            browser.goto(url)
            browser.wait_for("document.querySelector('#s-two img')?.naturalWidth > 0")
            browser.wait_for("document.querySelectorAll('#s-two li.event').length > 0")
            frames = browser.wait_for("document.querySelector('#s-two .fps').textContent")
            box = browser.evaluate(
                "(() => { const r = document.querySelector('#s-two img').getBoundingClientRect();"
                " return [r.x, r.y, r.width, r.height].map(Math.round); })()"
            )
            shot = cv2.imdecode(np.frombuffer(browser.screenshot(), np.uint8), cv2.IMREAD_COLOR)
            events = browser.evaluate("[...document.querySelectorAll('#s-two li.event')].map(e => e.textContent)")
        assert demo.poll() is None, "the demo ended before the browser saw it"
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=120)[0]
    x, y, w, h = box
    assert w > 100 and h > 50
    video_area = shot[y : y + h, x : x + w]
    assert video_area.std() > 20, "the video tile is blank"
    assert any("#1 appears" in e for e in events), events
    assert "frames" in frames
    assert demo.returncode in (0, 130), rest
