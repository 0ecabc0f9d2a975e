"""A real two-node Ray cluster for tests, sealed in a private network namespace.

Ray's servers listen on every interface and advertise the machine's network address, whatever
``--node-ip-address`` says. So the cluster lives in a new user + network namespace
(``unshare -rn``) whose only interface is loopback: every byte stays on 127.0.0.1 by
construction. The head and a worker node are two ``ray start`` processes (one CPU each); the
worker may see a folder masked by an empty tmpfs (its own mount namespace), which simulates a
node that does not share the run folder. Every process started here carries a marker in its
environment, so the tests can find exactly those, never anyone else's.

Nothing outlives the test process, even a SIGKILLed one whose finalizers never run: the
namespace also has its own PID namespace, whose init is the ``sleep`` that holds it. Every
command enters that PID namespace, and the kernel kills all of a PID namespace's processes
when its init dies. The init dies with ``unshare`` (``--kill-child``), and ``unshare`` dies
with the process that started it (``setpriv --pdeathsig KILL``). :meth:`LoopbackCluster.stop` takes
the same path: it kills ``unshare``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fer_edge.cluster.loopback import loopback_only

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARKER = "FER_EDGE_TEST_CLUSTER"
# Inside the namespace: connect, wait until N nodes are alive, print them (one JSON line).
_NODES = """
import json, sys, time
import ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + float(sys.argv[3])
while True:
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) >= int(sys.argv[2]) or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps([{"name": n.get("NodeName"), "resources": n.get("Resources")} for n in nodes]))
"""


def namespaces_available() -> str | None:
    """None when ``unshare -rn`` works here, else why not."""
    if not all(shutil.which(tool) for tool in ("unshare", "nsenter", "setpriv")):
        return "util-linux unshare/nsenter/setpriv missing"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=30)
    return None if probe.returncode == 0 else f"unshare -rn failed: {probe.stderr.decode()[:200]}"


class LoopbackCluster:
    """Head + one worker node (``num_cpus=1`` each) on 127.0.0.1 inside a private namespace."""

    def __init__(self, *, masked: Path | None = None, workers: int = 1) -> None:
        self.masked = masked
        self.workers = workers
        self.marker = secrets.token_hex(6)
        self.temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: unix socket paths
        # Token auth with a token of its own: nothing read from or written to ~/.ray.
        self.env = {
            **os.environ,
            MARKER: self.marker,
            "PYTHONPATH": str(REPO),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_ENABLE_ONEDNN_OPTS": "0",
            "TF_DETERMINISTIC_OPS": "1",
        }
        self.holder: subprocess.Popen | None = None  # `unshare`
        self.init = 0  # the namespace's init (`sleep`), as this machine numbers it
        self.address = ""

    @property
    def enter(self) -> list[str]:
        """Prefix that runs a command inside the namespaces (nsenter forks it into the PID namespace)."""
        return ["nsenter", "-t", str(self.init), "-U", "-n", "-m", "-p", "--"]

    def run(self, args: list[str], *, timeout: float, check: bool = True, **kw) -> subprocess.CompletedProcess:
        """Run ``args`` inside the namespace (output captured)."""
        done = subprocess.run(
            self.enter + args,
            env=kw.pop("env", self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=kw.pop("cwd", REPO),
            **kw,
        )
        if check and done.returncode:
            raise RuntimeError(f"{args[:4]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def popen(self, args: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen(
            self.enter + args, env=self.env, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw
        )

    def start(self) -> LoopbackCluster:
        # --mount-proc: a /proc of the new PID namespace, so Ray's pid checks see its own numbering.
        self.holder = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", "--", *loopback_only("sleep", "86400")],
            env=self.env,
        )
        deadline = time.monotonic() + 30
        # `exec sleep` happens once loopback is up inside: wait for it.
        while not self.init:
            if time.monotonic() > deadline or self.holder.poll() is not None:
                raise RuntimeError("the private network namespace did not come up")
            time.sleep(0.1)
            child = children(self.holder.pid)
            if child and _cmdline(child[0]).startswith("sleep"):
                self.init = child[0]
        ray = str(BIN / "ray")
        common = ["--num-cpus=1", "--disable-usage-stats", "--object-store-memory=100000000"]
        self.run(
            [
                ray,
                "start",
                "--head",
                "--port=0",
                "--node-ip-address=127.0.0.1",
                "--node-name=head",
                "--include-dashboard=false",
                f"--temp-dir={self.temp}",
                *common,
            ],
            timeout=240,
        )
        self.address = (self.temp / "ray_current_cluster").read_text().strip()
        assert self.address.startswith("127.0.0.1:"), self.address
        worker = [
            ray,
            "start",
            f"--address={self.address}",
            "--node-ip-address=127.0.0.1",
            "--node-name=worker-1",
            *common,
        ]
        if self.masked is not None:  # this node sees an empty folder there: no shared storage
            self.masked.mkdir(parents=True, exist_ok=True)
            script = f'mount -t tmpfs fer-edge-test "{self.masked}" && exec "$@"'
            worker = ["unshare", "-m", "--", "sh", "-c", script, "sh", *worker]
        if self.workers:
            self.run(worker, timeout=240)
        # `ray start` returns once its processes run; a driver started before the worker node
        # registered would see one node. Every test starts from the whole cluster.
        nodes = self.nodes(wait_for=1 + self.workers, timeout=120)
        if len(nodes) < 1 + self.workers:
            raise RuntimeError(
                f"the cluster has {len(nodes)} alive nodes, not {1 + self.workers}\n{self.diagnostics()}"
            )
        return self

    def nodes(self, *, wait_for: int = 0, timeout: float = 0) -> list[dict]:
        """The alive nodes (name, resources), after waiting up to ``timeout`` s for ``wait_for`` of them."""
        import json

        done = self.run(
            [sys.executable, "-c", _NODES, self.address, str(wait_for), str(timeout)], timeout=timeout + 120
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    def run_logged(self, args: list[str], log: Path, *, idle: float, timeout: float) -> str:
        """Run ``args`` inside the namespace, its output streamed (unbuffered) into ``log``.

        A command that writes nothing for ``idle`` s (a fer-edge driver logs its tasks' progress
        every 30 s) or runs past ``timeout`` is killed, and the error holds its output, its
        threads' stacks, the alive nodes and the tails of the Ray session logs: a hang explains
        itself, while a slow run on a busy machine is left to finish. Returns the output.
        """
        env = {**self.env, "PYTHONUNBUFFERED": "1"}
        with open(log, "w") as out:
            proc = subprocess.Popen(
                self.enter + args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            stacks, why = "", ""
            start = last = time.monotonic()
            size = 0
            try:
                while (rc := proc.poll()) is None:
                    time.sleep(1)
                    now = time.monotonic()
                    if log.stat().st_size != size:
                        size, last = log.stat().st_size, now
                    if now - last > idle or now - start > timeout:
                        why = f"wrote nothing for {now - last:.0f} s" if now - last > idle else f"ran {timeout:.0f} s"
                        stacks = _stacks(children(proc.pid))
                        break
            finally:
                if proc.poll() is None:  # nsenter and the command it forked share the process group
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        text = log.read_text(errors="replace")
        if rc != 0:
            why = why or f"failed ({rc})"
            raise RuntimeError(f"{args[:4]} {why}; its output:\n{text[-4000:]}\n{stacks}{self.diagnostics()}")
        return text

    def diagnostics(self, lines: int = 15) -> str:
        """The alive nodes and the last lines of every Ray session log (for a failure message)."""
        parts = []
        try:
            parts.append(f"alive nodes: {self.nodes()}")
        except Exception as exc:  # noqa: BLE001 - the cluster may be what broke
            parts.append(f"alive nodes: unknown ({exc})"[:500])
        logs = self.temp / "session_latest" / "logs"
        # Task workers' logs (many) first, so a long message loses those, not the raylets' and the GCS's.
        order = sorted(logs.glob("*"), key=lambda p: ("worker" not in p.name, p.name)) if logs.is_dir() else []
        for path in order:
            if path.is_file() and path.stat().st_size:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name}\n" + "\n".join(line[:300] for line in tail))
        return "\n".join(parts)[-30000:]

    def processes(self) -> dict[int, str]:
        """``pid -> command line`` of every live process this cluster started."""
        return marked_processes(self.marker)

    def listening(self) -> str:
        """``ss -tln`` as seen inside the namespace."""
        return self.run(["ss", "-tln"], timeout=30).stdout

    def stop(self) -> None:
        """End the PID namespace (every process started here dies with its init), then wait for it."""
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait(timeout=10)
        deadline = time.monotonic() + 30
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(self.temp, ignore_errors=True)


def marked_processes(marker: str) -> dict[int, str]:
    """``pid -> command line`` of the live processes whose environment carries ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
            if f"{MARKER}={marker}".encode() in env:
                found[int(entry.name)] = _cmdline(int(entry.name))
        except OSError:
            continue
    return found


def _stacks(pids: list[int]) -> str:
    """Every thread's Python stack of ``pids`` (py-spy, where installed): where a hung command waits."""
    spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if not spy:
        return ""
    out = []
    for pid in pids:
        try:
            done = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60)
            out.append(f"--- py-spy dump {pid}\n{done.stdout[-6000:]}{done.stderr[-500:]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            out.append(f"--- py-spy dump {pid}: {exc}")
    return "\n".join(out) + "\n"


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (of its main thread)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
