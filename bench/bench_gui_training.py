"""Training from the GUI: throughput with the live views against the plain loop in the same
process, event-loop lateness while training, loss-plot redraw with 100,000 points, and
thread vs main thread for the background run (the choice in ui/training_bridge.py)."""
from __future__ import annotations

import os
import statistics
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

EXAMPLE, EPOCHS, REPEATS = "digits_cnn", 12, 3


def _app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _project(epochs=EPOCHS):
    from netbuilder.api import example

    p = example(EXAMPLE)
    p.training = p.training.model_copy(update={"epochs": epochs})
    return p


def _plain_rate(in_thread: bool = False, as_gui: bool = False) -> float:
    """Trainer.run with no callbacks and no probes: the plain loop, samples/s. as_gui: with
    the checkpoints every epoch and probes ~4 times a second, as the GUI runs it."""
    import tempfile

    from netbuilder.training import Trainer
    from netbuilder.training.events import Finished, Started

    marks = {}
    t = Trainer(_project(), probe_every=25 if as_gui else 0, tensorboard=False,
                out_dir=tempfile.mkdtemp() if as_gui else None,
                callbacks=[lambda e: marks.__setitem__(type(e).__name__, time.perf_counter())
                           if isinstance(e, (Started, Finished)) else None])
    t.prepare()
    if in_thread:
        th = threading.Thread(target=t.run)
        th.start()
        th.join()
    else:
        t.run()
    return len(t.data.train) * EPOCHS / (marks["Finished"] - marks["Started"])


def _window():
    from netbuilder.ui.mainwindow import MainWindow

    app = _app()
    w = MainWindow()
    w.resize(1440, 900)
    w.doc.set_project(_project())
    w.show()
    w.doc.refresh()
    for _ in range(20):
        app.processEvents()
    return app, w


def _gui_run(app, w, tick_ms: int | None = None):
    """Start from the Train action, run the event loop until done; (samples/s, lateness)."""
    from PySide6.QtCore import QTimer

    ui = w.training
    marks, late = {}, []

    def on(events):
        for e in events:
            if type(e).__name__ == "Started":
                marks["n"] = e.train_samples
    ui.bridge.eventsReady.connect(on)
    timer = None
    if tick_ms:
        last = [time.perf_counter()]

        def tick():
            now = time.perf_counter()
            late.append((now - last[0]) * 1e3 - tick_ms)
            last[0] = now
        timer = QTimer()
        from PySide6.QtCore import Qt
        timer.setTimerType(Qt.PreciseTimer)
        timer.timeout.connect(tick)
        timer.start(tick_ms)
    t_start = {}
    ui.bridge.trainer = None
    ui.panel.act_start.trigger()
    trainer = ui.bridge.trainer
    trainer.callbacks.insert(0, lambda e: t_start.__setitem__(type(e).__name__,
                                                               time.perf_counter())
                             if type(e).__name__ in ("Started", "Finished") else None)
    while ui.bridge.active:
        app.processEvents()
        time.sleep(0.001)
    if timer:
        timer.stop()
    ui.bridge.eventsReady.disconnect(on)
    rate = len(trainer.data.train) * EPOCHS / (t_start["Finished"] - t_start["Started"])
    return rate, late


def bench_gui_training_throughput():
    app, w = _window()
    _gui_run(app, w)  # warm-up: imports, first-use costs
    plain, gui, thread, same = [], [], [], []
    for _ in range(REPEATS):
        plain.append(_plain_rate())
        same.append(_plain_rate(as_gui=True))
        thread.append(_plain_rate(in_thread=True))
        gui.append(_gui_run(app, w)[0])
    p, g, t = max(plain), max(gui), max(thread)
    yield "gui_training_plain_main_thread_samples_per_s", p
    yield "gui_training_plain_worker_thread_samples_per_s", t
    yield "gui_training_thread_vs_main_ratio", t / p
    yield "gui_training_checkpoints_probes_no_ui_vs_plain_ratio", max(same) / p
    yield "gui_training_live_views_samples_per_s", g
    yield "gui_training_live_views_vs_plain_ratio", g / p  # goal >= 0.95
    w.training.live_dock.hide()
    hidden = max(_gui_run(app, w)[0] for _ in range(2))
    yield "gui_training_views_hidden_vs_plain_ratio", hidden / p
    w.training.live_dock.show()
    _, late = _gui_run(app, w, tick_ms=10)
    late = sorted(late)
    yield "gui_training_event_loop_lateness_p99_ms", late[int(0.99 * (len(late) - 1))]
    yield "gui_training_event_loop_lateness_max_ms", late[-1]
    yield "gui_training_event_loop_lateness_median_ms", statistics.median(late)
    w.close()


def bench_gui_loss_plot_100k_redraw():
    import numpy as np

    from netbuilder.ui.live_views import Curves

    app = _app()
    c = Curves()
    c.resize(480, 360)
    c.show()
    n = 100_000
    x = np.arange(n) / 100.0
    c.s_batch.extend(x, np.exp(-x / 300) + 0.05 * np.random.default_rng(0).random(n))
    c._dirty = True
    c.redraw()
    app.processEvents()
    times = []
    for i in range(15):
        c.s_batch.append(n / 100.0 + i, 0.1)
        c._dirty = True
        t0 = time.perf_counter()
        c.redraw()
        c.loss_plot.viewport().repaint()
        times.append(time.perf_counter() - t0)
    yield "gui_loss_plot_100k_points_redraw_ms", statistics.median(times) * 1e3
    c.close()


def bench_gui_boundary_extras_cost():
    """Decision boundary computed on the training thread at probe time (64×64 grid)."""
    from netbuilder.api import example
    from netbuilder.training import Trainer
    from netbuilder.ui.training_bridge import Extras

    t = Trainer(example("spirals_mlp"), tensorboard=False)
    t.prepare()
    t._setup(None)
    ex = Extras(t)
    ex.compute(0)
    times = [ex.compute(0).seconds for _ in range(30)]
    yield "gui_boundary_grid_64x64_on_training_thread_ms", statistics.median(times) * 1e3


def benchmarks():
    return [bench_gui_training_throughput, bench_gui_loss_plot_100k_redraw,
            bench_gui_boundary_extras_cost]
