"""A bundle scored on labelled still face images: "how good is this model on my labelled faces".

Sources: a folder of class sub-folders (``DIR/<class>/*.png``; names through the label aliases
of :mod:`fer_edge.core.labels`, so ``surprised`` is ``surprise``; FER2013's ``DIR/test/<class>/``
layout works too) or a FER2013 CSV (its rows of one split). Each image is a face crop: resized
to the bundle's input, put in its colour order and normalised as the runtime does. A frame bundle
scores it; a cascade or clip bundle scores the still repeated to a whole window (the features of
identical frames are computed once).

Images of a class the bundle lacks (``contempt`` for a 6- or 7-class model) are scored too and
reported apart, with what the model called them: never dropped in silence. Unreadable and
too-small images are listed as skipped. No TensorFlow: the bundle runs through OpenVINO.

Files in the output folder: those of :func:`fer_edge.train.metrics.evaluate_predictions`
(metrics, per-class table, confusion PNGs, errors), ``worst-errors.html``/``.md`` with
thumbnails in ``thumbs/``, and ``stills.json`` (unweighted average recall, apart, skipped).
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fer_edge.core.atomic import write_json, write_text
from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.core.labels import ALIASES, FER2013, canonical

__all__ = ["Stills", "StillsReport", "evaluate_stills", "read_stills"]

log = logging.getLogger(__name__)

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MIN_SIDE = 8  # smaller is no face crop (a 1-pixel image would be resized into a flat colour)
MAX_SIDE = 512  # larger images are kept at this size: thousands of photos must fit in memory
SPLIT_FOLDERS = ("test", "privatetest", "val", "validation", "publictest", "train", "training")


@dataclass
class Stills:
    """Labelled images: BGR uint8 arrays, their label names and where they came from."""

    images: list[np.ndarray]
    labels: list[str]
    names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _class_of(folder: Path, known: tuple[str, ...]) -> str:
    label = canonical(folder.name) or folder.name.strip().lower()
    if label in known or label in set(ALIASES.values()):
        return label
    names = sorted(set(known) | set(ALIASES))
    raise unknown_choice(f"class folder '{folder}' (class names are emotion labels)", folder.name, names)


def _read_image(path: Path) -> tuple[np.ndarray | None, str]:
    import cv2

    from fer_edge.core.fileio import read_image

    try:
        image = read_image(path, "image")
    except FerEdgeError as exc:
        return None, str(exc).replace(f"image {path} ", "").replace(f"{path} ", "") or "not readable"
    if min(image.shape[:2]) < MIN_SIDE:
        return None, f"{image.shape[1]}x{image.shape[0]} px is too small for a face crop (at least {MIN_SIDE} px)"
    scale = MAX_SIDE / max(image.shape[:2])
    if scale < 1:  # a photo, not a crop: kept small, the model sees a resized copy anyway
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image, ""


def _class_root(root: Path, split: str) -> Path:
    """``root`` itself, or its split folder when it is FER2013's ``train/ test/`` layout."""
    subs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    if subs and set(subs) <= set(SPLIT_FOLDERS):
        for name in (split, "privatetest" if split == "test" else split):
            if name in subs:
                return subs[name]
        first = sorted(subs)[0]
        raise FerEdgeError(f"{root} holds split folders {sorted(subs)} but no '{split}'; pass --split {first}")
    return root


def _read_folder(root: Path, known: tuple[str, ...], split: str) -> Stills:
    base = _class_root(root, split)
    folders = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p for p in base.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES]
    if not folders:
        hint = f" ({len(loose)} images lie loose there)" if loose else ""
        raise FerEdgeError(
            f"no class folders under {base}{hint}: put the images in {base}/<class>/ (e.g. happy/, surprised/)"
        )
    stills = Stills([], [], [])
    for folder in folders:
        label = _class_of(folder, known)
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
            image, why = _read_image(path)
            if image is None:
                stills.skipped.append((str(path), why))
                continue
            stills.images.append(image)
            stills.labels.append(label)
            stills.names.append(str(path.relative_to(base)))
    return stills


