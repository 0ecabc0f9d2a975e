"""The protocol card: what a training run is about to do, side by side with the thesis.

Before any training, ``fer-edge train`` prints and stores (``<out>/protocol.json`` and
``protocol.md``) one line per choice that decides whether a run reproduces chapter 3: split,
input size, feature size, spatial weights (file + sha256), trimming signal, anomalies,
augmentation copies, epochs and learning-rate schedule, and the final-model rule, each with
the thesis' value and section where the thesis states one. Lines that differ from the thesis
are marked; every assumption (what the thesis does not state) is listed. After the test
evaluation, :func:`table_3_6_line` prints the thesis' table 3.6 row next to the measured one.

Example:
    >>> from fer_edge.train.config import load_recipe
    >>> card = protocol_card(load_recipe("train/vggface_1dcnn.yaml"), stage="temporal")  # doctest: +SKIP
    >>> card.get("input size").value  # doctest: +SKIP
    '224x224'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fer_edge.core.assets import sha256
from fer_edge.core.atomic import write_text
from fer_edge.train.thesis_tables import TABLE_3_6

# Section 3.2.4, "Final model": the folds' early-stopping epochs and the final run's 11 epochs.
THESIS_FOLD_EPOCHS = (9, 22, 4, 4, 16)
THESIS_INPUT = 224  # "The last max pooling layer has dimension of 7x7x512" (section 3.2.4)
THESIS_FEATURES = 25088  # "which results in 25088 features after flattening"
# Offline copies per row (section 3.3.2: "9 times" for LSTM, "3 times" for BiLSTM).
THESIS_COPIES = {"VGGFace + LSTM": 9, "VGGFace + BiLSTM": 3}

# What the code itself assumes wherever the thesis is silent (recipes add their own).
CODE_ASSUMPTIONS = {
    "final_lr": "the final fit has no validation set, so its ReduceLROnPlateau watches training accuracy "
    "(section 3.2.4 says only 'if accuracy does not improve after 5 epochs')",
    "stop_epoch": "a fold's stop epoch is the epoch of its best validation accuracy (the weights "
    "EarlyStopping keeps), as the 'Final model' table lists max accuracy with its epoch",
    "rounding": "mean stop epoch rounded half up (9, 22, 4, 4, 16 -> 11; the thesis does not say how it rounds)",
    "anomalies": "Algorithm 1's anomalies were reworked by hand in the thesis; here they are left out of the "
    "folds and kept whole in the test set",
}


@dataclass
class CardLine:
    """One item: the run's value, the thesis' value (None: not stated) and whether they agree."""

    item: str
    value: str
    thesis: str | None = None
    where: str = ""
    matches: bool | None = None


@dataclass
class ProtocolCard:
    """The card of one run."""

    title: str
    lines: list[CardLine] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def add(
        self, item: str, value: Any, thesis: Any = None, where: str = "", matches: bool | None | str = "auto"
    ) -> None:
        """One line; ``matches`` "auto" compares value and thesis as text, None means not comparable."""
        if matches == "auto":
            matches = None if thesis is None else str(value) == str(thesis)
        self.lines.append(CardLine(item, str(value), None if thesis is None else str(thesis), where, matches))

    def get(self, item: str) -> CardLine:
        return next(line for line in self.lines if line.item == item)

    @property
    def deviations(self) -> list[CardLine]:
        return [line for line in self.lines if line.matches is False]

    def describe(self) -> str:
        rows = [f"protocol card: {self.title}"]
        for line in self.lines:
            mark = {True: "= thesis", False: "DIFFERS from thesis", None: "thesis"}[line.matches]
            thesis = (
                f"  [{mark}: {line.thesis}, {line.where}]"
                if line.thesis is not None
                else (f"  [{line.where}]" if line.where else "")
            )
            rows.append(f"  {line.item}: {line.value}{thesis}")
        if self.assumptions:
            rows.append("  assumptions (the thesis is silent):")
            rows += [f"    - {a}" for a in self.assumptions]
        if self.deviations:
            rows.append(
                f"  {len(self.deviations)} item(s) differ from the thesis: "
                + ", ".join(line.item for line in self.deviations)
            )
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {"title": self.title, "lines": [asdict(line) for line in self.lines], "assumptions": self.assumptions}

    def write(self, folder: str | os.PathLike) -> dict[str, str]:
        """``protocol.json`` and ``protocol.md`` in ``folder``, atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, text in (
            ("protocol.json", json.dumps(self.to_dict(), indent=1) + "\n"),
            ("protocol.md", "```\n" + self.describe() + "\n```\n"),
        ):
            write_text(folder / name, text)
            files[name.replace(".", "_")] = str(folder / name)
        return files


