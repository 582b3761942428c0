"""Build the tvdesk installer bundle, report the size of each part, and pack the Linux archive.

    python packaging/build.py               # bundle + tvdesk-<version>-linux-x86_64.tar.gz
    python packaging/build.py --no-archive  # the bundle only (what the smoke test runs)
    python packaging/build.py --sizes       # only report the sizes of the last build

Run it with the Python environment to bundle (`.venv/bin/python` here): its torch is the one
the worker carries, so build from an environment with the CPU-only torch to keep the worker
small (docs/installer.md says how). Everything goes under build/pyinstaller/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from dataclasses import asdict, dataclass
from importlib import metadata, util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "tvdesk.spec"
OUT = ROOT / "build" / "pyinstaller"
DIST, WORK = OUT / "dist", OUT / "work"
HEADLESS_OPENCV = OUT / "opencv-headless"
PARTS = WORK / "tvdesk" / "parts.json"  # the spec writes it in its work folder
BUNDLE = DIST / "tvdesk"
REPORT = OUT / "build-report.json"
LINUX_FILES = ROOT / "packaging" / "linux"
ICON = ROOT / "resources" / "icons" / "tvdesk.png"
# What goes into the bundle: a build older than any of these is stale.
SOURCES = (
    "tvdesk",
    "jobs",
    "resources",
    "pyproject.toml",
    "packaging/tvdesk.spec",
    "packaging/hooks",
    "packaging/entry_tvdesk.py",
    "packaging/entry_worker.py",
)
GUI_LIMIT_MB = 400
MB = 1_000_000


@dataclass(frozen=True)
class PartSizes:
    """Bytes on disk of the bundle's parts: what only one executable needs, and what both do."""

    gui_only: int
    worker_only: int
    shared: int

    @property
    def total(self) -> int:
        return self.gui_only + self.worker_only + self.shared

    @property
    def gui(self) -> int:
        """Everything `tvdesk` needs: the player's install size without training."""
        return self.gui_only + self.shared

    @property
    def worker(self) -> int:
        return self.worker_only + self.shared


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def archive_path(version: str | None = None) -> Path:
    machine = platform.machine().lower() or "unknown"
    return OUT / f"tvdesk-{version or project_version()}-{sys.platform}-{machine}.tar.gz"


def executable(name: str, bundle: Path = BUNDLE) -> Path:
    return bundle / (f"{name}.exe" if os.name == "nt" else name)


def torch_build() -> dict[str, str | None]:
    """The torch this environment would bundle: its version and CUDA version (None = CPU)."""
    spec = util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return {"version": None, "cuda": None}
    text = (Path(spec.submodule_search_locations[0]) / "version.py").read_text()
    cuda = re.search(r"^cuda\b.*=\s*'([^']+)'", text, re.MULTILINE)
    return {"version": metadata.version("torch"), "cuda": cuda.group(1) if cuda else None}


def newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = path.rglob("*") if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


def bundle_is_current(bundle: Path = BUNDLE) -> bool:
    """True when the bundle's executables exist and are newer than every bundled source."""
    exes = [executable("tvdesk", bundle), executable("tvdesk-worker", bundle)]
    if not all(p.exists() for p in exes):
        return False
    return min(p.stat().st_mtime for p in exes) > newest_source_mtime()


def headless_opencv(target: Path = HEADLESS_OPENCV) -> Path:
    """OpenCV without its GUI (and its Qt 5) for the bundle, the same version as installed.

    The player never opens an OpenCV window, Ultralytics needs none either, and
    `opencv-python` brings a second Qt (24 MB) into the app. pip cannot keep both OpenCV
    packages in one environment (they write the same `cv2/`), so the headless one is
    unpacked into the build folder, where the spec finds it first.
    """
    version = metadata.version("opencv-python")
    stamp = target / f"opencv-python-headless-{version}"
    if not stamp.exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(target),
                f"opencv-python-headless=={version}",
            ],
            check=True,
        )
        stamp.write_text("")
    return target


def run_pyinstaller() -> float:
    """Build the bundle from the spec; returns the seconds it took."""
    started = time.monotonic()
    env = {**os.environ, "TVDESK_BUNDLE_OPENCV": str(headless_opencv())}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            str(SPEC),
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(DIST),
            "--workpath",
            str(WORK),
        ],
        check=True,
        cwd=ROOT,
        env=env,
    )
    return time.monotonic() - started


