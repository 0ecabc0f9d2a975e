"""The IR against its Keras model on the same inputs: the parity that bundles record.

Training (bundles), export and the importer check every IR they write with :func:`check_parity`.
The Keras model is only called: this module imports no TensorFlow.

Example:
    >>> check_parity(keras_model, "bundle/frame.xml", frames).max_abs_diff < 1e-4  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.runtime.engine import compile_f32


@dataclass
class Parity:
    """OpenVINO (f32 hint) vs Keras on the same inputs."""

    max_abs_diff: float
    argmax_agreement: float
    samples: int

    def as_dict(self) -> dict[str, float]:
        return {"max_abs_diff": self.max_abs_diff, "argmax_agreement": self.argmax_agreement, "samples": self.samples}


def check_parity(keras_model: Any, xml: str | os.PathLike, inputs: np.ndarray | Sequence[np.ndarray]) -> Parity:
    """The IR (CPU, f32 hint) against Keras on the same inputs (one array, or one per model input)."""
    feed = [np.ascontiguousarray(x, dtype=np.float32) for x in ([inputs] if isinstance(inputs, np.ndarray) else inputs)]
    compiled = compile_f32(xml)
    got = np.asarray(compiled(feed)[0])
    want = np.asarray(keras_model(feed if len(feed) > 1 else feed[0], training=False))
    return Parity(
        max_abs_diff=float(np.abs(got - want).max()),
        argmax_agreement=float((got.argmax(-1) == want.argmax(-1)).mean()),
        samples=int(len(feed[0])),
    )
