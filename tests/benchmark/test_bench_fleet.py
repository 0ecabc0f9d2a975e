"""Fleet runs on Ray: addresses checked in one line, nodes chosen by label and device resource, and
one benchmark per node of a real loopback-only 2-node cluster merged into one report."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import tarfile
import threading

import pytest

from fer_edge.cli import main
from fer_edge.cluster.address import check_temp_dir, probe_head
from fer_edge.cluster.executor import parse_spec
from fer_edge.cluster.nodes import Node, select_nodes
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.archive import pack_bundle
from tests.support.ovmodels import frame_bundle
from tests.support.raycluster import REPO, LoopbackCluster, namespaces_available


@pytest.mark.parametrize(
    "spec, match",
    [
        ("ray=", "no address after 'ray='"),
        ("ray=10.0.0.5:70000", "port 70000 is out of range"),
        ("ray=10.0.0.5:0", "port 0 is out of range"),
        ("ray=:6379", "HOST:PORT"),
        ("ray=h0st;rm:6379", "not a host name"),
        ("ray=127.0.0.1:6379,cpus=²", "digits 0-9"),
        ("ray,cpus=1e3", "unknown option"),
    ],
)
def test_bad_executor_addresses_are_one_line(spec, match):
    with pytest.raises(FerEdgeError, match=match) as err:
        parse_spec(spec)
    assert "\n" not in str(err.value)


def test_nothing_or_no_ray_at_the_address_fails_at_once():
    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(FerEdgeError, match=f"no Ray head answers at 127.0.0.1:{port}"):
            probe_head(f"127.0.0.1:{port}", timeout=2)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def reply_http1() -> None:
        conn, _ = server.accept()
        conn.recv(64)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=reply_http1, daemon=True)
    thread.start()
    try:
        with pytest.raises(FerEdgeError, match="not a Ray head"):
            probe_head(f"127.0.0.1:{server.getsockname()[1]}", timeout=5)
    finally:
        thread.join(5)
        server.close()


def test_long_tmpdir_is_named_before_ray_starts(monkeypatch):
    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.setenv("TMPDIR", "/tmp/" + "x" * 80)
    with pytest.raises(FerEdgeError, match="TMPDIR is 85 characters long.*RAY_TMPDIR"):
        check_temp_dir()
    monkeypatch.setenv("RAY_TMPDIR", "/tmp")
    check_temp_dir()


def test_nodes_by_label_and_device_resource():
    nuc = Node("1", "nuc", "10.0.0.2", {"CPU": 4, "intel_gpu": 1})
    pi = Node("2", "pi", "10.0.0.3", {"CPU": 4, "ncs2": 1})
    plan, notes = select_nodes([nuc, pi], ["all"], ["CPU", "MYRIAD"])
    assert [(n.label, d) for n, d in plan] == [("nuc", ["CPU"]), ("pi", ["CPU", "MYRIAD"])]
    assert "node nuc announces no MYRIAD" in notes[0] and "ncs2" in notes[0]
    plan, _ = select_nodes([nuc, pi], ["10.0.0.2", "nuc"], ["GPU"])
    assert [(n.label, d) for n, d in plan] == [("nuc", ["GPU"])]
    with pytest.raises(FerEdgeError, match="did you mean 'nuc'"):
        select_nodes([nuc, pi], ["nux"], ["CPU"])
    with pytest.raises(FerEdgeError, match="no chosen Ray node announces"):
        select_nodes([nuc], ["all"], ["MYRIAD"])


@pytest.fixture(scope="module")
def cluster():
    why = namespaces_available()
    if why:
        pytest.skip(f"no private network namespace for the test cluster: {why}")
    c = LoopbackCluster()
    try:
        c.start()
        yield c
    finally:
        c.stop()
        assert not c.processes()


def _benchmark(cluster, *args: str, check: bool = True):
    base = ["--source", "none", "--baseline", "none", "--iterations", "3", "--warmup", "0", "--no-throughput"]
    return cluster.run([sys.executable, "-m", "fer_edge", "benchmark", *args, *base], timeout=400, check=check)


@pytest.mark.slow
def test_ray_fleet_one_task_per_node_merged(cluster, tmp_path):
    bundle = frame_bundle(tmp_path / "tiny")
    out = tmp_path / "fleet"
    done = _benchmark(
        cluster, str(bundle.path), "--executor", f"ray={cluster.address}", "--nodes", "all", "--out", str(out)
    )
    assert "2 column(s): head CPU, worker-1 CPU" in done.stdout, done.stdout + done.stderr[-3000:]
    fleet = json.loads((out / "fleet.json").read_text())
    assert [c["name"] for c in fleet["columns"]] == ["head CPU", "worker-1 CPU"]
    assert sorted((r["stage"], r["precision"]) for r in fleet["rows"]) == [("frame", "FP16"), ("frame", "FP32")]
    for row in fleet["rows"]:
        assert all(cell["p50_ms"] > 0 for cell in row["cells"].values())
        assert row["cells"]["head CPU"]["speedup"] == 1.0
    for label in ("head", "worker-1"):
        node = json.loads((out / "nodes" / label / "benchmark.json").read_text())
        assert node["machine"]["host"] == label and node["settings"]["label"] == label
        sha = node["settings"]["bundle_info"][0]["sha256"]
        assert (
            sha
            == json.loads((out / "nodes" / "head" / "benchmark.json").read_text())["settings"]["bundle_info"][0][
                "sha256"
            ]
        )
    html = (out / "fleet.html").read_text()
    assert "head CPU" in html and "worker-1 CPU" in html and "<svg" in html
    # A chosen node by label; an unknown one and a device no node announces are one line each.
    one = _benchmark(
        cluster,
        str(bundle.path),
        "--executor",
        f"ray={cluster.address}",
        "--nodes",
        "worker-1",
        "--out",
        str(tmp_path / "one"),
    )
    assert "1 column(s): worker-1 CPU" in one.stdout
    bad = _benchmark(
        cluster,
        str(bundle.path),
        "--executor",
        f"ray={cluster.address}",
        "--nodes",
        "workr-1",
        "--out",
        str(tmp_path / "x"),
        check=False,
    )
    assert bad.returncode == 2 and "did you mean 'worker-1'" in bad.stderr.strip().splitlines()[-1]
    stick = _benchmark(
        cluster,
        str(bundle.path),
        "--executor",
        f"ray={cluster.address}",
        "--device",
        "MYRIAD",
        "--out",
        str(tmp_path / "y"),
        check=False,
    )
    assert stick.returncode == 2 and "announces no MYRIAD" in stick.stderr.strip().splitlines()[-1], stick.stderr[
        -2000:
    ]
    assert "Traceback" not in bad.stderr + stick.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_damaged_archive_is_refused_on_the_node(tmp_path):
    """The node checks SHA256SUMS before running: a flipped byte in transit stops the run in one line."""
    from fer_edge.benchmark.fleet import NodeJob, _node_benchmark

    bundle = frame_bundle(tmp_path / "tiny")
    packed = pack_bundle(bundle.path, tmp_path / "t.tar.gz").archive
    tampered = io.BytesIO()
    with tarfile.open(packed) as src, tarfile.open(fileobj=tampered, mode="w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.endswith(".bin"):  # the weights change, SHA256SUMS stays: tampered in transit
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            dst.addfile(member, io.BytesIO(data))
    job = NodeJob({"tiny": tampered.getvalue()}, ["CPU"], "n", {"baseline": None, "iterations": 2})
    with pytest.raises(FerEdgeError, match="fails its sha256 check") as err:
        _node_benchmark(job)
    assert "\n" not in str(err.value)


def test_no_head_at_the_address_is_one_line_before_any_work(tmp_path):
    bundle = frame_bundle(tmp_path / "tiny")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fer_edge",
            "benchmark",
            str(bundle.path),
            "--executor",
            "ray=127.0.0.1:1",
            "--source",
            "none",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "no Ray head answers at 127.0.0.1:1" in lines[0], done.stderr
    assert not (tmp_path / "out").exists()


def test_nodes_without_a_cluster_is_one_line(tmp_path, capsys):
    bundle = frame_bundle(tmp_path / "tiny")
    code = main(["benchmark", str(bundle.path), "--nodes", "all", "--source", "none", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--nodes: benchmark runs one task per node" in err[0]
    assert "--executor ray=HOST:PORT" in err[0]
    assert not (tmp_path / "o").exists()
