"""Layering rules: import-linter's contracts (pyproject.toml), no import cycles, benchmarks that
import as a package, and the player never loads the training stack (nor SciPy, which the
installer leaves out of the player's part) when it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tvdesk.config import project_root

ROOT = project_root()
# The training stack, and what only the worker's labelers use (ensemble-boxes loads numba and
# llvmlite; supervision reads labelling tools' exports).
TRAINING_MODULES = (
    "ultralytics",
    "torch",
    "torchvision",
    "ensemble_boxes",
    "numba",
    "llvmlite",
    "supervision",
)
NOT_BUNDLED_WITH_PLAYER = ("scipy", "PIL")  # packaging/tvdesk.spec: NOT_IN_PLAYER
# Everything the player (GUI and `tvdesk run`) imports; training code lives in tvdesk.training.
PLAYER_PACKAGES = ("tvdesk.core", "tvdesk.ui", "tvdesk.commands")
NOT_PLAYER = ("tvdesk.commands.train",)


def _python_files(*folders: str) -> list[Path]:
    return [p for f in folders for p in (ROOT / f).rglob("*.py")]


def test_the_layer_contracts_hold():
    """pyproject's import-linter contracts: commands > ui | jobs > demo > retrain > training >
    core; Qt only in ui; no queue or training stack in core; no training stack in the GUI."""
    linter = Path(sys.executable).with_name("lint-imports")
    if not linter.exists():
        pytest.skip("import-linter is not installed (the dev extra)")
    out = subprocess.run([str(linter)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_no_module_imports_itself_back():
    """No import cycles between modules (a cycle hides which one is the lower layer)."""
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (dev extra)")
    graph = grimp.build_graph("tvdesk", "jobs")
    cycles = sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if imported in graph.modules and graph.chain_exists(importer=imported, imported=module)
        }
    )
    assert not cycles


def test_every_benchmark_imports_as_a_module_of_the_bench_package():
    """`python -m bench.NAME` needs no sys.path edits; a benchmark that no longer imports
    fails here rather than on the day someone wants its figures."""
    names = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")
    code = "import importlib\n" + "".join(f"importlib.import_module('bench.{n}')\n" for n in names)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert not [p for p in (ROOT / "bench").glob("*.py") if "sys.path" in p.read_text()], (
        "bench modules import through the package, not sys.path"
    )


def _module_names(package: str) -> list[str]:
    folder = ROOT / package.replace(".", "/")
    names = []
    for path in folder.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(n for n in names if n not in NOT_PLAYER)


def test_the_player_path_never_imports_ultralytics_torch_or_scipy():
    modules = [m for pkg in PLAYER_PACKAGES for m in _module_names(pkg)] + ["tvdesk.cli"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"banned = {TRAINING_MODULES + NOT_BUNDLED_WITH_PLAYER!r}\n"
        "print(','.join(sorted(m for m in banned if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"player imports what it must not: {out.stdout}"
    assert len(modules) > 10


def test_no_grab_bag_modules():
    banned = {"utils.py", "helpers.py", "manager.py", "misc.py"}
    assert not [p for p in _python_files("tvdesk", "jobs") if p.name in banned]
