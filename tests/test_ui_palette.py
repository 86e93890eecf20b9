"""The layer palette, driven the way a person uses it."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from netbuilder.core import registry
from netbuilder.ui.editor.palette import MIME_LAYER, TYPE_ROLE, Palette, layer_from_mime


@pytest.fixture
def palette(qtbot):
    w = Palette()
    qtbot.addWidget(w)
    w.resize(280, 700)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_every_layer_type_is_listed_under_its_category(palette):
    tree = palette.tree
    heads = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    assert [h.text(0) for h in heads] == list(registry.categories())
    assert all(h.isExpanded() for h in heads)
    assert sorted(palette.visible_types()) == sorted(s.type for s in registry.all_specs())
    item = palette.item_for("Conv2d")
    assert item.data(0, TYPE_ROLE) == "Conv2d"
    assert item.toolTip(0) == registry.get("Conv2d").doc
    assert item.parent().text(0) == "Convolution"


def test_typing_in_search_filters_by_name_category_and_doc(palette, qtbot):
    assert palette.search.placeholderText() == "Search layers…"
    qtbot.keyClicks(palette.search, "CONV")
    assert palette.visible_types() == ["Conv1d", "Conv2d", "ConvTranspose2d"]
    # the category heading of a hidden group is hidden too
    assert palette.item_for("Linear").parent().isHidden()

    palette.search.clear()
    qtbot.keyClicks(palette.search, "pooling")  # a category name
    shown = palette.visible_types()
    assert {s.type for s in registry.categories()["Pooling"]} <= set(shown)
    assert all("pooling" in f"{s.type} {s.category} {s.doc}".lower()
               for s in map(registry.get, shown))

    palette.search.clear()
    qtbot.keyClicks(palette.search, "Saturates  GRADIENTS")  # words from a doc, any order
    assert palette.visible_types() == ["Sigmoid"]

    palette.search.clear()
    qtbot.keyClicks(palette.search, "zzz-nothing")
    assert palette.visible_types() == []
    assert "No layer matches" in palette.title.text()

    palette.search.clear()
    assert len(palette.visible_types()) == len(registry.all_specs())


def test_mime_data_carries_the_type_name(palette):
    item = palette.item_for("MaxPool2d")
    mime = palette.mimeData([item])
    assert mime.hasFormat(MIME_LAYER)
    assert bytes(mime.data(MIME_LAYER)).decode("utf-8") == "MaxPool2d"
    assert mime.text() == "MaxPool2d"
    assert layer_from_mime(mime) == "MaxPool2d"
    # category headings are not layers: nothing to drag
    assert not palette.mimeData([item.parent()]).hasFormat(MIME_LAYER)
    assert not item.parent().flags() & Qt.ItemFlag.ItemIsDragEnabled


def test_double_click_and_enter_request_a_layer(palette, qtbot):
    tree = palette.tree
    item = palette.item_for("ReLU")
    tree.scrollToItem(item)
    pos = tree.visualItemRect(item).center()
    # QTest's first synthetic double-click on a fresh view is not seen as one; a real
    # double-click starts with a press anyway, so press first, as the hand does.
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert tree.currentItem() is item
    with qtbot.waitSignal(palette.addRequested, timeout=1000) as sig:
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert sig.args == ["ReLU"]
    assert tree.visualItemRect(item).center() == pos  # selecting did not move the item

    tree.setCurrentItem(palette.item_for("Dropout"))
    with qtbot.waitSignal(palette.addRequested, timeout=1000) as sig:
        qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert sig.args == ["Dropout"]

    # type to find, Enter to add: no mouse needed
    qtbot.keyClicks(palette.search, "lstm")
    with qtbot.waitSignal(palette.addRequested, timeout=1000) as sig:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert sig.args == ["LSTM"]


def test_double_click_on_a_category_adds_nothing(palette, qtbot):
    tree = palette.tree
    head = palette.item_for("ReLU").parent()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(head).center())
    with qtbot.assertNotEmitted(palette.addRequested):
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton,
                          pos=tree.visualItemRect(head).center())


def test_sigmoid_plots_function_and_derivative(palette, qtbot):
    palette.tree.setCurrentItem(palette.item_for("Sigmoid"))
    assert palette.plot.isVisible()
    curves = palette.plot.getPlotItem().listDataItems()
    assert len(curves) == 2
    legend = [label.text for _, label in palette.plot.getPlotItem().legend.items]
    assert legend == ["f(x)", "f′(x)"]
    (x, f), (_, df) = curves[0].getData(), curves[1].getData()
    assert x.min() == -5 and x.max() == 5
    zero = int(np.argmin(np.abs(x)))
    assert x[zero] == 0
    assert f[zero] == pytest.approx(0.5)
    assert df[zero] == pytest.approx(0.25, abs=1e-6)
    assert df[0] < 0.01 and df[-1] < 0.01  # saturation: almost no gradient at |x| = 5
    assert "saturates" in palette.doc.text()

    # a layer with no formula hides the plot but still explains itself
    palette.tree.setCurrentItem(palette.item_for("Linear"))
    assert not palette.plot.isVisible()
    assert palette.doc.text() == registry.get("Linear").doc
    assert "out_features" in palette.details.text()

    palette.tree.setCurrentItem(palette.item_for("ReLU"))
    assert palette.plot.isVisible()
    x, df = palette.curves[1].getData()
    assert df[-1] == pytest.approx(1.0) and df[0] == pytest.approx(0.0)


def test_palette_renders(palette, qtbot):
    palette.tree.setCurrentItem(palette.item_for("Tanh"))
    assert palette.grab().save("/tmp/panel_palette.png")
