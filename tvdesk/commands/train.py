"""`tvdesk train`: train (or fine-tune) a detector, export it to ONNX, measure it, write its card.

The retraining jobs call the same `tvdesk.training` functions; this command is how the bundled
model was made.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from tvdesk.core import atomic
from tvdesk.core.synth.dataset import DatasetError, count_images
from tvdesk.retrain.dataset import data_version

logger = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="train a detector and export it to ONNX (needs the 'train' extra)",
        description="Train YOLOv8n from scratch (or fine-tune a .pt) on a YOLO dataset, export "
        "it to ONNX with dynamic input shape, evaluate it with Ultralytics' val on "
        "each --eval set, and write NAME.pt, NAME.onnx and NAME.json into OUT.",
    )
    parser.add_argument("--data", type=Path, required=True, help="the dataset's data.yaml")
    parser.add_argument("--out", type=Path, required=True, help="folder for the model files")
    parser.add_argument("--name", default="model", help="file stem of the outputs")
    parser.add_argument(
        "--start-from",
        default="yolov8n.yaml",
        help="architecture yaml (from scratch) or a .pt to fine-tune",
    )
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--optimizer",
        default="auto",
        help="Ultralytics optimizer (SGD, AdamW, ...); auto (default) picks one and its rate",
    )
    parser.add_argument(
        "--lr0", type=float, default=0.01, help="initial learning rate (not used with auto)"
    )
    parser.add_argument(
        "--warmup-epochs", type=float, default=3.0, help="learning-rate warm-up (default 3)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads for torch (default 0: all cores)"
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="LAST_PT",
        help="continue an interrupted run from its last.pt (give the same arguments again)",
    )
    parser.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="LABEL=DATA_YAML",
        help="also measure on this dataset's val split (repeatable)",
    )
    parser.add_argument(
        "--data-dvc", type=Path, help="DVC pointer of the training data, recorded as its version"
    )
    parser.set_defaults(run=run)


def _eval_sets(pairs: list[str], train_yaml: Path) -> dict[str, Path]:
    sets = {"train-val": train_yaml}
    for pair in pairs:
        label, sep, path = pair.partition("=")
        if not sep or not label or not path:
            raise DatasetError(f"--eval expects LABEL=DATA_YAML, got {pair!r}")
        sets[label] = Path(path)
    for path in sets.values():
        if not path.exists():
            raise DatasetError(f"{path} not found: give the data.yaml of a YOLO dataset")
        count_images(path.parent)
    return sets


def run(args: argparse.Namespace) -> int:
    from tvdesk.training.card import build_card, write_card
    from tvdesk.training.evaluation import evaluate
    from tvdesk.training.export import export_onnx
    from tvdesk.training.trainer import TrainParams, train

    eval_sets = _eval_sets(args.eval, args.data)
    params = TrainParams(
        start_from=args.start_from,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        seed=args.seed,
        threads=args.threads,
        optimizer=args.optimizer,
        lr0=args.lr0,
        warmup_epochs=args.warmup_epochs,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tvdesk-train-", dir=args.out) as work:
        result = train(args.data, Path(work), params, on_epoch=_log_epoch, resume=args.resume)
        seconds = time.monotonic() - started
        onnx = export_onnx(result.best_weights, args.imgsz, dynamic=True)
        metrics = {
            label: evaluate(result.best_weights, path, args.imgsz)
            for label, path in eval_sets.items()
        }
        data = {"yaml": str(args.data)}
        if args.data_dvc:
            data |= {"dvc_file": str(args.data_dvc), "dvc_md5": data_version(args.data_dvc)}
        names = _class_names(onnx)
        pt_out, onnx_out = args.out / f"{args.name}.pt", args.out / f"{args.name}.onnx"
        atomic.copy_file(result.best_weights, pt_out)
        atomic.copy_file(onnx, onnx_out)
    training = params.as_dict() | {"epochs_run": result.epochs_run}
    if stages := earlier_stages(Path(args.start_from)):
        training["stages"] = stages
    card = build_card(args.name, onnx_out, pt_out, names, data, training, metrics, seconds)
    write_card(card, args.out / f"{args.name}.json")
    for label, m in metrics.items():
        print(f"{label:>12}: mAP50 {m['map50']:.3f}  mAP50-95 {m['map50_95']:.3f}")
    print(f"wrote {onnx_out}, {pt_out} and {args.name}.json in {seconds / 60:.1f} min")
    return 0


def earlier_stages(start_from: Path) -> list[dict]:
    """How the checkpoint a run starts from was made, from the card beside it (NAME.json next
    to NAME.pt, as `tvdesk train` writes them): its own earlier stages, then its training with
    its data and metrics. Empty when training from an architecture or from a bare checkpoint."""
    card_path = start_from.with_suffix(".json")
    if start_from.suffix != ".pt" or not card_path.is_file():
        return []
    card = json.loads(card_path.read_text())
    training = dict(card.get("training", {}))
    stages = training.pop("stages", [])
    stage = {
        "stage": len(stages) + 1,
        **training,
        "data": card.get("data", {}),
        "metrics": card.get("metrics", {}),
    }
    return [*stages, stage]


def _log_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
    map50 = metrics.get("metrics/mAP50(B)", float("nan"))
    logger.info("epoch %d/%d  mAP50 %.3f", epoch, epochs, map50)


def _class_names(onnx: Path) -> list[str]:
    import ast

    import onnx as onnx_lib

    meta = {
        p.key: p.value for p in onnx_lib.load(str(onnx), load_external_data=False).metadata_props
    }
    return list(ast.literal_eval(meta["names"]).values())
