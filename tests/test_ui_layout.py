"""The window's layout: it fits the screen, docks never overlap, the canvas keeps the room,
the layout is remembered, and nothing a panel says can push the window wider or taller.

Everything here compares geometry (rectangles, row heights measured from the tree itself),
never pixel sizes that depend on the fonts installed."""
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDockWidget

from netbuilder import examples
from netbuilder.ui.mainwindow import MainWindow
from netbuilder.ui.widgets.compact import ElidedLabel


@pytest.fixture
def state(tmp_path, monkeypatch):
    path = tmp_path / "state"
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(path))
    return path


def open_window(qtbot, size=None, example="digits_cnn") -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.doc.set_project(examples.resolve(example))
    if size:
        w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    if size:
        qtbot.waitUntil(lambda: w.size().toTuple() == size)
    return w


def shown_docks(w: MainWindow) -> list[QDockWidget]:
    """Docks a person can see: open and not behind another dock's tab."""
    return [d for d in w.findChildren(QDockWidget)
            if d.isVisible() and not d.visibleRegion().isEmpty()]


def canvas_share(w: MainWindow) -> float:
    central = w.centralWidget().geometry()
    return central.width() * central.height() / (w.width() * w.height())


def palette_rows(w: MainWindow) -> float:
    """How many layer rows the palette's list shows, from the tree's own row height."""
    tree = w.palette_panel.tree
    row = tree.visualItemRect(w.palette_panel.item_for("Linear")).height()
    assert row > 0
    return tree.viewport().height() / row


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080), (2560, 1440)])
def test_at_common_screen_sizes_everything_fits(qtbot, state, size):
    w = open_window(qtbot, size)
    # the dock sizes are applied when the window's layout next runs: wait for that
    qtbot.waitUntil(lambda: canvas_share(w) >= 0.4)
    window = w.rect()
    docks = shown_docks(w)
    names = {d.objectName() for d in docks}
    # one of each tab group is in front: the settings (nothing selected) and the details
    assert names == {"Layers", "Training", "Details"}
    for d in docks:
        assert window.contains(d.geometry()), (d.objectName(), d.geometry(), window)
    for i, a in enumerate(docks):
        for b in docks[i + 1:]:
            assert not a.geometry().intersects(b.geometry()), (a.objectName(), b.objectName())
    central = w.centralWidget().geometry()
    assert window.contains(central)
    assert all(not central.intersects(d.geometry()) for d in docks)
    assert palette_rows(w) >= 12
    bar = w.statusBar()
    assert bar.isVisible() and window.contains(bar.geometry())
    assert all(not bar.geometry().intersects(d.geometry()) for d in docks)
    w.training.shutdown()


def test_the_minimum_size_fits_a_small_laptop(qtbot, state):
    w = open_window(qtbot)
    w.load_example("residual_cnn")
    w.bottom.setCurrentWidget(w.results_panel)
    assert w.bottom.currentWidget() is w.results_panel  # the pages scroll, still themselves
    w.training.views.clear()  # the live plots, as when a run starts
    w.live_dock.raise_()
    minimum = w.minimumSizeHint().expandedTo(w.minimumSize())
    assert minimum.width() <= 1024 and minimum.height() <= 640, minimum
    w.training.shutdown()


def test_the_window_opens_inside_the_screen_at_most_nine_tenths_of_it(qtbot, state):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    avail = w.screen().availableGeometry()
    assert avail.contains(w.frameGeometry())
    minimum = w.minimumSizeHint()
    # 90 % of the screen, unless the screen is too small for the window's minimum
    assert w.width() <= max(int(avail.width() * 0.9), min(minimum.width(), avail.width()))
    assert w.height() <= max(int(avail.height() * 0.9), min(minimum.height(), avail.height()))
    frame_margin = (w.frameGeometry().width() - w.width()) // 2 + 1
    assert abs(w.frameGeometry().center().x() - avail.center().x()) <= frame_margin
    w.training.shutdown()


