"""Typed training recipes: dataclass configs loaded from YAML, with "did you mean" on typos.

Override order, stated once: **command line (``--set a.b=v``) > recipe file > the defaults
below**. Every section is a dataclass with documented defaults and range checks; a key that
does not exist is a one-line :class:`~fer_edge.core.errors.FerEdgeError` naming the file, the
key and the closest known key. The loading itself (coercion, unknown keys, ``--set``) is
:mod:`fer_edge.core.config`'s, shared with every other stage's config.

Example:
    >>> recipe = load_recipe(None, overrides=["temporal.epochs=3", "name=demo"])
    >>> recipe.temporal.epochs, recipe.name
    (3, 'demo')
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import write_text
from fer_edge.core.config import check as _check
from fer_edge.core.config import dotted_keys, from_dict, parse_override, plain, read_recipe, set_dotted
from fer_edge.core.errors import unknown_choice

# Section 3.3.1 / table 3.6: the mean of the six per-emotion *median* human accuracies on the
# 120 test videos ("happy: 90.63%, ... fear: 34% which yields an average of only 67.81%").
THESIS_HUMAN_ACCURACY = 0.678


@dataclass
class SynthConfig:
    """Generate a synthetic raw dataset (``fer-edge synth``) when ``data.raw`` is missing."""

    subjects: int = 15
    frames: int = 40
    size: tuple[int, int] = (240, 180)  # width, height
    seed: int = 0
    background: str = "plain"

    def __post_init__(self) -> None:
        _check(self.subjects >= 3 and self.frames >= 8, "synth needs subjects >= 3 and frames >= 8")


@dataclass
class SplitConfig:
    """Subject-independent split: ``kfold`` (k folds + a test fraction), ``thesis`` or ``file``."""

    method: str = "kfold"
    k: int = 5
    test: float = 0.2
    seed: int = 0
    file: str | None = None  # JSON {"test": [...], "folds": [[...], ...]} for method "file"

    def __post_init__(self) -> None:
        _check(
            self.method in ("kfold", "thesis", "file"),
            f"split.method must be kfold, thesis or file, got '{self.method}'",
        )
        _check(self.k >= 2, f"split.k must be >= 2, got {self.k}")
        _check(0 <= self.test < 1, f"split.test must be a fraction in [0, 1), got {self.test}")
        _check(self.method != "file" or bool(self.file), "split.method 'file' needs split.file")


@dataclass
class DataConfig:
    """Where the clips come from.

    ``preprocessed`` is a ``fer-edge preprocess`` output folder. When it has no index yet and
    ``raw`` is set, ``raw`` is preprocessed first (with ``preprocess`` options); when ``raw``
    is missing too and ``synth`` is set, a synthetic dataset is generated there first.
    """

    preprocessed: str = "runs/pre"
    raw: str | None = None
    synth: SynthConfig | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)
    split: SplitConfig = field(default_factory=SplitConfig)
    length: int = 100  # T: frames per clip after truncation / zero padding (thesis: 100)
    trimmed: bool = True  # use Algorithm 1's span
    # Algorithm 1's anomalies (maximum in the last 20 frames) were "manually reworked" in the
    # thesis (section 3.2.1): "exclude" leaves the training subjects' anomalies out of the folds
    # and keeps the test subjects' anomalies, used whole (untrimmed), so the test set stays whole
    # (fer_edge.train.data; preprocess lists them under review/); "untrimmed" uses every anomaly
    # whole, in training and test. Only read when ``trimmed`` is true.
    anomalies: str = "exclude"

    def __post_init__(self) -> None:
        _check(self.length >= 1, f"data.length must be >= 1, got {self.length}")
        _check(
            self.anomalies in ("exclude", "untrimmed"),
            f"data.anomalies must be exclude or untrimmed, got '{self.anomalies}'",
        )


@dataclass
class PhaseConfig:
    """One fine-tuning phase: which blocks train, for how long, how fast."""

    epochs: int = 10
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    unfreeze: int = 0  # conv blocks of the base to train: 0 = classifier only, -1 = all
    # Drop rate of the classifier's Dropout layers from this phase on (None = unchanged). Section
    # 3.2.4's phase 3 ("refining") is "re-train it with more regularization ... an increase of
    # drop rate", not a lower learning rate.
    dropout: float | None = None

    def __post_init__(self) -> None:
        _check(self.epochs >= 1 and self.learning_rate > 0, "phase epochs must be >= 1 and learning_rate > 0")
        _check(self.dropout is None or 0 <= self.dropout < 1, f"phase dropout must be in [0, 1), got {self.dropout}")
        _check(self.optimizer in ("adam", "sgd"), f"phase optimizer must be adam or sgd, got '{self.optimizer}'")
        _check(self.unfreeze >= -1, f"phase unfreeze must be >= -1, got {self.unfreeze}")


def _thesis_phases() -> list[PhaseConfig]:
    # Section 3.2.4: classifier on the frozen base (SGD), then the last 2 blocks, then a refinement
    # with more regularisation (a higher drop rate). Epochs and learning rates are not stated there.
    return [
        PhaseConfig(20, 1e-2, "sgd", 0),
        PhaseConfig(20, 1e-4, "adam", 2),
        PhaseConfig(10, 1e-4, "adam", 2, dropout=0.7),
    ]


@dataclass
class TuneConfig:
    """KerasTuner Bayesian search over the classifier (phase 1); ``trials: 0`` switches it off.

    The oracle proposes ``parallel`` trials per round; they run through the recipe's executor
    (``--executor ray``: as Ray tasks at once). The round size, not the executor, shapes the
    search: the same recipe gives the same trials anywhere (:mod:`fer_edge.train.tuning`).
    """

    trials: int = 0
    dense_layers: tuple[int, ...] = (1, 2)
    units: tuple[int, ...] = (256, 512, 1024)
    dropout: tuple[float, float] = (0.2, 0.9)
    epochs: int = 5
    parallel: int = 1  # trials per round of the search (set it to the cluster's free task slots)
    initial: int = 0  # random trials before the Gaussian process (0: KerasTuner's 3 x dimensions)

    def __post_init__(self) -> None:
        _check(self.trials >= 0, f"tune.trials must be >= 0, got {self.trials}")
        _check(
            self.parallel >= 1 and self.initial >= 0,
            f"tune.parallel must be >= 1 and tune.initial >= 0, got {self.parallel}, {self.initial}",
        )


@dataclass
class SpatialConfig:
    """Spatial extractor: a registry model fine-tuned per phase, or an existing ``.keras``."""

    model: str = "vggface_vgg16"
    options: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None  # a trained .keras file: skip training and use it
    source: str = "clips"  # "clips": frames of the training subjects; "fer2013": a FER2013 copy
    fer2013: str | None = None
    frames_per_clip: int = 8  # frames sampled per training clip (source clips)
    batch_size: int = 32
    phases: list[PhaseConfig] = field(default_factory=_thesis_phases)
    online_augmentation: bool = True
    early_stopping: int = 5  # patience on validation accuracy (0 = off)
    validation: float = 0.1  # fraction held out (by subject for clips)
    tune: TuneConfig = field(default_factory=TuneConfig)
    frame_bundle: bool = True  # also save the classifier as a per-frame bundle

    def __post_init__(self) -> None:
        _check(self.source in ("clips", "fer2013"), f"spatial.source must be clips or fer2013, got '{self.source}'")
        _check(
            self.source != "fer2013" or bool(self.fer2013),
            "spatial.source fer2013 needs spatial.fer2013 (CSV or folder)",
        )
        _check(
            self.frames_per_clip >= 1 and self.batch_size >= 1, "spatial frames_per_clip and batch_size must be >= 1"
        )
        _check(bool(self.phases), "spatial.phases needs at least one phase")
        _check(0 <= self.validation < 1, f"spatial.validation must be in [0, 1), got {self.validation}")


@dataclass
class ExtractConfig:
    """Feature extraction into the store: layer, offline copies, batching, backend."""

    layer: str = "flatten"
    augment: list[str] = field(default_factory=list)  # names of fer_edge.data.augment.OFFLINE
    batch_size: int = 64
    backend: str = "openvino"  # "openvino" (f32, fastest on CPU) or "keras"
    dtype: str = "float16"

    def __post_init__(self) -> None:
        from fer_edge.data.augment import OFFLINE

        for name in self.augment:
            if name not in OFFLINE:
                raise unknown_choice("extract.augment", name, OFFLINE)
        _check(
            self.backend in ("openvino", "keras"), f"extract.backend must be openvino or keras, got '{self.backend}'"
        )
        _check(self.dtype in ("float16", "float32"), f"extract.dtype must be float16 or float32, got '{self.dtype}'")
        _check(self.batch_size >= 1, "extract.batch_size must be >= 1")


@dataclass
class TemporalConfig:
    """Cross-validated training of a temporal head (section 3.2.4: Adam 1e-4, batch 32, 40 epochs)."""

    model: str = "cnn1d"
    options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-4
    augmented: bool = True  # add the offline copies of the training folds

    def __post_init__(self) -> None:
        _check(
            self.epochs >= 1 and self.batch_size >= 1 and self.learning_rate > 0,
            "temporal epochs and batch_size must be >= 1 and learning_rate > 0",
        )


@dataclass
class ClipConfig:
    """Clip models (C3D / ConvLSTM) on raw clips through a bounded-memory generator."""

    model: str = "c3d"
    options: dict[str, Any] = field(default_factory=dict)
    size: int = 160
    epochs: int = 20
    batch_size: int = 16
    learning_rate: float = 1e-4
    online_augmentation: bool = False

    def __post_init__(self) -> None:
        _check(
            self.size >= 8 and self.epochs >= 1 and self.batch_size >= 1 and self.learning_rate > 0,
            "clip size >= 8, epochs and batch_size >= 1, learning_rate > 0",
        )


@dataclass
class FinalizeConfig:
    """The final model: early-stopping epochs per fold, their mean, one run on all training data.

    ``separate_runs: true`` is the thesis' protocol (section 3.2.4, "Final model"): every fold
    is re-run with EarlyStopping (``patience``) and ReduceLROnPlateau (``reduce_lr_factor``
    after ``reduce_lr_patience`` epochs), and the final fit on all training data uses the same
    learning-rate schedule. ``false`` reads the stop epochs off the fixed-LR CV logs instead
    (cheaper; the ``reduce_lr_*`` keys are then not read).
    """

    patience: int = 10
    separate_runs: bool = False
    reduce_lr_factor: float = 0.5
    reduce_lr_patience: int = 5

    def __post_init__(self) -> None:
        _check(self.patience >= 1, f"finalize.patience must be >= 1, got {self.patience}")
        _check(0 < self.reduce_lr_factor <= 1, "finalize.reduce_lr_factor must be in (0, 1]")


@dataclass
class WindowConfig:
    """Runtime window of the saved bundle (length = the training T)."""

    stride: int = 5
    min_frames: int = 16

    def __post_init__(self) -> None:
        _check(self.stride >= 1 and self.min_frames >= 1, "window stride and min_frames must be >= 1")


@dataclass
class FusionConfig:
    """Late fusion of bundles or prediction files (equations 3.1-3.3)."""

    members: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: ["average", "weighted", "max"])
    subset: str | None = None  # the row of table 3.7 it reproduces, e.g. "1D-CNN + C3D"

    def __post_init__(self) -> None:
        from fer_edge.train.thesis_tables import TABLE_3_7

        if self.subset is not None and self.subset not in TABLE_3_7:
            raise unknown_choice("fusion.subset (a row of table 3.7)", self.subset, TABLE_3_7)


@dataclass
class ThesisConfig:
    """What a thesis recipe reproduces: its table 3.4/3.6 row, and where it had to assume.

    ``assumptions`` lists every choice the thesis does not state, each as
    ``"CHOICE (thesis says: PASSAGE)"``; the protocol card prints them before training.
    """

    row: str | None = None  # a row of table 3.6 ("VGGFace + 1D-CNN") or, for train spatial, 3.4 ("VGG16")
    assumptions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from fer_edge.train.thesis_tables import TABLE_3_4, TABLE_3_6

        if self.row is not None and self.row not in TABLE_3_6 and self.row not in TABLE_3_4:
            raise unknown_choice("thesis.row (a row of table 3.4 or 3.6)", self.row, [*TABLE_3_4, *TABLE_3_6])
        from fer_edge.train.thesis_passages import ASSUMPTION_FORMAT, split_assumption

        for text in self.assumptions:
            # The card prints each next to the passage it interprets: an assumption without one is silent.
            _check(
                split_assumption(str(text)) is not None,
                f"thesis.assumptions: '{text}' names no thesis passage; write it as '{ASSUMPTION_FORMAT}'",
            )


@dataclass
class Recipe:
    """A whole experiment. A key the verb does not read is refused (:mod:`fer_edge.train.usage`)."""

    name: str = "experiment"
    out: str = "runs/experiment"
    seed: int = 0
    labels: str | list[str] = "thesis"
    reference_accuracy: float = THESIS_HUMAN_ACCURACY
    executor: str = "local"  # local | ray | ray=auto | ray=HOST:PORT (fer_edge.cluster)
    data: DataConfig = field(default_factory=DataConfig)
    spatial: SpatialConfig = field(default_factory=SpatialConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    finalize: FinalizeConfig = field(default_factory=FinalizeConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    thesis: ThesisConfig = field(default_factory=ThesisConfig)

    @property
    def label_names(self) -> tuple[str, ...]:
        from fer_edge.core.labels import get_labels

        return tuple(get_labels(self.labels))

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready form (saved next to every run as ``recipe.yaml``)."""
        return plain(dataclasses.asdict(self))


