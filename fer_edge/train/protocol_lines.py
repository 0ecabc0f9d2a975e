"""The protocol card's lines per training stage: data, spatial model, temporal head, clip model, final model.

Each ``*_lines`` function appends to a :class:`~fer_edge.train.protocol.ProtocolCard`; every line
carries what the thesis says (:mod:`fer_edge.train.thesis_passages`) and whether the run matches it.
"""

from __future__ import annotations

import json
from pathlib import Path

from fer_edge.core.assets import sha256
from fer_edge.train.thesis_passages import ARCHITECTURES, HEADS, PASSAGES

THESIS_INPUT = 224  # inferred: "7x7x512 which results in 25088 features" (section 3.2.4)
THESIS_FEATURES = 25088
# Offline copies per row (section 3.3.2: "9 times" for LSTM, "3 times" for BiLSTM).
THESIS_COPIES = {"VGGFace + LSTM": 9, "VGGFace + BiLSTM": 3}
# Table 3.4's rows: the registry backbone and where its weights come from.
BACKBONES = {
    "VGGFace": ("vggface_vgg16", "keras-vggface VGGFace (face recognition)"),
    "VGG16": ("vgg16", "ImageNet (Keras Applications)"),
    "ResNet50": ("resnet50", "ImageNet (Keras Applications)"),
    "DenseNet201": ("densenet201", "ImageNet (Keras Applications)"),
}
_NORMALISATION = {
    "vggface_vgg16": "keras-vggface preprocess_input (RGB->BGR, VGGFace mean subtracted) inside the model",
    "vggface_resnet50": "keras-vggface preprocess_input (RGB->BGR, VGGFace2 mean subtracted) inside the model",
    "vgg16": "Keras' caffe preprocess_input (RGB->BGR, ImageNet mean subtracted) inside the model",
    "resnet50": "Keras' caffe preprocess_input (RGB->BGR, ImageNet mean subtracted) inside the model",
    "densenet201": "Keras' torch preprocess_input (ImageNet mean/std) inside the model",
}


def _weights(path: str | None) -> str:
    if not path or path == "random":
        return "random initialisation" if path == "random" else "not set"
    if path == "imagenet":
        return "imagenet (Keras cache)"
    if not Path(path).is_file():
        return f"{path} (missing)"
    return f"{path} sha256 {sha256(path)}"


def _weights_match(model: str, weights: str | None) -> bool | None:
    """True: the thesis' starting weights; False: random or another source; None: a file we cannot tell."""
    from fer_edge.models.spatial import WEIGHTS_FILES

    if weights in (None, "random"):
        return False
    if model in WEIGHTS_FILES:
        if weights == "imagenet":
            return False
        name = Path(str(weights)).name
        return True if name in (WEIGHTS_FILES[model], WEIGHTS_FILES[model].replace("_notop", "")) else None
    return True if weights == "imagenet" else None


def _started_from(model_path: str) -> tuple[str, str | None]:
    """What ``fer-edge train spatial`` recorded next to the model about its starting weights."""
    from fer_edge.train.readback import read_spatial_result

    path = Path(model_path).parent / "result.json"
    if not path.is_file():
        return "unknown (no result.json next to the model)", None
    result = read_spatial_result(path)
    backbone = result.get("backbone") or {}
    if not backbone:
        return "unknown (made before fer-edge recorded it)", None
    sha = f" sha256 {backbone['sha256']}" if backbone.get("sha256") else ""
    return f"{backbone.get('weights')}{sha}", backbone.get("weights")


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


