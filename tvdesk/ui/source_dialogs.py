"""Dialogs that choose a source: a network stream (password masked) and a webcam."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from tvdesk.core.sources.stream import is_stream_url, mask_url


def url_with_credentials(url: str, user: str, password: str) -> str:
    """Put `user`/`password` into `url` (replacing any it had); both are percent-encoded."""
    if not user:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


class StreamUrlDialog(QDialog):
    """Asks for a stream URL and, separately, its user and password (typed hidden)."""

    def __init__(self, parent: QWidget | None = None, initial_url: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open network stream")
        self.url_edit = QLineEdit(initial_url)
        self.url_edit.setPlaceholderText("rtsp://camera.local:554/stream1  or  http://…/video.mjpg")
        self.user_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Stream URL", self.url_edit)
        form.addRow("User (optional)", self.user_edit)
        form.addRow("Password", self.password_edit)
        form.addRow(self.preview)
        form.addRow(self.buttons)
        for edit in (self.url_edit, self.user_edit, self.password_edit):
            edit.textChanged.connect(self.on_text_changed)
        self.on_text_changed()

    def url(self) -> str:
        return url_with_credentials(
            self.url_edit.text().strip(), self.user_edit.text(), self.password_edit.text()
        )

    def on_text_changed(self) -> None:
        url = self.url()
        valid = is_stream_url(url)
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(valid)
        self.preview.setText(
            mask_url(url) if valid else "Use rtsp://, rtmp://, http(s):// (MJPEG or HLS) or udp://"
        )


class WebcamDialog(QDialog):
    """Lets the operator pick one of the webcams found on this machine."""

    def __init__(self, indices: list[int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open webcam")
        self.combo = QComboBox()
        for index in indices:
            self.combo.addItem(f"Camera {index}", index)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Webcam", self.combo)
        form.addRow(buttons)

    def index(self) -> int:
        return int(self.combo.currentData())
