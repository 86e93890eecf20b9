"""Blocks whose places differ in shape, driven as a person drives the window: each copy of a
repeat shows its own values and shapes in the Insight step-through (and on the canvas it
opens), and each wire out of a block with several outputs is labelled with its own port's
shape (canvas, inspector, Summary panel)."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from netbuilder.core.graph import Graph
from netbuilder.core.layout import apply_layout
from netbuilder.core.project import Project
from netbuilder.ui.insight.stepthrough import FORWARD, short

from test_blocks_outputs import unet, unet_classifier
from window_util import open_window, settle


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = open_window(qtbot, tmp_path, monkeypatch)
    w.resize(1300, 800)
    yield w
    w.training.shutdown()


def open_project(w, project, tmp_path):
    """Saved laid out, as the editor saves it, and opened from the file."""
    apply_layout(project.graph)
    for name in project.graph.blocks:
        apply_layout(project.graph.blocks[name])
    path = tmp_path / f"{project.name}.json"
    path.write_text(project.to_json())
    assert w.open_path(path)
    settle(w)
    w.view.fit_all()
    return w.doc.graph


def halving_repeat() -> Project:
    """Each copy of `halve` downsamples by 2: copy 0 gives 3×4×4, copy 1 gives 3×2×2."""
    g = Graph()
    d = g.blocks.define("Halve")
    d.chain(d.add_node("BlockInput", "in"),
            d.add_node("Conv2d", "conv", {"out_channels": 3, "kernel_size": 3, "stride": 2,
                                          "padding": 1}),
            d.add_node("Tanh", "act"), d.add_node("BlockOutput", "out"))
    g.chain(g.add_node("Input", "x", {"shape": [1, 8, 8]}),
            g.add_node("Block", "halve", {"block": "Halve", "repeat": 2}),
            g.add_node("Flatten", "flat"), g.add_node("Linear", "fc", {"out_features": 2}),
            g.add_node("Output", "y"))
    return Project(graph=g, name="halving")


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def shown_numbers(steps) -> np.ndarray:
    assert steps.view.kind == "numbers"
    return np.array(steps.view.numbers.text().split(), dtype=np.float32)


def wire_items(w, src_id, port=None):
    return [item for edge, item in w.canvas.edges.items()
            if edge.src == src_id and (port is None or edge.src_port == port)]


def show_tab(qtbot, w, widget):
    """Raise the Details dock and open one of its tabs, as a click on the tab would."""
    w.details_dock.raise_()
    w.bottom.setCurrentWidget(widget)
    qtbot.waitUntil(widget.isVisible)
    return widget


def start_typed(qtbot, w, values, target: str):
    """Insight tab: type a sample's values and its target, press Start."""
    panel = show_tab(qtbot, w, w.insight)
    panel.source.setCurrentText("Typed values")
    qtbot.keyClicks(panel.values, ", ".join(f"{v:g}" for v in values))
    qtbot.keyClicks(panel.target, target)
    click(qtbot, panel.start_btn)
    steps = panel.steps
    qtbot.waitUntil(lambda: steps.phase == FORWARD)
    return steps


