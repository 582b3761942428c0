"""The log: every record goes to a rotating file in the app data folder, and the log view
shows the newest lines, taken on a timer from whichever thread logged them."""

from __future__ import annotations

import logging
import threading

from tvdesk.ui.log_view import LogViewWidget, install_file_log

logger = logging.getLogger("tvdesk.tests.log")


def test_records_go_to_the_file_and_to_the_view_from_any_thread(qtbot, tmp_path):
    path = install_file_log(tmp_path)
    view = LogViewWidget(path)
    qtbot.addWidget(view)
    try:
        worker = threading.Thread(target=lambda: logger.warning("from a worker thread"))
        worker.start()
        worker.join()
        try:
            raise ValueError("the detail")
        except ValueError:
            logger.exception("something failed")
        qtbot.waitUntil(lambda: "something failed" in view.toPlainText(), timeout=3000)
        assert "from a worker thread" in view.toPlainText()
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = path.read_text()
        assert "from a worker thread" in text and "ValueError: the detail" in text
        assert path == tmp_path / "logs" / "tvdesk.log"
    finally:
        view.detach()
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "baseFilename", None) == str(path):
                logging.getLogger().removeHandler(handler)
                handler.close()
