"""One parameter edit on a long graph: only the nodes it changes are re-inferred and
touched on the canvas, and the new shapes are shown before the problems step runs."""
from PySide6.QtWidgets import QApplication

from netbuilder.core.project import Project
from netbuilder.core.shapes import ShapeInference
from netbuilder.ui.document import commands

from test_ui_blocks import window  # noqa: F401 (the fixture: a shown main window)
from test_ui_canvas_overview import long_chain


def test_inference_walks_only_as_far_as_the_edit_changes_shapes():
    g = long_chain(300)
    si = ShapeInference(g, listen=True)
    si.update()
    linears = g.nodes_of_type("Linear")
    middle = linears[len(linears) // 2]
    g.set_params(middle.id, {"out_features": 13})
    si.update()
    after = [e.dst for e in g.edges if e.src == middle.id]
    # the Linear, the ReLU after it (new width) and the Linear after that (new weights);
    # the next ReLU is looked at and found unchanged: nothing beyond it
    assert si.recomputed <= 4 and middle.id in si.renewed and after[0] in si.renewed
    assert si.infos[middle.id].output.shape == (None, 13)
    assert len(si.renewed) == si.recomputed  # (no cycles: nothing stuck)
    si.close()


def test_an_edit_shows_its_shapes_first_and_the_problems_after(window, qtbot):
    w = window
    w.doc.set_project(Project(graph=long_chain(200)))
    qtbot.waitUntil(lambda: bool(w.doc.infos) and not w.doc.analysis_pending(),
                    timeout=60_000)
    g = w.doc.graph
    target = g.nodes_of_type("Linear")[40]
    seen = []
    w.doc.shapesChanged.connect(lambda: seen.append(
        ("shapes", w.canvas.nodes[target.id].info.output.shape, len(w.doc.changed_infos))))
    w.doc.analysisChanged.connect(lambda: seen.append(("problems",)))
    w.doc.undo_stack.push(commands.SetParams(g, target.id, {"out_features": 21}))
    qtbot.waitUntil(lambda: not w.doc.analysis_pending())
    QApplication.processEvents()
    assert seen[0][0] == "shapes" and seen[0][1] == (None, 21)  # on the card already
    assert seen[0][2] <= 4  # only the nodes the edit changed were renewed
    assert ("problems",) in seen and seen.index(("problems",)) > 0
