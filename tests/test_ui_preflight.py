"""The Pre-flight panel, driven as a person would: pick a device, run the checks (in the
background), read the memory parts, use the suggested rate (one undo step), and a Train
press that is stopped because the run will not fit."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from window_util import open_window


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    w = open_window(qtbot, tmp_path, monkeypatch)
    yield w
    w.preflight.background.wait()
    w.training.shutdown()


def test_preflight_panel_runs_the_checks_and_uses_the_rate(window, qtbot):
    w = window
    w.load_example("spirals_mlp")
    w.doc.refresh()
    panel = w.preflight
    assert w.bottom.indexOf(panel) >= 0 and w.bottom.tabText(w.bottom.indexOf(panel)) == \
        "Pre-flight"
    w.bottom.setCurrentWidget(panel)
    panel.device.setCurrentIndex(panel.device.findData("T4"))
    assert panel.memory.value() == pytest.approx(16.0)
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    assert not panel.run_button.isEnabled()  # running in the background, the UI is free
    qtbot.waitUntil(lambda: panel.lr is not None or bool(panel.error_text), timeout=120_000)
    assert not panel.error_text
    parts = panel.bar.parts
    assert parts["parameters"] > 0 and parts["activations"] > 0
    assert sum(parts.values()) == panel.report.estimate.total
    assert "fits in" in panel.fit_label.text() and "T4" in panel.fit_label.text()
    assert "Largest batch size that fits: <b>65536</b>" in panel.fit_label.text()
    assert "Overfit one batch: passed" in panel.overfit_label.text()
    assert panel.use_rate.isEnabled() and "Suggested learning rate" in panel.lr_label.text()
    old = w.doc.project.training.lr
    depth = w.doc.undo_stack.count()
    qtbot.mouseClick(panel.use_rate, Qt.LeftButton)
    new = w.doc.project.training.lr
    assert new == pytest.approx(panel.lr.suggestion, rel=1e-2) and new != old
    assert w.training.panel.lr.value() == pytest.approx(new, rel=1e-3)
    assert w.doc.undo_stack.count() == depth + 1
    w.doc.undo_stack.undo()
    assert w.doc.project.training.lr == old
    w.load_example("digits_mlp")  # another project: the results were not its
    assert panel.lr is None and panel.report is None and not panel.use_rate.isEnabled()
    assert panel.bar.parts == {} and panel.fit_label.text() == ""


def test_train_is_stopped_before_a_run_that_will_not_fit(window, qtbot):
    w = window
    w.load_example("digits_cnn")
    w.doc.refresh()
    panel = w.preflight
    panel.memory.setValue(0.001)  # 1 MiB for this machine
    qtbot.mouseClick(w.training.panel.buttons["Train"], Qt.LeftButton)
    assert "Cannot train: one training step at batch size 64 needs an estimated" in \
        w.training.panel.rate_label.text()
    assert not w.training.bridge.active
    assert w.bottom.currentWidget() is panel and "will not fit" in panel.status.text()


def test_find_beside_the_learning_rate_runs_the_range_test(window, qtbot):
    w = window
    w.load_example("digits_mlp")
    w.doc.refresh()
    panel = w.preflight
    qtbot.mouseClick(w.training.panel.find_lr, Qt.LeftButton)
    assert w.bottom.currentWidget() is panel
    qtbot.waitUntil(lambda: panel.lr is not None or bool(panel.error_text), timeout=120_000)
    assert not panel.error_text and panel.report is None  # only the range test ran
    assert panel.use_rate.isEnabled()
    assert f"{panel.lr.suggestion:.3g}" in panel.lr_label.text()
    qtbot.mouseClick(panel.use_rate, Qt.LeftButton)
    assert w.doc.project.training.lr == pytest.approx(panel.lr.suggestion, rel=1e-2)
