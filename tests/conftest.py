"""Shared fixtures: tiny synthetic media and models, built per session, never downloaded."""

from __future__ import annotations

import os

# Keep TensorFlow quiet and deterministic wherever a test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
