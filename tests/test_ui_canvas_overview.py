"""The zoomed-out canvas: below the text zoom the view draws cards and wires in one pass
(overview.py) while the items stay clickable; zooming back in gives full cards."""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from netbuilder.core.graph import Graph
from netbuilder.core.layout import apply_layout
from netbuilder.core.project import Project
from netbuilder.ui.editor.items import LOD_TEXT
from netbuilder.ui.widgets.theme import category_colour

from test_ui_blocks import window  # noqa: F401 (the fixture: a shown main window)


def long_chain(n: int) -> Graph:
    g = Graph()
    prev = g.add_node("Input", params={"shape": [8]})
    for k in range(n):
        node = g.add_node("Linear" if k % 2 else "ReLU",
                          params={"out_features": 8} if k % 2 else None)
        g.connect(prev.id, node.id)
        prev = node
    g.connect(prev.id, g.add_node("Output").id)
    apply_layout(g)
    return g


def test_a_zoomed_out_overview_draws_the_cards_and_keeps_them_clickable(window, qtbot):
    w = window
    w.resize(1366, 768)
    w.doc.set_project(Project(graph=long_chain(400)))
    qtbot.waitUntil(lambda: bool(w.doc.infos) and not w.doc.analysis_pending(),
                    timeout=60_000)
    w.view.fit_all()
    assert w.view.zoom() < LOD_TEXT
    canvas = w.canvas
    assert canvas.overview
    relu = next(i for i in canvas.nodes.values() if i.node.type == "ReLU")
    assert not any(p.isVisible() for p in relu.inputs.values())  # no ports to hit

    # the card is on screen in its category's colour, drawn by the view's one pass
    QApplication.processEvents()
    centre = w.view.mapFromScene(relu.sceneBoundingRect().center())
    image = w.view.viewport().grab().toImage()
    assert image.pixelColor(centre).name() == category_colour(relu.category).name()

    # ... and a click there selects it, as on a full card
    canvas.clearSelection()
    qtbot.mouseClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: canvas.selected_node_ids() == [relu.node_id])

    w.view.zoom_by(1.0 / w.view.zoom())  # back to 100 %: full cards with their ports
    assert not canvas.overview
    assert all(p.isVisible() for p in relu.inputs.values())
