"""Problems, summary and code panels follow the document's analysis."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase

from netbuilder import examples
from netbuilder.core.shapes import topo_order
from netbuilder.ui.document import commands
from netbuilder.ui.document.document import Document
from netbuilder.ui.editor.panels import CodePanel, ProblemsPanel, SummaryPanel


@pytest.fixture
def doc(qtbot):
    d = Document(examples.load("digits_cnn"))
    d.refresh()
    return d


def show(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(760, 360)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def delete_flatten(doc):
    """Delete the Flatten and close the gap (pool -> dropout): Linear now gets N×32×4×4."""
    g = doc.graph
    flatten = g.nodes_of_type("Flatten")[0]
    before, after = g.in_edges(flatten.id)[0].src, g.out_edges(flatten.id)[0].dst
    doc.undo_stack.beginMacro("Delete Flatten")
    doc.undo_stack.push(commands.delete_nodes(g, [flatten.id]))
    doc.undo_stack.push(commands.Connect(g, before, after))
    doc.undo_stack.endMacro()
    doc.refresh()


def test_problems_panel_lists_problems_and_activates_their_node(doc, qtbot):
    panel = show(qtbot, ProblemsPanel(doc))
    assert doc.problems == []
    assert panel.stack.currentWidget() is panel.empty
    assert "No problems" in panel.empty.text() and panel.empty.isVisible()

    with qtbot.waitSignal(panel.countsChanged) as counts:
        delete_flatten(doc)
    errors = sum(p.severity == "error" for p in doc.problems)
    assert counts.args[0] == errors >= 1
    assert panel.tree.isVisible()
    assert panel.tree.topLevelItemCount() == len(doc.problems)

    linear = doc.graph.nodes_of_type("Linear")[0]
    rows = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    row = next(r for r in rows if r.text(1) == linear.name)
    assert "Flatten" in row.text(0)  # the message suggests the fix
    panel.tree.scrollToItem(row)
    rect = panel.tree.visualItemRect(row)
    with qtbot.waitSignal(panel.nodeActivated) as sig:
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [linear.id]

    doc.undo_stack.undo()
    doc.refresh()
    assert panel.stack.currentWidget() is panel.empty
    assert panel.counts() == (0, 0)


def test_graph_level_problems_have_no_node(qtbot):
    d = Document()  # empty graph: no Input, no Output
    d.refresh()
    panel = show(qtbot, ProblemsPanel(d))
    assert panel.tree.topLevelItemCount() == len(d.problems) >= 2
    row = panel.tree.topLevelItem(0)
    assert row.text(1) == "—"
    with qtbot.assertNotEmitted(panel.nodeActivated):
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.tree.visualItemRect(row).center())


def test_summary_table_rows_and_totals(doc, qtbot):
    panel = show(qtbot, SummaryPanel(doc))
    order, _ = topo_order(doc.graph)
    rows = panel.top_rows()
    assert len(rows) == len(order)
    assert [r.text(0) for r in rows] == [doc.graph.nodes[n].name for n in order]
    conv = doc.graph.nodes_of_type("Conv2d")[0]
    row = rows[order.index(conv.id)]
    assert panel.texts(row) == [conv.name, "Conv2d", "N×16×8×8", "144", "18,432"]
    assert row.textAlignment(3) & Qt.AlignmentFlag.AlignRight

    params, flops = doc.totals()
    total = panel.totals_row()
    assert total[0] == "Total"
    assert total[3] == f"{params:,}" and total[4] == f"{flops:,}"
    assert int(total[3].replace(",", "")) == doc.totals()[0]
    assert panel.total_item.font(3).bold()

    with qtbot.waitSignal(panel.nodeActivated) as sig:
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.tree.visualItemRect(row).center())
    assert sig.args == [conv.id]

    # edits show up after the next analysis
    doc.undo_stack.push(commands.SetParams(doc.graph, conv.id, {"out_channels": 8}))
    doc.refresh()
    row = panel.top_rows()[order.index(conv.id)]
    assert row.text(2) == "N×8×8×8"
    assert panel.totals_row()[3] == f"{doc.totals()[0]:,}"


def test_code_panel_shows_generated_code(doc, qtbot):
    panel = show(qtbot, CodePanel(doc))
    panel.refresh_now()
    code = panel.code()
    assert "def forward(self, image):" in code
    assert "self.conv2d(" in code and "self.linear(" in code
    assert "self.conv2d = nn.Conv2d(1, 16, kernel_size=(3, 3)" in code
    assert panel.text.isReadOnly()
    # what the panel asks for, not what the machine's fonts resolve it to
    font = panel.text.font()
    assert font.fixedPitch() and font.styleHint() == QFont.StyleHint.Monospace
    assert font.family() == QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()


def test_code_panel_debounces_and_reports_errors(doc, qtbot):
    panel = show(qtbot, CodePanel(doc))
    panel.refresh_now()
    delete_flatten(doc)  # emits analysisChanged; the panel waits 300 ms
    assert panel._timer.isActive()
    assert "def forward" in panel.code()
    qtbot.waitUntil(lambda: "errors" in panel.code(), timeout=2000)
    lines = panel.code().splitlines()
    assert lines[0] == "# The graph has errors; fix them to see the code:"
    assert any("Linear" in line for line in lines[1:])
    assert all(line.startswith("#") for line in lines)


def test_code_panel_survives_a_compiler_failure(doc, qtbot, monkeypatch):
    import netbuilder.core.compiler as compiler

    def boom(graph, *a, **k):
        raise RuntimeError("simulated\nfailure")

    monkeypatch.setattr(compiler, "compile_graph", boom)
    panel = show(qtbot, CodePanel(doc))
    panel.refresh_now()
    assert panel.code().splitlines() == ["# Could not compile the graph:",
                                         "#   RuntimeError: simulated", "#   failure"]


def test_panels_render(doc, qtbot):
    delete_flatten(doc)
    for name, cls in (("problems", ProblemsPanel), ("summary", SummaryPanel),
                      ("code", CodePanel)):
        w = show(qtbot, cls(doc))
        if name == "code":
            w.refresh_now()
        assert w.grab().save(f"/tmp/panel_{name}.png")


def test_panels_do_not_import_torch_before_the_analysis_runs():
    """The window paints before torch is imported; none of these widgets may pull it in."""
    import os
    import subprocess
    import sys

    code = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from netbuilder import examples
from netbuilder.ui.document.document import Document
from netbuilder.ui.editor.inspector import Inspector
from netbuilder.ui.editor.palette import Palette
from netbuilder.ui.editor.panels import CodePanel, ProblemsPanel, SummaryPanel
doc = Document(examples.load("digits_cnn"))
doc.analysis_enabled = False
palette = Palette()
palette.tree.setCurrentItem(palette.item_for("Sigmoid"))
inspector = Inspector(doc)
inspector.set_node(next(iter(doc.graph.nodes)))
panels = [ProblemsPanel(doc), SummaryPanel(doc), CodePanel(doc)]
panels[2].refresh_now()
app.processEvents()
print("torch" in sys.modules)
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
