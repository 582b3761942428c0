"""Qt test set-up: UI state (QSettings) goes to a temporary folder, never the user's."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QSettings


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path, qapp):
    QCoreApplication.setOrganizationName("tvdesk-tests")
    QCoreApplication.setApplicationName("tvdesk")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    yield tmp_path
