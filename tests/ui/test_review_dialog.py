"""The label review dialog on a real review folder: frames captured by the real loop, teacher
pre-labels from the real `review` labeler; edited from the keyboard (and the mouse), saved,
finished, and imported by the labeler as the job would."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from ui_support import capture_frames

from tvdesk.core.session.capture import load_frame, stored_indices
from tvdesk.core.synth.dataset import CLASS_NAMES
from tvdesk.retrain.labelers import ReviewLabeler, ReviewPending, TeacherLabeler
from tvdesk.retrain.review_folder import ReviewBox, ReviewFolder
from tvdesk.retrain.teacher import EnsembleTeacher, TeacherSettings
from tvdesk.ui.review_canvas import BoxCanvasWidget
from tvdesk.ui.review_dialog import LabelReviewDialog


@pytest.fixture(scope="module")
def captured(tmp_path_factory, bundled_model):
    root = tmp_path_factory.mktemp("capture")
    capture_frames(bundled_model, root, frames=3)
    return root


@pytest.mark.slow
def test_review_edited_from_the_keyboard_feeds_the_labeler(
    qtbot, tmp_path, captured, bundled_model
):
    frames = [load_frame(captured, i) for i in stored_indices(captured)[:2]]
    teacher = EnsembleTeacher(bundled_model, TeacherSettings(sizes=(320,), mirror=False))
    labeler = ReviewLabeler(tmp_path / "review", TeacherLabeler(teacher, keep_doubtful=True))
    with pytest.raises(ReviewPending):
        labeler.label(frames)
    folder = ReviewFolder(tmp_path / "review", captured)
    dialog = LabelReviewDialog(folder, CLASS_NAMES)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    canvas = dialog.canvas
    first = len(canvas.boxes)
    assert not canvas.image.isNull() and dialog.index == frames[0].index

    qtbot.keyClick(canvas, Qt.Key.Key_Insert)  # a new box in the middle ...
    qtbot.keyClick(canvas, Qt.Key.Key_2)  # ... a truck ...
    before = canvas.boxes[-1].xyxy
    qtbot.keyClick(canvas, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # moved
    qtbot.keyClick(
        canvas,
        Qt.Key.Key_Down,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )  # taller
    after = canvas.boxes[-1].xyxy
    assert after[0] == before[0] + 4 and after[3] == before[3] + 4
    qtbot.keyClick(canvas, Qt.Key.Key_Return)  # accept: saved, next frame
    assert dialog.index == frames[1].index
    assert len(folder.read(frames[0].index)) == first + 1
    assert folder.read(frames[0].index)[-1].class_id == 1

    second = len(canvas.boxes)
    qtbot.keyClick(canvas, Qt.Key.Key_Insert)
    qtbot.keyClick(canvas, Qt.Key.Key_Tab)  # the next box (wraps to the first)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert len(canvas.boxes) == second
    qtbot.keyClick(canvas, Qt.Key.Key_Left)  # back: this frame's edits are saved too
    assert dialog.index == frames[0].index and len(canvas.boxes) == first + 1
    assert len(folder.read(frames[1].index)) == second
    with qtbot.waitSignal(dialog.review_finished):
        qtbot.keyClick(canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert folder.done and not dialog.isVisible()

    labelled = labeler.label(frames)  # what the waiting job now imports
    assert [len(item.lines) for item in labelled] == [first + 1, second]
    assert labelled[0].lines[-1].startswith("1 ")


def test_a_box_is_drawn_with_the_mouse_in_frame_pixels(qtbot):
    canvas = BoxCanvasWidget()
    qtbot.addWidget(canvas)
    canvas.resize(640, 360)
    canvas.show()
    image = QImage(320, 180, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkGray)
    canvas.show_frame(image, [ReviewBox(0, (10.0, 10.0, 50.0, 40.0))])
    with qtbot.waitSignal(canvas.changed):
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
        qtbot.mouseMove(canvas, QPoint(300, 280))
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(300, 280))
    x1, y1, x2, y2 = canvas.boxes[-1].xyxy  # the widget shows the frame at twice its size
    assert (x1, y1, x2, y2) == pytest.approx((100, 100, 150, 140), abs=1)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    assert canvas.selected == 0  # a click on a box selects it
    canvas.set_selected_class(3)
    assert canvas.boxes[0].class_id == 3 and canvas.new_class == 3


def test_yolo_lines_round_trip_in_pixels(tmp_path, captured):
    index = stored_indices(captured)[0]
    folder = ReviewFolder(tmp_path, captured)
    box = ReviewBox(2, (-5.0, 30.0, 100.0, 90.0))  # clipped to the frame
    folder.write(index, [box, ReviewBox(0, (5.0, 5.0, 5.5, 9.0))])  # the second has no area
    (read,) = folder.read(index)
    assert read.class_id == 2 and read.xyxy == pytest.approx((0.0, 30.0, 100.0, 90.0), abs=0.01)
    assert folder.indices() == [index] and not folder.done