def test_the_inspector_shares_the_right_column_and_comes_forward_on_selection(qtbot, state):
    w = open_window(qtbot, (1366, 768))
    assert w.tabifiedDockWidgets(w.inspector_dock) == [w.training_dock]
    assert w.dockWidgetArea(w.inspector_dock) == Qt.RightDockWidgetArea
    assert w.inspector_dock not in shown_docks(w)  # nothing selected: it takes no room
    node = next(iter(w.doc.graph.nodes))
    w.canvas.select_nodes([node])
    qtbot.waitUntil(lambda: w.inspector_dock in shown_docks(w))
    assert w.training_dock not in shown_docks(w)
    assert w.inspector.node_id == node
    w.training.shutdown()


def test_every_dock_is_in_the_view_menu_with_a_shortcut(qtbot, state):
    w = open_window(qtbot, (1366, 768))
    view = next(a.menu() for a in w.menuBar().actions() if a.text() == "&View")
    by_text = {a.text(): a for a in view.actions()}
    docks = {d.objectName(): d for d in w.findChildren(QDockWidget)}
    shortcuts = set()
    for name in docks:
        act = by_text[name]
        assert not act.shortcut().isEmpty(), name
        shortcuts.add(act.shortcut().toString())
    assert len(shortcuts) == len(docks)  # all different
    assert "&Reset Layout" in by_text

    # a dock behind a tab comes to the front; triggered again, it closes; then it reopens
    act = w.dock_actions["Inspector"]
    act.trigger()
    qtbot.waitUntil(lambda: w.inspector_dock in shown_docks(w))
    assert act.isChecked()
    act.trigger()
    qtbot.waitUntil(lambda: w.inspector_dock.isHidden())
    assert not act.isChecked()
    act.trigger()
    qtbot.waitUntil(lambda: w.inspector_dock in shown_docks(w))
    assert act.isChecked()
    w.training.shutdown()


def test_the_layout_is_remembered_and_reset(qtbot, state):
    w = open_window(qtbot, (760, 560))
    w.addDockWidget(Qt.RightDockWidgetArea, w.layers_dock)
    w.live_dock.close()
    qtbot.waitUntil(lambda: w.dockWidgetArea(w.layers_dock) == Qt.RightDockWidgetArea)
    w.training.shutdown()
    assert w.close()
    assert (state / "layout.ini").exists()

    again = open_window(qtbot)
    assert again.size().toTuple() == (760, 560)
    assert again.dockWidgetArea(again.layers_dock) == Qt.RightDockWidgetArea
    assert again.live_dock.isHidden()
    assert not again.dock_actions["Live"].isChecked()

    again.resize(1280, 720)
    again.reset_layout()
    qtbot.waitUntil(lambda: again.dockWidgetArea(again.layers_dock) == Qt.LeftDockWidgetArea)
    assert not again.live_dock.isHidden()
    assert again.tabifiedDockWidgets(again.details_dock) == [again.live_dock]
    assert not (state / "layout.ini").exists()
    qtbot.waitUntil(lambda: canvas_share(again) >= 0.4)  # the default sizes again
    assert palette_rows(again) >= 12
    again.training.shutdown()


def test_a_layout_saved_by_another_version_is_ignored(qtbot, state):
    w = open_window(qtbot, (760, 560))
    w.addDockWidget(Qt.RightDockWidgetArea, w.layers_dock)
    w.training.shutdown()
    assert w.close()
    MainWindow.LAYOUT_VERSION += 1
    try:
        fresh = open_window(qtbot)
        assert fresh.dockWidgetArea(fresh.layers_dock) == Qt.LeftDockWidgetArea
        assert fresh.screen().availableGeometry().contains(fresh.frameGeometry())
        fresh.training.shutdown()
    finally:
        MainWindow.LAYOUT_VERSION -= 1


def test_a_long_training_status_elides_instead_of_widening_the_dock(qtbot, state):
    w = open_window(qtbot, (1280, 720))
    before = w.training_dock.width(), w.width(), w.minimumSizeHint().width()
    text = "ETA 0:12 · 123,456 samples/s · loss 0.1234 · acc 98.7% · " * 6
    label = w.training.panel.rate_label
    assert isinstance(label, ElidedLabel)
    label.setText(text)
    qtbot.waitUntil(label.is_elided)
    assert (w.training_dock.width(), w.width(), w.minimumSizeHint().width()) == before
    assert label.toolTip() == text  # the whole of it is one hover away
    w.training.shutdown()


