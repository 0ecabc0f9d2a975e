"""Knowledge distillation into a compact registry student (Hinton et al.; NNCF 3.x dropped it).

Loss per item, with teacher/student class probabilities ``p_t``/``p_s`` softened by ``T``::

    alpha * T^2 * KL(softmax(log p_t / T) || softmax(log p_s / T)) + (1 - alpha) * CE(y, p_s)

``log p`` equals the logits up to a constant, which softmax ignores, so models ending in
softmax distil exactly. Items without a label contribute the KL term only.

Kept here (not in ``fer_edge/train``) because it is an optimization of an existing bundle: it
starts from the bundle's models and data and ends in a bundle, like pruning.

* ``frame`` bundles: the student classifier learns the teacher's per-frame soft targets.
* ``cascade`` bundles (the whole cascade): the teacher's temporal head holds ~98 % of the
  parameters (its first Conv1D sees every flatten feature), so the student cascade keeps the
  teacher's tiny conv base, average-pools its last map (``pool``, fewer features) and trains a
  narrow relative 1D-CNN head on the teacher cascade's clip scores. (Training a registry backbone
  through the frozen 2304-feature head was 538x bigger than the teacher's base and stayed at chance.)

Example:
    >>> result = distill_bundle(bundle, data, "student", epochs=10,
    ...                         options={"width": 0.25})  # doctest: +SKIP
    >>> result.params_student < result.params_teacher  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_edge.core.errors import FerEdgeError, unknown_choice

log = logging.getLogger(__name__)
_EPS = 1e-7


def distillation_loss(temperature: float = 4.0, alpha: float = 0.7):
    """A Keras loss ``(y_true, y_pred)``; ``y_true`` = ``[one-hot label (C), teacher probs (C)]``.

    Example:
        >>> model.compile("adam", loss=distillation_loss(4.0, 0.7))  # doctest: +SKIP
    """
    from keras import ops

    t = float(temperature)

    def loss(y_true, y_pred):
        c = ops.shape(y_pred)[-1]
        onehot, teacher = y_true[..., :c], y_true[..., c:]
        log_s = ops.log(ops.clip(y_pred, _EPS, 1.0))
        log_t = ops.log(ops.clip(teacher, _EPS, 1.0))
        soft_t = ops.softmax(log_t / t, axis=-1)
        log_soft_s = ops.log_softmax(log_s / t, axis=-1)
        kl = ops.sum(soft_t * (ops.log(ops.clip(soft_t, _EPS, 1.0)) - log_soft_s), axis=-1)
        ce = -ops.sum(onehot * log_s, axis=-1)
        return alpha * t * t * kl + (1.0 - alpha) * ce

    loss.__name__ = "distillation_loss"
    return loss


def distillation_loss_np(
    onehot: np.ndarray, teacher: np.ndarray, student: np.ndarray, temperature: float = 4.0, alpha: float = 0.7
) -> np.ndarray:
    """The same loss in numpy (reference for tests and reports)."""

    def soft(p):
        z = np.log(np.clip(p, _EPS, 1.0)) / temperature
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    st, ss = soft(teacher), soft(student)
    kl = (st * (np.log(np.clip(st, _EPS, 1)) - np.log(np.clip(ss, _EPS, 1)))).sum(-1)
    ce = -(onehot * np.log(np.clip(student, _EPS, 1.0))).sum(-1)
    return alpha * temperature**2 * kl + (1 - alpha) * ce


@dataclass
class DistillResult:
    """The student's Keras models per role and how it compares with the teacher."""

    models: dict[str, Any]
    student: str
    params_teacher: int
    params_student: int
    history: list[float] = field(default_factory=list)

    def describe(self) -> str:
        ratio = self.params_student / max(1, self.params_teacher)
        return f"params {self.params_teacher:,} -> {self.params_student:,} ({ratio:.2f}x)"


def _student(name: str, input_shape: tuple, num_classes: int | None, options: dict, kind: str):
    from fer_edge.models import create_model, get_model_spec

    spec = get_model_spec(name)
    if spec.role not in ("spatial", "frame"):
        raise FerEdgeError(
            f"student '{name}' is a {spec.role} model; the teacher's {kind} model takes images "
            f"{tuple(input_shape)}: pick a spatial/frame model such as 'student'"
        )
    opts = {"input_shape": tuple(input_shape), "num_classes": num_classes, **options}
    model = create_model(name, **opts)
    got = tuple(int(d) for d in model.inputs[0].shape[1:])
    if got != tuple(input_shape):
        raise FerEdgeError(
            f"student '{name}' takes {got}, the teacher {tuple(input_shape)}; drop input_shape from the student options"
        )
    return model