def test_each_copy_of_a_repeat_shows_its_own_values_and_shapes(qtbot, window, tmp_path):
    w = window
    graph = open_project(w, halving_repeat(), tmp_path)
    values = np.linspace(-1, 1, 64).round(3)
    steps = start_typed(qtbot, w, values, "1")

    # what each copy's layers really output, from the compiled submodules themselves
    model = steps.stepper.model
    real = {}
    hooks = [model.get_submodule(f"halve.{k}.{layer}").register_forward_hook(
        lambda m, i, o, key=(k, layer): real.__setitem__(key, o.detach()[0].numpy()))
        for k in (0, 1) for layer in ("conv", "act")]
    with torch.no_grad():
        model(torch.tensor(values, dtype=torch.float32).reshape(1, 1, 8, 8))
    for h in hooks:
        h.remove()
    assert real[0, "conv"].shape == (3, 4, 4) and real[1, "conv"].shape == (3, 2, 2)

    definition = graph.blocks["Halve"]
    conv, act = definition.by_name("conv").id, definition.by_name("act").id
    seen = []
    while steps.phase == FORWARD:
        record = steps.records[steps.pos]
        if len(record.path) == 2:  # a layer inside the block: the canvas opens its copy
            k = int(record.place.split("/")[1])  # "instance/copy/inner"
            layer = "conv" if record.path[-1] == conv else "act"
            seen.append((k, layer))
            qtbot.waitUntil(lambda: w.doc.levels.depth == 1
                            and w.doc.levels.stack[0].copy == k
                            and w.canvas.selected_node_ids() == [record.path[-1]])
            assert w.breadcrumb.labels()[-1].endswith(f" · copy {k + 1} of 2")
            want = real[k, layer]
            if want.size <= 16:  # copy 1's 3×2×2: the numbers themselves
                assert np.allclose(shown_numbers(steps), want.reshape(-1), atol=1e-3)
            else:  # copy 0's 3×4×4 feature maps
                assert steps.view.kind == "maps" and len(steps.view.maps.items) == 3
            assert f"outputs {'×'.join(map(str, want.shape))}" in steps.title.text()
            # the canvas shows this copy's shapes, and its wires this copy's values
            shape = "N×" + "×".join(map(str, want.shape))
            qtbot.waitUntil(lambda: str(w.canvas.nodes[record.path[-1]].info.output)
                            == shape)
            for item in wire_items(w, record.path[-1]):
                assert item.label == shape
                assert item.note == short(want, 3)
        click(qtbot, steps.forward_btn)
    assert seen == [(0, "conv"), (0, "act"), (1, "conv"), (1, "act")]
    qtbot.waitUntil(lambda: w.doc.levels.depth == 0)


def test_each_wire_out_of_a_two_output_block_shows_its_own_port_shape(qtbot, window,
                                                                      tmp_path):
    w = window
    project = unet()
    g = project.graph
    skip = next(e for e in g.edges if e.src_port == "skip")
    g.disconnect(skip)  # the person wires the skip on themselves
    graph = open_project(w, project, tmp_path)
    step, cat = graph.by_name("down1").id, graph.by_name("cat").id
    qtbot.waitUntil(lambda: [i.label for i in wire_items(w, step)] == ["N×6×4×4"])

    # drag a wire from the block's skip port to the Concat's free input
    view = w.view
    a = view.mapFromScene(w.canvas.nodes[step].outputs["skip"].scenePos())
    b = view.mapFromScene(w.canvas.nodes[cat].inputs["in2"].scenePos())
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    qtbot.waitUntil(lambda: len(wire_items(w, step, "skip")) == 1)
    qtbot.waitUntil(lambda: wire_items(w, step, "skip")[0].label == "N×6×8×8")
    assert [i.label for i in wire_items(w, step, "down")] == ["N×6×4×4"]
    qtbot.waitUntil(lambda: str(w.canvas.nodes[graph.by_name("head").id].info.output)
                    == "N×2×8×8")  # the skip's shape went on downstream

    # the block's inspector and its Summary row give both ports' shapes
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(w.canvas.nodes[step].sceneBoundingRect().center()))
    qtbot.waitUntil(lambda: w.canvas.selected_node_ids() == [step])
    qtbot.waitUntil(lambda: w.inspector.info_rows().get("Output skip") == "N×6×8×8")
    assert w.inspector.info_rows()["Output down"] == "N×6×4×4"
    assert "Output" not in w.inspector.info_rows()
    assert "output down N×6×4×4, skip N×6×8×8" in w.canvas.nodes[step].toolTip()
    panel = show_tab(qtbot, w, w.summary_panel)
    qtbot.waitUntil(lambda: panel.row("down1") is not None
                    and panel.texts(panel.row("down1"))[2] == "down N×6×4×4, skip N×6×8×8")


