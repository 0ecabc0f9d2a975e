"""The docs against the code: wing and contract tables, every named path and module, renames, the top level."""

from __future__ import annotations

import ast
import re
import subprocess
from functools import lru_cache
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: import-linter's own dependency
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ATOMIC = "fer_edge/core/atomic.py"
# The agreed top level: the package, the stages' recipes, device kits, measurements, tests, docs.
TOP_LEVEL = {
    "setup.cfg",
    "fer_edge",
    "train",
    "optimize",
    "deploy",
    "benchmarks",
    "tests",
    "docs",
    "README.md",
    "CONTRIBUTING.md",
    "Makefile",
    "pyproject.toml",
    ".ci",
    ".gitignore",
}
FOLDERS_WITH_README = ("train", "optimize", "deploy", "benchmarks", "tests")
# Repository paths that docs cite; outputs (runs/...) and user paths are not checked.
PATH_ROOTS = ("fer_edge", "tests", "benchmarks", "deploy", "train", "optimize", "docs")
PATH = re.compile(rf"(?<![\w./~$-])(?:{'|'.join(PATH_ROOTS)})/[\w./*-]*")
MODULE = re.compile(r"(?<![\w./-])fer_edge(?:\.[A-Za-z_]\w*)+")


def _docs() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += [ROOT / f / "README.md" for f in FOLDERS_WITH_README]
    files += sorted((ROOT / "deploy").rglob("README.md"))
    return sorted({f for f in files if f.is_file()})


@lru_cache(maxsize=1)
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _contracts() -> list[dict]:
    return _pyproject()["tool"]["importlinter"]["contracts"]


def _layers() -> list[list[str]]:
    """The wings contract's layers, top to bottom, each a list of wing names (``train | optimize``)."""
    (wings,) = [c for c in _contracts() if c["type"] == "layers"]
    return [[m.strip().split(".")[1] for m in layer.split("|")] for layer in wings["layers"]]


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start : end if end >= 0 else None]


def _table(section: str) -> list[list[str]]:
    """Rows (cells) of the first Markdown table in ``section``, without its header."""
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return [[c.strip() for c in row.strip("|").split("|")] for row in lines[start + 2 : end]]


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_wing_table_names_every_wing_of_the_contracts_and_the_tree():
    rows = _table(_section(ARCHITECTURE.read_text(encoding="utf-8"), "## Wings and what they may import"))
    in_doc = [_ticked(r[0])[0].split(".")[1] for r in rows]
    named = set()
    for contract in _contracts():
        for key in ("source_modules", "forbidden_modules", "layers", "ancestors"):
            for entry in contract.get(key, []):
                named |= {m.strip().split(".")[1] for m in entry.split("|") if m.strip().startswith("fer_edge.")}
    folders = {p.parent.name for p in (ROOT / "fer_edge").glob("*/__init__.py")}
    assert sorted(in_doc) == sorted(named), "docs/architecture.md's wing table and pyproject's contracts disagree"
    assert folders == {w for layer in _layers() for w in layer}, "every folder of fer_edge/ is a layer of 'wings'"
    assert in_doc == [w for layer in _layers() for w in layer], "the table lists the wings top to bottom"


def test_may_import_column_is_the_wings_below():
    rows = _table(_section(ARCHITECTURE.read_text(encoding="utf-8"), "## Wings and what they may import"))
    may = {_ticked(r[0])[0].split(".")[1]: set(_ticked(r[2])) for r in rows}
    layers = _layers()
    for i, layer in enumerate(layers):
        below = {w for lower in layers[i + 1 :] for w in lower}
        for wing in layer:
            assert may[wing] == below, f"{wing}: the doc says {sorted(may[wing])}, the contract {sorted(below)}"


def test_contract_table_names_every_contract():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    rows = _table(text[text.index("| contract | says |") :])
    assert sorted(_ticked(r[0])[0] for r in rows) == sorted(c["id"] for c in _contracts())