def part_sizes(bundle: Path = BUNDLE, parts_file: Path = PARTS) -> PartSizes:
    """Sort every file of the bundle by which executable needs it (the spec's parts.json)."""
    parts = {name: set(files) for name, files in json.loads(parts_file.read_text()).items()}
    gui, worker = parts["tvdesk"], parts["tvdesk-worker"]
    contents = bundle / "_internal"
    sizes = {"gui_only": 0, "worker_only": 0, "shared": 0}
    for path in bundle.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            continue
        size = path.lstat().st_size
        if path.parent == bundle:  # the executables themselves (each with its own modules)
            sizes["worker_only" if path.stem == "tvdesk-worker" else "gui_only"] += size
            continue
        name = path.relative_to(contents).as_posix()
        in_gui, in_worker = _needed_by(name, gui), _needed_by(name, worker)
        if in_gui != in_worker:
            sizes["gui_only" if in_gui else "worker_only"] += size
        else:  # both, or neither (PyInstaller's own files, such as base_library.zip)
            sizes["shared"] += size
    return PartSizes(**sizes)


def _needed_by(name: str, wanted: set[str]) -> bool:
    """A file is needed when the analysis named it or a folder above it (a collected tree)."""
    if name in wanted:
        return True
    return any(parent.as_posix() in wanted for parent in Path(name).parents)


def size_lines(sizes: PartSizes) -> list[str]:
    rows = [
        ("only tvdesk (Qt, pyqtgraph, the GUI executable)", sizes.gui_only),
        ("only tvdesk-worker (torch, Ultralytics, ...)", sizes.worker_only),
        ("shared (Python, numpy, OpenCV, ONNX Runtime, model...)", sizes.shared),
        ("total bundle", sizes.total),
        (f"GUI part: tvdesk needs (target <= {GUI_LIMIT_MB} MB)", sizes.gui),
        ("worker part: tvdesk-worker needs", sizes.worker),
    ]
    return [f"  {label:<58} {size / MB:8.1f} MB" for label, size in rows]


def make_archive(bundle: Path = BUNDLE, target: Path | None = None) -> Path:
    """`tvdesk-<version>-linux-x86_64.tar.gz`: the bundle, its .desktop file, icon and installer
    of the desktop entry, in one top folder."""
    version = project_version()
    target = target or archive_path(version)
    top = f"tvdesk-{version}"
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=top)
        tar.add(LINUX_FILES / "tvdesk.desktop", arcname=f"{top}/tvdesk.desktop")
        tar.add(LINUX_FILES / "install-desktop-entry.sh", arcname=f"{top}/install-desktop-entry.sh")
        tar.add(ICON, arcname=f"{top}/tvdesk.png")
    partial.replace(target)
    return target


def write_report(values: dict) -> None:
    old = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    REPORT.write_text(json.dumps({**old, **values}, indent=2) + "\n")


def build(archive: bool = True) -> dict:
    """Build, measure and (on Linux) pack; returns what build-report.json now holds."""
    torch = torch_build()
    kind = f"CUDA {torch['cuda']}" if torch["cuda"] else "CPU only"
    print(f"bundling torch {torch['version']} ({kind})")
    seconds = run_pyinstaller()
    sizes = part_sizes()
    report = {
        "version": project_version(),
        "python": platform.python_version(),
        "build_seconds": round(seconds, 1),
        "torch": torch,
        "torch_bytes": _folder_bytes(BUNDLE / "_internal" / "torch"),
        "sizes": {**asdict(sizes), "total": sizes.total, "gui": sizes.gui, "worker": sizes.worker},
    }
    print(f"built {BUNDLE} in {seconds / 60:.1f} min")
    print("\n".join(size_lines(sizes)))
    if archive and sys.platform.startswith("linux"):
        started = time.monotonic()
        target = make_archive()
        report["archive"] = {
            "path": str(target),
            "bytes": target.stat().st_size,
            "seconds": round(time.monotonic() - started, 1),
        }
        print(f"archive {target} ({target.stat().st_size / MB:.0f} MB)")
    write_report(report)
    return report


def _folder_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_dir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/build.py", description=__doc__.split("\n")[0])
    parser.add_argument("--no-archive", action="store_true", help="build the bundle only")
    parser.add_argument("--sizes", action="store_true", help="report the last build's sizes")
    parser.add_argument(
        "--if-stale", action="store_true", help="build only when older than the sources"
    )
    args = parser.parse_args(argv)
    if args.sizes:
        if not PARTS.exists():
            print(f"no build in {OUT}: run python packaging/build.py first", file=sys.stderr)
            return 1
        print("\n".join(size_lines(part_sizes())))
        return 0
    if args.if_stale and bundle_is_current():
        print(f"{BUNDLE} is newer than the sources: not rebuilt")
        return 0
    build(archive=not args.no_archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
