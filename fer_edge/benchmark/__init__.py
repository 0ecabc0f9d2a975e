"""Benchmarks: per-model and per-stage latency, throughput, the TensorFlow baseline, reports.

``fer_edge.runtime.latency``, ``machine``, ``report`` and ``html`` use numpy and OpenVINO only
(they run on a Raspberry Pi); ``baseline`` imports TensorFlow and is loaded only when the
TensorFlow rows are asked for.

Example:
    >>> from fer_edge.benchmark import benchmark, compare, load_report
    >>> report = benchmark(["runs/fer"], source="face.mp4", out="runs/bench")  # doctest: +SKIP
"""

from __future__ import annotations

from fer_edge.benchmark.machine import MachineRecord, machine_record, parse_cpuinfo
from fer_edge.benchmark.report import BenchmarkReport, Comparison, Row, compare, format_comparison, load_report
from fer_edge.benchmark.runner import benchmark
from fer_edge.benchmark.writer import save_report
from fer_edge.runtime.latency import Timing, compile_model, measure_latency, measure_throughput

__all__ = [
    "BenchmarkReport",
    "Comparison",
    "MachineRecord",
    "Row",
    "Timing",
    "benchmark",
    "compare",
    "compile_model",
    "format_comparison",
    "load_report",
    "machine_record",
    "measure_latency",
    "measure_throughput",
    "parse_cpuinfo",
    "save_report",
]
