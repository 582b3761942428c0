"""The models panel on a real store and registry: versions newest first with date, parent and
data version, the active one marked, old vs new metrics on the same data sets; Activate and
Roll back ask for the swap."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tvdesk.core.registry import Registry
from tvdesk.core.store import Camera, Store
from tvdesk.ui.models_panel import ModelsPanel

MEASURED = {
    "active": {"drift": {"map50": 0.204}, "base": {"map50": 0.721}},
    "candidate": {"drift": {"map50": 0.612}, "base": {"map50": 0.700}},
}


@pytest.fixture
def versions(isolated_home, bundled_model):
    """The bundled model as version 1 and a fine-tuned version 2 (the camera's) with its job."""
    with Store(isolated_home / "tvdesk.db") as store:
        first = Registry(store, isolated_home).base_version(bundled_model)
        second = store.models.add(
            replace(
                first,
                version="2",
                data_md5="9f8e7d6c5b4a.dir",
                metrics=MEASURED["candidate"],
                parent_id=first.id,
            )
        )
        kind = "synthetic"
        store.cameras.add(Camera(kind, kind, kind, kind, first.name, second.id))
        job = store.jobs.create("retrain", {})
        store.jobs.update(job.id, result={"model_id": second.id, "metrics": MEASURED})
        yield store, first, second


@pytest.fixture
def panel(qtbot, versions):
    store = versions[0]
    widget = ModelsPanel(store.path)
    widget.set_camera(store.cameras.named("synthetic").id)
    qtbot.addWidget(widget)
    widget.resize(1000, 420)
    widget.show()
    yield widget
    widget.close_store()


def cells(table, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_versions_are_listed_with_lineage_and_the_active_one_marked(panel, versions):
    assert panel.table.rowCount() == 2
    newest, oldest = cells(panel.table, 0), cells(panel.table, 1)
    assert newest[0] == "● active" and newest[1] == "tvdesk-base v2"
    assert newest[3] == "tvdesk-base v1" and newest[4] == "9f8e7d6c5b"
    assert oldest[0] == "" and oldest[3] == "— (base)"
    first = versions[1]
    assert "drift 0.61" in newest[5] and f"day {first.metrics['day']['map50']:.2f}" in oldest[5]


def test_old_and_new_metrics_side_by_side(panel):
    assert panel.selected_version().version == "2"  # the active one is selected first
    assert "v2" in panel.metrics_title.text() and "parent v1" in panel.metrics_title.text()
    rows = {cells(panel.metrics, r)[0]: cells(panel.metrics, r) for r in range(2)}
    assert rows["drift"][1:] == ["0.204", "0.612", "+0.408"]
    assert rows["base"][1:] == ["0.721", "0.700", "-0.021"]


def test_activate_and_roll_back_ask_for_the_swap(qtbot, panel, versions):
    _, first, _ = versions
    assert not panel.activate_button.isEnabled()  # the active one is selected
    panel.select_version(first.id)
    assert panel.activate_button.isEnabled()
    with qtbot.waitSignal(panel.activate_requested) as activated:
        panel.activate_button.click()
    assert activated.args == [first.id]
    assert panel.rollback_button.isEnabled()
    with qtbot.waitSignal(panel.rollback_requested):
        panel.rollback_button.click()


def test_a_change_in_the_store_shows_on_the_next_poll(qtbot, panel, versions):
    store, first, _ = versions
    store.cameras.set_model(store.cameras.named("synthetic").id, first.id)
    panel.refresh()
    assert cells(panel.table, 1)[0] == "● active"
    assert not panel.rollback_button.isEnabled()  # version 1 has no parent


def test_a_refinement_rounds_version_shows_its_parent_and_its_rounds_figures(qtbot, versions):
    """A job's round 2 made version 3 from version 2: the panel lists it with its parent and
    compares it with version 2 on what round 2 measured."""
    store, _, second = versions
    third = store.models.add(replace(second, version="3", parent_id=second.id))
    camera = store.cameras.named("synthetic")
    store.cameras.set_model(camera.id, third.id)
    round_2 = {
        "active": {"drift": {"map50": 0.612}, "base": {"map50": 0.700}},
        "candidate": {"drift": {"map50": 0.745}, "base": {"map50": 0.705}},
    }
    job = store.jobs.create("retrain", {})
    rounds = [
        {"round": 1, "model_id": second.id, "metrics": MEASURED},
        {"round": 2, "model_id": third.id, "metrics": round_2},
    ]
    store.jobs.update(job.id, result={"model_id": third.id, "rounds": rounds})
    widget = ModelsPanel(store.path)
    qtbot.addWidget(widget)
    widget.set_camera(camera.id)
    newest = cells(widget.table, 0)
    assert newest[:2] == ["● active", "tvdesk-base v3"] and newest[3] == "tvdesk-base v2"
    assert "parent v2" in widget.metrics_title.text()
    rows = {cells(widget.metrics, r)[0]: cells(widget.metrics, r) for r in range(2)}
    assert rows["drift"][1:] == ["0.612", "0.745", "+0.133"]
    widget.close_store()
