"""The NCS2's code path runs on Python 3.7 (the Raspbian OpenVINO 2021.4.2 build's Python).

Python 3.7 cannot be installed here, so the claim rests on static checks of every module the
``fer-edge`` CLI and the runtime load: ``vermin -t=3.7-`` (syntax and stdlib; ``make lint``
runs it too) and, for what vermin does not see, expressions evaluated at import or by
``core.config`` that subscript builtins (``tuple[...]``, 3.9) or join types with ``|`` (3.10).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# collections.abc and builtin classes subscripted outside annotations fail before 3.9
_GENERIC = {"tuple", "list", "dict", "set", "frozenset", "type", "Callable", "Iterable", "Iterator", "Sequence"}
_GENERIC |= {"Mapping", "MutableMapping", "Generator", "Awaitable", "Collection", "AsyncIterator"}


def stick_path() -> list[Path]:
    """Files of every fer_edge module the CLI loads (all verbs' parsers), plus the whole runtime and core wings."""
    code = (
        "import json, sys\n"
        "from fer_edge.cli import main\n"
        "try:\n    main(['demo', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items())\n"
        "    if n.startswith('fer_edge') and getattr(m, '__file__', None))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = {Path(p) for p in json.loads(proc.stdout.strip().splitlines()[-1])}
    wings = {p for wing in ("runtime", "core") for p in (ROOT / "fer_edge" / wing).rglob("*.py")}
    return sorted(loaded | wings)


@pytest.fixture(scope="module")
def files() -> list[Path]:
    found = stick_path()
    assert ROOT / "fer_edge" / "runtime" / "ovcompat.py" in found and ROOT / "fer_edge" / "cli" / "demo.py" in found
    return found


_VERMIN = "import sys, vermin; sys.argv[0] = 'vermin'; sys.exit(vermin.main())"  # it has no __main__


def test_vermin_finds_nothing_newer_than_python_37(files):
    proc = subprocess.run(
        [sys.executable, "-c", _VERMIN, "-t=3.7-", "--no-tips", "--violations", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside an annotation (strings under ``from __future__ import annotations``)."""
    inside = set()
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        elif isinstance(node, ast.arg) and node.annotation is not None:
            notes.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            notes.append(node.returns)
        for note in notes:
            inside |= {id(n) for n in ast.walk(note)}
    return inside


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    skip = _annotation_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Subscript) and _name(node.value) in _GENERIC:
            if isinstance(node.value, ast.Attribute) and _name(node.value.value) == "typing":
                continue  # typing.Tuple[...] works on 3.7
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)} (3.9+)")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = (node.left, node.right)
            if any(isinstance(s, ast.Constant) and s.value is None for s in sides) or any(
                isinstance(s, ast.Subscript) and _name(s.value) in _GENERIC for s in sides
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)} (3.10+)")
    return found


def test_no_builtin_generics_or_type_unions_evaluated_at_run_time(files):
    offences = [o for f in files for o in _offences(f)]
    assert not offences, "\n".join(offences)


def test_the_checker_catches_what_breaks_python_37(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "Box = tuple[int, int]\nx: list[int] = []\nOpt = int | None\ndef f(a: dict[str, int]) -> None: ...\n"
    )
    sys_root = ROOT  # _offences reports paths relative to the repository
    (tmp_path / "bad.py").rename(sys_root / "tests" / "project" / "_bad_py37_probe.py")
    try:
        found = _offences(sys_root / "tests" / "project" / "_bad_py37_probe.py")
    finally:
        (sys_root / "tests" / "project" / "_bad_py37_probe.py").unlink()
    assert [o.split(": ", 1)[1] for o in found] == ["tuple[int, int] (3.9+)", "int | None (3.10+)"]


def test_runtime_configs_evaluate_their_hints_the_python_37_way(monkeypatch):
    """core.config evaluates dataclass annotations; on 3.7 with typing's aliases and Union for ``|``."""
    import fer_edge.core.config as config
    from fer_edge.runtime.pipeline import PipelineConfig
    from fer_edge.runtime.stream import StreamPolicy

    monkeypatch.setattr(config, "sys", types.SimpleNamespace(version_info=(3, 7, 17), modules=sys.modules))
    old = {"list": typing.List, "tuple": typing.Tuple, "dict": typing.Dict, "set": typing.Set, "type": typing.Type}  # noqa: UP006
    monkeypatch.setattr(config, "_GENERICS", old)
    for cls in (PipelineConfig, StreamPolicy):
        namespace = vars(sys.modules[cls.__module__])
        for field in dataclasses.fields(cls):
            text = field.type if isinstance(field.type, str) else ""
            for part in text.split(" | ") if "[" not in text else [text]:
                converted = config._old_python(part)
                assert "|" not in converted, (cls.__name__, field.name, converted)
            hint = config._evaluate(field.type, namespace)
            assert hint is not None or field.type == "None", (cls.__name__, field.name)
    assert config._old_python("dict[str, tuple[int, int] | None]") == "dict[str,typing.Union[ tuple[int, int] , None]]"
