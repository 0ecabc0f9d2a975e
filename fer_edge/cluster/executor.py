"""Where the heavy loops run: in this process (``local``) or as Ray tasks (``ray[=ADDRESS]``).

The stages keep their loops' bodies and hand the loop itself to an executor:
``executor_for(spec).map(fn, items, desc=..., workdir=run_folder)`` returns ``[fn(x) for x in
items]``, in order. ``local`` is exactly that loop. ``ray`` submits one Ray task per item with
declared resources (``num_cpus``, ``num_gpus`` when the cluster has GPUs and the task uses
TensorFlow), pins TF / OpenVINO / BLAS thread counts to those CPUs inside the task, retries a
task whose worker died (``max_retries``), aggregates the tasks in one progress bar
(done/total, ETA) and on Ctrl-C cancels what is still running. Tasks return small results
(metrics, paths); they write large outputs into the run folder under temporary names, so a
retried or cancelled task leaves resumable state, never a half file that looks finished.

Spec grammar (CLI ``--executor``, recipe key ``executor:``)::

    local                       today's in-process loop (default)
    ray                         an embedded Ray on this machine (all its cores)
    ray=auto                    join the cluster ``ray start --head`` started on this node
    ray=HOST:PORT               join the cluster whose head (GCS) listens there
    ray=HOST:PORT,cpus=8,retries=2   CPUs per task (default 1), retries of a dead worker's task (3)

Tasks that no alive node can run (``cpus=8`` on 4-CPU nodes) wait ``FER_EDGE_RAY_WAIT_S``
seconds (default 60) for a node to join, then the run stops with one line saying so.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_edge.cluster.address import DIGITS, check_address, check_temp_dir, probe_head
from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.core.progress import progress

log = logging.getLogger(__name__)

BACKENDS = ("local", "ray")
#: Environment of every Ray task: the deterministic TF settings the CLI sets for itself (Ray
#: workers inherit the raylet's environment, not the driver's).
TASK_ENV = {"TF_DETERMINISTIC_OPS": "1", "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
#: Set inside a task: the threads it may use (read by OpenVINO compile calls, see :func:`threads`).
THREADS_ENV = "FER_EDGE_THREADS"
#: Seconds tasks may wait for a node able to run them (one may join) before the run stops;
#: ``FER_EDGE_RAY_WAIT_S`` overrides it.
INFEASIBLE_S = 60.0
#: Seconds without a finished task before the driver says what it waits for (then again).
STALL_S = 120.0


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed ``--executor`` value."""

    backend: str = "local"
    address: str | None = None  # None: embedded Ray; "auto" or "host:port": join a cluster
    cpus: int = 1
    retries: int = 3

    def __str__(self) -> str:
        if self.backend == "local":
            return "local"
        head = "ray" + (f"={self.address}" if self.address else "")
        return ",".join(
            [head, *([f"cpus={self.cpus}"] * (self.cpus != 1)), *([f"retries={self.retries}"] * (self.retries != 3))]
        )


def parse_spec(text: str | ExecutorSpec | None) -> ExecutorSpec:
    """Parse ``local``, ``ray``, ``ray=auto``, ``ray=HOST:PORT[,cpus=N][,retries=N]``.

    Example:
        >>> parse_spec("ray=127.0.0.1:6379,cpus=2")
        ExecutorSpec(backend='ray', address='127.0.0.1:6379', cpus=2, retries=3)
        >>> parse_spec(None).backend
        'local'
    """
    if isinstance(text, ExecutorSpec):
        return text
    text = (text or "local").strip()
    head, *options = [t.strip() for t in text.split(",")]
    backend, _, address = head.partition("=")
    if backend not in BACKENDS:
        raise unknown_choice("executor", text, ("local", "ray", "ray=auto", "ray=HOST:PORT"), match=backend)
    if backend == "local" and (address or options):
        raise FerEdgeError(f"executor '{text}': local takes no address or options; use ray=HOST:PORT")
    if "=" in head and not address:
        raise FerEdgeError(f"executor '{text}': no address after 'ray='; give ray=HOST:PORT, ray=auto or plain ray")
    if address and address != "auto":
        check_address(address, text)
    values = {"cpus": 1, "retries": 3}
    for option in options:
        key, _, value = option.partition("=")
        if key not in values or not DIGITS.fullmatch(value):
            raise FerEdgeError(f"executor '{text}': unknown option '{option}'; use cpus=N or retries=N (digits 0-9)")
        values[key] = int(value)
    if values["cpus"] < 1:
        raise FerEdgeError(f"executor '{text}': cpus must be >= 1")
    return ExecutorSpec(backend, address or None, values["cpus"], values["retries"])