def _read_fer2013(path: Path, split: str) -> Stills:
    import cv2

    from fer_edge.data import fer2013

    data = fer2013.read_csv(path)
    part = data.subset(split)
    if not len(part):
        raise FerEdgeError(f"{path} has no '{split}' rows (PrivateTest is test, PublicTest is val); pass --split")
    index = np.flatnonzero(data.splits == split)
    images = [cv2.cvtColor(im, cv2.COLOR_GRAY2BGR) for im in part.images]
    labels = [FER2013[int(i)] for i in part.labels]
    return Stills(images, labels, [f"{split}-row{int(i):05d}" for i in index], list(data.problems))


def read_stills(source: str | os.PathLike, known: tuple[str, ...], *, split: str = "test") -> Stills:
    """Read a labelled folder (or FER2013 CSV); one-line errors for a folder nothing can be scored in.

    Example:
        >>> stills = read_stills("data/raf-db/test", ("angry", "happy"))  # doctest: +SKIP
    """
    source = Path(source)
    if not source.exists():
        raise FerEdgeError(f"--images {source} does not exist; pass a folder of class sub-folders or a FER2013 CSV")
    stills = _read_folder(source, known, split) if source.is_dir() else _read_fer2013(source, split)
    if not stills.images:
        if stills.skipped:
            where, why = stills.skipped[0]
            raise FerEdgeError(
                f"none of the {len(stills.skipped)} images under {source} can be scored (e.g. {where}: {why})"
            )
        raise FerEdgeError(f"no images ({', '.join(SUFFIXES)}) in the class folders under {source}")
    if stills.skipped:
        where, why = stills.skipped[0]
        log.warning("%d images skipped (e.g. %s: %s); listed in stills.json", len(stills.skipped), where, why)
    return stills


class _SameFrames:
    """A frame model fed a still repeated to a window: computes the first row once, repeats it."""

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        one = np.asarray(self.model(*[x[:1] for x in inputs]))
        return np.repeat(one, len(inputs[0]), axis=0)


class _Inputs:
    """A model fed only the inputs it takes (a head without a mask input gets the features alone,
    as the runtime feeds it)."""

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        return self.model(*inputs[: getattr(self.model, "num_inputs", len(inputs))])


def _pixels(bundle, image: np.ndarray) -> np.ndarray:
    import cv2

    h, w = bundle.frame.size
    crop = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if image.shape[0] > h else cv2.INTER_LINEAR)
    if bundle.frame.color == "GRAY":
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[..., None]
    elif bundle.frame.color == "RGB":
        crop = crop[..., ::-1]
    return bundle.frame.normalise(crop)


def score_stills(bundle, images: list[np.ndarray]) -> np.ndarray:
    """Class scores ``(N, C)`` of ``bundle`` for each still, as a window of that still (runtime rules)."""
    from fer_edge.runtime.engine import EngineConfig, load_model
    from fer_edge.runtime.kinds import kind_of

    kind = kind_of(bundle)
    models = {r: _Inputs(load_model(bundle.model_path(r), EngineConfig(precision="f32"))) for r in kind.roles}
    if kind.frame_role is not None:
        models[kind.frame_role] = _SameFrames(models[kind.frame_role])
    length = bundle.window.length
    out = [kind.score_clip(models, np.repeat(_pixels(bundle, im)[None], length, 0), length) for im in images]
    return np.asarray(out, np.float64).reshape(len(images), len(bundle.labels))


@dataclass
class StillsReport:
    """What ``fer-edge evaluate BUNDLE --images DIR`` measured."""

    accuracy: float
    uar: float  # unweighted average recall: the mean of the classes' recalls (classes with images)
    samples: int
    classes: dict[str, dict[str, float]]
    apart: dict[str, dict[str, int]]  # a label the bundle lacks -> {predicted label: images}
    skipped: list[tuple[str, str]]
    files: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [
            f"images: accuracy {100 * self.accuracy:.1f} %, unweighted average recall {100 * self.uar:.1f} % "
            f"on {self.samples} labelled images"
        ]
        for label, got in self.apart.items():
            called = ", ".join(f"{k} {v}" for k, v in sorted(got.items(), key=lambda kv: -kv[1]))
            lines.append(f"  {label}: {sum(got.values())} images of a class the bundle lacks, called {called}")
        if self.skipped:
            lines.append(f"  skipped: {len(self.skipped)} images (e.g. {self.skipped[0][0]}: {self.skipped[0][1]})")
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def _thumbnails(stills: Stills, rows: list[int], folder: Path) -> list[str]:
    import cv2

    from fer_edge.core.atomic import save_via

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for rank, i in enumerate(rows):
        image = stills.images[i]
        scale = 96 / max(image.shape[:2])
        thumb = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))))
        name = f"{rank:03d}.png"
        save_via(folder / name, lambda p, t=thumb: cv2.imwrite(str(p), t), keep_suffix=True)
        names.append(f"{folder.name}/{name}")
    return names


