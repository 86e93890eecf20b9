"""Blocks expanded in place on the canvas, driven as a person drives it: the E key, the
frame's +/− button, the Edit menu's action; double-clicking a layer inside opens the block;
the breadcrumb and the inspector say which copy of a repeat is shown."""
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QApplication

from netbuilder.ui.document import commands
from netbuilder.ui.editor.expansion import ExpandToggle, InnerNodeItem
from netbuilder.ui.editor.items import GRID, NODE_W

from test_ui_blocks import window  # noqa: F401 (the fixture: a shown main window)


@pytest.fixture
def resnet(window, qtbot):  # noqa: F811 (the imported fixture)
    w = window
    w.resize(1366, 768)
    w.load_example("small_resnet")
    qtbot.waitUntil(lambda: bool(w.doc.infos) and not w.doc.analysis_pending(),
                    timeout=60_000)  # the first analysis imports parts of torch
    return w


def item_of(w, name):
    return w.canvas.nodes[w.canvas.graph.by_name(name).id]


def press_e_on(qtbot, w, name):
    w.canvas.select_nodes([w.canvas.graph.by_name(name).id])
    w.view.setFocus()
    qtbot.keyClick(w.view.viewport(), Qt.Key.Key_E)


def click_scene(qtbot, w, scene_pos: QPointF, double=False):
    w.view.centerOn(scene_pos)
    pos = w.view.mapFromScene(scene_pos)
    click = qtbot.mouseDClick if double else qtbot.mouseClick
    click(w.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def inner_cards(item):
    return {c.node.name: c for c in item.childItems() if isinstance(c, InnerNodeItem)}


def test_e_expands_a_block_in_place_wired_to_the_outside_and_collapses_back(resnet, qtbot):
    w = resnet
    g = w.doc.graph
    before, steps = g.signature(), w.doc.undo_stack.count()
    layer1 = item_of(w, "layer1")
    definition = g.blocks["Basic Block"]

    press_e_on(qtbot, w, "layer1")
    qtbot.waitUntil(lambda: layer1.expansion is not None)
    cards = inner_cards(layer1)
    assert set(cards) == {n.name for n in definition.nodes.values()}
    assert layer1.width > NODE_W and layer1.height > 200  # a frame around the layers
    for card in cards.values():  # every layer lies inside the frame
        assert layer1.sceneBoundingRect().contains(card.sceneBoundingRect().center())
    # shapes of the instance's first copy, as the analysis has them
    first = w.doc.infos[layer1.node_id].inner[0]
    conv1 = definition.by_name("conv1")
    assert cards["conv1"].info == first[conv1.id] and cards["conv1"].info.output is not None
    # the outside wires end on the frame's ports, at the frame's left and right edges
    into = next(e for e in layer1.edges if e.edge.dst == layer1.node_id)
    out = next(e for e in layer1.edges if e.edge.src == layer1.node_id)
    assert into.endpoints()[1] == layer1.inputs["in"].scenePos()
    assert layer1.inputs["in"].pos().x() == 0
    assert out.endpoints()[0] == layer1.outputs["out"].scenePos()
    assert layer1.outputs["out"].pos().x() == layer1.width
    # ... level with the BlockInput and BlockOutput layers inside
    assert layer1.inputs["in"].scenePos().y() == cards["in"].outputs["out"].scenePos().y()
    assert layer1.outputs["out"].scenePos().y() == cards["out"].inputs["in"].scenePos().y()
    assert "copy 1 of 2" in layer1.expansion.subtitle()
    assert w.blocks.act_expand.text().replace("&", "") == "Collapse Block"
    # a view change only: the project is untouched and nothing was added to undo
    assert g.signature() == before and w.doc.undo_stack.count() == steps
    assert not w.doc.modified

    press_e_on(qtbot, w, "layer1")
    qtbot.waitUntil(lambda: layer1.expansion is None)
    assert not inner_cards(layer1) and layer1.width == NODE_W
    assert layer1.outputs["out"].pos().x() == NODE_W
    assert w.blocks.act_expand.text().replace("&", "") == "Expand Block in Place"


def test_the_frame_button_toggles_and_the_frame_is_read_only(resnet, qtbot):
    w = resnet
    layer2 = item_of(w, "layer2")
    toggle = next(c for c in layer2.childItems() if isinstance(c, ExpandToggle))
    w.canvas.clearSelection()
    click_scene(qtbot, w, toggle.sceneBoundingRect().center())
    qtbot.waitUntil(lambda: layer2.expansion is not None)
    assert not layer2.isSelected()  # the button is not a press on the card
    cards = inner_cards(layer2)
    assert "downsample_conv" in cards
    card = cards["downsample_conv"]
    assert not card.flags() & card.GraphicsItemFlag.ItemIsMovable
    assert not card.flags() & card.GraphicsItemFlag.ItemIsSelectable
    # a wire dragged onto a port inside the frame connects nothing
    inner_port = next(iter(card.inputs.values()))
    assert w.canvas.port_at(inner_port.scenePos()) is None

    toggle = next(c for c in layer2.childItems() if isinstance(c, ExpandToggle))
    click_scene(qtbot, w, toggle.sceneBoundingRect().center())  # now the − button
    qtbot.waitUntil(lambda: layer2.expansion is None)


def test_the_edit_menu_action_and_undo_of_an_outside_edit_keep_the_frame(resnet, qtbot):
    w = resnet
    g = w.doc.graph
    layer1 = item_of(w, "layer1")
    w.canvas.select_nodes([layer1.node_id])
    assert w.blocks.act_expand.isEnabled()
    w.blocks.act_expand.trigger()
    qtbot.waitUntil(lambda: layer1.expansion is not None)
    # an edit upstream changes the shapes shown inside the frame
    stem = g.by_name("conv1")
    channels = stem.params["out_channels"]
    w.doc.undo_stack.push(commands.SetParams(g, stem.id, {"out_channels": channels + 8}))
    qtbot.waitUntil(lambda: not w.doc.analysis_pending())
    qtbot.waitUntil(lambda: inner_cards(layer1)["in"].info is not None)
    assert inner_cards(layer1)["in"].info.output.shape[1] == channels + 8
    w.act_undo.trigger()
    qtbot.waitUntil(lambda: not w.doc.analysis_pending()
                    and inner_cards(layer1)["in"].info.output.shape[1] == channels)
    assert layer1.node_id in w.canvas.expanded


def test_double_clicking_a_layer_inside_opens_the_block_with_it_selected(resnet, qtbot):
    w = resnet
    g = w.doc.graph
    layer1 = item_of(w, "layer1")
    w.canvas.select_nodes([layer1.node_id])
    w.blocks.act_expand.trigger()
    qtbot.waitUntil(lambda: layer1.expansion is not None)
    card = inner_cards(layer1)["conv2"]
    params_3x3 = card.info.params
    click_scene(qtbot, w, card.sceneBoundingRect().center(), double=True)
    qtbot.waitUntil(lambda: w.doc.levels.depth == 1)
    conv2 = g.blocks["Basic Block"].by_name("conv2")
    qtbot.waitUntil(lambda: w.canvas.selected_node_ids() == [conv2.id])
    # which copy is shown, and that an edit changes every copy
    assert w.breadcrumb.labels() == ["Model", "layer1 (Basic Block) · copy 1 of 2"]
    assert w.inspector.scope.isVisible()
    assert "copy 1 of 2" in w.inspector.scope.text()
    assert "all 2 copies" in w.inspector.scope.text()

    # an edit inside, then up again: the level kept its expansion, showing the edit
    w.doc.undo_stack.push(commands.SetParams(w.canvas.graph, conv2.id, {"kernel_size": 1,
                                                                        "padding": 0}))
    qtbot.waitUntil(lambda: not w.doc.analysis_pending())
    w.view.setFocus()
    qtbot.keyClick(w.view.viewport(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.doc.levels.depth == 0)
    layer1 = item_of(w, "layer1")
    qtbot.waitUntil(lambda: layer1.expansion is not None)
    card = inner_cards(layer1)["conv2"]
    assert "kernel size=1" in card.key_text()
    qtbot.waitUntil(lambda: inner_cards(layer1)["conv2"].info is not None)
    assert inner_cards(layer1)["conv2"].info.params == params_3x3 // 9  # 3×3 became 1×1
    assert not w.inspector.scope.isVisible()


def test_deleting_an_expanded_block_removes_its_frame(resnet, qtbot):
    w = resnet
    layer1 = item_of(w, "layer1")
    press_e_on(qtbot, w, "layer1")
    qtbot.waitUntil(lambda: layer1.expansion is not None)
    w.canvas.select_nodes([layer1.node_id])
    w.canvas.delete_selection()
    qtbot.waitUntil(lambda: layer1.node_id not in w.canvas.nodes)
    assert not any(isinstance(i, InnerNodeItem) for i in w.canvas.items())
    assert layer1.node_id not in w.canvas.expanded
    w.act_undo.trigger()  # it comes back as a card
    qtbot.waitUntil(lambda: "layer1" in [n.name for n in w.doc.graph.nodes.values()])
    QApplication.processEvents()
    assert item_of(w, "layer1").expansion is None


def card_rect(item):
    return QRectF(item.x(), item.y(), item.width, item.height)


def test_expanding_makes_room_on_screen_without_moving_anything_in_the_project(resnet, qtbot):
    w = resnet
    g = w.doc.graph
    stored = {nid: n.pos for nid, n in g.nodes.items()}
    layer1 = item_of(w, "layer1")
    press_e_on(qtbot, w, "layer1")
    qtbot.waitUntil(lambda: layer1.expansion is not None)
    frame = card_rect(layer1)
    for nid, item in w.canvas.nodes.items():  # no card hides under the frame
        if nid != layer1.node_id:
            assert not frame.intersects(card_rect(item)), g.nodes[nid].name
    assert {nid: n.pos for nid, n in g.nodes.items()} == stored and not w.doc.modified

    # dragging a card that made room stores where it went, without the room
    layer2 = item_of(w, "layer2")
    dx = w.canvas.offset_of(layer2.node_id)[0]
    assert dx > 0
    w.canvas.clearSelection()
    w.view.centerOn(layer2.sceneBoundingRect().center())
    start = w.view.mapFromScene(QPointF(layer2.x() + 60, layer2.y() + 20))
    end = w.view.mapFromScene(QPointF(layer2.x() + 60, layer2.y() + 20 + 40))
    vp = w.view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 6):
        qtbot.mouseMove(vp, start + (end - start) * k / 5)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    qtbot.waitUntil(lambda: g.nodes[layer2.node_id].pos != stored[layer2.node_id])
    x, y = g.nodes[layer2.node_id].pos
    x0, y0 = stored[layer2.node_id]
    # 40 down, snapped to the grid, and not the room's dx to the right
    assert abs(x - x0) <= GRID / 2 and abs(y - (y0 + 40)) <= GRID / 2 and dx > GRID

    press_e_on(qtbot, w, "layer1")  # collapsed: every card at its stored place again
    qtbot.waitUntil(lambda: layer1.expansion is None)
    for nid, item in w.canvas.nodes.items():
        assert (item.x(), item.y()) == g.nodes[nid].pos
