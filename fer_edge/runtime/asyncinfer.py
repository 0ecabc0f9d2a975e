"""One compiled model shared by many streams' threads: inference requests batched across callers.

Every stream of the pipelined runtime runs its own thread (detect, track, crop, buffers). When
one asks for inference it hands its rows to an :class:`InferBatcher`. If one of the batcher's
infer requests is free, that thread becomes the batch's leader: it takes its own rows and all
rows other streams handed in meanwhile, starts the request (``start_async``) and waits for it
with the GIL released, then hands each caller its rows. Otherwise it waits, and the next free
request's leader takes its rows along. So inference runs while the other streams decode,
detect and draw, the rows of all waiting streams go through the model together, and a lone
stream pays no thread hop (a batching thread with ``AsyncInferQueue`` callbacks, tried first,
cost a single stream more than half its fps on a loaded 2-core box, 16 against 41 fps: two
more thread wake-ups per frame). Callers keep their frames in order because each waits for
its own rows (one call in flight per caller).

Busy time stays honest: a caller's share of a request's time (start to end, split by rows) is
what it reports as inference; the time it waited for other streams' requests is not busy
time (:class:`SharedModel` books it as waiting, see :class:`WaitingTimer`).

numpy + OpenVINO only.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from fer_edge.runtime.engine import CompiledModel
from fer_edge.runtime.latency import optimal_requests
from fer_edge.runtime.timers import StageTimer

__all__ = ["InferBatcher", "SharedModel", "WaitingTimer"]


class _Job:
    """One caller's rows (each input's first axis) and, once done, the model's output rows."""

    __slots__ = ("done", "error", "inputs", "ms", "out", "rows", "taken")

    def __init__(self, inputs: tuple[np.ndarray, ...]) -> None:
        self.inputs = inputs
        self.rows = len(inputs[0])
        self.out: np.ndarray | None = None
        self.ms = 0.0
        self.error: BaseException | None = None
        self.taken = self.done = False  # in a leader's batch; its rows are back


class InferBatcher:
    """Infer requests over ``model``, called from any number of threads; batches across them.

    Args:
        model: a model compiled by :func:`fer_edge.runtime.engine.load_model`.
        requests: infer requests that may run at once; 0 = :func:`~fer_edge.runtime.latency.optimal_requests`, which
            follows the compiled hint: more requests than the plugin runs at once would only
            queue inside it, in smaller batches. ``benchmarks/streams.py`` (8 streams, 2 shared
            cores at load 10-13) measured ``latency`` (one request on both cores) 122 and 82 fps
            in all, ``throughput`` (two requests, one core each) 105 and 102: no clear winner, so
            the hint stays the user's (``--hint``, default ``latency``, best for one stream).

    Example (from any thread; each caller returns with its own rows):
        >>> batcher = InferBatcher(load_model("frame.xml"))  # doctest: +SKIP
        >>> rows, busy_ms = batcher(faces)  # doctest: +SKIP
    """

    def __init__(self, model: CompiledModel, requests: int = 0) -> None:
        self.model = model
        # A static batch of one takes the rows one request at a time.
        self._one = bool(model.input_shape) and model.input_shape[0] == 1
        self.requests = requests or optimal_requests(model.compiled)
        self._free = [model.compiled.create_infer_request() for _ in range(self.requests)]
        self._pending: list[_Job] = []
        self._cond = threading.Condition()

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, float]:
        """Rows of the first output for ``inputs`` and this call's share of busy milliseconds."""
        if len(inputs) != self.model.num_inputs:
            raise ValueError(f"{self.model.path.name} takes {self.model.num_inputs} inputs, got {len(inputs)}")
        job = _Job(tuple(np.ascontiguousarray(x) for x in inputs))
        if job.rows == 0:
            raise ValueError("no rows to infer")
        lead = False
        with self._cond:
            self._pending.append(job)
            while not job.done:
                if not job.taken and self._free:  # nobody has taken this job yet: lead a batch
                    lead, request = True, self._free.pop()
                    batch, self._pending = self._pending, []
                    for j in batch:
                        j.taken = True
                    break
                self._cond.wait()
        if lead:
            try:
                self._run(request, batch)
            except BaseException as exc:  # noqa: BLE001 - every caller in the batch raises it
                for j in batch:
                    j.error = exc
            finally:
                with self._cond:
                    for j in batch:
                        j.done = True
                    self._free.append(request)
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.out, job.ms

    def _run(self, request: Any, batch: list[_Job]) -> None:
        """Infer ``batch`` on ``request`` in this thread (the GIL is released while it waits)."""
        if self._one:
            for job in batch:
                rows, ms = [], 0.0
                for i in range(job.rows):
                    out, took = self._infer(request, [x[i : i + 1] for x in job.inputs])
                    rows.append(out)
                    ms += took
                job.out, job.ms = np.concatenate(rows), ms
            return
        inputs = [
            batch[0].inputs[k] if len(batch) == 1 else np.concatenate([j.inputs[k] for j in batch])
            for k in range(self.model.num_inputs)
        ]
        out, ms = self._infer(request, inputs)
        total, at = len(out), 0
        for job in batch:
            job.out, job.ms = out[at : at + job.rows], ms * job.rows / total
            at += job.rows

    @staticmethod
    def _infer(request: Any, inputs: list[np.ndarray]) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        request.start_async(inputs)
        request.wait()
        # The request's own start-to-end time (without this thread's wait for the GIL after it);
        # the wall clock for a binding without it.
        ms = getattr(request, "latency", None)
        if ms is None:
            ms = (time.perf_counter() - start) * 1000.0
        # The request's output buffer is reused by its next start: copy it out.
        return np.array(request.get_output_tensor(0).data, copy=True), float(ms)


class WaitingTimer(StageTimer):
    """A stream's :class:`StageTimer` whose ``infer`` samples leave out time spent waiting.

    :class:`fer_edge.runtime.pipeline.Pipeline` times inference as the wall time of its model
    calls; through a shared batcher that includes the other streams' requests ahead of its
    own. :class:`SharedModel` adds that wait to ``waiting_ms``, and the next ``infer`` sample
    is reduced by it, so ``infer`` is this stream's share of the model's busy time.
    """

    def __init__(self, window: int = 20_000) -> None:
        super().__init__(window)
        self.waiting_ms = 0.0

    def add(self, stage: str, ms: float) -> None:
        if stage == "infer":
            ms, self.waiting_ms = max(0.0, ms - self.waiting_ms), 0.0
        super().add(stage, ms)


class SharedModel:
    """What one stream's pipeline calls in place of a :class:`CompiledModel`: the shared batcher.

    Same call and shape attributes as the compiled model; used from that stream's thread only.
    """

    def __init__(self, batcher: InferBatcher, timer: WaitingTimer) -> None:
        model = batcher.model
        self.batcher, self.timer = batcher, timer
        self.path, self.device = model.path, model.device
        self.input_shape, self.output_shape, self.num_inputs = model.input_shape, model.output_shape, model.num_inputs

    @property
    def inference_precision(self) -> str:
        return self.batcher.model.inference_precision

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        rows, busy = self.batcher(*inputs)
        self.timer.waiting_ms += max(0.0, (time.perf_counter() - start) * 1000.0 - busy)
        return rows
