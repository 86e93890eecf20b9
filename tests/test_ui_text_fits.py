"""Text that must show whole at common screen sizes and in a larger desktop font: a number
cut to "0.003" reads as another number. Widths are measured with the widgets' own font
metrics, never as pixel constants."""
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QApplication, QDialogButtonBox, QMessageBox, QScrollArea, QStyle,
                               QStyleOptionComboBox)

from netbuilder.ui.mainwindow import MainWindow


@pytest.fixture
def larger_font():
    """A desktop font a third larger than Qt's default here (as on many Linux desktops)."""
    app = QApplication.instance()
    old = QFont(app.font())
    big = QFont(old)
    big.setPointSizeF(old.pointSizeF() * 4 / 3)
    app.setFont(big)
    yield
    app.setFont(old)


def open_window(qtbot, tmp_path, monkeypatch, size):
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow()
    w.ask = lambda *a, **k: QMessageBox.Discard
    qtbot.addWidget(w)
    w.load_example("digits_cnn")
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.size().toTuple() == size)
    settle_layout()
    return w


def settle_layout() -> None:
    """Run the layout passes Qt has queued (the window's dock sizes, then the docks'
    contents), as the event loop would before the next paint."""
    for _ in range(4):
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QApplication.processEvents()


def shown_text_room(spin) -> tuple[int, int]:
    """(width the spin box's text needs, width its line edit has for text)."""
    edit = spin.lineEdit()
    margins = edit.textMargins()
    room = edit.contentsRect().width() - margins.left() - margins.right() - 4  # Qt's 2 px a side
    return edit.fontMetrics().horizontalAdvance(edit.text()), room


@pytest.mark.parametrize("font", ["default", "larger"])
@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_training_settings_show_whole(qtbot, tmp_path, monkeypatch, request, font, size):
    if font == "larger":
        request.getfixturevalue("larger_font")
    w = open_window(qtbot, tmp_path, monkeypatch, size)
    panel = w.training.panel
    area = w.training_dock.widget()
    qtbot.waitUntil(lambda: panel.lr.lineEdit().contentsRect().width() > 0
                    and area.viewport().width() > 0)
    # the learning rate beside its Find… button, and every other number
    for name in ("lr", "weight_decay", "batch_size", "epochs", "seed"):
        need, room = shown_text_room(panel.fields[name])
        assert need <= room, (name, panel.fields[name].text(), need, room)
    assert panel.find_lr.width() >= panel.find_lr.minimumSizeHint().width()
    # the run buttons say their names, and nothing of the panel is off to the side
    for button in panel.buttons.values():
        assert button.width() >= button.minimumSizeHint().width(), button.text()
    assert panel.width() <= area.viewport().width()
    # the canvas keeps the larger part of the window
    assert w.centralWidget().width() >= w.width() // 2
    w.training.shutdown()


def test_the_shortcut_list_fits_the_screen_with_its_ok_button(qtbot, tmp_path, monkeypatch):
    w = open_window(qtbot, tmp_path, monkeypatch, (1366, 768))
    w.show_shortcuts()
    box = w.shortcuts_box
    qtbot.waitExposed(box)
    settle_layout()
    screen = box.screen().availableGeometry()
    assert box.frameGeometry().height() <= screen.height()
    ok = box.findChild(QDialogButtonBox)
    assert ok is not None and ok.isVisible()
    assert box.rect().contains(ok.geometry())
    # every command is there, the ones below the fold a scroll away
    assert "Ctrl+Shift+Return" in box.view.toPlainText() and "Ctrl+E" in box.text()
    if box.view.document().size().height() > box.view.viewport().height():
        assert box.view.verticalScrollBar().isVisible()
    qtbot.mouseClick(ok.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())
    w.training.shutdown()


def combo_text_room(combo) -> tuple[int, int]:
    """(width the current choice needs, width of the box's text field), by the style."""
    opt = QStyleOptionComboBox()
    combo.initStyleOption(opt)
    field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                         QStyle.SubControl.SC_ComboBoxEditField, combo)
    return combo.fontMetrics().horizontalAdvance(combo.currentText()), field.width()


def test_the_live_views_show_layer_names_and_whole_plots(qtbot, tmp_path, monkeypatch):
    import pyqtgraph as pg

    w = open_window(qtbot, tmp_path, monkeypatch, (1366, 768))
    w.load_example("small_resnet")  # layer names with their types: "conv1 (Conv2d)"
    panel = w.training.panel
    panel.fields["epochs"].setValue(2)
    panel.fields["epochs"].editingFinished.emit()
    qtbot.mouseClick(panel.buttons["Train"], Qt.MouseButton.LeftButton)
    views = w.training.views
    qtbot.waitUntil(lambda: views._built and views.histograms.image.image is not None
                    and views.feature_maps.image.image is not None and views.norms.series
                    and not w.training.bridge.active, timeout=60_000)
    settle_layout()
    for picker in (views.feature_maps, views.histograms):
        assert picker.combo.currentText()
        need, room = combo_text_room(picker.combo)
        assert need <= room, (picker.combo.currentText(), need, room)
    # no plot is drawn wider than its widget (a cut-off right side)
    plots = [p for p in views.findChildren(pg.PlotWidget) if p.isVisible()]
    assert len(plots) >= 6
    for p in plots:
        assert p.getPlotItem().size().width() <= p.width() + 0.5, p.getPlotItem().titleLabel.text
    area = w.live_dock.widget()
    assert views.width() <= area.viewport().width()
    w.training.shutdown()


