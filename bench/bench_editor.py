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


def _edit_times(w, node_id: str) -> list[float]:
    """Seconds from pushing a width edit of a Linear to the repainted canvas, 15 times
    (each edit undone before the next); closes the window."""
    from netbuilder.ui.document import commands

    times = []
    for k in range(15):
        cmd = commands.SetParams(w.doc.graph, node_id, {"out_features": 65 + k % 7})
        t0 = time.perf_counter()
        w.doc.undo_stack.push(cmd)
        w.doc.refresh()
        _paint(w)
        times.append(time.perf_counter() - t0)
        w.doc.undo_stack.undo()
        w.doc.refresh()
    w.doc.undo_stack.setClean()
    w.close()
    return times


def bench_edit_to_repaint():
    """One parameter edit in the middle of the 2,000-node graph until the canvas has
    repainted with the new shapes (undo command -> inference -> analysis -> items -> paint)."""
    import graphs
    from netbuilder.core.project import Project

    _app()
    with tempfile.TemporaryDirectory() as tmp:
        from netbuilder.core.layout import apply_layout

        w = _window(tmp)
        graph = graphs.residual_mlp(N_NODES)
        apply_layout(graph)
        w.doc.set_project(Project(graph=graph))
        w.doc.refresh()
        w.view.fit_all()
        _paint(w)
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
    each repeated 10 times): opening the file until the canvas has painted with shapes, and
    one edit (the head Linear's width) until the canvas has repainted."""
    import graphs
    from netbuilder.core.project import Project, save_project

    _app()
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
        w.doc.refresh()
        _paint(w)
        head = w.doc.graph.by_name("head").id
        times = _edit_times(w, head)
        yield f"editor_edit_to_repaint_{n}_nodes_ms", statistics.median(times) * 1000


def benchmarks():
    return [bench_startup_first_paint, bench_open_big_project, bench_edit_to_repaint,
            bench_blocked_10000_layers]