def _wrap(student: Any, bundle: Any, input_shape: tuple, name: str, features: int | None = None):
    """Teacher-compatible student: bundle-normalised input -> raw 0..255 pixels -> student.

    Registry students normalise RGB 0..255 inside; a ``Rescaling`` undoes the manifest's
    ``(x/255 - mean)/std`` so the student takes exactly the teacher's inputs.
    """
    import keras

    std = np.asarray(bundle.frame.std, np.float32)
    mean = np.asarray(bundle.frame.mean, np.float32)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(scale=(255.0 * std).tolist(), offset=(255.0 * mean).tolist(), name="to_pixels")(inputs)
    x = student(x)
    if features is not None:
        x = keras.layers.Dense(features, activation="relu", name="features")(x)
    return keras.Model(inputs, x, name=name)


def distill_bundle(
    bundle: Any,
    data: Any,
    student: str,
    *,
    epochs: int = 10,
    temperature: float = 4.0,
    alpha: float = 0.7,
    seed: int = 0,
    options: dict | None = None,
    batch_size: int = 32,
) -> DistillResult:
    """Train ``student`` on the teacher bundle's soft targets (and labels where present).

    Args:
        bundle: teacher bundle (``frame`` or ``cascade``), with ``.keras`` models.
        data: :class:`~fer_edge.optimize.calibration.CalibrationData` (training clips).
        student: registry name of a spatial/frame model (e.g. ``student``).
        epochs, temperature, alpha, seed, batch_size: training settings.
        options: student factory options (e.g. ``{"width": 0.5}``).

    Raises:
        FerEdgeError: a clip bundle, a student of the wrong kind or input size.
    """
    import keras

    from fer_edge.models import load_keras_model
    from fer_edge.optimize.quantize import compile_f32
    from fer_edge.runtime.kinds import kind_of

    options = dict(options or {})
    kind = kind_of(bundle)
    if kind.frame_role is None:
        raise FerEdgeError(
            f"distillation needs a frame or cascade bundle ({kind.name} models have no spatial part); "
            f"use --prune for {kind.name} models"
        )
    role = kind.frame_role
    teacher_keras = load_keras_model(bundle.path / bundle.models[role].keras) if bundle.models[role].keras else None
    if teacher_keras is None:
        raise FerEdgeError(f"bundle {bundle.path} has no Keras {role} model to compare the student with")
    shape = tuple(int(d) for d in teacher_keras.inputs[0].shape[1:])
    keras.utils.set_random_seed(seed)
    n = len(bundle.labels)
    from fer_edge.runtime.engine import core

    teacher_ir = {r: compile_f32(core().read_model(str(bundle.model_path(r, "FP32")))) for r in bundle.models}
    loss = distillation_loss(temperature, alpha)
    if kind.head_role is None:  # the frame model gives the scores: distil them frame by frame
        net = _wrap(_student(student, shape, n, options, role), bundle, shape, f"{student}_distilled")
        frames, labels = [], []
        for i, clip in enumerate(data.clips):
            frames.append(clip)
            labels += [data.labels[i] if data.labels is not None else -1] * len(clip)
        x = np.concatenate(frames)
        teacher = np.concatenate([np.asarray(teacher_ir[role]([x[i : i + 256]])[0]) for i in range(0, len(x), 256)])
        train = net
    else:
        from fer_edge.models import get_model_spec

        if get_model_spec(student).role not in ("spatial", "frame"):
            raise FerEdgeError(
                f"student '{student}' is a {get_model_spec(student).role} model; the teacher's "
                f"spatial model takes images {shape}: pick a spatial model such as 'student'"
            )
        return _distill_cascade(
            bundle, data, teacher_keras, teacher_ir, loss, epochs=epochs, seed=seed, options=options, name=student
        )
    onehot = np.zeros((len(labels), n), np.float32)
    for i, y in enumerate(labels):
        if y >= 0:
            onehot[i, y] = 1.0
    train.compile(optimizer=keras.optimizers.Adam(2e-3), loss=loss)
    hist = train.fit(
        x,
        np.concatenate([onehot, teacher], -1).astype(np.float32),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
    )
    return DistillResult(
        {role: net},
        student,
        int(teacher_keras.count_params()),
        int(net.count_params()),
        [float(v) for v in hist.history["loss"]],
    )


# Feature-window passes per requested epoch: the cascade head trains on cached features
# (seconds per pass), so one "epoch" of the CLI is this many passes.
HEAD_PASSES_PER_EPOCH = 8


