"""Scale-out: the heavy loops (preprocess clips, extraction shards, CV folds) on Ray, local by default.

``executor_for(spec).map(fn, items)`` is the one seam the stages use; see
:mod:`fer_edge.cluster.executor` for the spec grammar and what a Ray task guarantees, and
docs/cluster.md for starting a cluster (``ray start``, KubeRay, Slurm).
"""

from fer_edge.cluster.executor import ExecutorSpec, executor_for, parse_spec, threads

__all__ = ["ExecutorSpec", "executor_for", "parse_spec", "threads"]
