"""A job trained on another machine ends after its first version: no refinement rounds, and
the plan shown at approval says so; on the local queue the rounds stay."""

from __future__ import annotations

from jobs.queue import open_queue
from jobs.retraining import RetrainApprover, on_queue
from tvdesk.config import RetrainSettings

ROUNDS = RetrainSettings(labeler="oracle", refine_minutes=40.0)


def test_a_remote_queue_turns_the_rounds_off_and_the_local_queue_keeps_them():
    assert on_queue(ROUNDS, "redis://127.0.0.1:6379/0").refine_minutes == 0
    assert on_queue(ROUNDS, "").refine_minutes == 40.0


def test_the_plan_on_the_local_queue_promises_rounds(tmp_path, monkeypatch):
    monkeypatch.delenv("TVDESK_QUEUE", raising=False)
    approver = RetrainApprover(ROUNDS, tmp_path, queue=open_queue(tmp_path), traffic_imgsz=480)
    assert approver.plan(None).refine_minutes == 40.0
    monkeypatch.setenv("TVDESK_QUEUE", "redis://127.0.0.1:6379/0")
    assert RetrainApprover(ROUNDS, tmp_path, traffic_imgsz=480).plan(None).refine_minutes == 0
