"""The training path with TensorFlow on tiny synthetic data: spatial -> extract -> CV -> bundle -> runtime."""

from __future__ import annotations

import json

import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.data.synth import make_clip
from fer_edge.data.synth_prep import write_preprocessed
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.video import open_writer
from fer_edge.train.config import load_recipe
from tests.support.recipes import LABELS, SUBJECTS, tiny_spatial

pytestmark = [pytest.mark.tf, pytest.mark.slow]  # trains Keras models (a shared fixture trains a cascade)


def _preprocessed(root, frames=10):
    """A preprocess-stage folder made from ground-truth boxes (no detection: fast)."""
    return write_preprocessed(root, subjects=SUBJECTS, labels=LABELS, frames=frames)


def _recipe(tmp, pre):
    return load_recipe(
        None,
        overrides={
            "name": "tiny",
            "out": str(tmp / "run"),
            "labels": LABELS,
            "data": {"preprocessed": str(pre), "split": {"k": 2, "test": 0.34}, "length": 8},
            "spatial": tiny_spatial(),
            "extract": {"layer": "flatten", "augment": ["flip"], "batch_size": 32},
            "temporal": {"model": "test_temporal", "epochs": 3, "batch_size": 8, "learning_rate": 1e-3},
            "finalize": {"patience": 2},
            "window": {"stride": 2, "min_frames": 3},
        },
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from fer_edge.train.experiment import run_temporal

    tmp = tmp_path_factory.mktemp("train")
    recipe = _recipe(tmp, _preprocessed(tmp / "pre"))
    report = run_temporal(recipe, progress=False)
    return tmp, recipe, report


def test_cascade_bundle_has_keras_ir_and_metrics(trained):
    tmp, recipe, report = trained
    bundle = load_bundle(report.bundle)
    assert bundle.kind == "cascade" and bundle.labels == tuple(LABELS)
    assert bundle.window.length == 8 and bundle.window.stride == 2
    assert bundle.frame.size == (32, 32) and bundle.frame.color == "RGB"
    assert bundle.models["spatial"].output == 256 and bundle.models["temporal"].input == [8, 256]
    for role in ("spatial", "temporal"):
        assert (bundle.path / bundle.models[role].keras).is_file()
        assert bundle.provenance["parity"][role]["max_abs_diff"] < 1e-4
    metrics = bundle.provenance["metrics"]
    assert len(metrics["val_accuracies"]) == 2 and 0 <= metrics["test_accuracy"] <= 1
    assert metrics["test_accuracy"] == pytest.approx(report.test_accuracy)
    from fer_edge.train.crossval import finalize_epochs

    assert report.final_epochs == finalize_epochs(report.stop_epochs) == metrics["final_epochs"]
    assert bundle.provenance["data"]["split"] == json.loads((tmp / "run" / "split.json").read_text())
    for name in (
        "cv/curves.png",
        "cv/folds.md",
        "cv/fold-0/log.csv",
        "evaluation/confusion.png",
        "evaluation/confusion_normalized.png",
        "evaluation/errors.csv",
        "final.keras",
        "features/test-features-256.h5",
        "features/fold-1-aug-features-256.h5",
    ):
        assert (tmp / "run" / name).is_file(), name


def test_rerun_reuses_finished_work(trained):
    from fer_edge.train.experiment import run_temporal

    tmp, recipe, report = trained
    watched = [
        tmp / "run" / "cv" / "fold-0" / "result.json",
        tmp / "run" / "features" / "fold-0-features-256.h5",
        tmp / "run" / "final.keras",
        tmp / "run" / "spatial" / "model.keras",
    ]
    before = [p.stat().st_mtime_ns for p in watched]
    again = run_temporal(recipe, progress=False)
    assert [p.stat().st_mtime_ns for p in watched] == before
    assert again.val_accuracies == report.val_accuracies and again.test_accuracy == report.test_accuracy


def test_fold_jobs_and_determinism(trained):
    from fer_edge.train import crossval
    from fer_edge.train.tasks import TemporalTask

    tmp, recipe, report = trained
    task = TemporalTask(recipe, tmp / "run" / "features", features=256, folds=2)
    crossval.cross_validate(task, tmp / "jobs", epochs=3, folds=[1], progress=False)
    done, missing = crossval.collect(tmp / "jobs", 2)
    assert [r.fold for r in done] == [1] and missing == [0]
    # seeded: the same fold trained again gives the same curve as the main run
    main_run = json.loads((tmp / "run" / "cv" / "fold-1" / "result.json").read_text())
    assert done[0].history["val_accuracy"] == main_run["history"]["val_accuracy"]
    assert done[0].history["loss"] == pytest.approx(main_run["history"]["loss"], rel=1e-5)


def test_store_from_another_extractor_or_label_set_is_refused(trained):
    from fer_edge.data.store import read_store
    from fer_edge.train.features import check_store

    tmp, recipe, _ = trained
    store = read_store(tmp / "run" / "features" / "fold-0-features-256.h5")
    with pytest.raises(FerEdgeError, match="not the recipe's extractor"):
        check_store(store, extractor="vggface_vgg16_flatten-000000000000", layer="flatten", labels=LABELS)
    with pytest.raises(FerEdgeError, match="extract again with this recipe's label set"):
        check_store(store, extractor=None, layer=None, labels=["happy", "sad", "fear"])
    with pytest.raises(FerEdgeError, match="layer 'flatten' features"):
        check_store(store, extractor=None, layer="dense", labels=LABELS)


def test_evaluate_cli_on_the_bundle(trained, capsys):
    tmp, _, report = trained
    assert main(["evaluate", report.bundle, "--split", "fold-0", "--out", str(tmp / "ev")]) == 0
    out = capsys.readouterr().out
    assert "clips" in out and "reference 67.8 %" in out
    assert (tmp / "ev" / "confusion_normalized.png").is_file()
    rows = (tmp / "ev" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "name,true,predicted,happy,sad,surprise" and len(rows) == 1 + 6


def test_trained_cascade_runs_in_the_runtime(trained, tmp_path):
    from fer_edge.runtime import EngineConfig, run_video

    _, _, report = trained
    clip = make_clip("surprise", subject="F002", frames=16, size=(320, 240), seed=4)
    video = tmp_path / "v.avi"
    with open_writer(video, 25.0, (320, 240)) as writer:
        for f in clip.frames:
            writer.write(f)
    result = run_video(
        str(video),
        load_bundle(report.bundle),
        engine=EngineConfig(precision="f32"),
        events=tmp_path / "e.jsonl",
        progress=False,
    )
    assert result.frames == 16
    events = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    scored = [e for e in events if e.get("scores")]
    assert scored and all(set(e["scores"]) == set(LABELS) for e in scored)
    assert all(abs(sum(e["scores"].values()) - 1) < 1e-3 for e in scored)


def test_too_few_subjects_for_k_folds(tmp_path):
    from fer_edge.train.data import prepare_data

    pre = _preprocessed(tmp_path / "pre", frames=3)
    recipe = load_recipe(
        None,
        overrides={
            "out": str(tmp_path / "r"),
            "labels": LABELS,
            "data": {"preprocessed": str(pre), "split": {"k": 5, "test": 0.34}},
        },
    )
    with pytest.raises(FerEdgeError, match="cannot make 5 subject folds from 4 subjects"):
        prepare_data(recipe)


def test_gpu_requested_but_absent():
    import tensorflow as tf

    from fer_edge.train.kerasutil import check_gpu

    if tf.config.list_physical_devices("GPU"):
        check_gpu("gpu")  # present: no error
    else:
        with pytest.raises(FerEdgeError, match="a GPU was requested but TensorFlow sees none"):
            check_gpu("gpu")


def test_clip_model_trains_from_the_generator_into_a_clip_bundle(tmp_path):
    from fer_edge.train.experiment import run_clip
    from fer_edge.train.tasks import ClipBatches

    pre = _preprocessed(tmp_path / "pre", frames=6)
    recipe = load_recipe(
        None,
        overrides={
            "name": "tiny-clip",
            "out": str(tmp_path / "run"),
            "labels": LABELS,
            "data": {"preprocessed": str(pre), "split": {"k": 2, "test": 0.34}, "length": 8},
            "clip": {
                "model": "test_clip",
                "size": 32,
                "epochs": 2,
                "batch_size": 4,
                "learning_rate": 1e-3,
                "online_augmentation": True,
            },
            "finalize": {"patience": 1},
            "window": {"stride": 4, "min_frames": 4},
        },
    )
    report = run_clip(recipe, progress=False)
    bundle = load_bundle(report.bundle)
    assert bundle.kind == "clip" and bundle.models["clip"].input == [8, 32, 32, 3]
    assert len(bundle.provenance["metrics"]["val_accuracies"]) == 2 and report.test_accuracy is not None
    from fer_edge.train.data import prepare_data

    batches = ClipBatches(
        prepare_data(recipe),
        prepare_data(recipe).part("train"),
        size=32,
        length=8,
        batch_size=4,
        shuffle=True,
        augment=True,
        seed=0,
    )
    x, y = batches[0]
    # 6 real frames, zero padding to T = 8; one batch at a time (bounded memory)
    assert x.shape == (4, 8, 32, 32, 3) and not x[:, 6:].any() and x[:, :6].any() and y.sum() == 4