def _worst_pages(stills, labels, y, scores, worst: int, out: Path) -> dict[str, Path]:
    pred = scores.argmax(1)
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-scores[wrong, pred[wrong]], kind="stable")][:worst]  # most confident errors first
    thumbs = _thumbnails(stills, order.tolist(), out / "thumbs")
    md = ["| image | file | true | predicted | confidence |", "|---|---|---|---|---|"]
    cells = []
    for i, thumb in zip(order, thumbs):
        true, got, conf = labels[y[i]], labels[pred[i]], scores[i, pred[i]]
        md.append(f"| ![]({thumb}) | {stills.names[i]} | {true} | {got} | {conf:.2f} |")
        cells.append(
            f"<tr><td><img src='{html.escape(thumb)}'></td><td>{html.escape(stills.names[i])}</td>"
            f"<td>{true}</td><td>{got}</td><td>{conf:.2f}</td></tr>"
        )
    title = f"The {len(order)} most confident errors of {len(wrong)}"
    page = (
        f"<!doctype html><meta charset='utf-8'><title>{title}</title><h1>{title}</h1>"
        "<table border='1' cellpadding='4'><tr><th>image</th><th>file</th><th>true</th><th>predicted</th>"
        "<th>confidence</th></tr>" + "".join(cells) + "</table>\n"
    )
    return {
        "worst_errors_html": write_text(out / "worst-errors.html", page),
        "worst_errors_md": write_text(out / "worst-errors.md", f"# {title}\n\n" + "\n".join(md) + "\n"),
    }


def evaluate_stills(
    bundle, source: str | os.PathLike, out: str | os.PathLike, *, split: str = "test", worst: int = 24, title: str = ""
) -> StillsReport:
    """Score ``bundle`` on labelled stills and write every evaluation output into ``out``.

    Example:
        >>> report = evaluate_stills(load_bundle("runs/x/frame-bundle"), "data/fer2013/test", "runs/x-eval")
        ...     # doctest: +SKIP
        >>> report.uar  # doctest: +SKIP
        0.61
    """
    from fer_edge.train.metrics import Predictions, evaluate_predictions

    labels = tuple(bundle.labels)
    stills = read_stills(source, labels, split=split)
    scores = score_stills(bundle, stills.images)
    inside = np.array([label in labels for label in stills.labels])
    apart: dict[str, dict[str, int]] = {}
    for i in np.flatnonzero(~inside):
        got = apart.setdefault(stills.labels[i], {})
        name = labels[int(scores[i].argmax())]
        got[name] = got.get(name, 0) + 1
    if not inside.any():
        raise FerEdgeError(
            f"none of the classes under {source} ({', '.join(sorted(apart))}) is one of the bundle's "
            f"({', '.join(labels)}); nothing to score against"
        )
    keep = np.flatnonzero(inside)
    y = np.array([labels.index(stills.labels[i]) for i in keep])
    pred = Predictions([stills.names[i] for i in keep], labels, y, scores[keep])
    out = Path(out)
    ev = evaluate_predictions(pred, out, reference=None, title=title or f"{bundle.name} on {source}")
    recalls = [c["recall"] for c in ev.classes.values() if c["support"] > 0]
    kept = Stills([stills.images[i] for i in keep], [stills.labels[i] for i in keep], pred.names)
    files = {k: str(v) for k, v in ev.files.items()}
    files.update({k: str(v) for k, v in _worst_pages(kept, labels, y, scores[keep], worst, out).items()})
    report = StillsReport(ev.accuracy, float(np.mean(recalls)), ev.samples, ev.classes, apart, stills.skipped, files)
    summary = {k: v for k, v in asdict(report).items() if k != "files"}
    report.files["stills"] = str(write_json(out / "stills.json", summary, indent=1))
    return report
