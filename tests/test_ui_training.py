"""Training in the editor, driven as a person drives it: set epochs in the Training panel,
click Train, watch the live views fill, pause / edit / resume, stop, export."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from netbuilder.export import export_project
from window_util import open_window

WAIT = 40_000  # ms; the machine may be busy


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    w = open_window(qtbot, tmp_path, monkeypatch)
    yield w
    w.training.shutdown()


def set_field(panel, name, value):
    """Type a value into a settings field and leave it (editingFinished)."""
    box = panel.fields[name]
    box.setValue(value)
    box.editingFinished.emit()


def click(qtbot, panel, text):
    button = panel.buttons[text]
    assert button.isEnabled(), f"{text} is disabled"
    qtbot.mouseClick(button, Qt.LeftButton)


def open_example(w, name, **settings):
    w.load_example(name)
    w.doc.refresh()
    panel = w.training.panel
    for k, v in settings.items():
        if k in ("optimizer",):
            combo = panel.fields[k]
            combo.setCurrentIndex(combo.findData(v))
        else:
            set_field(panel, k, v)
    return panel


def wait_idle(qtbot, ui):
    qtbot.waitUntil(lambda: not ui.bridge.active, timeout=WAIT)


def test_digits_cnn_trains_live_then_stops_and_exports(qtbot, window, tmp_path):
    w, ui = window, window.training
    panel = open_example(w, "digits_cnn", epochs=300)
    assert w.doc.project.training.epochs == 300 and w.doc.modified  # an undoable edit
    click(qtbot, panel, "Train")
    curves = ui.views.curves if ui.views._built else None
    qtbot.waitUntil(lambda: ui.views._built and ui.views.curves.val_loss.getData()[0]
                    is not None and len(ui.views.curves.val_loss.getData()[0]) >= 2,
                    timeout=WAIT)
    curves = ui.views.curves
    x, y = curves.val_loss.getData()
    assert list(x[:2]) == [1, 2] and np.isfinite(y[:2]).all()
    assert len(curves.train_loss.getData()[0]) >= 2
    assert curves.batch_loss.xData.max() >= 2.0  # batches of both epochs (not downsampled)
    assert len(curves.val_metric.getData()[0]) >= 2  # accuracy
    fm = ui.views.feature_maps
    qtbot.waitUntil(lambda: fm.image.image is not None, timeout=WAIT)
    img = fm.image.image
    assert img.ndim == 2 and img.shape[0] >= 8 and img.std() > 0  # a grid of real maps
    assert fm.node_id in ("n2", "n5")
    # the views take turns to redraw: wait for this one too, whichever went first
    qtbot.waitUntil(lambda: ui.views.histograms.image.image is not None, timeout=WAIT)
    assert ui.views.norms.series  # weight / gradient norms per layer
    assert "samples/s" in panel.rate_label.text() and "ETA" in panel.rate_label.text()
    # the graph is locked while training runs
    assert w.doc.locked and w.banner.isVisible()
    nodes = len(w.doc.graph.nodes)
    w.canvas.select_nodes(["n10"])
    w.canvas.delete_selection()
    assert len(w.doc.graph.nodes) == nodes
    assert not w.inspector.node_view.isEnabled()
    click(qtbot, panel, "Stop")
    wait_idle(qtbot, ui)
    assert ui.bridge.result.status == "stopped" and not w.doc.locked
    assert panel.buttons["Train"].isEnabled()
    # export the trained weights to ONNX, verified against PyTorch (onnxruntime)
    report = export_project(w.doc.project, "onnx", tmp_path / "digits.onnx",
                            weights=ui.bridge.checkpoint)
    assert report.max_diff < 1e-4 and (tmp_path / "digits.onnx").exists()


def test_spirals_decision_boundary_forms_then_export(qtbot, window, tmp_path):
    w, ui = window, window.training
    panel = open_example(w, "spirals_mlp", epochs=400)
    click(qtbot, panel, "Train")
    qtbot.waitUntil(lambda: ui.views._built and ui.views.boundary.image.image is not None
                    and ui.views.curves.s_val.n >= 2, timeout=WAIT)
    b = ui.views.boundary
    assert ui.views.model_view.currentWidget() is b
    img = b.image.image
    assert img.shape == (64, 64, 3) and img.std() > 0  # two classes, two colours
    pts = b.scatter.data
    assert len(pts) >= 100  # the training points on top
    click(qtbot, panel, "Stop")
    wait_idle(qtbot, ui)
    report = export_project(w.doc.project, "onnx", tmp_path / "spirals.onnx",
                            weights=ui.bridge.checkpoint)
    assert report.max_diff < 1e-4


def test_a_bad_network_gets_a_health_badge_on_the_canvas(qtbot, window):
    w, ui = window, window.training
    # SGD at lr 10 kills the ReLUs of the digits MLP within a few steps
    panel = open_example(w, "digits_mlp", optimizer="sgd", lr=10.0, epochs=200)
    click(qtbot, panel, "Train")
    qtbot.waitUntil(lambda: "n4" in ui.health.badges, timeout=WAIT)
    click(qtbot, panel, "Stop")
    wait_idle(qtbot, ui)
    item = w.canvas.nodes["n4"]
    assert [k for k, _ in item.badges] == ["dead_relu"]
    assert "dead ReLUs" in item.toolTip()
    assert item.boundingRect().top() < 0  # room for the badge drawn above the corner


def test_a_failure_is_explained_and_the_app_keeps_working(qtbot, window):
    w, ui = window, window.training
    panel = open_example(w, "square_regression", optimizer="sgd", lr=10.0, epochs=5)
    click(qtbot, panel, "Train")
    wait_idle(qtbot, ui)
    assert ui.bridge.result.status == "failed"
    text = panel.error.text()
    assert panel.error.isVisible() and "Training failed" in text and "infinite" in text
    assert "epoch 1" in text
    assert w.doc.project.training.lr == 10.0 and not w.doc.locked  # project kept
    # predictions vs targets were shown before it failed
    set_field(panel, "lr", 0.01)
    set_field(panel, "epochs", 3)
    click(qtbot, panel, "Train")
    wait_idle(qtbot, ui)
    assert ui.bridge.result.status == "completed"
    p = ui.views.predictions  # drawn within a few frames (views take turns to redraw)
    qtbot.waitUntil(lambda: p.pred.xData is not None and len(p.pred.xData) > 0, timeout=WAIT)


def test_settings_refused_before_training_are_shown(qtbot, window):
    w, ui = window, window.training
    panel = open_example(w, "digits_cnn")
    combo = panel.fields["loss"]
    combo.setCurrentIndex(combo.findData("mse"))  # MSE on class ids with 10 logits
    w.doc.undo_stack.undo()
    assert w.doc.project.training.loss == "cross_entropy"  # settings edits undo
    flatten = "n9"
    w.canvas.select_nodes([flatten])
    w.canvas.delete_selection()
    w.doc.refresh()
    click(qtbot, panel, "Train")
    # refused by the analysis before any run: the Problems list stays in view, its first
    # error selected, and the panel says the same words
    first = w.doc.first_error
    assert first is not None and not ui.bridge.active and ui.bridge.state == "idle"
    assert w.bottom.currentWidget() is w.problems_panel
    assert w.problems_panel.selected_message() == first.message
    assert panel.rate_label.text().startswith(f"Cannot train: {first.message}")
    assert panel.buttons["Train"].isEnabled()
    w.doc.undo_stack.undo()  # Flatten back: the refusal goes with the edit
    w.doc.refresh()
    assert w.doc.first_error is None and panel.rate_label.text() == "Not training"


def test_devices_list_cpu_and_only_present_accelerators(qtbot, window):
    combo = window.training.panel.device
    combo.refresh()
    items = [combo.itemData(i) for i in range(combo.count())]
    assert items[:2] == ["auto", "cpu"]
    assert ("cuda" in items) == torch.cuda.is_available()


def test_pause_edit_resume_keeps_unchanged_layers(qtbot, window):
    w, ui = window, window.training
    panel = open_example(w, "spirals_mlp", epochs=2000)
    click(qtbot, panel, "Train")
    qtbot.waitUntil(lambda: ui.bridge.state == "running", timeout=WAIT)
    click(qtbot, panel, "Pause")
    qtbot.waitUntil(lambda: ui.bridge.state == "paused", timeout=WAIT)
    assert not w.doc.locked and not w.banner.isVisible()
    before = ui.bridge.layer_state(["n2"])["n2"]  # read from the paused training process
    assert before["weights"] and before["optimizer"]  # weights and Adam moments
    # edit while paused: the second hidden layer gets 16 units (via the inspector)
    w.canvas.select_nodes(["n4"])
    field = w.inspector.fields["out_features"]
    field.show_value(16)
    w.inspector._commit_param(field)
    assert w.doc.graph.node("n4").params["out_features"] == 16
    seen = {}

    def carried(report):  # runs before training goes on
        after = ui.bridge.layer_state(["n2", "n4"])
        seen["same"] = all(np.array_equal(v, after["n2"]["weights"][k])
                           for k, v in before["weights"].items())
        seen["adam"] = all(np.array_equal(v, after["n2"]["optimizer"][k])
                           for k, v in before["optimizer"].items())
        seen["n4"] = after["n4"]["weights"]["weight"].shape
        seen["report"] = report
    ui.bridge.carriedOver.connect(carried)
    click(qtbot, panel, "Resume")
    assert seen["same"] and seen["adam"] and seen["n4"] == (16, 32)
    assert seen["report"].kept == ("n2",)
    assert set(seen["report"].reinitialised) == {"n4", "n6"}
    assert "kept 1 layer" in panel.note.text()
    assert w.doc.locked
    steps = []
    ui.bridge.eventsReady.connect(lambda evs: steps.extend(
        e.step for e in evs if type(e).__name__ == "BatchEnd"))
    qtbot.waitUntil(lambda: len(steps) > 20, timeout=WAIT)  # it trains on
    click(qtbot, panel, "Stop")
    wait_idle(qtbot, ui)
    assert ui.bridge.result.status == "stopped"


def test_a_killed_training_process_is_reported_and_the_next_run_works(qtbot, window):
    """What the window sees when the system kills training (e.g. out of memory)."""
    import os
    import signal

    w, ui = window, window.training
    panel = open_example(w, "spirals_mlp", epochs=2000)
    click(qtbot, panel, "Train")
    qtbot.waitUntil(lambda: ui.bridge.state == "running", timeout=WAIT)
    first = ui.bridge.worker
    os.kill(first.proc.pid, signal.SIGKILL)
    wait_idle(qtbot, ui)
    assert ui.bridge.result.status == "failed"
    text = panel.error.text()
    assert panel.error.isVisible() and "ended unexpectedly" in text and "signal 9" in text
    assert not w.doc.locked and w.doc.project.training.epochs == 2000  # project kept
    set_field(panel, "epochs", 2)
    click(qtbot, panel, "Train")  # a new training process takes over
    wait_idle(qtbot, ui)
    assert ui.bridge.result.status == "completed" and ui.bridge.worker is not first
    proc = ui.bridge.worker.proc
    w.close()  # closing the window ends its training process
    assert proc.wait(10) is not None


def test_the_first_node_that_went_non_finite_gets_a_nan_badge(qtbot, window, tmp_path):
    """A network that blows up (SGD at lr 10): the failure names the first non-finite
    layer, the canvas marks that node, and the view centres on it."""
    from netbuilder.core.project import save_project
    from training_util import project

    p = project([("Linear", {"out_features": 64}), "ReLU", ("Linear", {"out_features": 64}),
                 "ReLU", ("Linear", {"out_features": 2})], [2], "spirals", epochs=5,
                optimizer="sgd", lr=10.0)
    path = tmp_path / "blows_up.json"
    save_project(p, path)
    w, ui = window, window.training
    w.doc.open(path)
    w.doc.refresh()
    click(qtbot, ui.panel, "Train")
    wait_idle(qtbot, ui)
    assert ui.bridge.result.status == "failed"
    item = w.canvas.nodes["n2"]  # the first Linear: its weights went non-finite first
    assert [k for k, _ in item.badges][0] == "nan"
    assert "non-finite" in item.toolTip() or "NaN" in item.toolTip()
    nan_nodes = [nid for nid, it in w.canvas.nodes.items()
                 if any(k == "nan" for k, _ in it.badges)]
    assert nan_nodes == ["n2"]