def _pooled_spatial(teacher: Any, pool: int, name: str):
    """The teacher's conv base, its last feature map average-pooled ``pool`` x ``pool``, flattened.

    The teacher's base is tiny; its flatten features are what makes the temporal head big
    (F x 3 x filters weights in the first Conv1D), so pooling the map shrinks the head ~pool^2.
    """
    import keras

    names = [lyr.name for lyr in teacher.layers]
    if "flatten" not in names:
        raise FerEdgeError(
            f"teacher spatial model '{teacher.name}' has no 'flatten' layer to pool; "
            "distil a cascade whose spatial model ends in flatten features"
        )
    fmap = teacher.get_layer("flatten").input
    if len(fmap.shape) != 4:
        raise FerEdgeError(
            f"teacher features come from a {len(fmap.shape) - 1}-D map, not an image map; cannot pool it for a student"
        )
    h, w = int(fmap.shape[1]), int(fmap.shape[2])
    if pool < 1 or h % pool or w % pool:
        raise FerEdgeError(
            f"student pool {pool} must divide the teacher's {h}x{w} feature map; try pool 1, 2 or a divisor of {h}"
        )
    x = keras.layers.AveragePooling2D(pool, name="student_pool")(fmap) if pool > 1 else fmap
    x = keras.layers.Flatten(name="student_features")(x)
    return keras.Model(teacher.inputs, x, name=name)


def _distill_cascade(
    bundle: Any,
    data: Any,
    teacher_keras: Any,
    teacher_ir: dict,
    loss,
    *,
    epochs: int,
    seed: int,
    options: dict,
    name: str,
) -> DistillResult:
    """Compact cascade: teacher base + pooled features, and a narrow relative 1D-CNN head.

    The head learns the teacher cascade's clip scores (and labels) from cached pooled features.
    Options: ``pool`` (2), ``filters`` ((16, 16, 32, 32)), ``learning_rate`` (1e-3),
    ``batch_size`` (16), ``dropout`` (0.3).
    """
    import keras

    from fer_edge.models.temporal import cnn1d_head
    from fer_edge.optimize.quantize import compile_f32
    from fer_edge.optimize.validation import scores
    from fer_edge.runtime.kinds import kind_of
    from fer_edge.runtime.windows import pad_window

    known = {"pool", "filters", "learning_rate", "batch_size", "dropout"}
    for key in options:
        if key not in known:
            raise unknown_choice("cascade student option", key, sorted(known))
    from fer_edge.models import load_keras_model

    teacher_head = load_keras_model(bundle.path / bundle.models["temporal"].keras)
    relative = any(lyr.name == "relative_features" for lyr in teacher_head.layers)
    ref = next((int(getattr(lyr, "frames", 3)) for lyr in teacher_head.layers if lyr.name == "relative_features"), 3)
    length = bundle.window.length
    spatial = _pooled_spatial(teacher_keras, int(options.get("pool", 2)), f"{name}_spatial")
    spatial_ir = compile_f32(_to_ov(spatial))
    pairs = [pad_window(np.asarray(spatial_ir([c[:length]])[0]), length) for c in data.clips]
    feats = np.stack([f for f, _ in pairs]).astype(np.float32)
    masks = np.stack([m for _, m in pairs]).astype(np.float32)
    teacher = np.stack([scores(kind_of(bundle), teacher_ir, c, length) for c in data.clips]).astype(np.float32)
    n = len(bundle.labels)
    onehot = np.zeros((len(data.clips), n), np.float32)
    for i, y in enumerate(data.labels if data.labels is not None else [-1] * len(data.clips)):
        if y >= 0:
            onehot[i, y] = 1.0
    keras.utils.set_random_seed(seed)
    head = cnn1d_head(
        timesteps=length,
        features=int(feats.shape[-1]),
        num_classes=n,
        filters=tuple(int(f) for f in options.get("filters", (16, 16, 32, 32))),
        pooling="max",
        relative=relative,
        reference_frames=ref,
        dropout=float(options.get("dropout", 0.3)),
        name=f"{name}_temporal",
    )
    head.compile(optimizer=keras.optimizers.Adam(float(options.get("learning_rate", 1e-3))), loss=loss)
    hist = head.fit(
        [feats, masks],
        np.concatenate([onehot, teacher], -1),
        epochs=epochs * HEAD_PASSES_PER_EPOCH,
        batch_size=int(options.get("batch_size", 16)),
        shuffle=True,
        verbose=0,
    )
    params_teacher = int(teacher_keras.count_params()) + int(teacher_head.count_params())
    params_student = int(spatial.count_params()) + int(head.count_params())
    log.info(
        "distilled cascade: spatial %d -> %d params, head %d -> %d",
        teacher_keras.count_params(),
        spatial.count_params(),
        teacher_head.count_params(),
        head.count_params(),
    )
    return DistillResult(
        {"spatial": spatial, "temporal": head},
        name,
        params_teacher,
        params_student,
        [float(v) for v in hist.history["loss"]],
    )


def _to_ov(model: Any):
    from fer_edge.convert.keras import to_openvino

    return to_openvino(model)
