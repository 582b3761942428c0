"""What the app does differently when frozen by PyInstaller, and how the build script sorts the
bundle's files into parts; quick tests that need no built bundle."""

from __future__ import annotations

import importlib.util
import json
import lzma
import os
import platform
import sys
import tarfile

from jobs.worker import worker_command
from tvdesk.config import (
    PACKED_SUFFIX,
    bundled_model_path,
    default_data_dir,
    project_root,
    resources_dir,
)

spec = importlib.util.spec_from_file_location(
    "tvdesk_build", project_root() / "packaging" / "build.py"
)
build = importlib.util.module_from_spec(spec)
sys.modules["tvdesk_build"] = build  # dataclasses look their module up
spec.loader.exec_module(build)


def test_the_frozen_app_starts_the_bundled_worker_executable(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "tvdesk"))

    assert worker_command() == [str(tmp_path / "tvdesk-worker")]


def test_from_source_the_worker_is_this_interpreter_on_the_module():
    assert worker_command() == [sys.executable, "-m", "jobs.worker"]


def test_frozen_resources_come_from_the_bundle_and_data_goes_to_the_user(
    monkeypatch, tmp_path, isolated_home
):
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)

    assert resources_dir() == tmp_path / "_internal" / "resources"
    assert bundled_model_path().is_relative_to(tmp_path / "_internal" / "resources" / "models")
    assert default_data_dir() == isolated_home


def test_packed_bundled_models_are_unpacked_once_into_the_home_folder(
    monkeypatch, tmp_path, isolated_home
):
    models = tmp_path / "_internal" / "resources" / "models"
    models.mkdir(parents=True)
    onnx = bytes(range(256)) * 64
    (models / f"m.onnx{PACKED_SUFFIX}").write_bytes(lzma.compress(onnx))
    (models / f"m.int8.onnx{PACKED_SUFFIX}").write_bytes(lzma.compress(onnx[:100]))
    (models / "m.json").write_text("{}")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)

    path = bundled_model_path("m")
    assert path.is_relative_to(isolated_home / "bundled-models")
    assert path.read_bytes() == onnx and path.with_suffix(".json").read_text() == "{}"
    assert path.with_name("m.int8.onnx").read_bytes() == onnx[:100]
    written = path.stat().st_mtime_ns
    assert bundled_model_path("m") == path and path.stat().st_mtime_ns == written
    assert [p.name for p in path.parent.parent.iterdir()] == [path.parent.name]  # no leftovers


def test_part_sizes_sort_files_by_the_executable_that_needs_them(tmp_path):
    bundle = tmp_path / "tvdesk"
    files = {
        "tvdesk": 10,
        "tvdesk-worker": 20,
        "_internal/libQt6Core.so.6": 100,
        "_internal/torch/lib/libtorch_cpu.so": 1000,
        "_internal/numpy/core.so": 300,
        "_internal/resources/models/tvdesk-base.onnx": 40,
        "_internal/base_library.zip": 5,
    }
    for name, size in files.items():
        (bundle / name).parent.mkdir(parents=True, exist_ok=True)
        (bundle / name).write_bytes(b"x" * size)
    parts = tmp_path / "parts.json"
    parts.write_text(
        json.dumps(
            {
                "tvdesk": ["libQt6Core.so.6", "numpy/core.so", "resources"],
                "tvdesk-worker": ["torch/lib/libtorch_cpu.so", "numpy/core.so", "resources"],
            }
        )
    )

    sizes = build.part_sizes(bundle, parts)

    assert (sizes.gui_only, sizes.worker_only, sizes.shared) == (110, 1020, 345)
    assert (sizes.gui, sizes.worker, sizes.total) == (455, 1365, 1475)


def test_a_bundle_older_than_the_sources_is_stale(tmp_path):
    bundle = tmp_path / "tvdesk"
    bundle.mkdir()
    newest = build.newest_source_mtime()
    for name in ("tvdesk", "tvdesk-worker"):
        (bundle / name).write_text("")
        os.utime(bundle / name, (newest + 60, newest + 60))
    assert build.bundle_is_current(bundle)

    os.utime(bundle / "tvdesk-worker", (newest - 60, newest - 60))
    assert not build.bundle_is_current(bundle)
    assert not build.bundle_is_current(tmp_path / "missing")


def test_the_linux_archive_holds_the_bundle_and_its_desktop_entry(tmp_path):
    bundle = tmp_path / "tvdesk"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "tvdesk").write_text("")

    archive = build.make_archive(bundle, tmp_path / "tvdesk.tar.gz")

    top = f"tvdesk-{build.project_version()}"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        desktop = tar.extractfile(f"{top}/tvdesk.desktop").read().decode()
    assert {f"{top}/tvdesk", f"{top}/tvdesk.png", f"{top}/install-desktop-entry.sh"} <= names
    assert "Exec=tvdesk gui %f" in desktop and "Icon=tvdesk" in desktop
    if sys.platform == "linux" and platform.machine() == "x86_64":
        assert build.archive_path("1.2.3").name == "tvdesk-1.2.3-linux-x86_64.tar.gz"
