"""The Pre-flight panel: will it fit, how long, which learning rate, can it learn at all.

One click runs the three checks of netbuilder/preflight in the background (the UI stays
responsive): the memory estimate (a bar of its parts) with the largest batch and the time
per step/epoch on the chosen device, the overfit-one-batch test, and the learning-rate
range test, whose suggestion "Use this rate" sets in one undo step. `train_guard()` tells
the main window, before Train, that the run will not fit.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from ..document import commands
from ..widgets.background import Background
from ..widgets.plots import make_plot

COLOURS = {"parameters": "#1e88e5", "gradients": "#8e24aa", "optimizer": "#fb8c00",
           "activations": "#43a047", "temporaries": "#90a4ae"}


class MemoryBar(QWidget):
    """One horizontal bar, a segment per memory part, against the memory to fit in."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.parts: dict[str, int] = {}
        self.limit = 0
        self.setMinimumHeight(18)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    def set_parts(self, parts: dict[str, int], limit: int) -> None:
        self.parts, self.limit = dict(parts), limit
        self.update()

    def paintEvent(self, e):  # noqa: N802 (Qt's name)
        p = QPainter(self)
        r = self.rect().adjusted(0, 2, -1, -2)
        p.fillRect(r, self.palette().base())
        total = sum(self.parts.values())
        scale = max(total, 1)
        x = r.left()
        for name, value in self.parts.items():
            w = round(r.width() * value / scale)
            p.fillRect(x, r.top(), w, r.height(), QColor(COLOURS[name]))
            x += w
        if self.limit and total > self.limit:  # where the memory ends
            p.setPen(QColor("#e53935"))
            edge = r.left() + round(r.width() * self.limit / scale)
            p.drawLine(edge, r.top() - 2, edge, r.bottom() + 2)
        p.setPen(self.palette().mid().color())
        p.drawRect(r)


