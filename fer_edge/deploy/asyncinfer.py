"""One compiled model shared by many streams' threads: asynchronous requests batched across callers.

Every stream of the pipelined runtime runs its own thread (detect, track, crop, buffers). When
one asks for inference it hands its rows to an :class:`InferBatcher` and waits; the batcher's
thread joins whatever rows the other streams handed in meanwhile into one batch and starts it
on an ``AsyncInferQueue`` request, so inference runs while the streams' threads decode, detect
and draw, and the rows of all streams go through the model together. The completion callback
copies each caller's rows back and wakes it. Callers keep their frames in order because each
waits for its own rows (one call in flight per caller).

Busy time stays honest: a caller's share of a request's time (start to callback, split by rows)
is what it reports as inference; the time it waited for other streams' requests is not busy
time (:class:`SharedModel` books it as waiting, see :class:`WaitingTimer`).

numpy + OpenVINO only.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import numpy as np

from fer_edge.deploy.engine import CompiledModel
from fer_edge.deploy.timers import StageTimer

__all__ = ["InferBatcher", "SharedModel", "WaitingTimer"]


class _Job:
    """One caller's rows (each input's first axis) and, once done, the model's output rows."""

    __slots__ = ("inputs", "rows", "left", "out", "ms", "error", "done")

    def __init__(self, inputs: tuple[np.ndarray, ...]) -> None:
        self.inputs = inputs
        self.rows = self.left = len(inputs[0])
        self.out: np.ndarray | None = None
        self.ms = 0.0
        self.error: BaseException | None = None
        self.done = threading.Event()

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self.done.set()


class InferBatcher:
    """An ``AsyncInferQueue`` over ``model``, fed by any number of threads; batches across them.

    Args:
        model: a model compiled by :func:`fer_edge.deploy.engine.load_model`.
        requests: infer requests in the pool; 0 = the plugin's optimal number for the
            compiled hint (CPU: 1 for ``latency``, one per CPU stream for ``throughput``).
            Measured with ``benchmarks/streams.py`` (8 streams, 2 cores): more requests than
            the plugin runs at once only queue inside it, so 0 is the default.

    Example:
        >>> batcher = InferBatcher(load_model("frame.xml"))  # doctest: +SKIP
        >>> rows, busy_ms = batcher(faces)  # from any thread; blocks until its rows are back
        >>> batcher.close()
    """

    def __init__(self, model: CompiledModel, requests: int = 0) -> None:
        from fer_edge.deploy.ovcompat import AsyncInferQueue

        self.model = model
        # A static batch of one takes each row as its own request (the pool runs them side by side).
        self._one = bool(model.input_shape) and model.input_shape[0] == 1
        self._pool = AsyncInferQueue(model.compiled, requests)
        self._pool.set_callback(self._done)
        self._lock = threading.Lock()
        # Bounded by the callers: each has at most one job in it.
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"fer-edge-infer-{model.path.stem}", daemon=True)
        self._closed = False
        self._thread.start()

    def __len__(self) -> int:
        return len(self._pool)

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, float]:
        """Rows of the first output for ``inputs`` and this call's share of busy milliseconds."""
        if len(inputs) != self.model.num_inputs:
            raise ValueError(f"{self.model.path.name} takes {self.model.num_inputs} inputs, got {len(inputs)}")
        if self._closed:
            raise RuntimeError("InferBatcher is closed")
        job = _Job(tuple(np.ascontiguousarray(x) for x in inputs))
        if job.rows == 0:
            raise ValueError("no rows to infer")
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.out, job.ms

    def close(self) -> None:
        """Finish the requests in flight and stop the batching thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._thread.join()
        self._pool.wait_all()

    def _run(self) -> None:
        ending = False
        while not ending:
            job = self._jobs.get()
            if job is None:
                return
            batch = [job]
            while True:  # everything handed in while the last request ran goes in this one
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    ending = True
                    break
                batch.append(more)
            try:
                self._submit(batch)
            except BaseException as exc:  # noqa: BLE001 - the callers raise it
                for j in batch:
                    if not j.done.is_set():
                        j.fail(exc)

    def _submit(self, batch: list[_Job]) -> None:
        if self._one:
            for job in batch:
                for i in range(job.rows):
                    self._start([x[i:i + 1] for x in job.inputs], [(job, i, 1, 0)])
            return
        units, at = [], 0
        for job in batch:
            units.append((job, 0, job.rows, at))
            at += job.rows
        inputs = [batch[0].inputs[k] if len(batch) == 1 else np.concatenate([j.inputs[k] for j in batch])
                  for k in range(self.model.num_inputs)]
        self._start(inputs, units)

    def _start(self, inputs: list[np.ndarray], units: list) -> None:
        self._pool.get_idle_request_id()  # wait for a free request first: the clock starts when it does
        self._pool.start_async(inputs, (units, time.perf_counter()))

    def _done(self, request: Any, userdata: Any) -> None:
        # Runs on an OpenVINO thread; the request's output is reused by its next start: copy out.
        units, start = userdata
        ms = (time.perf_counter() - start) * 1000.0
        out = request.get_output_tensor(0).data
        total = sum(n for _, _, n, _ in units)
        with self._lock:
            for job, at, n, offset in units:
                if job.out is None:
                    job.out = np.empty((job.rows, *out.shape[1:]), out.dtype)
                job.out[at:at + n] = out[offset:offset + n]
                job.ms += ms * n / total
                job.left -= n
                if job.left == 0:
                    job.done.set()


class WaitingTimer(StageTimer):
    """A stream's :class:`StageTimer` whose ``infer`` samples leave out time spent waiting.

    :class:`fer_edge.deploy.pipeline.Pipeline` times inference as the wall time of its model
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