def data_lines(card, recipe, data) -> None:
    """Split, subjects, face box, trimming, anomalies, T."""
    from fer_edge.data import splits
    from fer_edge.data.openface import LEFT_OUT

    thesis = _split_text(splits.thesis_split())
    thesis_method = recipe.data.split.method == "thesis"
    split = data.split if data is not None else (splits.thesis_split() if thesis_method else None)
    value = _split_text(split) if split else f"{recipe.data.split.method} (k={recipe.data.split.k}, made from the data)"
    card.add("split", value, thesis, "figure 3.6", matches=thesis_method)
    exclude = list(recipe.data.preprocess.get("exclude") or [])
    if data is not None:
        subjects = {r["subject"] for r in data.records}
        exclude = [s for s in exclude if s not in subjects] or ["none"]
    card.add("subjects left out", ", ".join(exclude) or "none", "F016", "section 3.1")
    pad = int(recipe.data.preprocess.get("pad_y", 10))
    card.add(
        "face box",
        f"the tracker follows the detector's box; +{pad} px vertically and squared when cropping",
        PASSAGES["face box"],
        matches=False,
    )
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
    if not recipe.data.trimmed:
        anomalies = "none to handle: every clip is used whole (data.trimmed: false)"
    elif recipe.data.anomalies == "exclude":
        anomalies = "exclude: left out of the training folds; test-set anomalies kept, used whole (untrimmed)"
    else:
        anomalies = "untrimmed: used whole, in training and test"
    card.add("anomalies", anomalies, PASSAGES["anomalies"], matches=None)
    card.add("frames per clip (T)", recipe.data.length, 100, "section 3.2.3")


def _backbone_row(recipe) -> str:
    return recipe.thesis.row if recipe.thesis.row in BACKBONES else "VGGFace"


def spatial_lines(card, recipe, stage: str, input_size: int | None) -> None:
    """Input size, backbone, its weights and normalisation; for ``spatial`` the fine-tuning protocol."""
    sp = recipe.spatial
    shape = sp.options.get("input_shape") or (160, 160, 3)
    size = input_size or int(shape[0])
    card.add("input size", f"{size}x{size}", PASSAGES["input size"], matches=None if size == THESIS_INPUT else False)
    row = _backbone_row(recipe)
    model, weights_thesis = BACKBONES[row]
    if stage == "spatial" or not sp.weights:
        card.add("backbone", sp.model, model, f"table 3.4 row '{row}'")
        weights = sp.options.get("weights")
        card.add(
            "backbone weights",
            _weights(weights),
            weights_thesis,
            "section 3.2.4",
            matches=_weights_match(sp.model, weights),
        )
        normalisation = _NORMALISATION.get(sp.model, "x / 255 inside the model")
        card.add("normalisation", normalisation, PASSAGES["preprocessing"], matches=None)
    if stage != "spatial":
        return
    if sp.source == "fer2013":
        pixels = f"FER2013's 48x48 grey faces copied into 3 channels, resized to {size}x{size}"
        card.add("fine-tuning pixels", pixels, PASSAGES["fer2013 pixels"], matches=None)
    phases = "; ".join(
        f"{p.epochs} ep {p.optimizer} lr {p.learning_rate:g} unfreeze {p.unfreeze}"
        + (f" dropout {p.dropout}" if p.dropout is not None else "")
        for p in sp.phases
    )
    card.add("fine-tuning data", sp.source, "fer2013", "section 3.2.4")
    card.add("fine-tuning phases", phases, PASSAGES["phases"], matches=None)
    card.add("fine-tuning batch", sp.batch_size, PASSAGES["batch"], matches=None)
    card.add(
        "online augmentation",
        "ImageDataGenerator ranges of 3.2.4" if sp.online_augmentation else "off",
        "ImageDataGenerator ranges of 3.2.4",
        "section 3.2.4",
    )
    first = sp.phases[0]
    search = f"{sp.tune.trials} KerasTuner trials (Bayesian)"
    if sp.tune.trials:
        search += f", scored under phase 1's SGD (momentum 0.9, lr {first.learning_rate:g})"
    card.add("classifier search", search, "20 trials (Bayesian), SGD", "section 3.2.4", matches=sp.tune.trials == 20)
    validation = (
        "FER2013's PublicTest rows; without them a class-stratified "
        f"{100 * sp.validation:g} % of the training rows (seed {recipe.seed}), or none"
        if sp.source == "fer2013"
        else f"{100 * sp.validation:g} % of the training subjects held out"
    )
    card.add("validation", validation, PASSAGES["validation"], matches=None)
    if sp.source == "fer2013":
        card.add(
            "test evaluation",
            "FER2013 PrivateTest: accuracy, per-class P/R/F1, confusion",
            "FER2013 PrivateTest: accuracy, per-class P/R/F1, confusion",
            "table 3.4, table 3.5, figure 3.12",
        )


