"""The atomic-write module on its own: companions (IR .xml + .bin), failures leave nothing, stale temps go."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import openvino as ov
import pytest

from fer_edge.core.atomic import AtomicFile, commit, save_via, temp_path, write_text
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.ovcompat import save_ir
from tests.support.ovmodels import frame_model


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_save_ir_renames_bin_and_xml_and_the_model_loads(tmp_path):
    xml = save_ir(frame_model(), tmp_path / "m" / "frame.xml")
    assert sorted(p.name for p in xml.parent.iterdir()) == ["frame.bin", "frame.xml"]
    core = ov.Core()
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    saved, original = core.compile_model(str(xml), "CPU"), core.compile_model(frame_model(), "CPU")
    assert np.array_equal(saved(x)[saved.output(0)], original(x)[original.output(0)])


def test_a_failing_save_leaves_neither_target_nor_companion(tmp_path):
    def save(tmp):
        tmp.write_text("<xml/>")
        tmp.with_suffix(".bin").write_bytes(b"\0")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError, match="converter crashed"):
        save_via(tmp_path / "frame.xml", save, companions=(".bin",))
    assert list(tmp_path.iterdir()) == []


def test_companion_missing_is_an_error_and_nothing_is_published(tmp_path):
    with pytest.raises(FerEdgeError, match="cannot write"):
        save_via(tmp_path / "frame.xml", lambda tmp: tmp.write_text("<xml/>"), companions=(".bin",))
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_are_removed_for_the_companion_too(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f".frame.tmp-{pid}.xml").write_text("half")
    (tmp_path / f".frame.tmp-{pid}.bin").write_bytes(b"half")
    save_via(
        tmp_path / "frame.xml",
        lambda t: (t.write_text("x"), t.with_suffix(".bin").write_text("y")),
        companions=(".bin",),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame.bin", "frame.xml"]


def test_commit_publishes_a_long_written_temporary(tmp_path):
    path = tmp_path / "video.avi"
    temp = temp_path(path, keep_suffix=True)
    temp.write_bytes(b"frames")
    assert commit(temp, path) == path and path.read_bytes() == b"frames" and not temp.exists()


def test_atomic_file_is_invisible_until_closed_and_abort_drops_it(tmp_path):
    events = AtomicFile(tmp_path / "events.jsonl")
    events.fh.write("{}\n")
    assert not (tmp_path / "events.jsonl").exists() and _leftovers(tmp_path)
    events.close()
    assert (tmp_path / "events.jsonl").read_text() == "{}\n" and not _leftovers(tmp_path)
    dropped = AtomicFile(tmp_path / "other.jsonl")
    dropped.abort()
    assert not (tmp_path / "other.jsonl").exists() and not _leftovers(tmp_path)


def test_a_folder_in_the_way_is_one_line(tmp_path):
    (tmp_path / "report.md").mkdir()
    with pytest.raises(FerEdgeError, match="it is a folder; choose a file name"):
        write_text(tmp_path / "report.md", "x")
    assert os.listdir(tmp_path) == ["report.md"]
