"""The preprocess stage end to end on a synthetic BU-4DFE layout: outputs, resume, bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.data.intensity import pearson
from fer_edge.data.preprocess import PreprocessConfig, load_clip, preprocess, read_index

SUBJECTS = ("F001", "M001")
LABELS = "happy,surprise,sad"
N = 90  # long enough that the apex plateau ends before the last 20 frames (anomaly rule)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from fer_edge.data.synth_dataset import write_dataset

    root = tmp_path_factory.mktemp("bu4dfe")
    write_dataset(root, subjects=SUBJECTS, labels=LABELS, frames=N, size=(192, 144), seed=0)
    return root


@pytest.fixture(scope="module")
def done(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("pre")
    rc = main(["preprocess", "--root", str(dataset), "--out", str(out), "--size", "64"])
    return out, rc


def test_outputs_index_and_plot(done, dataset):
    out, rc = done
    assert rc == 0
    records = read_index(out)
    assert [r["name"] for r in records] == [f"{s}_{e}" for s in SUBJECTS for e in ("happy", "sad", "surprise")]
    for r in records:
        assert r["status"] == "ok" and r["frames"] == N and len(r["boxes"]) == N
        assert len(r["intensity"]) == N and r["intensity_source"] == "builtin-flow"
        start, stop = r["span"]
        assert not r["anomaly"] and 0 < start < stop <= N - 10  # >= 10 frames cut from the end
        assert stop - start >= N // 2 - 1  # never more than half (+1) cut
        clip = load_clip(out, r)
        assert clip.shape == (stop - start, 64, 64, 3)
        assert len(load_clip(out, r, trimmed=False)) == N
    summary = json.loads((out / "summary.json").read_text())
    assert summary["usable"] == 6 and summary["failed"] == [] and summary["anomalies"] == []
    assert summary["lengths"]["before"]["max"] == N
    assert any(p.endswith("ground_truth.json") for p in summary["ignored"])
    assert (out / "clip_lengths.png").stat().st_size > 1000


def test_builtin_intensity_tracks_ground_truth(done, dataset):
    out, _ = done
    truth = {
        g["file"].rsplit(".", 1)[0]: g["intensity"] for g in json.loads((dataset / "ground_truth.json").read_text())
    }
    rs = [pearson(r["intensity"], truth[r["name"]]) for r in read_index(out)]
    assert min(rs) >= 0.8, rs


def test_rerun_does_nothing(done, dataset):
    out, _ = done
    watched = [
        out / "index.jsonl",
        out / "summary.json",
        out / "clip_lengths.png",
        *sorted((out / "records").iterdir()),
        *sorted((out / "clips" / "F001_happy").iterdir()),
    ]
    before = [p.stat().st_mtime_ns for p in watched]
    report = preprocess(dataset, out, config=PreprocessConfig(size=64))
    assert report.processed == 0 and report.skipped == 6
    assert [p.stat().st_mtime_ns for p in watched] == before


def test_killed_run_redoes_only_unmarked_or_changed_clips(done, dataset, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(done[0], out)
    # Killed after writing frames but before the marker: the clip is redone.
    (out / "records" / "M001_sad.json").unlink()
    # Half-written frames left in a temporary folder never count.
    (out / "clips" / "M001_happy.tmp-999").mkdir()
    # A marker written with other parameters is not reused.
    marker = out / "records" / "F001_sad.json"
    rec = json.loads(marker.read_text())
    rec["params"]["tracker"] = "kcf"
    marker.write_text(json.dumps(rec))
    report = preprocess(dataset, out, config=PreprocessConfig(size=64))
    assert report.processed == 2 and report.skipped == 4
    assert read_index(out) == read_index(done[0])


def test_workers_give_the_same_records(dataset, tmp_path, done):
    report = preprocess(dataset, tmp_path / "w2", config=PreprocessConfig(size=64, workers=2, plot=False))
    assert report.processed == 6
    assert read_index(tmp_path / "w2") == read_index(done[0])


def _blank_video(path, frames=30):
    from fer_edge.runtime.video import open_writer

    writer = open_writer(path, 25.0, (96, 72))
    for _ in range(frames):
        writer.write(np.full((72, 96, 3), 90, np.uint8))
    writer.close()


def test_bad_input_reported_per_clip_and_run_continues(dataset, tmp_path, capsys):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(
        dataset,
        root,
        ignore=lambda d, names: [
            n for n in names if not (n.startswith("F001_happy") or n.startswith("F001_sad") or n.endswith(".json"))
        ],
    )
    (root / "F002_angry.avi").write_bytes(b"this is not a video")
    _blank_video(root / "F003_fear.avi")
    (root / "F004_Happpy.avi").write_bytes(b"")
    au = tmp_path / "au"
    au.mkdir()
    header = "frame, success, AU01_r, AU12_r, AU45_r"
    # Wrong frame count for F001_happy -> warning and built-in fallback; good CSV for F001_sad.
    (au / "F001_happy.csv").write_text(header + "\n" + "1, 1, 0.1, 0.2, 3\n")
    curve = np.concatenate([np.zeros(12), np.linspace(0, 4, 13), np.full(20, 4), np.linspace(4, 0, 15), np.zeros(30)])
    rows = [f"{i + 1}, 1, {v:.3f}, {v:.3f}, 5" for i, v in enumerate(curve)]
    (au / "F001_sad.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    # The thesis' signal (OpenFace, the default with --au-dir): no silent fallback.
    strict = tmp_path / "strict"
    assert (
        main(
            [
                "preprocess",
                "--root",
                str(root),
                "--out",
                str(strict),
                "--size",
                "48",
                "--au-dir",
                str(au),
                "--exclude",
                "M077",
                "--no-plot",
            ]
        )
        == 0
    )
    records = {r["name"]: r for r in read_index(strict)}
    assert records["F001_sad"]["intensity_source"] == "openface"
    assert records["F001_happy"]["status"] == "error" and "has 1 frames" in records["F001_happy"]["error"]
    summary = json.loads((strict / "summary.json").read_text())
    assert summary["missing_au_csv"] == ["F002_angry", "F003_fear"] and summary["trimming_signal"] == "openface"
    assert {f["name"] for f in summary["failed"]} == {"F001_happy", "F002_angry", "F003_fear"}
    capsys.readouterr()
    # --intensity flow chosen explicitly: the built-in estimate stands in for missing/bad CSVs.
    out = tmp_path / "out"
    rc = main(
        [
            "preprocess",
            "--root",
            str(root),
            "--out",
            str(out),
            "--size",
            "48",
            "--au-dir",
            str(au),
            "--intensity",
            "flow",
            "--exclude",
            "M077",
            "--no-plot",
        ]
    )
    assert rc == 0
    records = {r["name"]: r for r in read_index(out)}
    assert records["F002_angry"]["status"] == "error"
    assert "no face found" in records["F003_fear"]["error"]
    assert records["F001_happy"]["intensity_source"] == "builtin-flow"
    assert f"has 1 frames but the clip has {N}" in records["F001_happy"]["warnings"][0]
    assert records["F001_sad"]["intensity_source"] == "openface"
    # Rise 0..4 over 13 frames from frame 12: frame 18 is the first >= 2; the end side would cut
    # 37 frames but stops when 45 (half of 90) are cut in all.
    assert records["F001_sad"]["span"] == [18, 63]
    summary = json.loads((out / "summary.json").read_text())
    reasons = " ".join(p["reason"] for p in summary["problems"])
    assert "did you mean 'happy'" in reasons and "matches no subject" in reasons
    assert {f["name"] for f in summary["failed"]} == {"F002_angry", "F003_fear"}
    assert not (out / "clips" / "F003_fear").exists()
    assert "2 failed" in capsys.readouterr().out


def test_nothing_usable_exits_non_zero(tmp_path, capsys):
    root = tmp_path / "data"
    root.mkdir()
    _blank_video(root / "F001_happy.avi")
    assert main(["preprocess", "--root", str(root), "--out", str(tmp_path / "o"), "--no-plot"]) == 1
    assert main(["preprocess", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_config_checks():
    with pytest.raises(FerEdgeError, match="did you mean 'medianflow'"):
        PreprocessConfig(tracker="medianflw")
    with pytest.raises(FerEdgeError, match="size"):
        PreprocessConfig(size=8)
    with pytest.raises(FerEdgeError, match="not a folder"):
        PreprocessConfig(au_dir=os.devnull)


def test_frame_folder_layout(tmp_path):
    from fer_edge.data.synth_dataset import write_dataset

    write_dataset(
        tmp_path / "data", subjects=["F001"], labels="happy", layout="frames", frames=80, size=(160, 120), seed=1
    )
    report = preprocess(tmp_path / "data", tmp_path / "out", config=PreprocessConfig(size=48, plot=False))
    (record,) = report.records
    assert (record["name"], record["kind"], record["status"]) == ("F001_happy", "frames", "ok")
    assert record["frames"] == 80 and not record["anomaly"] and record["span"][1] <= 70