def test_the_palette_help_folds_to_one_line_and_its_splitter_moves(qtbot, state):
    w = open_window(qtbot, (1280, 720))
    pal = w.palette_panel
    pal.tree.setCurrentItem(pal.item_for("Sigmoid"))
    rows_open = palette_rows(w)
    pal.set_help_expanded(False)
    qtbot.waitUntil(lambda: not pal.help_body.isVisible())
    assert pal.summary.isVisible() and pal.summary.text() == pal.doc.text()
    assert palette_rows(w) > rows_open
    pal.set_help_expanded(True)
    qtbot.waitUntil(lambda: pal.plot.isVisible())

    # drag the handle up: the list gets shorter, the help taller
    handle = pal.split.handle(1)
    tree_h = pal.tree.height()
    mid = handle.rect().center()
    qtbot.mousePress(handle, Qt.LeftButton, pos=mid)
    qtbot.mouseMove(handle, mid - mid.__class__(0, 60))
    qtbot.mouseRelease(handle, Qt.LeftButton, pos=mid - mid.__class__(0, 60))
    qtbot.waitUntil(lambda: pal.tree.height() < tree_h - 30)
    w.training.shutdown()


def node_rects_in_view(w: MainWindow) -> list[QRect]:
    view = w.view
    return [view.mapFromScene(item.sceneBoundingRect()).boundingRect()
            .translated(view.viewport().geometry().topLeft())
            for item in w.canvas.nodes.values()]


def test_the_minimap_never_covers_a_node(qtbot, state):
    w = open_window(qtbot, (1280, 720), example="residual_cnn")
    view = w.view
    w.view.fit_all()
    qtbot.waitUntil(lambda: not w.minimap.isVisible())  # the whole graph fits: no minimap
    for _ in range(4):
        view.zoom_by(1.6)
    seen_shown = False
    bars = view.horizontalScrollBar(), view.verticalScrollBar()
    for item in list(w.canvas.nodes.values())[::2]:
        view.centerOn(item)
        w.minimap.refit()
        if w.minimap.isVisible():
            seen_shown = True
            mm = w.minimap.geometry()
            for rect in node_rects_in_view(w):
                assert not mm.intersects(rect), (mm, rect)
    assert seen_shown  # zoomed in, it is there (in some free corner) at some point
    assert all(b.maximum() > b.minimum() for b in bars)
    w.training.shutdown()


def test_legends_sit_outside_the_data(qtbot):
    from PySide6.QtWidgets import QWidget, QVBoxLayout
    from netbuilder.ui.widgets.plots import add_legend, make_plot

    host = QWidget()
    qtbot.addWidget(host)
    plot = make_plot("Loss", bottom="epoch")
    QVBoxLayout(host).addWidget(plot)
    add_legend(plot)
    plot.plot([0, 1, 2], [3, 2, 1], name="train")
    plot.plot([0, 1, 2], [2, 2, 2], name="validation")
    host.resize(360, 260)
    host.show()
    qtbot.waitExposed(host)
    item = plot.getPlotItem()
    legend = item.legend
    assert [label.text for _, label in legend.items] == ["train", "validation"]
    qtbot.waitUntil(lambda: legend.sceneBoundingRect().height() > 0)
    data = item.vb.sceneBoundingRect()
    box = legend.sceneBoundingRect()
    assert not data.intersects(box), (data, box)
    assert item.sceneBoundingRect().contains(box)


def test_gui_screenshot_renders_at_the_size_asked(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["NETBUILDER_STATE_DIR"] = str(tmp_path)
    png = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "netbuilder", "gui", "digits_cnn", "--screenshot",
                        str(png), "--size", "1024x640"], capture_output=True, text=True,
                       env=env, timeout=180)
    assert r.returncode == 0, r.stderr
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1024, 640)

    bad = subprocess.run([sys.executable, "-m", "netbuilder", "gui", "digits_cnn",
                          "--screenshot", str(tmp_path / "x.png"), "--size", "big"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1
    assert "--size 'big'" in bad.stderr and "1366x768" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.png").exists()
