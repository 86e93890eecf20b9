"""The Results panel, driven from real run folders made by the (Qt-free) Trainer."""
import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from netbuilder import examples
from netbuilder.training import Trainer
from netbuilder.ui.document.document import Document
from netbuilder.ui.results.panel import ResultsPanel


def train(project, out, epochs, **changes):
    if changes:
        project = dataclasses.replace(project,
                                      training=project.training.model_copy(update=changes))
    return Trainer(project, out_dir=out, epochs=epochs, tensorboard=False).run()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    results = {
        "digits": (root / "digits", train(examples.load("digits_cnn"), root / "digits", 1)),
        "spirals": (root / "spirals", train(examples.load("spirals_mlp"), root / "spirals", 2)),
        "spirals_fast": (root / "spirals_fast",
                         train(examples.load("spirals_mlp"), root / "spirals_fast", 2, lr=0.05)),
        "text": (root / "text", train(examples.load("text_gru"), root / "text", 1)),
        "square": (root / "square", train(examples.load("square_regression"), root / "square",
                                          1)),
    }
    for _, r in results.values():
        assert r.status == "completed"
    return results


@pytest.fixture
def panel(qtbot):
    doc = Document(examples.load("digits_cnn"))
    p = ResultsPanel(doc)
    qtbot.addWidget(p)
    p.resize(1000, 420)
    p.show()
    qtbot.waitExposed(p)
    return p


def show(qtbot, panel, run_dir):
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        panel.show_run(run_dir)
    assert panel.error == ""


def drag(widget, points):
    """Press, move through `points` with the button held, release: a pen stroke."""
    pts = [QPointF(*p) for p in points]
    send = QApplication.sendEvent
    L, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    nomod = Qt.KeyboardModifier.NoModifier
    send(widget, QMouseEvent(QMouseEvent.Type.MouseButtonPress, pts[0], widget.mapToGlobal(pts[0]),
                             L, L, nomod))
    for p in pts[1:]:
        send(widget, QMouseEvent(QMouseEvent.Type.MouseMove, p, widget.mapToGlobal(p), none, L,
                                 nomod))
    send(widget, QMouseEvent(QMouseEvent.Type.MouseButtonRelease, pts[-1],
                             widget.mapToGlobal(pts[-1]), L, none, nomod))


def test_digits_run_shows_metrics_confusion_and_misclassified_images(panel, qtbot, runs):
    run_dir, result = runs["digits"]
    show(qtbot, panel, run_dir)
    cm = panel.confusion.matrix
    assert cm.shape == (10, 10)
    assert cm.sum() == 270  # the test split of digits
    assert cm.tolist() == result.test["confusion"]  # the same as the Trainer's Finished test
    assert panel.confusion.labels == [str(i) for i in range(10)]
    table = {panel.metrics_table.item(r, 0).text(): panel.metrics_table.item(r, 1).text()
             for r in range(panel.metrics_table.rowCount())}
    assert table["accuracy"] == f"{result.test['accuracy']:.4g}"
    wrong = int(cm.sum() - np.trace(cm))
    assert panel.mistake_count == wrong
    qtbot.mouseClick(panel.tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=panel.tabs.tabBar().tabRect(1).center())
    assert panel.tabs.currentIndex() == 1
    items = panel.gallery.items
    assert len(items) == min(wrong, 48) and wrong > 0
    ev = panel.evaluation
    for (img, caption, _), i in zip(items, np.flatnonzero(ev.pred != ev.y)):
        assert img.width() == 8
        true, pred = caption.split("→")
        assert true == str(ev.y[i]) and pred == str(ev.pred[i]) and true != pred
    assert panel.checkpoint.endswith("last")


def test_drawing_on_the_try_it_canvas_changes_the_prediction(panel, qtbot, runs):
    show(qtbot, panel, runs["digits"][0])
    panel.tabs.setCurrentIndex(2)
    try_it = panel.try_it
    canvas = try_it.canvas
    assert canvas.values.shape == (8, 8)
    blank = try_it.probabilities.copy()
    assert blank.shape == (10,) and abs(blank.sum() - 1) < 1e-5
    # a vertical stroke down the middle: a "1"
    drag(canvas, [(98, y) for y in range(20, 205, 10)])
    assert canvas.values[:, 3].max() == 1.0 and canvas.values[:, 0].max() == 0
    one = try_it.probabilities.copy()
    assert np.abs(one - blank).max() > 1e-3
    heights = try_it.bars.opts["height"]
    assert np.allclose(heights, one)
    assert "prediction:" in try_it.answer.text()
    qtbot.mouseClick(canvas, Qt.MouseButton.RightButton, pos=QPoint(98, 126))  # erase
    assert canvas.values[4, 3] == 0 and canvas.values[:, 3].max() == 1.0
    canvas.clear()
    assert canvas.values.max() == 0
    assert np.allclose(try_it.probabilities, blank, atol=1e-6)


