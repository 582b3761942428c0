"""Real inputs for the retraining tests: a tiny trained model, a captured day->night stream with
a pinned drift event, a real worker process and a real redis-server.

The model is a genuine Ultralytics YOLOv8n fine-tuned for one epoch at 64 px, so every stage
(training, evaluation, export, detector validation) runs the real code in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from media import capture_stream

from tvdesk.config import RetrainSettings, project_root
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.registry import Registry
from tvdesk.core.session.capture import FRAMES_FOLDER, CaptureBuffer
from tvdesk.core.sources import SyntheticSource
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.camera import SYNTHETIC_KIND
from tvdesk.core.store.job import Job
from tvdesk.core.store.model_version import ModelVersion
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

TINY_IMGSZ = 64
STREAM_FPS = 1.0  # the day-night scenario at 1 fps: 190 frames, night from frame 70
NIGHT_FROM = 70


def make_tiny_model(folder: Path) -> Path:
    """Train, export and card a 1-epoch 64 px YOLOv8n as `folder/tvdesk-base.{pt,onnx,json}`."""
    from tvdesk.cli import main

    data = write_dataset(folder / "ds", DatasetSpec(train=8, val=4, width=256, height=144))
    code = main(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(folder),
            "--name",
            "tvdesk-base",
            "--epochs",
            "1",
            "--imgsz",
            str(TINY_IMGSZ),
            "--batch",
            "4",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    return folder / "tvdesk-base.onnx"


def synthetic_camera(store: Store, data_dir: Path, model: Path) -> Camera:
    """The synthetic camera on the line that `model` starts (its first version)."""
    base = Registry(store, data_dir).base_version(model)
    kind = SYNTHETIC_KIND
    return store.cameras.add(Camera(kind, kind, kind, kind, base.name, base.id))


def camera_version(store: Store, data_dir: Path) -> ModelVersion:
    """The version the synthetic camera runs now."""
    return Registry(store, data_dir).version_of(store.cameras.named(SYNTHETIC_KIND))


def tiny_base_dataset(folder: Path) -> Path:
    """A small day dataset standing in for the rendered base dataset."""
    return write_dataset(folder, DatasetSpec(train=8, val=6, seed=5, width=256, height=144))


def tiny_settings(base_yaml: Path, **changes) -> RetrainSettings:
    """Settings that keep every stage real but small: 6 labels, 1 epoch at 64 px, no
    refinement rounds unless asked for."""
    values = dict(
        label_budget=6,
        replay=4,
        epochs=1,
        imgsz=TINY_IMGSZ,
        batch=4,
        patience=1,
        threads=1,
        base_data=str(base_yaml),
        min_gain=-1.0,
        max_base_loss=1.0,
        refine_minutes=0.0,
    )
    return RetrainSettings(**{**values, **changes})


def capture_day_night(
    model: Path, root: Path, store: Store, frames: int = 100, pinned: int | None = None
) -> DriftEvent:
    """Run the synthetic day->night camera through the frame loop into a capture buffer, and
    pin (and store) a drift event covering the night frames (up to frame `pinned`)."""
    source = SyntheticSource("day-night", fps=STREAM_FPS, size=(256, 144), paced=False)
    capture_stream(source, model, root, frames)
    event = store.drift_events.save(
        DriftEvent(
            start=NIGHT_FROM / STREAM_FPS,
            drivers={"luma_mean": -12.0},
            severity=3.0,
            frame_indices=tuple(range(NIGHT_FROM, pinned or frames)),
            summary="looks like night",
        )
    )
    capture = CaptureBuffer(root)
    capture.pin(event)
    capture.close()  # its writer thread ends with it
    return event


def release_frames(stream: Path, capture: Path, indices) -> None:
    """Link frames `indices` of the captured stream `stream` into the capture folder `capture`
    (JPEG first, as the capture writes them), as if the camera captured them now; a link keeps
    their capture time, which is after every earlier frame's. Frames the capture dropped (its
    writer lagged) are not there to release."""
    (capture / FRAMES_FOLDER).mkdir(parents=True, exist_ok=True)
    for index in indices:
        names = [f"{FRAMES_FOLDER}/{index:08d}{suffix}" for suffix in (".jpg", ".json")]
        if all((stream / name).exists() for name in names):
            for name in names:
                os.link(stream / name, capture / name)


@contextlib.contextmanager
def worker_process(home: Path, queue_url: str = "") -> Iterator[subprocess.Popen]:
    """A real `python -m jobs.worker` for TVDESK_HOME=home; stopped (and reaped) after."""
    env = {
        **os.environ,
        "TVDESK_HOME": str(home),
        "TVDESK_QUEUE": queue_url,
        "PYTHONPATH": str(project_root()),
    }
    log = open(home / "worker-test.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs.worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=project_root(),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def wait_for(store: Store, job_id: int, condition, timeout: float = 240.0) -> Job:
    """Poll the store until `condition(job)` holds; fail with the job's state if it never does."""
    deadline = time.monotonic() + timeout
    job = store.jobs.get(job_id)
    while time.monotonic() < deadline:
        job = store.jobs.get(job_id)
        if condition(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never got there: {job}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def redis_server(folder: Path, password: str, tls: bool = False) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 with a password; yields its redis:// URL, or with
    `tls` its rediss:// URL (a self-signed certificate the URL names as the one to trust)."""
    binary = shutil.which("redis-server")
    if binary is None:
        import pytest

        pytest.skip("redis-server is not installed (scripts/system-packages.sh installs it)")
    port = free_port()
    listen = ["--port", str(port)]
    if tls:
        cert, key = self_signed_certificate(folder)
        listen = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert)]
        listen += ["--tls-key-file", str(key), "--tls-ca-cert-file", str(cert)]
        listen += ["--tls-auth-clients", "no"]
    process = subprocess.Popen(
        [
            binary,
            *listen,
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        if tls:
            yield f"rediss://:{password}@127.0.0.1:{port}/0?ssl_ca_certs={cert}"
        else:
            yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `folder`."""
    import datetime

    import pytest

    x509 = pytest.importorskip("cryptography.x509", reason="TLS tests make a certificate")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "redis-cert.pem", folder / "redis-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def job_text(store: Store) -> str:
    """Everything the store holds about jobs, as text (to look for leaked secrets)."""
    return json.dumps([list(row.values()) for row in store.db["jobs"].rows], default=str)


def run_command(module, *argv: str) -> int:
    """Run a `tvdesk.commands` module as the CLI would: its own parser, then `args.run`."""
    parser = argparse.ArgumentParser(prog="tvdesk")
    sub = parser.add_subparsers(dest="command")
    if module.__name__.endswith("data_versions"):
        module.add_parser(sub.add_parser("data").add_subparsers(dest="data_command"))
    else:
        module.add_parser(sub)
    args = parser.parse_args(list(argv))
    return args.run(args)
