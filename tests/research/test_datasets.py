"""Dataset indexers and readers: BU-4DFE names and folders, FER2013 CSV/folders, OpenFace CSVs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.labels import FER2013, THESIS
from fer_edge.data.bu4dfe import index_bu4dfe, list_frames, parse_subject
from fer_edge.data.fer2013 import load, read_csv, to_labels
from fer_edge.data.openface import find_csv, read_openface


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_bu4dfe_video_names(tmp_path):
    for name in [
        "M042_happy_tex.avi",
        "F001_Angry.avi",
        "f2_Surprise.mp4",
        "F003-Fear_tex.avi",
        "M001/Sad.avi",
        "notes.txt",
        "ground_truth.json",
    ]:
        _touch(tmp_path / name)
    index = index_bu4dfe(tmp_path)
    got = {c.name: (c.subject, c.sex, c.emotion, c.media) for c in index.clips}
    assert got == {
        "F001_angry": ("F001", "F", "angry", "video"),
        "F002_surprise": ("F002", "F", "surprise", "video"),
        "F003_fear": ("F003", "F", "fear", "video"),
        "M001_sad": ("M001", "M", "sad", "video"),
        "M042_happy": ("M042", "M", "happy", "video"),
    }
    assert [c.name for c in index.clips] == sorted(got)
    assert index.problems == []
    assert sorted(p.rsplit("/", 1)[-1] for p in index.ignored) == ["ground_truth.json", "notes.txt"]
    assert index.subjects == ["F001", "F002", "F003", "M001", "M042"]


def test_bu4dfe_frame_folders(tmp_path):
    for i in (0, 1, 2, 10):
        _touch(tmp_path / "F001" / "Angry" / f"{i:03d}.jpg")
    _touch(tmp_path / "F001" / "Happy" / "0.png")
    _touch(tmp_path / "M002" / "Disgust" / "0.bmp")
    index = index_bu4dfe(tmp_path)
    assert [(c.name, c.media) for c in index.clips] == [
        ("F001_angry", "frames"),
        ("F001_happy", "frames"),
        ("M002_disgust", "frames"),
    ]
    assert [p.name for p in list_frames(tmp_path / "F001" / "Angry")] == ["000.jpg", "001.jpg", "002.jpg", "010.jpg"]


def test_bu4dfe_problems_are_listed_never_skipped(tmp_path):
    for name in [
        "F001_Angry.avi",
        "F001_angry_tex.avi",
        "F002_Hapy.avi",
        "F003_neutral.avi",
        "X9_happy.avi",
        "F004.avi",
        "F005/Angry/0.png",
        "photos/0.png",
    ]:
        _touch(tmp_path / name)
    index = index_bu4dfe(tmp_path, exclude=["F005", "M999"])
    assert [c.name for c in index.clips] == ["F001_angry"]
    assert [c.name for c in index.excluded] == ["F005_angry"]
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in index.problems}
    assert "duplicate clip F001_angry" in reasons["F001_angry_tex.avi"]
    assert "did you mean 'happy'" in reasons["F002_Hapy.avi"]
    assert "not in the label set" in reasons["F003_neutral.avi"]
    assert "cannot read subject" in reasons["X9_happy.avi"]
    assert "cannot read subject" in reasons["F004.avi"]
    assert "cannot read subject" in reasons["photos"]
    assert "matches no subject" in reasons["M999"]
    assert len(index.problems) == 7


def test_bu4dfe_missing_root(tmp_path):
    with pytest.raises(FerEdgeError, match="does not exist"):
        index_bu4dfe(tmp_path / "nope")


def test_parse_subject():
    assert parse_subject("f16") == ("F016", "F")
    assert parse_subject("M042") == ("M042", "M")
    assert parse_subject("Q001") is None


def _fer_csv(path, rows):
    lines = ["emotion,pixels,Usage"]
    lines += [f"{e},{' '.join(map(str, px))},{u}" for e, px, u in rows]
    path.write_text("\n".join(lines) + "\n")


def test_fer2013_csv(tmp_path):
    rng = np.random.default_rng(0)
    good = [rng.integers(0, 256, 2304) for _ in range(4)]
    _fer_csv(
        tmp_path / "fer.csv",
        [
            (3, good[0], "Training"),
            (6, good[1], "PublicTest"),
            (0, good[2], "PrivateTest"),
            (5, good[3], "Training"),
            (1, [1, 2, 3], "Training"),
            (9, good[0], "Training"),
            (2, good[0], "Elsewhere"),
        ],
    )
    data = read_csv(tmp_path / "fer.csv")
    assert data.images.shape == (4, 48, 48) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images[0].ravel(), good[0])
    assert data.labels.tolist() == [3, 6, 0, 5]
    assert data.splits.tolist() == ["train", "val", "test", "train"]
    assert [p[0] for p in data.problems] == ["fer.csv:6", "fer.csv:7", "fer.csv:8"]
    assert data.counts()["train"]["happy"] == 1
    six = to_labels(data, THESIS)
    assert six.labels.tolist() == [3, 0, 5] and six.classes == THESIS
    assert len(read_csv(tmp_path / "fer.csv", limit=2)) == 2


def test_fer2013_csv_missing_columns(tmp_path):
    (tmp_path / "bad.csv").write_text("label,image\n1,2\n")
    with pytest.raises(FerEdgeError, match="lacks column"):
        read_csv(tmp_path / "bad.csv")
    with pytest.raises(FerEdgeError, match="does not exist"):
        read_csv(tmp_path / "none.csv")


def test_fer2013_folders(tmp_path):
    img = np.full((48, 48), 77, np.uint8)
    for split, cls in [("train", "happy"), ("train", "surprised"), ("test", "neutral")]:
        (tmp_path / split / cls).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / split / cls / "a.png"), img)
    cv2.imwrite(str(tmp_path / "train" / "happy" / "big.png"), np.zeros((96, 96, 3), np.uint8))
    (tmp_path / "train" / "unicorn").mkdir()
    data = load(tmp_path)
    assert len(data) == 4 and data.images.shape[1:] == (48, 48)
    assert sorted(zip(data.splits.tolist(), [FER2013[i] for i in data.labels])) == [
        ("test", "neutral"),
        ("train", "happy"),
        ("train", "happy"),
        ("train", "surprise"),
    ]
    assert any("unicorn" in p[0] for p in data.problems)


def _openface_csv(path, values, *, extra_au45=9.0, frames=None):
    header = "frame, face_id, timestamp, confidence, success, AU01_r, AU12_r, AU45_r, AU01_c"
    rows = [f"{i + 1}, 0, {i / 25:.3f}, 0.98, 1, {a}, {b}, {extra_au45}, 1" for i, (a, b) in enumerate(values)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


def test_openface_mean_without_au45(tmp_path):
    _openface_csv(tmp_path / "F001_Angry.csv", [(0, 0), (1, 3), (2, 2)])
    au = read_openface(tmp_path / "F001_Angry.csv", frames=3)
    np.testing.assert_allclose(au.intensity, [0, 2, 2])
    assert au.columns == ["AU01_r", "AU12_r"] and au.success.all()
    assert find_csv(tmp_path, ["f001_angry_tex", "F001_angry"]).name == "F001_Angry.csv"


def test_openface_bad_files(tmp_path):
    _openface_csv(tmp_path / "a.csv", [(0, 0), (1, 1)])
    with pytest.raises(FerEdgeError, match="has 2 frames but the clip has 5"):
        read_openface(tmp_path / "a.csv", frames=5)
    (tmp_path / "b.csv").write_text("frame, success, AU45_r\n1, 1, 0.5\n")
    with pytest.raises(FerEdgeError, match="no AUxx_r"):
        read_openface(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("frame, AU01_r\n1, x\n")
    with pytest.raises(FerEdgeError, match="non-numeric"):
        read_openface(tmp_path / "c.csv")
    with pytest.raises(FerEdgeError, match="does not exist"):
        read_openface(tmp_path / "zz.csv")
