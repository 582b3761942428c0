"""The plan shown at approval promises refinement rounds on either queue: a job trained on
another machine goes on in rounds as one trained here does (test_rounds)."""

from __future__ import annotations

from jobs.queue import open_queue
from jobs.retraining import RetrainApprover
from tvdesk.config import RetrainSettings

ROUNDS = RetrainSettings(labeler="oracle", refine_minutes=40.0)


def test_the_plan_promises_rounds_on_the_local_queue_and_on_a_remote_one(tmp_path, monkeypatch):
    monkeypatch.delenv("TVDESK_QUEUE", raising=False)
    approver = RetrainApprover(ROUNDS, tmp_path, queue=open_queue(tmp_path), traffic_imgsz=480)
    assert approver.plan(None).refine_minutes == 40.0
    monkeypatch.setenv("TVDESK_QUEUE", "redis://127.0.0.1:6379/0")
    assert RetrainApprover(ROUNDS, tmp_path, traffic_imgsz=480).plan(None).refine_minutes == 40.0
