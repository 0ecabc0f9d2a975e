"""Opt fer-edge processes out of OpenVINO's telemetry.

``import openvino`` (through its model-conversion tools) and NNCF start ``openvino_telemetry``,
which, without a consent file, creates ``~/intel/`` (a client id and usage counters) on every
run and prints warnings when the home folder is read-only. fer-edge writes only to its outputs
and its cache, so its processes answer "declined" to the consent check; nothing is written and
nothing is sent. The user's own consent file is neither read nor changed.

The hook costs nothing until ``openvino`` or ``nncf`` is first imported.
"""

from __future__ import annotations

import importlib.abc
import sys

_HOOKED = ("openvino", "nncf")


def _decline() -> None:
    try:
        from openvino_telemetry.utils import opt_in_checker
    except ImportError:  # not installed: nothing to opt out of
        return
    declined = opt_in_checker.ConsentCheckResult.DECLINED
    opt_in_checker.OptInChecker.check = lambda self, *args, **kwargs: declined


class _OptOutFinder(importlib.abc.MetaPathFinder):
    """Declines telemetry just before the first import of a module that would start it."""

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001 - importlib API
        if name in _HOOKED:
            sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _OptOutFinder)]
            _decline()
        return None  # the regular finders import the module


def install() -> None:
    """Decline OpenVINO telemetry in this process (idempotent)."""
    if any(m in sys.modules for m in _HOOKED):
        _decline()
    elif not any(isinstance(f, _OptOutFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _OptOutFinder())
