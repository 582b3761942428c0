"""A model's int8 copy and the verdict of its gate, as the player reads them.

`tvdesk.training.int8` writes `<stem>.int8.onnx` beside a model (`model.int8.onnx` beside a
version's `model.onnx`) and records its gate in the model's card under `int8`: the input sizes
it was gated at, fp32 and int8 mAP50 on each held-out set, and the file's checksum. The player
may run the copy only where that verdict holds: it passed, at the input size the camera runs,
and the file is the one that was gated. Everything here only reads; nothing imports onnx.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from tvdesk.core.atomic import sha256_of

logger = logging.getLogger(__name__)

ONNX_SUFFIX = ".onnx"
INT8_SUFFIX = ".int8.onnx"
CARD_KEY = "int8"
VERSION_CARD = "card.json"  # a registry version's card; a bundled model's is <stem>.json


def int8_path(onnx: Path) -> Path:
    """Where the int8 copy of `onnx` lives: `<stem>.int8.onnx` beside it."""
    return onnx.with_name(onnx.name.removesuffix(ONNX_SUFFIX) + INT8_SUFFIX)


def fp32_path(path: Path) -> Path:
    """The model an int8 copy was made from (`path` itself when it is no int8 copy)."""
    if not path.name.endswith(INT8_SUFFIX):
        return path
    return path.with_name(path.name.removesuffix(INT8_SUFFIX) + ONNX_SUFFIX)


def card_path(onnx: Path) -> Path | None:
    """The card of `onnx` (or of the model an int8 copy was made from), if there is one."""
    model = fp32_path(onnx)
    for card in (model.with_name(VERSION_CARD), model.with_suffix(".json")):
        if card.is_file():
            return card
    return None


@dataclass(frozen=True)
class Int8Gate:
    """What a card says of a model's int8 copy."""

    passed: bool
    imgsz: tuple[int, ...]  # the input sizes it was gated at
    export_imgsz: int | None  # the size a detector runs when given none
    sha256: str
    reason: str = ""

    @classmethod
    def from_card(cls, entry: dict) -> Int8Gate:
        return cls(
            passed=bool(entry.get("passed")),
            imgsz=tuple(int(s) for s in entry.get("imgsz", ())),
            export_imgsz=entry.get("export_imgsz"),
            sha256=str(entry.get("sha256", "")),
            reason=str(entry.get("reason", "")),
        )


def read_gate(onnx: Path) -> Int8Gate | None:
    """The int8 verdict in `onnx`'s card; None without a card, an entry, or a readable card."""
    card = card_path(onnx)
    if card is None:
        return None
    try:
        entry = json.loads(card.read_text()).get(CARD_KEY)
    except (OSError, ValueError, AttributeError) as exc:
        logger.warning("model card %s is unreadable (%s); running the fp32 model", card, exc)
        return None
    return Int8Gate.from_card(entry) if isinstance(entry, dict) else None


def gated_int8(onnx: Path, imgsz: int | None) -> tuple[Path | None, str]:
    """The int8 copy of `onnx` that passed its gate at input size `imgsz` (None: the model's
    own size), or None and why it may not run."""
    gate = read_gate(onnx)
    if gate is None:
        return None, "the model has no int8 copy"
    if not gate.passed:
        return None, f"its int8 copy failed its gate ({gate.reason})"
    size = imgsz or gate.export_imgsz
    if size not in gate.imgsz:
        sizes = ", ".join(map(str, gate.imgsz))
        return None, f"its int8 copy was gated at input size {sizes}, not at {size}"
    path = int8_path(onnx)
    if not path.is_file():
        return None, f"its int8 copy {path} is missing"
    if sha256_of(path) != gate.sha256:
        return None, f"{path} is not the int8 file its card gated (checksum differs)"
    return path, ""
