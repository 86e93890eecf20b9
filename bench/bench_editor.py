"""Editor benchmarks: opening a 2,000-node project, one edit to repainted shapes, start-up.

Each function yields (name, value) pairs; bench/run.py collects them via `benchmarks()`.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

N_NODES = 2000


def _app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _window(tmp: str):
    os.environ["NETBUILDER_STATE_DIR"] = tmp
    from netbuilder.ui.mainwindow import MainWindow

    w = MainWindow()
    w.resize(1440, 900)
    w.show()
    _app().processEvents()
    return w


def _paint(w) -> None:
    """Force a synchronous paint of the canvas (what the user sees)."""
    w.view.viewport().repaint()


def bench_open_big_project():
    import graphs
    from netbuilder.core.project import Project, save_project

    _app()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        save_project(Project(graph=graphs.residual_mlp(N_NODES), name="big"), path)
        totals, parts = [], {"load_s": [], "layout_s": [], "analysis_s": [], "paint_s": []}
        for _ in range(3):
            w = _window(tmp)
            t0 = time.perf_counter()
            w.doc.open(path)  # parse + validate + build the scene items
            t1 = time.perf_counter()
            w.canvas.auto_layout()
            t2 = time.perf_counter()
            w.doc.refresh()  # shapes + problems for every node, shown on the items
            t3 = time.perf_counter()
            w.view.fit_all()
            _paint(w)
            t4 = time.perf_counter()
            totals.append(t4 - t0)
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                parts[k].append(v)
            w.doc.undo_stack.setClean()
            w.close()
            w.deleteLater()
            _app().processEvents()
        yield f"editor_open_{N_NODES}_nodes_s", statistics.median(totals)
        for k, v in parts.items():
            yield f"editor_open_{N_NODES}_nodes_{k}", statistics.median(v)


_PAINTED: dict = {}  # node id -> the NodeInfo its card last painted (see _record_paints)
_FRAMES: list = []  # [(perf_counter at the end of a canvas paint, {node id: info painted})]


def _record_paints() -> None:
    """Make every node card note the info it paints with, and the canvas note when each
    paint ends (drawForeground comes after every item), so a bench can time an edit until
    the edited node's new shape is really painted. Must run before any window exists."""
    from netbuilder.ui.editor import items, view

    if getattr(items.NodeItem, "_bench_recorded", False):
        return
    paint = items.NodeItem.paint
    foreground = view.CanvasView.drawForeground

    def recording_paint(self, painter, option, widget=None):
        paint(self, painter, option, widget)
        # only a card drawn with its text shows its shape
        if option.levelOfDetailFromTransform(painter.worldTransform()) >= items.LOD_TEXT:
            _PAINTED[self.node_id] = self.info

    def recording_foreground(self, painter, rect):
        foreground(self, painter, rect)
        if _PAINTED:
            _FRAMES.append((time.perf_counter(), dict(_PAINTED)))
            _PAINTED.clear()

    items.NodeItem.paint = recording_paint
    view.CanvasView.drawForeground = recording_foreground
    items.NodeItem._bench_recorded = True


def _painted_at(node_id: str, done) -> float | None:
    """When the first canvas paint that drew `node_id` with an info `done(info)` ended."""
    for t, painted in _FRAMES:
        if node_id in painted and done(painted[node_id]):
            return t
    return None


def _spin_until(done, timeout_s: float = 10.0) -> None:
    from PySide6.QtCore import QEventLoop

    app, end = _app(), time.perf_counter() + timeout_s
    while not done():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
        if time.perf_counter() > end:
            raise AssertionError("the edited node was never repainted")


def _settle(w) -> None:
    """Let the analysis and every repaint it asked for finish."""
    _spin_until(lambda: not w.doc.analysis_pending())
    for _ in range(3):  # and the repaints it asked for
        _app().processEvents()


def _show_readable(w, node_id: str) -> None:
    """Zoom to 100 % on the node, as a person editing it would (zoomed out, cards show no
    text, so no shape to wait for)."""
    _settle(w)  # (a fit after opening the project may still be queued)
    w.view.resetTransform()
    w.view.zoomChanged.emit(w.view.zoom())
    w.view.center_on_node(node_id)
    w.canvas.clearSelection()
    _settle(w)


