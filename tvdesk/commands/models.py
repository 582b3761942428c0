"""`tvdesk models [list | activate V | rollback]`: model lines, their versions, and which
camera runs which."""

from __future__ import annotations

import argparse
import time

from tvdesk.core.detector.int8_copy import read_gate
from tvdesk.core.registry import Registry, RegistryError
from tvdesk.core.session.cameras import CameraError, find_camera
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.model_version import ModelVersion


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list model lines; activate or roll back a version")
    models_sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    models_sub.add_parser(
        "list", help="every line and version, with the cameras that run it"
    ).set_defaults(run=run_list)
    activate = models_sub.add_parser("activate", help="make a camera run version V of its line")
    activate.add_argument("version", help="a version of the camera's line, e.g. 2")
    activate.add_argument("--camera", metavar="NAME", help="the camera (needed if several)")
    activate.set_defaults(run=run_activate)
    rollback = models_sub.add_parser("rollback", help="make a camera run its version's parent")
    rollback.add_argument("--camera", metavar="NAME", help="the camera (needed if several)")
    rollback.set_defaults(run=run_rollback)
    parser.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    with Store() as store:
        versions = Registry(store).versions()
        if not versions:
            print("no model versions yet: they are registered when a camera first plays")
        for line in dict.fromkeys(v.name for v in versions):
            print(line)
            for model in (v for v in versions if v.name == line):
                print(describe(model, store.cameras.using(model.id)))
    return 0


def run_activate(args: argparse.Namespace) -> int:
    with Store() as store:
        camera = _camera(store, args.camera)
        registry = Registry(store)
        found = [m for m in registry.versions(camera.line) if m.version == args.version]
        if not found:
            raise RegistryError(
                f"{camera.line} has no version {args.version}: `tvdesk models list` shows them"
            )
        model = registry.activate(camera.id, found[0].id)
        print(f"camera {camera.name} runs {model.name} v{model.version} now")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    with Store() as store:
        camera = _camera(store, args.camera)
        model = Registry(store).rollback(camera.id)
        print(f"camera {camera.name} runs {model.name} v{model.version} now")
    return 0


def _camera(store: Store, name: str | None) -> Camera:
    if name:
        return find_camera(store, name)
    cameras = store.cameras.all()
    if len(cameras) != 1:
        names = ", ".join(c.name for c in cameras) or "none yet"
        raise CameraError(f"say which camera with --camera NAME (cameras: {names})")
    return cameras[0]


def describe(model: ModelVersion, cameras: list[Camera]) -> str:
    """One line: version, parent, date, data version, gate figures, its int8 copy's verdict,
    and who runs it."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(model.created))
    drift = model.metrics.get("drift", {}).get("map50")
    base = model.metrics.get("base", {}).get("map50")
    figures = (
        f"  drift mAP50 {drift:.3f}, base mAP50 {base:.3f}"
        if drift is not None and base is not None
        else ""
    )
    parent = f" (from #{model.parent_id})" if model.parent_id else ""
    data = f"  data {model.data_md5[:12]}" if model.data_md5 else ""
    used = f"  cameras: {', '.join(c.name for c in cameras)}" if cameras else ""
    mark = "*" if cameras else " "
    return f"{mark} #{model.id} v{model.version}{parent}  {when}{data}{figures}{_int8(model)}{used}"


def _int8(model: ModelVersion) -> str:
    """What the version's card says of its int8 copy (nothing while it has none, as while a
    retraining still makes it); the card's `int8` entry says why one failed."""
    gate = read_gate(model.path)
    if gate is None:
        return ""
    return "  int8 copy" if gate.passed else "  fp32 only (its int8 copy failed its gate)"