def test_stepping_through_a_two_output_block_gives_each_wire_its_port_value(qtbot, window,
                                                                           tmp_path):
    w = window
    project = unet_classifier()
    graph = open_project(w, project, tmp_path)
    step = graph.by_name("down1").id
    values = np.cos(np.arange(3 * 8 * 8)).round(2)
    steps = start_typed(qtbot, w, values, "0")
    while steps.records[steps.pos].path != (step,):
        click(qtbot, steps.forward_btn)
    assert "outputs down 6×4×4, skip 6×8×8" in steps.title.text()
    model = steps.stepper.model
    x = torch.tensor(values, dtype=torch.float32).reshape(1, 3, 8, 8)
    with torch.no_grad():
        down, skip = model.get_submodule("down1")(x)
    qtbot.waitUntil(lambda: w.doc.levels.depth == 0
                    and all(i.note for i in wire_items(w, step)))
    assert [i.note for i in wire_items(w, step, "down")] == [short(down[0].numpy(), 3)]
    assert [i.note for i in wire_items(w, step, "skip")] == [short(skip[0].numpy(), 3)]
    assert short(down[0].numpy(), 3) != short(skip[0].numpy(), 3)
    # back from the loss: each wire carries the gradient at its own port
    while steps.phase == FORWARD:
        click(qtbot, steps.forward_btn)
    click(qtbot, steps.back_btn)
    while steps.records[steps.pos].path != (step,):
        click(qtbot, steps.back_btn)
    grads = steps.trace.port_grads(steps.records[steps.pos])
    assert grads["down"].shape == (6, 4, 4) and grads["skip"].shape == (6, 8, 8)
    qtbot.waitUntil(lambda: [i.note for i in wire_items(w, step, "skip")]
                    == ["∇ " + short(grads["skip"], 3)])
    assert [i.note for i in wire_items(w, step, "down")] == ["∇ " + short(grads["down"], 3)]


def test_a_summary_row_inside_copy_2_opens_copy_2(qtbot, window, tmp_path):
    w = window
    graph = open_project(w, halving_repeat(), tmp_path)
    panel = show_tab(qtbot, w, w.summary_panel)
    qtbot.waitUntil(lambda: panel.row("halve › 1 › conv") is not None)
    tree = panel.tree
    row = panel.row("halve › 1 › conv")
    for parent in (row.parent().parent(), row.parent()):  # the person opens the arrows
        tree.expandItem(parent)
    assert panel.texts(row)[2] == "N×3×2×2"
    tree.scrollToItem(row)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(row).center())
    conv = graph.blocks["Halve"].by_name("conv").id
    qtbot.waitUntil(lambda: w.doc.levels.depth == 1 and w.doc.levels.stack[0].copy == 1)
    assert w.breadcrumb.labels()[-1].endswith(" · copy 2 of 2")
    qtbot.waitUntil(lambda: str(w.canvas.nodes[conv].info.output) == "N×3×2×2")


def test_a_problem_in_copy_3_opens_copy_3_where_it_is_marked(qtbot, window, tmp_path):
    g = Graph()
    d = g.blocks.define("Shrink")  # 5×5 → 3×3 → 1×1, and the third copy has nothing left
    d.chain(d.add_node("BlockInput", "in"),
            d.add_node("Conv2d", "conv", {"out_channels": 2, "kernel_size": 3}),
            d.add_node("BlockOutput", "out"))
    g.chain(g.add_node("Input", "x", {"shape": [1, 5, 5]}),
            g.add_node("Block", "shrink", {"block": "Shrink", "repeat": 3}),
            g.add_node("Output", "y"))
    w = window
    graph = open_project(w, Project(graph=g, name="shrink"), tmp_path)
    tree = show_tab(qtbot, w, w.problems_panel).tree
    qtbot.waitUntil(lambda: tree.topLevelItemCount() >= 1
                    and tree.topLevelItem(0).text(0).startswith("shrink › 2 › conv:"))
    item = tree.topLevelItem(0)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())
    qtbot.waitUntil(lambda: w.doc.levels.depth == 1 and w.doc.levels.stack[0].copy == 2)
    conv = graph.blocks["Shrink"].by_name("conv").id
    qtbot.waitUntil(lambda: w.canvas.nodes[conv].severity == "error")
    assert w.breadcrumb.labels()[-1].endswith(" · copy 3 of 3")