def load_recipe(
    path: str | os.PathLike | None,
    *,
    overrides: list[str] | dict[str, Any] | None = None,
) -> Recipe:
    """Read a YAML recipe (or the defaults when ``path`` is None) and apply overrides.

    Args:
        path: recipe file; ``None`` starts from the defaults.
        overrides: ``["section.key=value", ...]`` or ``{"section.key": value}`` (CLI wins).

    Raises:
        FerEdgeError: missing/unreadable file, unknown key (did-you-mean), bad value.

    Example:
        >>> load_recipe("train/synthetic.yaml").temporal.model  # doctest: +SKIP
        'cnn1d'
    """

    data: dict[str, Any] = read_recipe(path, see="train/*.yaml") if path is not None else {}
    source = "defaults" if path is None else str(path)
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides or [])
    for key, value in items:
        set_dotted(data, key, value)
        source = f"{source} (+ --set)" if "--set" not in source else source
    recipe = from_dict(Recipe, data, source=source)
    # Which keys the file and --set spelled out: fer_edge.train.usage refuses those a verb never reads.
    recipe.given = (source, sorted(dotted_keys(data)))
    return recipe


def save_recipe(recipe: Recipe, path: str | os.PathLike, *, verb: str | None = None) -> Path:
    """Write the effective recipe (after overrides) as YAML, atomically; with ``verb``, only the
    keys that verb reads (:func:`fer_edge.train.usage.read_dict`), so the file runs again as it is."""
    import yaml

    if verb is None:
        tree = recipe.to_dict()
    else:
        from fer_edge.train.usage import read_dict

        tree = read_dict(recipe, verb)
    return write_text(path, yaml.safe_dump(tree, sort_keys=False))
