"""Training from the GUI: throughput with the live views (training in the child process,
training/worker.py) against the plain loop in this process, event-loop lateness while
training against the same timer idle, loss-plot redraw with 100,000 points, and a Python
thread vs the main thread (the alternative to the process)."""
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


def _plain_rate(in_thread: bool = False) -> float:
    """Trainer.run with no callbacks, no probes and no checkpoints: the plain loop, in this
    process (main thread, or a Python thread), samples/s."""
    from netbuilder.training import Trainer

    done = []
    t = Trainer(_project(), probe_every=0, tensorboard=False,
                callbacks=[lambda e: done.append(e.seconds) if type(e).__name__ == "Finished"
                           else None])
    t.prepare()
    if in_thread:
        th = threading.Thread(target=t.run)
        th.start()
        th.join()
    else:
        t.run()
    return len(t.data.train) * EPOCHS / done[0]  # as the GUI run: Finished.seconds


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
    """Press Train, run the event loop until the run ends; (samples/s, lateness list)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    ui = w.training
    marks, late = {}, []

    def on(events):
        for e in events:
            kind = type(e).__name__
            if kind == "Started":
                marks["n"] = e.train_samples * e.epochs
            elif kind == "Finished":
                marks["s"] = e.seconds
    ui.bridge.eventsReady.connect(on)
    timer = None
    if tick_ms:
        last = [time.perf_counter()]

        def tick():
            now = time.perf_counter()
            late.append((now - last[0]) * 1e3 - tick_ms)
            last[0] = now
        timer = QTimer()
        timer.setTimerType(Qt.PreciseTimer)
        timer.timeout.connect(tick)
        timer.start(tick_ms)
    loop = QEventLoop()
    ui.bridge.finished.connect(loop.quit)
    ui.bridge.refused.connect(loop.quit)
    ui.panel.act_start.trigger()
    loop.exec()  # the event loop a person's window runs
    ui.bridge.finished.disconnect(loop.quit)
    ui.bridge.refused.disconnect(loop.quit)
    if timer:
        timer.stop()
    ui.bridge.eventsReady.disconnect(on)
    return marks["n"] / marks["s"], late


def _idle_lateness(app, tick_ms: int = 10, seconds: float = 3.0) -> list[float]:
    """The same 10 ms timer in the same window with nothing training: the baseline."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    late, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        late.append((now - last[0]) * 1e3 - tick_ms)
        last[0] = now
    timer = QTimer()
    timer.setTimerType(Qt.PreciseTimer)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    timer.start(tick_ms)
    loop.exec()
    timer.stop()
    return late


def _p99(values):
    values = sorted(values)
    return values[int(0.99 * (len(values) - 1))]


def bench_gui_training_throughput():
    app, w = _window()
    _gui_run(app, w)  # warm-up: starts the training process, first-use costs
    plain, gui, thread = [], [], []
    for _ in range(REPEATS):
        plain.append(_plain_rate())
        thread.append(_plain_rate(in_thread=True))
        gui.append(_gui_run(app, w)[0])
    p, g, t = max(plain), max(gui), max(thread)
    yield "gui_training_plain_main_thread_samples_per_s", p
    yield "gui_training_plain_worker_thread_samples_per_s", t
    yield "gui_training_thread_vs_main_ratio", t / p
    yield "gui_training_live_views_samples_per_s", g
    yield "gui_training_live_views_vs_plain_ratio", g / p  # goal >= 0.95
    w.training.live_dock.hide()
    hidden = max(_gui_run(app, w)[0] for _ in range(2))
    yield "gui_training_views_hidden_vs_plain_ratio", hidden / p
    w.training.live_dock.show()
    idle = _idle_lateness(app)
    yield "gui_idle_event_loop_lateness_p99_ms", _p99(idle)
    yield "gui_idle_event_loop_lateness_max_ms", max(idle)
    _, late = _gui_run(app, w, tick_ms=10)
    yield "gui_training_event_loop_lateness_p99_ms", _p99(late)  # goal <= 16
    yield "gui_training_event_loop_lateness_max_ms", max(late)  # goal <= 50
    yield "gui_training_event_loop_lateness_median_ms", statistics.median(late)
    w.training.shutdown()
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
    from netbuilder.training.extras import Extras

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