def threads(default: int | None = None) -> int | None:
    """Threads a task may use (set by the Ray executor), else ``default`` (the library's choice)."""
    value = os.environ.get(THREADS_ENV, "")
    return int(value) if value.isdigit() else default


class LocalExecutor:
    """Today's behaviour: the loop runs here, in order."""

    spec = ExecutorSpec()
    distributed = False

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], **options: Any) -> list[Any]:
        """``[fn(x) for x in items]``; the options of :meth:`RayExecutor.map` change nothing here."""
        return [fn(item) for item in items]


def _pin_tensorflow(cpus: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:  # a reused worker: TF already runs, pinned by this worker's first task
        pass


def _pinned(fn: Callable[[Any], Any], item: Any, *, cpus: int, cwd: str, uses_tf: bool) -> Any:
    """Run ``fn(item)`` inside a Ray task: driver's folder, thread counts = the task's CPUs."""
    for key, value in TASK_ENV.items():
        os.environ.setdefault(key, value)
    n = str(cpus)
    # Read when TF / OpenMP / OpenBLAS start in this worker process (the first task it runs).
    os.environ.update({THREADS_ENV: n, "OMP_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n})
    if uses_tf:
        _pin_tensorflow(cpus)
    if os.path.isdir(cwd):  # relative paths of a recipe mean the same on every node (shared storage)
        os.chdir(cwd)
    return fn(item)


class RayExecutor:
    """Items as Ray tasks on an embedded or existing cluster (see the module docstring)."""

    distributed = True

    def __init__(self, spec: ExecutorSpec) -> None:
        from fer_edge.core.errors import require

        self.spec = spec
        if "ray" not in sys.modules:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home
            if spec.address is None:
                # Embedded: advertise the loopback address, not this machine's network address.
                os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        self.ray = require("ray", "cluster", purpose="--executor ray")
        self._checked: set[str] = set()
        self._shipped: tuple[weakref.ref, Any] | None = None  # the last function shipped, its object ref
        if not self.ray.is_initialized():
            self._connect()

    def _connect(self) -> None:
        ray = self.ray
        kw: dict[str, Any] = dict(logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
        check_temp_dir()
        if self.spec.address not in (None, "auto"):
            probe_head(self.spec.address)
        try:
            if self.spec.address is None:
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **kw)
            else:
                ray.init(address=self.spec.address, **kw)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FerEdgeError(
                f"cannot join the Ray cluster at '{self.spec.address}' ({first[:160]}); "
                "start it with: ray start --head (see docs/cluster.md)"
            ) from None
        log.info("ray: %s", ray.cluster_resources())

    def _gpus(self, uses_tf: bool) -> int:
        return int(uses_tf and self.ray.cluster_resources().get("GPU", 0) >= 1)

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        desc: str = "",
        workdir: str | os.PathLike | None = None,
        uses_tf: bool = False,
    ) -> list[Any]:
        """``[fn(x) for x in items]`` as Ray tasks; results in item order."""
        items = list(items)
        if not items:
            return []
        if workdir is not None:
            self.check_storage(workdir)
        ray = self.ray
        gpus = self._gpus(uses_tf)
        remote = ray.remote(_pinned).options(
            num_cpus=self.spec.cpus,
            num_gpus=gpus,
            max_retries=self.spec.retries,
            retry_exceptions=False,
            name=f"fer-edge:{desc or getattr(fn, '__name__', 'task')}",
        )
        fn_ref = self._put(fn)
        cwd = os.getcwd()
        refs = [remote.remote(fn_ref, item, cpus=self.spec.cpus, cwd=cwd, uses_tf=uses_tf) for item in items]
        return self._gather(refs, desc, gpus=gpus)

    def run_on(
        self, fn: Callable[[Any], Any], placements: Sequence[tuple[str, dict[str, float], Any]], *, desc: str = ""
    ) -> list[Any]:
        """``fn(item)`` pinned to a node per ``(node_id, resources, item)`` (node affinity, not soft).

        ``resources`` are custom resources the task holds there (``{"ncs2": 1}``), so two runs
        never share one device. Results come back in order.
        """
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = self.ray.remote(_pinned)
        fn_ref = self._put(fn)
        cwd = os.getcwd()
        refs = [
            remote.options(
                num_cpus=self.spec.cpus,
                resources=resources or None,
                max_retries=self.spec.retries,
                retry_exceptions=False,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                name=f"fer-edge:{desc}",
            ).remote(fn_ref, item, cpus=self.spec.cpus, cwd=cwd, uses_tf=False)
            for node_id, resources, item in placements
        ]
        return self._gather(refs, desc)

    def _put(self, fn: Callable[[Any], Any]) -> Any:
        """``fn`` in the object store: once per function, not per item, nor per call of a loop of
        maps over the same function (a tuner's rounds carry their training frames in it).

        Only a weak reference is kept: when the caller drops ``fn``, its copy in the store is freed.
        """
        if self._shipped is not None and self._shipped[0]() is fn:
            return self._shipped[1]
        ref = self.ray.put(fn)
        try:
            key = weakref.ref(fn)
        except TypeError:  # not weak-referenceable: no reuse
            return ref
        self._shipped = (key, ref)
        weakref.finalize(fn, self._forget, ref)
        return ref

    def _forget(self, ref: Any) -> None:
        if self._shipped is not None and self._shipped[1] is ref:
            self._shipped = None

    def _gather(self, refs: list, desc: str, *, gpus: int = 0) -> list[Any]:
        ray = self.ray
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending = list(refs)
        # A bar on a terminal, else a log line every 30 s: either shows the run is alive.
        bar = progress(total=len(refs), desc=f"{desc} (ray)", unit="task")
        finished = checked = time.monotonic()
        infeasible_since: float | None = None
        raw = os.environ.get("FER_EDGE_RAY_WAIT_S", "")
        wait = float(raw) if raw.replace(".", "", 1).isdigit() else INFEASIBLE_S
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for ref in done:
                    results[index[ref]] = self._result(ref)
                    bar.update(1)
                now = time.monotonic()
                if done:
                    finished = now
                if pending and now - checked >= 5:
                    checked = now
                    why = self._infeasible(self.spec.cpus, gpus)
                    if why is None:
                        infeasible_since = None
                    elif infeasible_since is None:
                        infeasible_since = now
                        log.warning("ray: %s; waiting up to %.0f s for one to join", why, wait)
                    elif now - infeasible_since >= wait:
                        raise FerEdgeError(
                            f"{why}; pass cpus=N (at most the largest node's CPUs) in --executor or add nodes "
                            "(see ray status)"
                        )
                if pending and now - finished >= STALL_S:
                    finished = now
                    # Long tasks are normal: information, not a warning; a hang is what it explains.
                    log.info(
                        "ray: no %s task finished in the last %.0f s (%d/%d done); free resources: %s; "
                        "see ray status and the session logs if the cluster is idle",
                        desc,
                        STALL_S,
                        len(refs) - len(pending),
                        len(refs),
                        ray.available_resources(),
                    )
        except BaseException:
            # Ctrl-C or a failed task: stop the rest. Their outputs are written under temporary
            # names, so the next run resumes from what finished.
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            bar.close()
        return results

    def _infeasible(self, cpus: int, gpus: int) -> str | None:
        """Why no alive node can ever run a task asking for ``cpus`` and ``gpus``, or None."""
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        if any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
            return None
        largest = max((r.get("CPU", 0) for r in nodes), default=0)
        asked = f"{cpus} CPUs" + (f" and {gpus} GPUs" if gpus else "")
        return (
            f"no alive node of the Ray cluster has the {asked} a task asks for "
            f"({len(nodes)} nodes alive, the largest with {largest:g} CPUs)"
        )

    def _result(self, ref) -> Any:
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
            if isinstance(cause, FerEdgeError):
                raise FerEdgeError(str(cause)) from None
            raise
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.OutOfMemoryError,
        ) as exc:
            raise FerEdgeError(
                f"a Ray task failed {self.spec.retries + 1} times ({type(exc).__name__}); "
                "finished work is kept: rerun the same command to resume"
            ) from None

    def check_storage(self, folder: str | os.PathLike) -> None:
        """Every alive node must see ``folder`` (see :mod:`fer_edge.cluster.storage`)."""
        from fer_edge.cluster.storage import check_storage

        key = str(Path(folder).resolve())
        if key not in self._checked:
            check_storage(self.ray, key)
            self._checked.add(key)


@functools.lru_cache(maxsize=4)
def _ray_executor(spec: ExecutorSpec) -> RayExecutor:
    return RayExecutor(spec)


def executor_for(spec: str | ExecutorSpec | None) -> LocalExecutor | RayExecutor:
    """The executor of a spec; one Ray connection per process, reused by every stage.

    Example:
        >>> executor_for("local").map(lambda x: x * x, [1, 2, 3])
        [1, 4, 9]
    """
    parsed = parse_spec(spec)
    if parsed.backend == "local":
        return LocalExecutor()
    return _ray_executor(parsed)