def _edit_times(w, node_id: str) -> list[float]:
    """Seconds from pushing a width edit of a Linear until the canvas has painted that
    node's card (at 100 % zoom) with its new shape, through the app's own event loop (its coalesced
    analysis, its partial repaints), 15 times, each edit undone before the next; closes
    the window. The window must have been made after `_record_paints()`."""
    from netbuilder.ui.document import commands

    _show_readable(w, node_id)
    times = []
    for k in range(15):
        _settle(w)
        width = 100 + k  # a new width each time: no shape-cache hits

        def done(info):
            return info is not None and info.output is not None \
                and info.output.shape[-1] == width
        cmd = commands.SetParams(w.canvas.graph, node_id, {"out_features": width})
        _FRAMES.clear()
        t0 = time.perf_counter()
        w.doc.undo_stack.push(cmd)
        _spin_until(lambda: _painted_at(node_id, done) is not None)
        times.append(_painted_at(node_id, done) - t0)
        _settle(w)  # the problems step follows the repaint: not part of the edit's wait
        w.doc.undo_stack.undo()
    _settle(w)
    w.doc.undo_stack.setClean()
    w.close()
    return times


def _full_repaint_ms(w, repeats: int = 10) -> float:
    """One frame of panning or zooming: the whole viewport repainted."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _paint(w)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def bench_edit_to_repaint():
    """One parameter edit in the middle of the 2,000-node graph until the canvas has
    painted the edited card with its new shape (undo command -> inference -> items -> paint;
    the problems step follows the paint)."""
    import graphs
    from netbuilder.core.project import Project

    _app()
    _record_paints()
    with tempfile.TemporaryDirectory() as tmp:
        from netbuilder.core.layout import apply_layout

        w = _window(tmp)
        graph = graphs.residual_mlp(N_NODES)
        apply_layout(graph)
        w.doc.set_project(Project(graph=graph))
        w.doc.refresh()
        w.view.fit_all()
        _paint(w)
        yield f"editor_full_repaint_{N_NODES}_nodes_fit_ms", _full_repaint_ms(w)
        linears = [n.id for n in w.doc.graph.nodes.values() if n.type == "Linear"]
        target = linears[len(linears) // 2]
        times = _edit_times(w, target)
        yield f"editor_edit_to_repaint_{N_NODES}_nodes_ms", statistics.median(times) * 1000


def bench_startup_first_paint():
    """Wall time from launching `python -m netbuilder gui digits_cnn` to the window's
    first paint, in a fresh process (torch still importing in the background)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NETBUILDER_REPORT_STARTUP="1",
               NETBUILDER_QUIT_AFTER_PAINT="1", NETBUILDER_NO_RECOVERY="1")
    walls, internal = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env["NETBUILDER_STATE_DIR"] = tmp
        for _ in range(5):
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "netbuilder", "gui", "digits_cnn"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True, env=env)
            for line in proc.stdout:
                if line.startswith("first_paint_s:"):
                    walls.append(time.perf_counter() - t0)
                    internal.append(float(line.split(":")[1]))
                    break
            proc.stdout.close()
            proc.wait(timeout=120)
    yield "startup_to_first_paint_s", statistics.median(walls)
    yield "startup_to_first_paint_after_imports_s", statistics.median(internal)


def bench_blocked_10000_layers():
    """A 10,000-layer residual MLP built from blocks (100 instances of a 10-layer definition,
    each repeated 10 times): opening the file until the canvas has painted with shapes, one
    edit (the head Linear's width) until the canvas has painted it, and one edit of a Linear
    inside the definition (opened) until the canvas has painted it."""
    import graphs
    from netbuilder.core.project import Project, save_project

    _app()
    _record_paints()
    n = 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blocked.json"
        save_project(Project(graph=graphs.blocked_mlp(n), name="blocked"), path)
        opens = []
        for _ in range(3):
            w = _window(tmp)
            t0 = time.perf_counter()
            w.doc.open(path)
            w.canvas.auto_layout()
            w.doc.refresh()
            w.view.fit_all()
            _paint(w)
            opens.append(time.perf_counter() - t0)
            w.doc.undo_stack.setClean()
            w.close()
            w.deleteLater()
            _app().processEvents()
        yield f"editor_open_{n}_nodes_s", statistics.median(opens)
        w = _window(tmp)
        w.doc.open(path)
        w.canvas.auto_layout()
        w.doc.refresh()
        w.view.fit_all()
        _paint(w)
        head = w.doc.graph.by_name("head").id
        times = _edit_times(w, head)
        yield f"editor_edit_to_repaint_{n}_nodes_ms", statistics.median(times) * 1000
        # the same inside the definition (opened through an instance in the middle): all
        # 100 instances of ten copies change
        w = _window(tmp)
        w.doc.open(path)
        w.doc.refresh()
        w.doc.levels.enter(w.doc.graph.by_name(f"stage{n // 200}").id)
        w.canvas.auto_layout()
        w.view.fit_all()
        _settle(w)
        inner = w.canvas.graph.by_name("linear0_0").id
        times = _edit_times(w, inner)
        yield f"editor_edit_inside_block_to_repaint_{n}_nodes_ms", \
            statistics.median(times) * 1000


def benchmarks():
    return [bench_startup_first_paint, bench_open_big_project, bench_edit_to_repaint,
            bench_blocked_10000_layers]
