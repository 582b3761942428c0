"""The candidate a training worker sent back, registered on the app's side like one trained
here: its files wait in the job's folder (`remote/`), its figures are in the job's result."""

from __future__ import annotations

import json
from pathlib import Path

from tvdesk.core.registry import CARD_NAME, ONNX_NAME, PT_NAME, pt_path
from tvdesk.retrain.context import JobContext
from tvdesk.retrain.stages import register_candidate

RECEIVED_FOLDER = "remote"


def received_folder(ctx: JobContext) -> Path:
    return ctx.workspace / RECEIVED_FOLDER


def received_pt(ctx: JobContext) -> Path:
    return received_folder(ctx) / PT_NAME


def register_received(ctx: JobContext) -> None:
    """The app's register stage of a job trained on another machine."""
    folder = received_folder(ctx)
    card = json.loads((folder / CARD_NAME).read_text())
    r = ctx.result
    start = str(pt_path(ctx.parent_version()))  # the worker's copy was parent/model.pt
    params = {**r["train_params"], "start_from": start}
    card["data"] = {**card.get("data", {}), "yaml": r["data_yaml"]}
    card["training"] = {**card.get("training", {}), "start_from": start}
    card["trained_by"] = r.get("remote_worker", {})
    ctx.remember(train_params=params, candidate_pt=str(received_pt(ctx)))
    register_candidate(ctx, folder / ONNX_NAME, card)
