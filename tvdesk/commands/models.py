"""`tvdesk models [list | activate V | rollback]`: the registered model versions."""

from __future__ import annotations

import argparse
import time

from tvdesk.core.registry import Registry, RegistryError
from tvdesk.core.store import Store
from tvdesk.core.store.model_version import ModelVersion


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list, activate or roll back model versions")
    models_sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    models_sub.add_parser("list", help="every version, the active one marked *").set_defaults(
        run=run_list
    )
    activate = models_sub.add_parser("activate", help="make version V the active model")
    activate.add_argument("version", help="a version of the active model's name, e.g. 2")
    activate.set_defaults(run=run_activate)
    models_sub.add_parser("rollback", help="activate the active version's parent").set_defaults(
        run=run_rollback
    )
    parser.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    with Store() as store:
        registry = Registry(store)
        registry.active()
        for model in registry.versions():
            print(describe(model))
    return 0


def run_activate(args: argparse.Namespace) -> int:
    with Store() as store:
        registry = Registry(store)
        name = registry.active().name
        found = [m for m in registry.versions() if m.name == name and m.version == args.version]
        if not found:
            raise RegistryError(
                f"{name} has no version {args.version}: `tvdesk models list` shows the versions"
            )
        print(describe(registry.activate(found[0].id)))
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    with Store() as store:
        print(describe(Registry(store).rollback()))
    return 0


def describe(model: ModelVersion) -> str:
    mark = "*" if model.active else " "
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
    return f"{mark} {model.name} v{model.version}{parent}  {when}{data}{figures}"