class PreflightPanel(QWidget):
    rateApplied = Signal(float)
    finished = Signal()  # a run of the checks ended (results or an error are shown)

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        from ...preflight import devices

        self.doc = doc
        self.report = self.overfit = self.lr = None
        self.error_text = ""
        self.background = Background(self)
        self.background.done.connect(self._done)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        lay = QVBoxLayout()
        outer.addLayout(lay, 3)
        top = QHBoxLayout()
        self.device = QComboBox()
        self.device.addItem("This machine (CPU)", "cpu")
        for name in devices.known_names():
            self.device.addItem(name, name)
        self.device.currentIndexChanged.connect(self._device_changed)
        self.memory = QDoubleSpinBox()
        self.memory.setRange(0.001, 4096)
        self.memory.setDecimals(3)
        self.memory.setSuffix(" GiB")
        self.run_button = QPushButton("Run pre-flight checks")
        self.run_button.clicked.connect(self.run_checks)
        form = QFormLayout()
        form.addRow("Device", self.device)
        form.addRow("Fit in", self.memory)
        top.addLayout(form)
        top.addWidget(self.run_button, 0, Qt.AlignTop)
        lay.addLayout(top)
        self.status = QLabel("Run the checks to see the memory, time, a learning rate and "
                             "whether the network can learn one batch.")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.bar = MemoryBar()
        lay.addWidget(self.bar)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        lay.addWidget(self.legend)
        self.fit_label, self.time_label, self.overfit_label = QLabel(), QLabel(), QLabel()
        for w in (self.fit_label, self.time_label, self.overfit_label):
            w.setWordWrap(True)
            w.setTextInteractionFlags(Qt.TextSelectableByMouse)
            lay.addWidget(w)
        row = QHBoxLayout()
        self.lr_label = QLabel()
        self.use_rate = QPushButton("Use this rate")
        self.use_rate.setEnabled(False)
        self.use_rate.clicked.connect(self.apply_rate)
        row.addWidget(self.lr_label, 1)
        row.addWidget(self.use_rate)
        lay.addLayout(row)
        lay.addStretch(1)
        # the plot is made on first use: pyqtgraph costs ~0.5 s, and the window paints first
        self.plot = None
        self.plot_box = QWidget()
        self.plot_box.setMinimumSize(220, 160)
        self.plot_box.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)
        QVBoxLayout(self.plot_box).setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.plot_box, 2)
        self._device_changed()
        doc.projectReplaced.connect(self.clear)

    def showEvent(self, e):  # noqa: N802 (Qt's name)
        """Offer the GPU here once torch is loaded (the window paints before it is)."""
        super().showEvent(e)
        import sys
        torch = sys.modules.get("torch")
        if torch is not None and self.device.findData("cuda") < 0 and \
                torch.cuda.is_available():
            self.device.insertItem(1, "This machine's GPU (CUDA)", "cuda")

    def clear(self) -> None:
        """Another project: the last results are not its."""
        self.background.token += 1  # a run still going reports into the void
        self.report = self.overfit = self.lr = None
        self.error_text = ""
        self.run_button.setEnabled(True)
        self.use_rate.setEnabled(False)
        self.bar.set_parts({}, 0)
        for label in (self.legend, self.fit_label, self.time_label, self.overfit_label,
                      self.lr_label):
            label.clear()
        if self.plot is not None:
            self.plot.clear()
        self.status.setText("Run the checks to see the memory, time, a learning rate and "
                            "whether the network can learn one batch.")

    # ---- running ---------------------------------------------------------------------

    def _device_changed(self, *_):
        from ...preflight import devices

        name = self.device.currentData() or "cpu"
        gib = devices.machine_memory() / 2**30 if name == "cpu" else \
            devices.resolve(name).memory_gib
        self.memory.setValue(gib)

    @property
    def running(self) -> bool:
        return self.background.busy

    def run_checks(self) -> None:
        """The three checks, off the UI thread, on a snapshot of the project."""
        from ...core.project import parse_project

        project = parse_project(self.doc.project.to_json(), "the open project")
        device, memory = self.device.currentData() or "cpu", int(self.memory.value() * 2**30)
        self.run_button.setEnabled(False)
        self.use_rate.setEnabled(False)
        self.status.setText("Checking… (estimating memory, then one batch, then the "
                            "learning-rate range test)")
        self.background.run(lambda: _all_checks(project, device, memory))

    def run_lr_find(self) -> None:
        """Only the learning-rate range test (the "Find…" button beside the rate)."""
        from ...core.project import parse_project

        project = parse_project(self.doc.project.to_json(), "the open project")
        self.run_button.setEnabled(False)
        self.use_rate.setEnabled(False)
        self.status.setText("Finding a learning rate… (a range test on a copy of the model)")
        self.background.run(lambda: _all_checks(project, None, 0, only_lr=True))

    def _done(self, token, result, error) -> None:
        if token != self.background.token:
            return  # an older run
        self.run_button.setEnabled(True)
        if error is not None:
            self.error_text = str(error)
            self.status.setText(f"<span style='color:#e53935'>Cannot check: {error}</span>")
            self.finished.emit()
            return
        self.error_text = ""
        for name, value in result.items():
            setattr(self, name, value)
        self._show(result)
        self.finished.emit()

    def _show(self, fresh: dict) -> None:
        from ...core.budget import human_bytes
        from ...preflight.memory import PART_LABELS, mib
        from ...preflight.report import seconds

        self.status.setText("Checked.")
        if "lr" in fresh:
            self._show_lr()
        if "report" not in fresh:
            return
        r, e = self.report, self.report.estimate
        self.bar.set_parts(e.parts(), r.memory)
        self.legend.setText("  ".join(
            f"<span style='color:{COLOURS[k]}'>■</span> {PART_LABELS[k]} {human_bytes(v)}"
            for k, v in e.parts().items()))
        verdict = ("fits" if r.fits else
                   "<b style='color:#e53935'>does NOT fit</b>")
        self.fit_label.setText(f"Estimated peak memory: <b>{mib(e.total)}</b> at batch size "
                               f"{e.batch_size}, {verdict} in {mib(r.memory)} on "
                               f"{r.device.name}. Largest batch size that fits: "
                               f"<b>{r.largest}</b>.")
        t = r.time
        epoch = f", {seconds(t.epoch_s)} per epoch" if t.epoch_s is not None else ""
        self.time_label.setText(f"Estimated time: {seconds(t.step_s)} per step{epoch}.")
        o = self.overfit
        colour = "#43a047" if o.passed else "#e53935"
        self.overfit_label.setText(f"<span style='color:{colour}'>Overfit one batch: "
                                   f"{o.message}</span>")
        if fresh.get("measured"):  # a bounded trial on the GPU here
            self.fit_label.setText(self.fit_label.text() + f" Measured on the GPU: "
                                   f"{mib(fresh['measured'])}.")
        if not r.fits:
            self.status.setText(f"<span style='color:#e53935'>This run will not fit: "
                                f"{mib(e.total)} needed, {mib(r.memory)} available; use a "
                                f"batch size of at most {r.largest}.</span>")

    def _show_lr(self) -> None:
        lr = self.lr
        self.lr_label.setText(f"Suggested learning rate: <b>{lr.suggestion:.3g}</b> "
                              f"({lr.rule}; now {self.doc.project.training.lr:g})")
        self.use_rate.setEnabled(True)
        self._plot_lr(lr)

    def _ensure_plot(self):
        if self.plot is None:
            self.plot = make_plot(title="Learning-rate range test", left="loss",
                                  bottom="learning rate")
            # as tall as the numbers beside it, not pyqtgraph's 480 px wish (the page scrolls)
            self.plot.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)
            self.plot_box.layout().addWidget(self.plot)
        return self.plot

    def _plot_lr(self, lr) -> None:
        """Loss against log10(learning rate), decades labelled (a linear axis: pyqtgraph's
        log mode draws a grid line at every minor value)."""
        import math

        import pyqtgraph as pg
        from ..widgets.plots import log_ticks

        xs = [math.log10(v) for v in lr.lrs]
        self._ensure_plot().clear()
        self.plot.plot(xs, lr.losses, pen="#b0bec5")
        self.plot.plot(xs, lr.smoothed, pen=pg.mkPen("#1e88e5", width=2))
        self.plot.addItem(pg.InfiniteLine(math.log10(lr.suggestion), angle=90,
                                          pen=pg.mkPen("#e53935", style=Qt.DashLine)))
        self.plot.getAxis("bottom").setTicks([log_ticks(xs[0], xs[-1])])
        low, first = min(lr.smoothed), lr.smoothed[0]
        self.plot.setXRange(xs[0], xs[-1], padding=0.02)
        self.plot.setYRange(low - 0.05 * abs(low), max(first, low) * 1.3 + 1e-9)

    def apply_rate(self) -> None:
        """Set the suggested learning rate: one undo step through the document."""
        if self.lr is None:
            return
        old = self.doc.project.training
        rate = float(f"{self.lr.suggestion:.3g}")
        new = old.model_copy(update={"lr": rate})
        self.doc.undo_stack.push(commands.SetTraining(self.doc, old, new,
                                                      f"Use learning rate {rate:g}"))
        self.rateApplied.emit(rate)

    # ---- before Train ------------------------------------------------------------------

    def train_guard(self) -> str | None:
        """Why Train should not start here (the run will not fit this machine, or the
        memory set in the panel for it), or None. Quick for small models."""
        from ...preflight.memory import refusal
        from ...preflight.step import PreflightError, prepare

        if (self.device.currentData() or "cpu") in ("cpu", "cuda"):  # this machine
            memory = int(self.memory.value() * 2**30)
        else:  # a device named for planning: the run itself is here
            from ...preflight import devices
            memory = devices.machine_memory()
        try:
            msg = refusal(prepare(self.doc.project), memory)
        except PreflightError:
            return None  # the trainer says what is wrong with the settings
        if msg:
            self.status.setText(f"<span style='color:#e53935'>This run will not fit: "
                                f"{msg}</span>")
        return msg


def _all_checks(project, device: str | None, memory: int, only_lr: bool = False) -> dict:
    """Fit report, overfit one batch and the LR range test (on a background thread), as
    the panel's attribute names -> results."""
    from ...data import load as load_data
    from ...preflight import devices
    from ...preflight.lr_find import lr_find
    from ...preflight.overfit import overfit_batch
    from ...preflight.report import fit_report
    from ...preflight.step import prepare

    setup = prepare(project)
    ds = project.dataset
    data = load_data(ds.name, ds.options, seed=setup.settings.seed)
    if only_lr:
        return {"lr": lr_find(setup, data=data)}
    out = {"report": fit_report(setup, devices.resolve(device), memory=memory,
                                samples=len(data.train)),
           "overfit": overfit_batch(setup, data=data),
           "lr": lr_find(setup, data=data)}
    if device == "cuda":  # confirm the estimate with a bounded trial on the real GPU
        from ...preflight.memory import measure_on_cuda
        out["measured"] = measure_on_cuda(setup, out["report"].estimate.batch_size)
    return out
