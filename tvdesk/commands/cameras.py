"""`tvdesk cameras [list | show | rename | forget | relearn | set]`: the stored cameras, each
with its model version, its learnt normal and its detection settings."""

from __future__ import annotations

import argparse
import shutil
import time

from tvdesk.config import default_data_dir
from tvdesk.core.drift.reference import ReferenceProfile
from tvdesk.core.registry import Registry
from tvdesk.core.session.cameras import (
    CameraError,
    camera_folder,
    find_camera,
    forget_reference,
)
from tvdesk.core.store import Camera, DetectionSettings, Store


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cameras", help="list, rename, forget or re-learn cameras")
    cameras = parser.add_subparsers(dest="cameras_command", metavar="ACTION")
    cameras.add_parser("list", help="every camera, its model and its baseline").set_defaults(
        run=run_list
    )
    for name, helptext, handler in (
        ("show", "one camera in detail", run_show),
        ("forget", "delete a camera, its counting lines and counts (sessions stay)", run_forget),
        ("relearn", "learn the camera's normal again the next time it plays", run_relearn),
    ):
        action = cameras.add_parser(name, help=helptext)
        action.add_argument("name", help="the camera's name (`tvdesk cameras list`)")
        action.set_defaults(run=handler)
    rename = cameras.add_parser("rename", help="give a camera another name")
    rename.add_argument("name")
    rename.add_argument("new_name")
    rename.set_defaults(run=run_rename)
    change = cameras.add_parser("set", help="a camera's detection settings")
    change.add_argument("name")
    change.add_argument("--imgsz", type=int, help="detector input size, e.g. 640 (0: default)")
    change.add_argument("--confidence", type=float, help="threshold 0-1 (-1: the app's)")
    change.add_argument("--classes", help="class names shown, comma-separated ('' = all)")
    change.add_argument(
        "--detect-every-max",
        type=int,
        metavar="K",
        help="when short of CPU, detect 1 frame in k, k <= K (1: every frame; 0: the app's)",
    )
    change.set_defaults(run=run_set)
    parser.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    with Store() as store:
        cameras = store.cameras.all()
        if not cameras:
            print("no cameras yet: a camera is made the first time a source plays")
        for camera in cameras:
            print(f"{camera.name}  [{camera.kind}] {camera.source}")
            print(f"    model {_model(store, camera)}; drift: {_reference_state(camera)}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    with Store() as store:
        camera = find_camera(store, args.name)
        sessions = [s for s in store.sessions.all(1000) if s.get("camera_id") == camera.id]
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(camera.created))
        lines = [
            f"camera:     {camera.name} (#{camera.id}, since {created})",
            f"source:     {camera.source} ({camera.kind})",
            f"model:      {_model(store, camera)}",
            f"drift:      {_reference_state(camera)}",
            f"detection:  {_detection(camera.detection)}",
            f"sessions:   {len(sessions)}",
        ]
        reference = _reference(camera)
        if reference is not None:
            lines.append(f"reference:  {reference.source}, {len(reference.modes)} mode(s)")
        print("\n".join(lines))
    return 0


def run_rename(args: argparse.Namespace) -> int:
    with Store() as store:
        camera = store.cameras.rename(find_camera(store, args.name).id, args.new_name)
        print(f"camera {args.name} is now {camera.name}")
    return 0


def run_forget(args: argparse.Namespace) -> int:
    with Store() as store:
        camera = store.cameras.forget(find_camera(store, args.name).id)
        shutil.rmtree(camera_folder(default_data_dir(), camera), ignore_errors=True)
        print(
            f"forgot camera {camera.name}, its counting lines, zones and counts (its sessions "
            "and drift events are kept)"
        )
    return 0


def run_relearn(args: argparse.Namespace) -> int:
    with Store() as store:
        camera = forget_reference(store, find_camera(store, args.name))
        print(f"camera {camera.name} learns its normal again the next time it plays")
    return 0


def run_set(args: argparse.Namespace) -> int:
    with Store() as store:
        camera = find_camera(store, args.name)
        old = camera.detection
        classes = old.classes
        if args.classes is not None:
            classes = tuple(c.strip() for c in args.classes.split(",") if c.strip()) or None
        try:
            detection = DetectionSettings(
                imgsz=old.imgsz if args.imgsz is None else (args.imgsz or None),
                confidence=_confidence(old.confidence, args.confidence),
                classes=classes,
                detect_every_max=(
                    old.detect_every_max
                    if args.detect_every_max is None
                    else (args.detect_every_max or None)
                ),
            )
        except ValueError as exc:
            raise CameraError(f"camera {camera.name}: {exc}") from None
        camera = store.cameras.set_detection(camera.id, detection)
        print(f"camera {camera.name}: {_detection(camera.detection)}")
    return 0


def _confidence(old: float | None, given: float | None) -> float | None:
    if given is None:
        return old
    return None if given < 0 else given


def _model(store: Store, camera: Camera) -> str:
    if camera.model_id is None:
        return f"{camera.line} (no version yet)"
    model = Registry(store).version_of(camera)
    return f"{model.name} v{model.version}"


def _reference_state(camera: Camera) -> str:
    if camera.synthetic:
        return "tested against its model's training profile"
    if camera.reference:
        return "tested against its own learnt normal"
    return "learns its normal the next time it plays"


def _reference(camera: Camera) -> ReferenceProfile | None:
    if not camera.reference:
        return None
    path = camera_folder(default_data_dir(), camera) / camera.reference
    try:
        return ReferenceProfile.load(path)
    except ValueError as exc:
        raise CameraError(
            f"the baseline of camera {camera.name} ({path}) cannot be read ({exc}); "
            f"`tvdesk cameras relearn {camera.name}` learns it again"
        ) from None


def _detection(d: DetectionSettings) -> str:
    size = f"input {d.imgsz} px" if d.imgsz else "input: the default"
    conf = f"confidence {d.confidence:g}" if d.confidence is not None else "confidence: the app's"
    classes = f"classes {', '.join(d.classes)}" if d.classes else "all classes"
    k = d.detect_every_max
    cadence = {None: "detection cadence: the app's", 1: "every frame detected"}.get(
        k, f"1 frame in k detected when short of CPU, k <= {k}"
    )
    return f"{size}, {conf}, {classes}, {cadence}"
