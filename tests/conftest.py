"""Shared fixtures: an isolated app data folder, the bundled model, and the real data beside us."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tvdesk.config import bundled_model_path, project_root

REALDATA = project_root().parent / "shared" / "realdata"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own TVDESK_HOME, so no test touches a user's data."""
    home = tmp_path_factory.mktemp("tvdesk-home")
    monkeypatch.setenv("TVDESK_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    path = bundled_model_path()
    if not path.exists():
        pytest.fail(f"bundled model missing at {path}: it is committed under resources/models")
    return path


@pytest.fixture(scope="session")
def realdata() -> Path:
    """../shared/realdata; tests that need it skip when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not found at {REALDATA} (it lives beside the project checkout)")
    return REALDATA