def temporal_lines(card, recipe, input_size: int | None, features: int | None) -> None:
    """Extractor, its pixels, features, copies, head, CV schedule."""
    from fer_edge.models.spatial import flatten_features

    sp, row = recipe.spatial, recipe.thesis.row
    shape = sp.options.get("input_shape") or (160, 160, 3)
    size = input_size or int(shape[0])
    if sp.weights:
        card.add("spatial extractor", _weights(sp.weights), PASSAGES["extractor"], matches=None)
        started, weights = _started_from(sp.weights)
        match = _weights_match(sp.model, weights) if weights else None
        card.add("extractor's starting weights", started, BACKBONES["VGGFace"][1], "section 3.2.4", matches=match)
    else:
        card.add("spatial extractor", "fine-tuned in this run", PASSAGES["extractor"], matches=None)
    pre = recipe.data.preprocess.get("size", 160)
    card.add(
        "extractor pixels",
        f"BU-4DFE colour crops (stored {pre} px), RGB, resized to {size}x{size}",
        PASSAGES["extractor pixels"],
        matches=None,
    )
    feats = features or flatten_features(sp.model, size)
    card.add("features", f"{recipe.extract.layer} {feats}", f"flatten {THESIS_FEATURES}", "section 3.2.4")
    copies = list(recipe.extract.augment) if recipe.temporal.augmented else []
    want = THESIS_COPIES.get(row)
    card.add(
        "augmentation copies",
        f"{len(copies)}: {', '.join(copies) or 'none'}",
        want if want is not None else PASSAGES["copies"],
        "section 3.3.2",
        matches=(len(copies) == want) if want is not None else None,
    )
    if copies:
        at = f"the {size}x{size} model input, after resizing"
        card.add("copies made at", at, PASSAGES["copies at"], matches=None)
    t = recipe.temporal
    card.add("head", f"{t.model} {json.dumps(t.options, sort_keys=True)}", HEADS.get(row), matches=None)
    card.add(
        "cross-validation",
        f"Adam lr {t.learning_rate:g} fixed, batch {t.batch_size}, {t.epochs} epochs",
        "Adam lr 0.0001 fixed, batch 32, 40 epochs",
        "section 3.2.4",
    )


def clip_lines(card, recipe) -> None:
    """C3D / ConvLSTM: input, what the clips are, the architecture, the CV schedule."""
    c = recipe.clip
    card.add("input size", f"{recipe.data.length}x{c.size}x{c.size}x3", "100x160x160x3", "section 3.2.5")
    card.add(
        "clip input",
        "Algorithm 1's trimmed clips" if recipe.data.trimmed else "whole clips (data.trimmed: false)",
        PASSAGES["clip input"],
        matches=None,
    )
    ours, theirs = ARCHITECTURES.get(c.model, (f"{c.model} {json.dumps(c.options, sort_keys=True)}", None))
    card.add("architecture", ours, theirs, matches=None)
    card.add(
        "cross-validation",
        f"Adam lr {c.learning_rate:g} fixed, batch {c.batch_size}, {c.epochs} epochs",
        "Adam lr 0.0001 fixed, batch 16, 20 epochs",
        "section 3.2.5 (C3D; ConvLSTM 'in a similar manner')",
    )


def final_lines(card, recipe, fold_epochs: tuple[int, ...]) -> None:
    """The reported CV figure, the final-model protocol and its epoch rule."""
    from fer_edge.train.crossval import finalize_epochs

    fin = recipe.finalize
    reported = "mean over folds of each fold's best validation accuracy"
    card.add("reported CV accuracy", reported, PASSAGES["reported cv"], matches=None)
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
    rule = finalize_epochs(fold_epochs)
    card.add(
        "final epochs rule",
        f"mean of the folds' stop epochs: {', '.join(map(str, fold_epochs))} -> {rule}",
        f"{', '.join(map(str, fold_epochs))} -> 11",
        "section 3.2.4 'Final model'",
        matches=rule == 11,
    )
