"""Fuzz: OpenFace CSVs, FER2013 CSV rows, HDF5 feature stores and training recipes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_edge.data.fer2013 import Fer2013, read_csv
from fer_edge.data.openface import AUIntensity, read_openface
from fer_edge.data.store import FeatureStore, StoreWriter, read_store
from tests.support import fuzzing

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 10).map(str),
    st.sampled_from(["", " ", "x", "1e400", "-nan", "0x10", "１", '"', "1,2", "\x00"]),
    st.text(max_size=6),
)


@pytest.fixture(scope="module", autouse=True)
def _counts():
    yield
    fuzzing.flush()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzzdata")


# --- OpenFace CSVs ---------------------------------------------------------------------------


@st.composite
def openface_csv(draw):
    header = draw(
        st.lists(
            st.sampled_from(
                ["frame", " success", " AU01_r", " AU04_r", " AU12_r", " AU45_r", " AU01_c", "confidence", " timestamp"]
            ),
            min_size=0,
            max_size=7,
            unique=True,
        )
    )
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=len(header) + 1), max_size=6))
    text = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows)
    return text.encode("utf-8", "surrogatepass") if draw(st.booleans()) else text.encode("utf-8", "replace")


@SETTINGS
@given(openface_csv(), st.one_of(st.none(), st.integers(0, 8)))
def test_openface_csvs(work, data, frames):
    path = work / "clip.csv"
    path.write_bytes(data)
    out = fuzzing.run_case("openface_csv", lambda: read_openface(path, frames=frames), names=path)
    if isinstance(out, AUIntensity):
        assert np.isfinite(out.intensity).all() and out.intensity.shape == out.success.shape


@SETTINGS
@given(st.binary(max_size=300))
def test_openface_raw_bytes(work, data):
    path = work / "raw.csv"
    path.write_bytes(data)
    fuzzing.run_case("openface_csv", lambda: read_openface(path), names=path)


# --- FER2013 CSV rows ------------------------------------------------------------------------

GOOD = " ".join(["128"] * 2304)


@st.composite
def fer_row(draw):
    label = draw(st.one_of(st.integers(-3, 9).map(str), cell))
    pixels = draw(
        st.one_of(
            st.just(GOOD),
            st.integers(0, 2400).map(lambda n: " ".join(["7"] * n)),  # wrong pixel count
            st.lists(cell, max_size=5).map(" ".join),  # non-numeric
            st.sampled_from(
                [
                    " ".join(["300"] * 2304),
                    " ".join(["-1"] * 2304),
                    " ".join(["1e3"] * 2304),
                    " ".join(["99999999999999999999999"] * 2304),
                    " ".join(["1.5"] * 2304),
                ]
            ),
        )
    )
    usage = draw(st.sampled_from(["Training", "PublicTest", "PrivateTest", "", "Holdout", "training "]))
    return f'{label},"{pixels}",{usage}'


@SETTINGS
@given(
    st.lists(fer_row(), max_size=5),
    st.sampled_from(["emotion,pixels,Usage", "emotion,pixels", "pixels,Usage", "Emotion , Pixels ,usage", ""]),
)
def test_fer2013_rows(work, rows, header):
    path = work / "fer2013.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = fuzzing.run_case("fer2013_csv", lambda: read_csv(path), names=path)
    if isinstance(out, Fer2013):
        assert out.images.shape[1:] == (48, 48) and out.images.dtype == np.uint8
        assert len(out) + len(out.problems) <= len(rows) and ((out.labels >= 0) & (out.labels < 7)).all()


@SETTINGS
@given(st.binary(max_size=300))
def test_fer2013_raw_bytes(work, data):
    path = work / "raw-fer.csv"
    path.write_bytes(b"emotion,pixels,Usage\n" + data)
    fuzzing.run_case("fer2013_csv", lambda: read_csv(path), names=path)


def test_fer2013_huge_field(work):
    path = work / "huge.csv"
    path.write_text('emotion,pixels,Usage\n0,"' + "1 " * 200_000 + '",Training\n', encoding="utf-8")
    fuzzing.run_case("fer2013_csv", lambda: read_csv(path), names=path)


# --- HDF5 feature stores ---------------------------------------------------------------------


def _good_store(path, classes=("happy", "sad", "surprise")):
    with StoreWriter(path, features=4, classes=list(classes), length=5, compression=0) as w:
        for i in range(3):
            w.append(f"clip{i}", np.full((3 + i, 4), i, np.float32), classes[i % len(classes)])
    return path


def _use(path):
    store = read_store(path)
    x, m, y = store.batch(list(range(len(store))))
    names = store.names
    assert x.shape[0] == m.shape[0] == y.shape[0] == len(names)
    return store


def _rewrite(path, edit):
    import h5py

    with h5py.File(path, "a") as f:
        edit(f)
    return path


STORE_EDITS = {
    "features as text": lambda f: (f.__delitem__("features"), f.create_dataset("features", data=np.array([b"x"] * 3))),
    "features 2-D": lambda f: (f.__delitem__("features"), f.create_dataset("features", data=np.zeros((3, 4)))),
    "features int": lambda f: (
        f.__delitem__("features"),
        f.create_dataset("features", data=np.zeros((3, 5, 4), np.int64)),
    ),
    "features group": lambda f: (f.__delitem__("features"), f.create_group("features")),
    "labels 1-D": lambda f: (f.__delitem__("labels"), f.create_dataset("labels", data=np.zeros(3))),
    "masks 3-D": lambda f: (f.__delitem__("masks"), f.create_dataset("masks", data=np.zeros((3, 5, 2)))),
    "masks shorter T": lambda f: (f.__delitem__("masks"), f.create_dataset("masks", data=np.zeros((3, 4)))),
    "names numbers": lambda f: (f.__delitem__("names"), f.create_dataset("names", data=np.arange(3))),
    "fewer rows": lambda f: f["labels"].resize(2, axis=0),
    "no names": lambda f: f.__delitem__("names"),
    "another label set": lambda f: f.attrs.__setitem__("classes", ["a", "b", "c", "d", "e", "f", "g"]),
    "classes not text": lambda f: f.attrs.__setitem__("classes", 7),
    "scalar features": lambda f: (f.__delitem__("features"), f.create_dataset("features", data=1.0)),
}


@pytest.mark.parametrize("case", list(STORE_EDITS))
def test_store_edits(work, case):
    path = _rewrite(_good_store(work / f"{case.replace(' ', '_')}.h5"), STORE_EDITS[case])
    fuzzing.run_case("hdf5_store", lambda: _use(path), names=path)


@pytest.mark.slow
@SETTINGS
@given(st.floats(0.0, 0.999), st.sampled_from(["truncate", "flip"]))
def test_store_truncated_or_corrupt(work, fraction, how):
    path = _good_store(work / "cut.h5")
    data = bytearray(path.read_bytes())
    at = int(len(data) * fraction)
    if how == "truncate":
        data = data[:at]
    else:
        data[at : at + 64] = bytes(b ^ 0xFF for b in data[at : at + 64])
    path.write_bytes(bytes(data))
    fuzzing.run_case("hdf5_store", lambda: _use(path), names=path)


def test_store_another_label_set_is_reported(work):
    path = _good_store(work / "labels.h5", classes=("angry", "disgust", "fear"))
    store = fuzzing.run_case("hdf5_store", lambda: _use(path), names=path)
    assert isinstance(store, FeatureStore) and store.classes == ["angry", "disgust", "fear"]


# --- training recipes ------------------------------------------------------------------------

yaml_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(),
    st.sampled_from([".inf", "-.inf", ".nan", "1e400", "1e-4", "[1, 2]", "{a: 1}", "~", "yes"]),
    st.text(max_size=8),
)


@st.composite
def recipe_text(draw):
    from fer_edge.train import config

    sections = {f.name: f.type for f in __import__("dataclasses").fields(config.Recipe)}
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(sections) + ["temporl", "bogus"]))
        cls = getattr(config, str(sections.get(section, "")), None)
        keys = (
            [f.name for f in __import__("dataclasses").fields(cls)]
            if isinstance(cls, type) and __import__("dataclasses").is_dataclass(cls)
            else ["x"]
        )
        key = draw(st.sampled_from(keys + ["epoch"]))
        value = draw(yaml_scalar)
        lines.append(f"{section}:\n  {key}: {value!r}" if draw(st.booleans()) else f"{section}: {value!r}")
    return "\n".join(lines)


@SETTINGS
@given(recipe_text())
def test_recipes(work, text):
    from fer_edge.train.config import load_recipe

    path = work / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    fuzzing.run_case("recipe", lambda: load_recipe(path), names=path)


@SETTINGS
@given(
    st.sampled_from(
        [
            "temporal.epochs",
            "spatial.batch",
            "data.frames",
            "split.k",
            "split.test",
            "seed",
            "window.length",
            "name",
            "temporal.model",
        ]
    ),
    yaml_scalar,
)
def test_recipe_overrides(work, key, value):
    from fer_edge.train.config import load_recipe

    path = work / "base.yaml"
    path.write_text("name: fuzz\n", encoding="utf-8")
    fuzzing.run_case("recipe", lambda: load_recipe(path, overrides=[f"{key}={value}"]), names=path)


@SETTINGS
@given(st.binary(max_size=200))
def test_recipe_bytes(work, data):
    from fer_edge.train.config import load_recipe

    path = work / "bytes.yaml"
    path.write_bytes(data)
    fuzzing.run_case("recipe", lambda: load_recipe(path), names=path)