def _weights(path: str | None) -> str:
    if not path or path == "random":
        return "random initialisation" if path == "random" else "not set"
    if path == "imagenet":
        return "imagenet (Keras cache)"
    if not Path(path).is_file():
        return f"{path} (missing)"
    return f"{path} sha256 {sha256(path)}"


def _started_from(model_path: str) -> str:
    """What ``fer-edge train spatial`` recorded next to the model about its starting weights."""
    try:
        result = json.loads((Path(model_path).parent / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown (no result.json next to the model)"
    backbone = result.get("backbone") or {}
    if not backbone:
        return "unknown (made before fer-edge recorded it)"
    sha = f" sha256 {backbone['sha256']}" if backbone.get("sha256") else ""
    return f"{backbone.get('weights')}{sha}"


def _ranges(ids: list[str]) -> str:
    """``F011 F012 F013 F015`` -> ``F011-F013, F015``."""
    out: list[str] = []
    run: list[str] = []
    for sid in ids:
        if run and sid[0] == run[-1][0] and int(sid[1:]) == int(run[-1][1:]) + 1:
            run.append(sid)
            continue
        if run:
            out.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [sid]
    if run:
        out.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(out)


def _split_text(split: dict) -> str:
    folds = " | ".join(_ranges(f) for f in split["folds"])
    return f"test {_ranges(split.get('test') or [])}; folds {folds}"


def _data_lines(card: ProtocolCard, recipe, data) -> None:
    from fer_edge.data import splits
    from fer_edge.data.openface import LEFT_OUT

    thesis = _split_text(splits.thesis_split())
    thesis_method = recipe.data.split.method == "thesis"
    split = data.split if data is not None else (splits.thesis_split() if thesis_method else None)
    value = _split_text(split) if split else f"{recipe.data.split.method} (k={recipe.data.split.k}, made from the data)"
    card.add("split", value, thesis, "figure 3.6", matches=recipe.data.split.method == "thesis")
    exclude = list(recipe.data.preprocess.get("exclude") or [])
    if data is not None:
        subjects = {r["subject"] for r in data.records}
        exclude = [s for s in exclude if s not in subjects] or ["none"]
    card.add("subjects left out", ", ".join(exclude) or "none", "F016", "section 3.1")
    opts = recipe.data.preprocess
    signal = opts.get("intensity") or ("openface" if opts.get("au_dir") else "flow")
    if signal == "openface":
        value = f"mean OpenFace AUxx_r without {', '.join(c.split('_')[0] for c in LEFT_OUT)} ({opts.get('au_dir')})"
    else:
        value = f"built-in '{signal}' estimate"
    if data is not None:
        sources = sorted({str(r.get("intensity_source")) for r in data.records})
        value += f"; clips trimmed on: {', '.join(sources)}"
    card.add(
        "trimming signal",
        value if recipe.data.trimmed else "none (data.trimmed: false)",
        "mean OpenFace AUxx_r without AU45, Algorithm 1",
        "section 3.2.1",
        matches=recipe.data.trimmed and signal == "openface",
    )
    card.add(
        "anomalies",
        recipe.data.anomalies if recipe.data.trimmed else "used whole (untrimmed)",
        "reworked by hand",
        "section 3.2.1",
        matches=None,
    )
    card.add("frames per clip (T)", recipe.data.length, 100, "section 3.2.3")


def protocol_card(
    recipe, *, stage: str, data=None, input_size: int | None = None, features: int | None = None
) -> ProtocolCard:
    """The card of ``recipe`` for training stage ``stage`` (``spatial``, ``temporal`` or ``clip``).

    Args:
        recipe: the effective recipe.
        stage: the training verb.
        data: the prepared :class:`~fer_edge.data.clipset.ClipSet`, when there is one (actual split,
            subjects and trimming sources); without it the card says what the recipe asks for.
        input_size, features: the spatial extractor's actual input side and feature count; without
            them they come from the recipe (``spatial.options.input_shape``) and the backbone.
    """
    from fer_edge.models.spatial import flatten_features
    from fer_edge.train.crossval import finalize_epochs

    row = recipe.thesis.row
    table = "3.6" if row in TABLE_3_6 else "3.4"
    card = ProtocolCard(f"{recipe.name} (train {stage})" + (f", thesis table {table} row '{row}'" if row else ""))
    if not (stage == "spatial" and recipe.spatial.source == "fer2013"):  # FER2013 runs don't train on BU-4DFE
        _data_lines(card, recipe, data)
    fin = recipe.finalize
    if stage in ("spatial", "temporal"):
        sp = recipe.spatial
        shape = sp.options.get("input_shape") or (160, 160, 3)
        size = input_size or int(shape[0])
        card.add("input size", f"{size}x{size}", f"{THESIS_INPUT}x{THESIS_INPUT}", "section 3.2.4 (7x7x512 flatten)")
        card.add("backbone", sp.model, "vggface_vgg16", "table 3.4, section 3.3.2")
        if stage == "spatial" or not sp.weights:
            card.add(
                "backbone weights",
                _weights(sp.options.get("weights")),
                "keras-vggface VGGFace (face recognition)",
                "section 3.2.4",
                matches=None,
            )
        if stage == "spatial":
            phases = "; ".join(
                f"{p.epochs} ep {p.optimizer} lr {p.learning_rate:g} unfreeze {p.unfreeze}"
                + (f" dropout {p.dropout}" if p.dropout is not None else "")
                for p in sp.phases
            )
            card.add("fine-tuning data", sp.source, "fer2013", "section 3.2.4")
            card.add(
                "fine-tuning phases",
                phases,
                "classifier (SGD) -> last 2 blocks -> more regularisation",
                "section 3.2.4",
                matches=None,
            )
            card.add(
                "classifier search",
                f"{sp.tune.trials} KerasTuner trials",
                "20 trials (Bayesian)",
                "section 3.2.4",
                matches=sp.tune.trials == 20,
            )
    if stage == "temporal":
        sp = recipe.spatial
        card.add(
            "spatial extractor",
            _weights(sp.weights) if sp.weights else "fine-tuned in this run",
            "VGGFace fine-tuned on FER2013",
            "section 3.3.2",
            matches=None,
        )
        if sp.weights:
            card.add(
                "extractor's starting weights",
                _started_from(sp.weights),
                "keras-vggface VGGFace (face recognition)",
                "section 3.2.4",
                matches=None,
            )
        feats = features or flatten_features(sp.model, size)
        card.add("features", f"{recipe.extract.layer} {feats}", f"flatten {THESIS_FEATURES}", "section 3.2.4")
        copies = list(recipe.extract.augment) if recipe.temporal.augmented else []
        card.add(
            "augmentation copies",
            f"{len(copies)}: {', '.join(copies) or 'none'}",
            THESIS_COPIES.get(row),
            "section 3.3.2",
            matches=(len(copies) == THESIS_COPIES[row]) if row in THESIS_COPIES else None,
        )
        t = recipe.temporal
        card.add("head", f"{t.model} {json.dumps(t.options, sort_keys=True)}", None, "section 3.3.2")
        card.add(
            "cross-validation",
            f"Adam lr {t.learning_rate:g} fixed, batch {t.batch_size}, {t.epochs} epochs",
            "Adam lr 0.0001 fixed, batch 32, 40 epochs",
            "section 3.2.4",
        )
    if stage == "clip":
        c = recipe.clip
        card.add("input size", f"{recipe.data.length}x{c.size}x{c.size}x3", "100x160x160x3", "section 3.2.5")
        card.add(
            "cross-validation",
            f"Adam lr {c.learning_rate:g} fixed, batch {c.batch_size}, {c.epochs} epochs",
            None,
            "section 3.2.5",
        )
    if stage in ("temporal", "clip"):
        if fin.separate_runs:
            value = (
                f"each fold re-run with EarlyStopping(patience {fin.patience}) + "
                f"ReduceLROnPlateau(x{fin.reduce_lr_factor:g} after {fin.reduce_lr_patience}); "
                "final fit on all training data, same LR schedule"
            )
        else:
            value = f"stop epochs read off the fixed-LR CV logs (patience {fin.patience}); final fit at a fixed LR"
        card.add(
            "final model",
            value,
            "each fold re-run with EarlyStopping(patience 10) + ReduceLROnPlateau(x0.5 after 5); "
            "final fit on all training data, same LR schedule",
            "section 3.2.4 'Final model'",
        )
        rule = finalize_epochs(THESIS_FOLD_EPOCHS)
        card.add(
            "final epochs rule",
            f"mean of the folds' stop epochs: {', '.join(map(str, THESIS_FOLD_EPOCHS))} -> {rule}",
            f"{', '.join(map(str, THESIS_FOLD_EPOCHS))} -> 11",
            "section 3.2.4 'Final model'",
            matches=rule == 11,
        )
    if row in TABLE_3_6:
        card.add("thesis test accuracy", f"{100 * TABLE_3_6[row]:.1f} %", None, "table 3.6")
    card.assumptions = list(recipe.thesis.assumptions)
    if stage in ("temporal", "clip"):
        keys = ["stop_epoch", "rounding"] + (["final_lr"] if fin.separate_runs else [])
        keys += ["anomalies"] if recipe.data.trimmed and recipe.data.anomalies == "exclude" else []
        card.assumptions += [CODE_ASSUMPTIONS[k] for k in keys]
    return card


def table_3_6_line(recipe, measured: float | None) -> str | None:
    """The thesis' table 3.6 row next to the measured test accuracy (None without a row).

    Example:
        >>> from fer_edge.train.config import load_recipe
        >>> table_3_6_line(load_recipe(None, overrides=["thesis.row=VGGFace + 1D-CNN"]), 0.6)
        'table 3.6, VGGFace + 1D-CNN: thesis 65.0 % | measured 60.0 % (-5.0 points) | human ground truth 67.8 %'
    """
    row = recipe.thesis.row
    if row not in TABLE_3_6 or measured is None:
        return None
    diff = 100 * (measured - TABLE_3_6[row])
    return (
        f"table 3.6, {row}: thesis {100 * TABLE_3_6[row]:.1f} % | measured {100 * measured:.1f} % "
        f"({diff:+.1f} points) | human ground truth {100 * TABLE_3_6['Human ground truth']:.1f} %"
    )


def fusion_card(
    title: str,
    *,
    members: list[tuple[str, float | None]],
    methods: list[str],
    split: str,
    subset: str | None = None,
    weights_given: bool = False,
) -> ProtocolCard:
    """The card of ``fer-edge fuse``: members, methods, the weights W_i and what is scored.

    Example:
        >>> card = fusion_card("f", members=[("a", 0.6), ("b", 0.5)], methods=["average"], split="test")
        >>> card.get("scored on").matches
        True
    """
    from fer_edge.train.fusion import METHODS
    from fer_edge.train.thesis_tables import TABLE_3_7_MEMBERS

    card = ProtocolCard(f"{title} (fuse)" + (f", thesis table 3.7 row '{subset}'" if subset else ""))
    card.add(
        "members",
        ", ".join(name for name, _ in members),
        ", ".join(TABLE_3_7_MEMBERS[subset]) if subset else "the models of table 3.6",
        "table 3.7",
        matches=None,
    )
    card.add(
        "methods",
        ", ".join(methods),
        ", ".join(METHODS),
        "section 3.2.6, equations 3.1-3.3",
        matches=sorted(methods) == sorted(METHODS),
    )
    weights = ", ".join(f"{name} {'-' if w is None else f'{w:.3f}'}" for name, w in members)
    source = "given with --weights" if weights_given else "each member's mean cross-validation accuracy"
    card.add(
        "weights W_i",
        f"{source}: {weights}",
        "W_i 'the performance of model i'",
        "section 3.2.6, equation 3.2 (which performance is not said)",
        matches=None,
    )
    card.add("scored on", split, "test", "section 3.3.2 (the 120 test videos)")
    card.add("fused class", "arg-max of the fused scores, ties to the first-listed class", None, "section 3.2.6")
    return card