@pytest.mark.parametrize("font", ["default", "larger"])
def test_the_data_settings_column_is_never_cut_at_its_right_edge(qtbot, tmp_path, monkeypatch,
                                                                 request, font):
    """It scrolls only vertically, so whatever it holds must fit its width."""
    if font == "larger":
        request.getfixturevalue("larger_font")
    w = open_window(qtbot, tmp_path, monkeypatch, (1366, 768))
    w.details_dock.raise_()
    w.bottom.setCurrentWidget(w.data_panel)
    column = next(a for a in w.data_panel.findChildren(QScrollArea)
                  if a.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    for example in ("digits_cnn", "spirals_mlp"):
        w.load_example(example)
        settle_layout()
        qtbot.waitUntil(lambda: column.viewport().width() > 0)
        content = column.widget()
        assert content.minimumSizeHint().width() <= column.viewport().width(), example
        assert content.width() <= column.viewport().width(), example
    w.training.shutdown()


@pytest.mark.parametrize("height", [110, 400])
def test_log_axis_labels_stay_apart_on_a_short_plot(qtbot, height):
    """The weight-norm plot of a 768-pixel window is ~50 px tall inside: its log labels
    2, 3, 4, 5 were drawn on top of each other."""
    from PySide6.QtGui import QFontMetrics

    from netbuilder.ui.widgets.plots import StickyRange, make_plot

    plot = make_plot("Weight norm per layer")
    plot.setLogMode(y=True)
    qtbot.addWidget(plot)
    plot.resize(240, height)
    plot.show()
    qtbot.waitExposed(plot)
    rng = StickyRange(plot, log_y=True)
    rng.update(0, 100, 2.0, 5.0)
    settle_layout()
    vb = plot.plotItem.vb
    axis = plot.getAxis("left")
    qtbot.waitUntil(lambda: axis._tickLevels is not None and vb.height() > 0)
    ticks = [v for v, _ in axis._tickLevels[0]]
    assert len(ticks) >= 2
    y0, y1 = rng.y
    pixels = sorted(vb.height() * (v - y0) / (y1 - y0) for v in ticks)
    line = QFontMetrics(axis.style.get("tickFont") or axis.font()).height()
    assert min(b - a for a, b in zip(pixels, pixels[1:])) >= line, (ticks, vb.height())


def shown_label_text(label) -> str:
    """What a label paints: elided labels paint their elided text."""
    return label.elided_text() if hasattr(label, "elided_text") else label.text()


@pytest.mark.parametrize("font", ["default", "larger"])
def test_the_breadcrumb_hint_is_elided_not_cut(qtbot, tmp_path, monkeypatch, request, font):
    if font == "larger":
        request.getfixturevalue("larger_font")
    w = open_window(qtbot, tmp_path, monkeypatch, (1366, 768))
    w.load_example("small_resnet")
    settle_layout()
    layer1 = w.doc.graph.by_name("layer1").id
    assert w.blocks.open_instance(layer1)
    crumb = w.breadcrumb
    qtbot.waitUntil(lambda: crumb.isVisible() and crumb.hint.width() > 0)
    settle_layout()
    hint = crumb.hint
    shown = shown_label_text(hint)
    assert shown and hint.fontMetrics().horizontalAdvance(shown) <= hint.contentsRect().width()
    assert hint.geometry().right() <= crumb.contentsRect().right()
    assert shown == hint.text() or shown.endswith("…")
    assert hint.toolTip() == hint.text()  # the whole hint, when it is cut
    w.training.shutdown()


def test_linear_axis_labels_stay_apart_on_a_short_plot(qtbot, larger_font):
    """The accuracy plot (0..1) of a 768-pixel window in a larger font: 0.2, 0.4, 0.6 and
    0.8 were drawn on top of each other."""
    from PySide6.QtGui import QFontMetrics

    from netbuilder.ui.widgets.plots import make_plot

    plot = make_plot("Accuracy", bottom="epoch")
    qtbot.addWidget(plot)
    plot.resize(240, 130)
    plot.show()
    qtbot.waitExposed(plot)
    plot.plotItem.vb.setRange(xRange=(0, 10), yRange=(0, 1.02), padding=0)
    settle_layout()
    axis, vb = plot.getAxis("left"), plot.plotItem.vb
    qtbot.waitUntil(lambda: vb.height() > 0)
    values = [v for v in axis.tickValues(0, 1.02, vb.height())[0][1] if 0 <= v <= 1.02]
    assert len(values) >= 2
    step_px = vb.height() * (values[1] - values[0]) / 1.02
    assert step_px >= QFontMetrics(axis.style.get("tickFont") or axis.font()).height()
