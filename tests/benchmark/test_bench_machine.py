"""Machine record: ISA probe on sample /proc/cpuinfo texts, memory, versions without TensorFlow."""

from __future__ import annotations

from fer_edge.benchmark.machine import machine_record, memory_gb, parse_cpuinfo, versions

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
physical id\t: 0
core id\t: 0
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
physical id\t: 0
core id\t: 0
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8

processor\t: 2
model name\t: Intel(R) Xeon(R) Platinum 8480+
physical id\t: 0
core id\t: 1
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
"""

ALDER_LAKE = """processor\t: 0
model name\t: 12th Gen Intel(R) Core(TM) i7-1260P
flags\t\t: fpu sse4_2 avx avx2 fma avx_vnni
"""

HASWELL = """processor : 0
model name : Intel(R) Core(TM) i5-4590 CPU @ 3.30GHz
flags : fpu sse4_2 avx avx2 fma
"""

RASPBERRY_PI_5 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU part\t: 0xd0b

processor\t: 1
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp

Revision\t: d04170
Model\t\t: Raspberry Pi 5 Model B Rev 1.0
"""


def test_amx_server():
    info = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert info.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert info.logical == 3 and info.physical == 2  # hyper-threads share core 0
    for name in (
        "AVX2",
        "AVX-512F",
        "AVX-512 VNNI",
        "AVX-512 BF16",
        "AVX-512 FP16",
        "AMX-TILE",
        "AMX-INT8",
        "AMX-BF16",
    ):
        assert name in info.isa
    assert "AVX-VNNI" not in info.isa


def test_client_cpu_with_avx_vnni_but_no_avx512():
    info = parse_cpuinfo(ALDER_LAKE)
    assert info.isa == ("SSE4.2", "AVX", "AVX2", "FMA", "AVX-VNNI")
    assert info.physical is None and info.logical == 1


def test_old_cpu_has_only_avx2():
    info = parse_cpuinfo(HASWELL)
    assert "AVX2" in info.isa and not any("512" in i or "AMX" in i or "VNNI" in i for i in info.isa)


def test_raspberry_pi_features_line():
    info = parse_cpuinfo(RASPBERRY_PI_5)
    assert info.model == "Raspberry Pi 5 Model B Rev 1.0"
    assert info.logical == 2
    assert "NEON (ASIMD)" in info.isa and "DOTPROD" in info.isa and "FP16" in info.isa
    assert not any(i.startswith("AVX") for i in info.isa)


def test_empty_cpuinfo_still_names_something():
    info = parse_cpuinfo("")
    assert info.model and info.isa == () and info.logical == 0


def test_memory_parse():
    assert memory_gb("MemFree: 1 kB\nMemTotal:       8192000 kB\n") == 7.8
    assert memory_gb("nothing here\n") is None


def test_record_of_this_machine():
    rec = machine_record(devices=True)
    assert rec.cores >= 1 and 1 <= rec.cores_usable <= max(rec.cores, rec.cores_usable)
    assert rec.versions["openvino"] and rec.versions["numpy"]
    assert "CPU" in rec.devices
    assert rec.tf_gpus is None  # only the baseline asks TensorFlow
    assert "OpenVINO" in rec.summary()
    fake = machine_record(cpuinfo=SAPPHIRE_RAPIDS, devices=False)
    assert "AMX-INT8" in fake.isa and fake.devices == {}


def test_versions_name_the_packages_that_matter():
    # Importing without TensorFlow is checked by tests/project/test_layers.py.
    assert set(versions()) >= {"openvino", "tensorflow", "nncf", "opencv", "keras"}