def test_spirals_run_lists_mistakes_as_values_and_takes_typed_features(panel, qtbot, runs):
    show(qtbot, panel, runs["spirals"][0])
    ev = panel.evaluation
    assert panel.confusion.matrix.sum() == len(ev.y) == 150
    t = panel.mistake_table
    assert t.rowCount() == min(panel.mistake_count, 48)
    if t.rowCount():
        first = int(np.flatnonzero(ev.pred != ev.y)[0])
        x0, x1 = (float(v) for v in t.item(0, 0).text().split(","))
        assert np.allclose([x0, x1], ev.shown_x[first], rtol=1e-2, atol=1e-3)
        assert t.item(0, 1).text() == str(ev.y[first])
    try_it = panel.try_it
    assert len(try_it.feature_edits) == 2
    before = try_it.probabilities.copy()
    edit = try_it.feature_edits[0]
    edit.selectAll()
    qtbot.keyClicks(edit, "4.5")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert not np.allclose(try_it.probabilities, before)
    assert abs(try_it.probabilities.sum() - 1) < 1e-5
    # the typed point is what the model saw
    want = ev.predict(np.array([[4.5, float(try_it.feature_edits[1].text())]], np.float32))[0]
    assert np.allclose(try_it.probabilities, want)


def test_run_history_overlays_one_curve_per_checked_run(panel, qtbot, runs, tmp_path):
    history = panel.history
    for key in ("spirals", "spirals_fast", "digits"):
        assert history.add_run(runs[key][0])
    assert history.list.count() == 3
    assert history.list.count() == 3
    assert len(history.curves) == 3
    history.set_checked(runs["digits"][0], False)
    assert sorted(history.curves) == sorted(str(runs[k][0].resolve())
                                            for k in ("spirals", "spirals_fast"))
    curve = history.curves[str(runs["spirals"][0].resolve())]
    xs, ys = curve.getData()
    rows = runs["spirals"][1].history
    assert list(xs) == [1, 2]
    assert np.allclose(ys, [r["val_loss"] for r in rows])
    history.metric.setCurrentIndex(history.metric.findText("train_loss"))
    assert np.allclose(history.curves[str(runs["spirals"][0].resolve())].getData()[1],
                       [r["train_loss"] for r in rows])
    # a folder of run folders adds each (unchecked); a folder without metrics adds nothing
    history.ask_folder = lambda: str(runs["digits"][0].parent)
    history.add_dialog()
    assert history.list.count() == 5  # the text and square runs joined, unchecked
    assert len(history.curves) == 2
    assert not history.add_run(tmp_path)


def test_a_folder_that_is_not_a_run_is_explained(panel, qtbot, tmp_path):
    with qtbot.waitSignal(panel.evaluated, timeout=10000):
        panel.show_run(tmp_path)
    assert "no checkpoint" in panel.error
    assert "Cannot show the results" in panel.title.text()


def test_text_run_shows_decoded_mistakes_and_classifies_a_typed_review(panel, qtbot, runs):
    show(qtbot, panel, runs["text"][0])
    ev = panel.evaluation
    assert panel.confusion.matrix.sum() == len(ev.y) == 90
    assert panel.confusion.labels == ["negative", "positive"]
    t = panel.mistake_table
    if t.rowCount():
        assert "<pad>" not in t.item(0, 0).text() and t.item(0, 0).text().isascii()
    try_it = panel.try_it
    assert try_it.inputs.currentWidget() is try_it._text_page
    qtbot.keyClicks(try_it.text_edit, "the movie was truly wonderful , i loved it")
    good = try_it.probabilities.copy()
    try_it.text_edit.clear()
    qtbot.keyClicks(try_it.text_edit, "the movie was awful , a waste of time")
    bad = try_it.probabilities.copy()
    assert good.shape == bad.shape == (2,)
    assert not np.allclose(good, bad)


def test_regression_run_plots_predicted_against_true(panel, qtbot, runs):
    run_dir, result = runs["square"]
    show(qtbot, panel, run_dir)
    ev = panel.evaluation
    assert panel.right.currentWidget() is panel._fit_plot
    xs, ys = panel.fit_points.getData()
    assert len(xs) == len(ev.y) == 150
    assert np.allclose(xs, ev.y[:, 0]) and np.allclose(ys, ev.pred[:, 0])
    table = {panel.metrics_table.item(r, 0).text(): panel.metrics_table.item(r, 1).text()
             for r in range(panel.metrics_table.rowCount())}
    assert table["mse"] == f"{result.test['mse']:.4g}"
    assert panel.mistake_table.rowCount() == 48  # the largest errors
    assert "prediction:" in panel.try_it.answer.text()
