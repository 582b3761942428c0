"""The base dataset is reproduced byte for byte on any machine and DVC proves it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tvdesk.config import project_root
from tvdesk.retrain.dataset import (
    BASE_SPEC,
    DataVersionError,
    data_version,
    dvc_status,
    quiet_dvc,
    reproduce_base_dataset,
)

ROOT = project_root()


def test_the_checkouts_data_matches_data_dvc():
    """`make setup` (the README's commands) leaves `dvc status` clean."""
    if not (ROOT / "data" / "base" / "data.yaml").exists():
        pytest.fail("data/base is missing: run `make setup` (the README's test command does)")
    assert dvc_status(ROOT, ROOT / "data.dvc") == {}


def test_data_version_reads_the_pointer():
    assert data_version(ROOT / "data.dvc").endswith(".dir")
    with pytest.raises(DataVersionError, match="not found"):
        data_version(ROOT / "nope.dvc")


@pytest.fixture
def fresh_clone(tmp_path):
    """A new git+DVC repo holding only what git carries: data.dvc and .dvcignore."""
    quiet_dvc()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    from dvc.repo import Repo

    Repo.init(str(tmp_path)).close()
    for name in ("data.dvc", ".dvcignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


@pytest.mark.slow
def test_a_fresh_clone_renders_exactly_the_recorded_version(fresh_clone):
    before = (fresh_clone / "data.dvc").read_text()
    reproduce_base_dataset(fresh_clone)
    assert dvc_status(fresh_clone, fresh_clone / "data.dvc") == {}
    assert (fresh_clone / "data.dvc").read_text() == before  # verified, not re-recorded
    images = list((fresh_clone / "data" / "base").glob("images/*/*.jpg"))
    assert len(images) == BASE_SPEC.train + BASE_SPEC.val


@pytest.mark.slow
def test_a_dataset_that_differs_is_refused(fresh_clone):
    reproduce_base_dataset(fresh_clone)
    label = next((fresh_clone / "data" / "base" / "labels" / "val").iterdir())
    label.write_text(label.read_text() + "0 0.5 0.5 0.1 0.1\n")
    cache = fresh_clone / ".dvc" / "cache"
    shutil.rmtree(cache)
    with pytest.raises(DataVersionError, match="differs from the version"):
        reproduce_base_dataset(fresh_clone)
