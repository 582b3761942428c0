"""Layering rules: Qt only in tvdesk/ui, and the player never loads the training stack (nor
SciPy, which the installer leaves out of the player's part)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tvdesk.config import project_root

ROOT = project_root()
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")
TRAINING_MODULES = ("ultralytics", "torch", "torchvision")
NOT_BUNDLED_WITH_PLAYER = ("scipy",)  # packaging/tvdesk.spec: NOT_IN_PLAYER
# Everything the player (GUI and `tvdesk run`) imports; training code lives in tvdesk.training.
PLAYER_PACKAGES = ("tvdesk.core", "tvdesk.ui", "tvdesk.commands")
NOT_PLAYER = ("tvdesk.commands.train",)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _python_files(*folders: str) -> list[Path]:
    return [p for f in folders for p in (ROOT / f).rglob("*.py")]


def test_only_tvdesk_ui_imports_qt():
    offenders = [
        str(p.relative_to(ROOT))
        for p in _python_files("tvdesk", "jobs")
        if "ui" not in p.relative_to(ROOT).parts[:2] and _imports(p) & set(QT_MODULES)
    ]
    assert not offenders, f"Qt imported outside tvdesk/ui: {offenders}"


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
