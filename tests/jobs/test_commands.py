"""The retraining commands (`worker`, `jobs`, `retrain`, `models`, `data versions`) run as the
CLI runs them: parsed by argparse, against the real store, registry and queue."""

from __future__ import annotations

from dataclasses import replace

import pytest
from retrain_support import camera_version, free_port, run_command, tiny_settings

from jobs.queue import QueueUnavailableError, open_queue
from tvdesk.cli import main
from tvdesk.commands import data_versions, jobs, models, retrain, worker
from tvdesk.core.registry import Candidate, Registry, RegistryError
from tvdesk.core.store import Camera
from tvdesk.core.store.job import JobState
from tvdesk.retrain.context import JobContext, request_retrain


def test_jobs_list_show_and_cancel(store, captured, base_yaml, capsys):
    job = request_retrain(store, captured[1], captured[0], tiny_settings(base_yaml))
    assert run_command(jobs, "jobs", "list") == 0
    assert f"#{job.id} retrain queued" in capsys.readouterr().out
    assert run_command(jobs, "jobs", "cancel", str(job.id)) == 0
    assert "cancelled" in capsys.readouterr().out
    assert store.jobs.get(job.id).state == JobState.CANCELLED
    assert run_command(jobs, "jobs", "show", str(job.id)) == 0
    assert "cancelled by the operator during queue" in capsys.readouterr().out


def test_jobs_stop_after_the_round_then_now(isolated_home, store, captured, base_yaml, capsys):
    job = request_retrain(store, captured[1], captured[0], tiny_settings(base_yaml))
    ctx = JobContext(store, isolated_home, job.id)
    ctx.begin("train")
    ctx.remember(round=2, model_version="2", model_round=1)
    assert run_command(jobs, "jobs", "stop", str(job.id)) == 0
    assert f"job {job.id} ends once round 2 has been gated" in capsys.readouterr().out
    assert store.jobs.get(job.id).result["stop_after_round"] is True
    assert run_command(jobs, "jobs", "stop", str(job.id), "--now") == 0
    out = capsys.readouterr().out
    assert "succeeded" in out and "round 2 (train); version 2 (round 1) stays live" in out


def test_models_list_activate_and_rollback(isolated_home, store, tiny_model, capsys):
    registry = Registry(store, isolated_home)
    first = camera_version(store, isolated_home)
    candidate = Candidate(tiny_model, tiny_model.with_suffix(".pt"), {}, data_md5="feed.dir")
    second = registry.register(first.name, candidate, parent_id=first.id)
    registry.record_int8(second, {"file": None, "passed": False, "reason": "lost 0.05 mAP50"})
    assert run_command(models, "models", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == first.name
    assert out[1].startswith("* #1 v1") and out[1].endswith("cameras: synthetic")
    assert out[2].startswith("  #2 v2 (from #1)")
    assert out[2].endswith("fp32 only (its int8 copy failed its gate)")
    assert run_command(models, "models", "activate", "2") == 0
    assert camera_version(store, isolated_home).version == "2"
    assert run_command(models, "models", "rollback", "--camera", "synthetic") == 0
    assert camera_version(store, isolated_home).version == "1"
    with pytest.raises(RegistryError, match="has no version 9"):
        run_command(models, "models", "activate", "9")


def test_retrain_queues_a_job_and_data_versions_lists_nothing_yet(
    isolated_home, store, captured, capsys
):
    event = store.drift_events.all()[0]
    code = run_command(
        retrain,
        "retrain",
        "--event",
        str(event.id),
        "--capture",
        str(captured[0]),
        "--budget",
        "5",
        "--no-worker",
    )
    assert code == 0
    assert "queued retraining job #1" in capsys.readouterr().out
    job = store.jobs.get(1)
    assert job.params["settings"]["label_budget"] == 5
    assert open_queue().pending() == 1
    assert run_command(data_versions, "data", "versions") == 0
    assert "no dataset versions yet" in capsys.readouterr().out


def test_retrain_with_an_unreachable_queue_says_so(store, captured, monkeypatch):
    monkeypatch.setenv("TVDESK_QUEUE", "redis://:pw@127.0.0.1:9/0")
    with pytest.raises(QueueUnavailableError, match=r"redis://:\*\*\*@127.0.0.1:9/0"):
        run_command(retrain, "retrain", "--event", "1", "--capture", str(captured[0]))
    assert store.jobs.all() == []


def test_worker_refuses_to_start_on_an_unreachable_queue(monkeypatch):
    monkeypatch.setenv("TVDESK_QUEUE", "redis://127.0.0.1:9/0")
    with pytest.raises(QueueUnavailableError, match="cannot reach the job queue"):
        run_command(worker, "worker")


def test_retrain_of_a_real_camera_trains_with_the_teacher_at_the_size_it_plays_at(
    isolated_home, store, captured, capsys
):
    (isolated_home / "settings.toml").write_text("traffic_imgsz = 416\n")
    synthetic = store.cameras.named("synthetic")
    real = store.cameras.add(
        Camera("gate", "gate.mp4", "file:gate.mp4", "file", synthetic.line, synthetic.model_id)
    )
    session_id = store.sessions.start("gate.mp4", "file", "1", real.id)
    event = store.drift_events.save(replace(captured[1], id=None), session_id)
    code = run_command(
        retrain, "retrain", "--event", str(event.id), "--capture", str(captured[0]), "--no-worker"
    )
    assert code == 0, capsys.readouterr()
    job = store.jobs.get(1)
    assert job.params["camera_id"] == real.id
    assert (job.params["settings"]["labeler"], job.params["settings"]["imgsz"]) == ("teacher", 416)


def test_demo_queue_that_is_not_redis_or_cannot_be_reached_is_one_line(tmp_path, capsys):
    home = tmp_path / "demo"
    assert main(["demo", "--headless", "--queue", "http://pw@host/x", "--home", str(home)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tvdesk: error: --queue http://") and "is not a Redis URL" in error
    url = f"redis://:secret-pw@127.0.0.1:{free_port()}/0"
    assert main(["demo", "--headless", "--queue", url, "--home", str(home)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tvdesk: error: cannot reach the job queue redis://:***@127.0.0.1")
    assert "secret-pw" not in error and len(error.strip().splitlines()) == 1
