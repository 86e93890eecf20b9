"""Blocks in the editor, driven as a person drives it: select nodes on the canvas and group
them (Ctrl+G), ungroup, double-click a block to open it, go up with Esc / Backspace / the
breadcrumb, edit inside (every instance follows), undo and redo across levels, repeat ×N,
the palette's Blocks, the summary tree, the code panel, save and reopen."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from netbuilder.core.summary import summary_rows
from netbuilder.ui.editor.block_items import repeat_badge
from netbuilder.ui.editor.palette_blocks import CLASSIC, payload_of

from window_util import open_window, load, select, settle


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = open_window(qtbot, tmp_path, monkeypatch)
    return w


def key(qtbot, w, k, mod=Qt.KeyboardModifier.NoModifier):
    w.view.setFocus()
    qtbot.keyClick(w.view.viewport(), k, mod)
    settle(w)


def double_click(qtbot, w, name):
    item = w.canvas.nodes[w.canvas.graph.by_name(name).id]
    pos = w.view.mapFromScene(item.sceneBoundingRect().center())
    depth = w.doc.levels.depth
    qtbot.mouseDClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: w.doc.levels.depth == depth + 1)
    settle(w)


def answer_name(w, name):
    w.blocks.ask_name = lambda *a, **k: (name, True)


def total_params(w):
    return w.doc.totals()[0]


def test_group_selection_with_ctrl_g_is_one_undo_step(window, qtbot):
    w = window
    g = load(w, "digits_cnn")
    before, params = g.signature(), total_params(w)
    conv, bn, relu = (g.nodes_of_type(t)[0] for t in ("Conv2d", "BatchNorm2d", "ReLU"))
    select(w, conv.name, bn.name, relu.name)
    answer_name(w, "Stem")
    steps = w.doc.undo_stack.count()
    key(qtbot, w, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)

    block = g.by_name("Stem")
    assert block.type == "Block" and block.params == {"block": "Stem", "repeat": 1}
    assert conv.id not in g.nodes and relu.id not in g.nodes
    inside = w.doc.graph.blocks["Stem"]
    assert sorted(n.type for n in inside.nodes.values()) == \
        ["BatchNorm2d", "BlockInput", "BlockOutput", "Conv2d", "ReLU"]
    assert w.canvas.selected_node_ids() == [block.id]  # the new block on the canvas
    assert total_params(w) == params and w.doc.valid  # same network, now with a block
    assert w.doc.undo_stack.count() == steps + 1
    assert "Stem" in w.palette_blocks.names()  # the palette follows the library

    w.act_undo.trigger()
    settle(w)
    assert g.signature() == before and "Stem" not in w.doc.graph.blocks
    assert "Stem" not in w.palette_blocks.names()
    w.act_redo.trigger()
    settle(w)
    assert g.by_name("Stem").type == "Block" and total_params(w) == params


def test_group_refuses_a_selection_with_two_outputs(window, qtbot):
    w = window
    g = load(w, "digits_cnn")
    before = g.signature()
    conv, pool = g.nodes_of_type("Conv2d")[0], g.nodes_of_type("MaxPool2d")[0]
    select(w, conv.name, pool.name)  # not the ReLU between them: two values leave
    answer_name(w, "Two")
    steps = w.doc.undo_stack.count()
    with qtbot.waitSignal(w.blocks.message) as sig:
        key(qtbot, w, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert "2 values leave the selection" in sig.args[0]
    assert w.doc.undo_stack.count() == steps and g.signature() == before
    assert "Two" not in g.blocks


def test_ungroup_with_ctrl_shift_g_and_undo(window, qtbot):
    w = window
    g = load(w, "small_resnet")
    before, params = g.signature(), total_params(w)
    select(w, "layer2")
    key(qtbot, w, Qt.Key.Key_G,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "layer2" not in [n.name for n in g.nodes.values()]
    assert "downsample_conv" in [n.name for n in g.nodes.values()]
    assert "Basic Block Down" not in g.blocks  # it had no other instance
    assert total_params(w) == params
    assert len(w.canvas.selected_node_ids()) == 9  # the block's layers, selected
    w.act_undo.trigger()
    settle(w)
    assert g.signature() == before


def test_double_click_opens_a_block_with_breadcrumb_and_esc_goes_up(window, qtbot):
    w = window
    g = load(w, "small_resnet")
    top_ids = set(g.nodes)
    double_click(qtbot, w, "layer1")
    qtbot.waitUntil(lambda: w.doc.levels.depth == 1)
    definition = g.blocks["Basic Block"]
    assert set(w.canvas.nodes) == set(definition.nodes)
    assert w.breadcrumb.isVisible()
    assert w.breadcrumb.labels() == ["Model", "layer1 (Basic Block) · copy 1 of 2"]
    # shapes inside come from the opened instance
    conv1 = w.canvas.nodes[definition.by_name("conv1").id]
    assert str(conv1.info.output) == "N×16×8×8" and conv1.info.params == 16 * 16 * 9

    key(qtbot, w, Qt.Key.Key_Escape)
    assert w.doc.levels.depth == 0 and set(w.canvas.nodes) == top_ids
    assert not w.breadcrumb.isVisible()

    double_click(qtbot, w, "layer2")
    assert w.breadcrumb.labels() == ["Model", "layer2 (Basic Block Down)"]
    key(qtbot, w, Qt.Key.Key_Backspace)  # nothing selected: up, not delete
    assert w.doc.levels.depth == 0 and set(w.canvas.nodes) == top_ids

    double_click(qtbot, w, "layer1")
    qtbot.mouseClick(w.breadcrumb.buttons[0], Qt.MouseButton.LeftButton)
    settle(w)
    assert w.doc.levels.depth == 0 and set(w.canvas.nodes) == top_ids
    assert g.signature() == load(w, "small_resnet").signature()  # nothing was edited


def test_an_edit_inside_a_block_changes_every_instance_in_one_step(window, qtbot):
    w = window
    g = load(w, "small_resnet")
    layer1 = g.by_name("layer1")  # Basic Block ×2
    params = total_params(w)
    double_click(qtbot, w, "layer1")
    definition = g.blocks["Basic Block"]
    conv1 = definition.by_name("conv1")
    select(w, "conv1")
    assert w.inspector.node_id == conv1.id
    steps = w.doc.undo_stack.count()
    w.inspector.fields["bias"].editor.click()  # bias on: 16 more parameters per copy
    settle(w)
    assert w.doc.undo_stack.count() == steps + 1
    assert conv1.params["bias"] is True
    copies = w.doc.infos[layer1.id].inner
    assert [c[conv1.id].params for c in copies] == [16 * 16 * 9 + 16] * 2
    assert total_params(w) == params + 2 * 16
    assert w.canvas.nodes[conv1.id].info.params == 16 * 16 * 9 + 16
    w.bottom.setCurrentWidget(w.summary_panel)
    settle(w)
    assert w.summary_panel.totals_row()[3] == f"{params + 32:,}"

    w.act_undo.trigger()
    settle(w)
    assert conv1.params["bias"] is False and total_params(w) == params


def test_undo_and_redo_across_levels_show_the_level_of_the_edit(window, qtbot):
    w = window
    g = load(w, "small_resnet")
    params = total_params(w)
    double_click(qtbot, w, "layer1")
    conv2 = g.blocks["Basic Block"].by_name("conv2")
    select(w, "conv2")
    w.inspector.fields["bias"].editor.click()
    settle(w)
    key(qtbot, w, Qt.Key.Key_Escape)
    assert w.doc.levels.depth == 0

    w.act_undo.trigger()  # the edit was made inside Basic Block
    settle(w)
    assert conv2.params["bias"] is False and total_params(w) == params
    assert w.doc.levels.block == "Basic Block" and conv2.id in w.canvas.nodes

    key(qtbot, w, Qt.Key.Key_Escape)
    w.act_redo.trigger()
    settle(w)
    assert conv2.params["bias"] is True and total_params(w) == params + 32
    assert w.doc.levels.block == "Basic Block"

    # an edit of the top graph undone from inside a block shows the top level
    key(qtbot, w, Qt.Key.Key_Escape)
    select(w, "fc")
    w.inspector.fields["bias"].editor.click()
    settle(w)
    double_click(qtbot, w, "layer2")
    assert w.doc.levels.depth == 1
    w.act_undo.trigger()
    settle(w)
    assert w.doc.levels.depth == 0 and g.by_name("fc").params["bias"] is True


def test_undoing_a_group_while_inside_the_new_block_goes_back_up(window, qtbot):
    w = window
    g = load(w, "digits_cnn")
    before = g.signature()
    select(w, *(g.nodes_of_type(t)[0].name for t in ("Conv2d", "BatchNorm2d", "ReLU")))
    node_id = w.blocks.group_selection("Stem")
    assert w.blocks.open_instance(node_id)
    qtbot.waitUntil(lambda: w.doc.levels.depth == 1)
    assert w.breadcrumb.labels() == ["Model", "Stem"]
    w.act_undo.trigger()
    settle(w)
    assert w.doc.levels.depth == 0 and g.signature() == before
    assert set(w.canvas.nodes) == set(g.nodes)


def test_repeat_n_shows_a_badge_the_inspector_and_n_copies_in_the_summary(window, qtbot):
    w = window
    g = load(w, "small_resnet")
    layer1 = g.by_name("layer1")
    select(w, "layer1")
    assert w.inspector.fields["block"].shown == "Basic Block"
    assert w.inspector.fields["repeat"].shown == 2
    assert repeat_badge(w.canvas.nodes[layer1.id].node) == "×2"
    one = w.doc.infos[layer1.id].params // 2
    params = total_params(w)

    spin = w.inspector.fields["repeat"].editor
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "3")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    settle(w)
    assert layer1.params["repeat"] == 3
    assert repeat_badge(w.canvas.nodes[layer1.id].node) == "×3"
    assert total_params(w) == params + one

    w.bottom.setCurrentWidget(w.summary_panel)
    settle(w)
    panel = w.summary_panel
    row = panel.row("layer1")
    assert panel.texts(row)[1] == "block Basic Block ×3"
    assert row.childCount() == 3
    assert [panel.texts(row.child(k))[3] for k in range(3)] == [f"{one:,}"] * 3
    assert panel.texts(row)[3] == f"{3 * one:,}"
    assert panel.totals_row()[3] == f"{total_params(w):,}"
    # the tree's layers are the CLI's `summary --depth all` rows
    rows = summary_rows(g, None)
    assert [leaf.data(0, Qt.ItemDataRole.UserRole + 2) for leaf in panel.leaves()] == \
        [r.name for r in rows]
    assert sum(r.params for r in rows) == total_params(w)


def test_palette_blocks_add_a_classic_in_one_step(window, qtbot):
    w = window
    g = load(w, "small_resnet")
    palette = w.palette_panel
    assert set(w.palette_blocks.names()) == {"Basic Block", "Basic Block Down"}
    assert "Bottleneck" in w.palette_blocks.classic_titles()
    palette.search.setText("bottleneck")
    item = palette.tree.currentItem()
    assert payload_of(item) == (CLASSIC, "bottleneck")
    steps = w.doc.undo_stack.count()
    QApplication.processEvents()
    pos = palette.tree.visualItemRect(item).center()
    # as in test_ui_palette: a press first, as the hand does, then the double-click
    qtbot.mouseClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    settle(w)
    assert w.doc.undo_stack.count() == steps + 1
    node = g.by_name("Bottleneck")
    assert node.type == "Block" and "Bottleneck" in g.blocks
    assert "Bottleneck" in w.palette_blocks.names()
    w.act_undo.trigger()
    settle(w)
    assert "Bottleneck" not in g.blocks and "Bottleneck" not in w.palette_blocks.names()
    w.act_redo.trigger()
    settle(w)
    # the definition came back; opening the instance shows it
    assert w.blocks.open_instance(g.by_name("Bottleneck").id)
    qtbot.waitUntil(lambda: w.doc.levels.depth == 1)
    assert set(w.canvas.nodes) == set(g.blocks["Bottleneck"].nodes)


def test_code_panel_shows_the_exported_model_py(window, qtbot, tmp_path):
    from netbuilder.export.exporter import export_project

    w = window
    load(w, "small_resnet")
    w.bottom.setCurrentWidget(w.code_panel)
    w.code_panel.refresh_now()
    code = w.code_panel.code()
    assert "class BasicBlock(nn.Module):" in code and "class BasicBlockDown(nn.Module):" in code
    export_project(w.doc.project, "python", tmp_path / "out")
    assert code == (tmp_path / "out" / "model.py").read_text()


def test_save_and_reopen_a_grouped_project(window, qtbot, tmp_path):
    w = window
    g = load(w, "digits_cnn")
    select(w, *(g.nodes_of_type(t)[0].name for t in ("Conv2d", "BatchNorm2d", "ReLU")))
    answer_name(w, "Stem")
    key(qtbot, w, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    select(w, "Stem")
    spin = w.inspector.fields["repeat"].editor
    assert spin.isEnabled()
    saved, params = g.signature(), total_params(w)
    path = tmp_path / "grouped.json"
    assert w._save_to(path)
    w.new_project()
    settle(w)
    assert not w.doc.graph.nodes
    assert w.open_path(path)
    settle(w)
    assert w.doc.graph.signature() == saved and total_params(w) == params
    assert "Stem" in w.palette_blocks.names()
    double_click(qtbot, w, "Stem")
    assert w.breadcrumb.labels() == ["Model", "Stem"]
    assert {n.type for n in w.canvas.graph.nodes.values()} >= {"Conv2d", "ReLU"}


def test_a_problem_inside_a_block_is_marked_there_and_the_problems_row_opens_it(window,
                                                                                  qtbot):
    w = window
    g = load(w, "small_resnet")
    definition = g.blocks["Basic Block"]
    conv1 = definition.by_name("conv1")
    double_click(qtbot, w, "layer1")
    edge = definition.edge_into(conv1.id, "in")
    w.canvas.clearSelection()
    w.canvas.edges[edge].setSelected(True)
    key(qtbot, w, Qt.Key.Key_Delete)  # cut the wire into conv1, inside the block
    assert definition.edge_into(conv1.id, "in") is None
    qtbot.waitUntil(lambda: w.canvas.nodes[conv1.id].severity == "error")
    key(qtbot, w, Qt.Key.Key_Escape)
    # at the top level only top-level nodes are marked (ids inside a block are its own)
    marked = {nid for nid, item in w.canvas.nodes.items() if item.severity == "error"}
    assert marked <= {g.by_name("layer1").id}

    w.bottom.setCurrentWidget(w.problems_panel)
    settle(w)
    tree = w.problems_panel.tree
    rows = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    row = next(r for r in rows if r.text(1) == "Basic Block › conv1")
    assert "not connected" in row.text(0)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(row).center())
    settle(w)
    assert w.doc.levels.block == "Basic Block"
    assert w.canvas.selected_node_ids() == [conv1.id]


def test_palette_renames_and_deletes_definitions_undoably(window, qtbot):
    w = window
    g = load(w, "small_resnet")
    pb = w.palette_blocks
    pb.ask_name = lambda *a, **k: ("Residual", True)
    double_click(qtbot, w, "layer1")  # renaming while it is open keeps it open
    assert pb.rename("Basic Block")
    settle(w)
    assert g.by_name("layer1").params["block"] == "Residual"
    assert "Residual" in pb.names() and "Basic Block" not in pb.names()
    assert w.breadcrumb.labels() == ["Model", "layer1 (Residual) · copy 1 of 2"]
    w.act_undo.trigger()
    settle(w)
    assert g.by_name("layer1").params["block"] == "Basic Block"
    assert "Basic Block" in pb.names()

    with qtbot.waitSignal(pb.message) as sig:
        assert not pb.delete("Basic Block")  # still used: refused, saying where
    assert "still used" in sig.args[0] and "layer1" in sig.args[0]

    key(qtbot, w, Qt.Key.Key_Escape)
    node_id = w.blocks.add_block_at_center((CLASSIC, "vgg"))
    settle(w)
    w.canvas.select_nodes([node_id])
    key(qtbot, w, Qt.Key.Key_Delete)
    assert pb.delete("VGG Block")
    settle(w)
    assert "VGG Block" not in g.blocks and "VGG Block" not in pb.names()
    w.act_undo.trigger()
    settle(w)
    assert "VGG Block" in g.blocks and "VGG Block" in pb.names()


def test_the_breadcrumb_shows_another_copy_of_a_repeat(window, qtbot):
    w = window
    g = load(w, "small_densenet")
    dense = next(n for n in g.nodes.values() if n.type == "Block"
                 and "dense_layer" not in n.params["block"].lower()
                 and g.blocks.uses(n.params["block"]))
    double_click(qtbot, w, dense.name)
    inner = w.canvas.graph  # Dense Block: one Block of Dense Layer ×N
    layers = next(n for n in inner.nodes.values() if n.type == "Block")
    assert layers.params["repeat"] > 1
    double_click(qtbot, w, layers.name)
    conv = w.canvas.graph.nodes_of_type("Conv2d")[0]
    first = w.canvas.nodes[conv.id].info.params
    button = w.breadcrumb.buttons[-1]
    copies = button.menu().actions()
    assert len(copies) == layers.params["repeat"] and copies[0].isChecked()
    copies[1].trigger()
    settle(w)
    assert w.doc.levels.stack[-1].copy == 1
    n = layers.params["repeat"]
    assert w.breadcrumb.labels()[-1].startswith(layers.name)
    assert w.breadcrumb.labels()[-1].endswith(f" · copy 2 of {n}")
    assert f"copy 2 of {n}" in w.inspector.scope.text() and w.inspector.scope.isVisible()
    assert w.canvas.nodes[conv.id].info.params > first  # the second copy sees more channels
