"""The Insight tab in the main window: a person picks a sample, steps forward node by node
(the canvas highlights each node), back through the gradients, and takes one optimizer
step."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from netbuilder.ui.insight.stepthrough import BACKWARD, FORWARD, LOSS, STEPPED, short
from netbuilder.ui.mainwindow import MainWindow


@pytest.fixture
def window(qtbot):
    w = MainWindow(restore_layout=False)
    qtbot.addWidget(w)
    w.resize(1300, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.training.shutdown()


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_insight(qtbot, w, example):
    w.load_example(example)
    w.details_dock.raise_()
    w.bottom.setCurrentWidget(w.insight)
    qtbot.waitUntil(lambda: w.insight.isVisible())
    return w.insight


def test_step_forward_back_and_one_sgd_step_on_the_textbook_mlp(qtbot, window):
    panel = open_insight(qtbot, window, "textbook_mlp")
    panel.source.setCurrentText("Typed values")
    qtbot.keyClicks(panel.values, "0.5, -1, 2")
    qtbot.keyClicks(panel.target, "1")
    click(qtbot, panel.start_btn)
    steps = panel.steps
    qtbot.waitUntil(lambda: steps.phase == FORWARD)
    graph = window.doc.graph
    seen = []
    while steps.phase == FORWARD:
        record = steps.records[steps.pos]
        # the canvas shows the node whose output is on screen
        qtbot.waitUntil(lambda: window.canvas.selected_node_ids() == [record.path[-1]])
        assert steps.view.kind == "numbers"  # ≤ 16 values: the numbers themselves
        shown = np.array(steps.view.numbers.text().split(), dtype=np.float32)
        assert np.allclose(shown, record.value.detach()[0].numpy(), atol=1e-3)
        seen.append(graph.nodes[record.path[-1]].type)
        # ... and its output wires carry the value
        wires = [item for edge, item in window.canvas.edges.items()
                 if edge.src == record.path[-1]]
        assert all(item.note == short(record.value.detach()[0].numpy(), 3) for item in wires)
        click(qtbot, steps.forward_btn)
    assert seen == ["Input", "Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Softmax",
                    "Output"]
    assert steps.phase == LOSS and "Loss (mse)" in steps.title.text()
    loss_before = steps.trace.loss
    assert not steps.forward_btn.isEnabled()

    backward = []
    while steps.back_btn.isEnabled():
        click(qtbot, steps.back_btn)
        record = steps.records[steps.pos]
        backward.append(record.name)
        qtbot.waitUntil(lambda: window.canvas.selected_node_ids() == [record.path[-1]])
        wires = [item for edge, item in window.canvas.edges.items()
                 if edge.src == record.path[-1]]
        assert all(item.note.startswith("∇ [") for item in wires)
        if record.type == "Linear":  # its weight gradients are listed under the values
            keys = {steps.weights.item(i, 0).text() for i in range(steps.weights.rowCount())}
            assert keys == {f"{record.module}.weight", f"{record.module}.bias"}
    assert steps.phase == BACKWARD
    assert backward == [r.name for r in reversed(steps.records)]  # Output back to the input

    lr = window.doc.project.training.lr
    grads = {k: g.clone() for k, g in steps.trace.grads.items()}
    before = {k: p.detach().clone() for k, p in steps.stepper.model.named_parameters()}
    click(qtbot, steps.step_btn)
    assert steps.phase == STEPPED and "ΔW = −lr·∇W" in steps.title.text()
    rows = {steps.weights.item(i, 0).text(): i for i in range(steps.weights.rowCount())}
    assert set(rows) == set(grads)
    for key, p in steps.stepper.model.named_parameters():
        delta = p.detach() - before[key]
        assert torch.allclose(delta, -lr * grads[key], atol=1e-7)
        norm = float(steps.weights.item(rows[key], 2).text())
        assert norm == pytest.approx(float(delta.norm()), rel=1e-3)
    # Forward again: the same sample with the new weights has a lower loss
    click(qtbot, steps.forward_btn)
    qtbot.waitUntil(lambda: steps.phase == FORWARD and steps.pos == 0)
    assert steps.trace.loss < loss_before
    # the trained model shown elsewhere is untouched: the stepper works on its own copy
    assert steps.stepper.model is not panel.workspace.model


def test_stepping_into_a_block_opens_it_on_the_canvas(qtbot, window):
    panel = open_insight(qtbot, window, "small_resnet")
    panel.index.setValue(3)
    click(qtbot, panel.start_btn)
    steps = panel.steps
    qtbot.waitUntil(lambda: steps.phase == FORWARD)
    while len(steps.records[steps.pos].path) == 1:
        click(qtbot, steps.forward_btn)
    record = steps.records[steps.pos]
    assert record.name == "layer1 › 0 › conv1"
    assert steps.view.kind == "maps"  # 16 feature maps of 8×8
    qtbot.waitUntil(lambda: window.doc.levels.depth == 1)
    assert window.canvas.selected_node_ids() == [record.path[-1]]
    # back at the top level once the block's own node comes
    while steps.records[steps.pos].type != "Block":
        click(qtbot, steps.forward_btn)
    qtbot.waitUntil(lambda: window.doc.levels.depth == 0)


def test_a_bad_typed_sample_says_why(qtbot, window):
    panel = open_insight(qtbot, window, "textbook_mlp")
    panel.source.setCurrentText("Typed values")
    qtbot.keyClicks(panel.values, "1, 2")
    click(qtbot, panel.start_btn)
    assert "takes 3 value(s)" in panel.status.text()
    assert not panel.steps.forward_btn.isEnabled()


@pytest.mark.parametrize("example", ["text_gru", "sine_lstm", "small_transformer",
                                     "square_regression"])
def test_every_kind_of_network_steps_through(qtbot, example):
    """Token ids, recurrent layers, attention inside blocks, regression targets."""
    from netbuilder import examples
    from netbuilder.ui.document.document import Document
    from netbuilder.ui.insight.panel import InsightPanel

    panel = InsightPanel(Document(examples.load(example)))
    qtbot.addWidget(panel)
    panel.show()
    click(qtbot, panel.start_btn)
    steps = panel.steps
    assert steps.phase == FORWARD, panel.status.text()
    while steps.forward_btn.isEnabled():
        click(qtbot, steps.forward_btn)
    while steps.back_btn.isEnabled():
        click(qtbot, steps.back_btn)
    assert steps.pos == 0
    grads = [steps.trace.grad_of(r) for r in steps.records]
    assert all(g is not None for g in grads[1:])  # every node after the input has one
    click(qtbot, steps.step_btn)
    assert steps.phase == STEPPED and np.isfinite(steps.step_result.loss_after)
    assert steps.weights.rowCount() == len(list(steps.stepper.model.parameters()))


def test_attributions_of_tabular_features_are_bars(qtbot):
    from netbuilder import examples
    from netbuilder.ui.document.document import Document
    from netbuilder.ui.insight.panel import InsightPanel

    panel = InsightPanel(Document(examples.load("spirals_mlp")))
    qtbot.addWidget(panel)
    panel.show()
    click(qtbot, panel.start_btn)
    panel.tabs.setCurrentWidget(panel.attribution)
    view = panel.attribution
    view.method.setCurrentIndex(view.method.findData("gradcam"))
    click(qtbot, view.explain_btn)
    assert "Grad-CAM needs a 2-D convolution" in view.note.text()
    view.method.setCurrentIndex(view.method.findData("integrated_gradients"))
    assert not view.layer.isVisible()  # the layer choice is Grad-CAM's
    click(qtbot, view.explain_btn)
    assert view.pages.currentWidget() is view.plot
    heights = view.bars.opts["height"]
    assert len(heights) == 2 and np.allclose(heights, view.result.values.reshape(-1))