def _module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defines(module: Path, name: str) -> bool:
    """``name`` is bound at the top level of ``module`` (def, class, assignment, import) or named
    as a string there (``__all__``, a lazy-import map)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((a.asname or a.name.split(".")[0]) == name for a in node.names):
                return True
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return any(isinstance(n, ast.Constant) and n.value == name for n in ast.walk(tree))


def _dangling(text: str) -> list[str]:
    bad = []
    for match in PATH.finditer(text):
        path = match.group(0).rstrip(".")
        if not (path.startswith("fer_edge/") or path.endswith("/") or "." in path.rsplit("/", 1)[-1]):
            continue  # prose such as "train/val/test", not a file
        if not ((ROOT / path).exists() or ("*" in path and list(ROOT.glob(path)))):
            bad.append(path)
    for match in MODULE.finditer(text):
        parts = match.group(0).split(".")
        n = max((k for k in range(1, len(parts) + 1) if _module_file(parts[:k])), default=0)
        if n < 2 and not (n == 1 and len(parts) > 1 and _defines(_module_file(parts[:1]), parts[1])):
            bad.append(match.group(0))
        elif n < len(parts) and not _defines(_module_file(parts[:n]), parts[n]):
            bad.append(match.group(0))
    return bad


def test_every_path_and_module_the_docs_name_exists():
    bad = {str(f.relative_to(ROOT)): _dangling(f.read_text(encoding="utf-8")) for f in _docs()}
    assert {f: b for f, b in bad.items() if b} == {}
    assert len(_docs()) >= 10  # README, CONTRIBUTING, docs/, the root folders' and the kits' READMEs


def test_code_scripts_and_makefile_name_paths_and_modules_that_exist():
    """Docstrings and comments cite files too: after a move, none may point at the old place."""
    files = [ROOT / "Makefile", ROOT / "setup.cfg", ROOT / ".ci" / "run"]
    for folder in ("fer_edge", "benchmarks", "deploy", "tests", "train", "optimize"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".sh", ".yaml", ".service")]
    files = [f for f in files if f != Path(__file__).resolve()]  # this file holds stale examples on purpose
    bad = {str(f.relative_to(ROOT)): _dangling(f.read_text(encoding="utf-8")) for f in files}
    # a script names the results file it is about to write (benchmarks/results/runtime_fps.json)
    bad = {f: [b for b in bs if not b.startswith("benchmarks/results/")] for f, bs in bad.items()}
    assert {f: b for f, b in bad.items() if b} == {}


def test_pyproject_names_files_and_functions_that_exist():
    ruff = _pyproject()["tool"]["ruff"]
    patterns = [*ruff["lint"]["per-file-ignores"], *ruff.get("per-file-target-version", {})]
    assert [p for p in patterns if not list(ROOT.glob(p))] == [], "a ruff setting names a file that is gone"
    # A complexity ignore names its function and score in a comment: the function must still exist.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    ignores = re.findall(r'^"([^"]+)" = \["C901"\]\s*# (\w+) \d+', text, flags=re.MULTILINE)
    assert ignores and len(ignores) == len([p for p, v in ruff["lint"]["per-file-ignores"].items() if "C901" in v])
    gone = [f"{path}: {name}" for path, name in ignores if f"def {name}(" not in (ROOT / path).read_text()]
    assert gone == [], "a ruff per-file ignore names a function that is gone"


def _renames(path: Path) -> bool:
    """Does the module rename files itself (``os.replace``/``os.rename``, ``from os import ...``)?"""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("replace", "rename"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(a.name in ("replace", "rename") for a in node.names):
                return True
    return False


def test_renames_outside_the_atomic_module_are_the_documented_ones():
    found = {p.relative_to(ROOT).as_posix() for p in (ROOT / "fer_edge").rglob("*.py") if _renames(p)}
    assert ATOMIC in found  # the search works: the atomic module renames
    section = _section(ARCHITECTURE.read_text(encoding="utf-8"), "### Renames outside the atomic module")
    listed = {_ticked(r[0])[0] for r in _table(section)}
    assert found - {ATOMIC} == listed, "move the rename into fer_edge/core/atomic.py or list it with its reason"


def _imports_tests(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if any(n == "tests" or n.startswith("tests.") for n in names):
            return True
    return False


def test_package_benchmarks_and_kits_import_nothing_from_tests():
    files = [p for folder in ("fer_edge", "benchmarks", "deploy") for p in (ROOT / folder).rglob("*.py")]
    assert len(files) > 100
    assert [p.relative_to(ROOT).as_posix() for p in files if _imports_tests(p)] == []


def test_the_search_for_imports_of_tests_finds_one(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("def f():\n    from tests.support.ovmodels import frame_bundle\n")
    assert _imports_tests(script)
    script.write_text("import testsuite\nfrom .tests import x\n")
    assert not _imports_tests(script)


def test_top_level_is_the_agreed_one_and_each_folder_says_what_it_holds():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert {f.split("/")[0] for f in files} == TOP_LEVEL
    assert [f for f in FOLDERS_WITH_README if f"{f}/README.md" not in files] == []


def test_dangling_finds_stale_paths_and_modules():
    text = (
        "see `fer_edge/core/atomic.py`, `fer_edge/bench/report.py`, fer_edge.core.errors.require, "
        "fer_edge.deploy.run, fer_edge.core.errors.nothing_here, tests/test_fuzz_*.py, "
        "tests/robustness/test_fuzz_*.py, deploy/checks/, deploy/gone/ and tools/pi_check.sh; "
        "runs/demo is an output, train/val/test prose."
    )
    assert _dangling(text) == [
        "fer_edge/bench/report.py",
        "tests/test_fuzz_*.py",
        "deploy/gone/",
        "fer_edge.deploy.run",
        "fer_edge.core.errors.nothing_here",
    ]
