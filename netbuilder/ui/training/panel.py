"""The training panel: settings, Start/Pause/Resume/Stop, progress, errors.

Settings edits are undo commands (`SetTraining`) on the document's stack: they undo like any
graph edit and mark the project modified, and Save writes them; a value the project format
refuses is shown under the field and not applied.

While a run is going the graph is locked: the document derives the lock from its run state
(netbuilder/document/model.py); the canvas shows a banner, commands are refused, the
inspector is disabled. Pause unlocks it: edit the graph, then Resume trains the edited
graph, carrying over the weights and optimizer state of unchanged layers
(netbuilder/training/carryover.py). Settings stay fixed for the run.

Train first asks the document's analysis (graph + dataset fit, the same list the Problems
panel shows): with an error it does not start and emits `refusedByProblems` so the window
shows the Problems list. Progress counts completed epochs and batches.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from ...core.project import LOSSES, TrainingSettings
from ...training.events import BatchEnd, EpochEnd, Failed, Finished, Paused, Started
from ..document.commands import SetTraining
from ..widgets import theme
from ..widgets.compact import ElidedLabel
from .bridge import TrainingBridge

LOSS_LABELS = {"mse": "MSE", "l1": "L1 (MAE)", "huber": "Huber", "bce": "BCE",
               "bce_with_logits": "BCE with logits", "cross_entropy": "Cross-entropy",
               "nll": "NLL", "hinge": "Hinge", "quantile": "Quantile"}
OPTIMIZERS = {"sgd": "SGD", "adagrad": "AdaGrad", "rmsprop": "RMSProp", "adam": "Adam",
              "adamw": "AdamW"}
SCHEDULES = {"none": "Constant", "step": "Step (×0.1 every third)", "cosine": "Cosine",
             "onecycle": "One-cycle", "plateau": "Reduce on plateau"}


def available_devices() -> list[str]:
    """cpu, plus cuda / mps only when this machine has them (imports torch)."""
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def fmt_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class DeviceCombo(QComboBox):
    """Lists auto and cpu, plus cuda/mps when present (checked when the list opens)."""

    def refresh(self) -> None:
        current = self.currentData()
        devices = ["auto", *available_devices()]
        if current and current not in devices:
            devices.append(current)  # a saved choice this machine lacks: shown, marked
        have = [self.itemData(i) for i in range(self.count())]
        if have != devices:
            self.blockSignals(True)
            self.clear()
            for d in devices:
                label = d if d in ("auto", "cpu") or d in available_devices() else \
                    f"{d} (not available here)"
                self.addItem(label, d)
            self.setCurrentIndex(max(0, self.findData(current)))
            self.blockSignals(False)

    def showPopup(self):
        self.refresh()
        super().showPopup()


class TrainingPanel(QWidget):
    """Settings bound to doc.project.training, run controls, progress and errors."""

    startRequested = Signal()  # a run is about to start
    refusedByProblems = Signal(object)  # Train refused: the first error (a core Problem)
    lrFindRequested = Signal()  # "Find…" beside the learning rate: run the LR range test
    sweepRequested = Signal(str, object)  # "Sweep this" (right-click a label): setting, value

    def __init__(self, doc, bridge: TrainingBridge, parent=None):
        super().__init__(parent)
        self.doc, self.bridge = doc, bridge
        self.start_guard = None  # () -> why Train must not start (e.g. will not fit), or None
        self._showing = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(6)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(4)
        self.fields: dict[str, QWidget] = {}
        self.loss = self._combo("loss", {k: LOSS_LABELS[k] for k in LOSSES})
        self.optimizer = self._combo("optimizer", OPTIMIZERS)
        self.schedule = self._combo("schedule", SCHEDULES)
        self.lr = self._float("lr", 1e-6, 10.0, 6, 1e-3)
        self.find_lr = QToolButton()
        self.find_lr.setText("Find…")
        self.find_lr.setToolTip("Learning-rate range test (in the Pre-flight tab)")
        self.find_lr.clicked.connect(self.lrFindRequested.emit)
        lr_row = QWidget()
        row = QHBoxLayout(lr_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.lr, 1)
        row.addWidget(self.find_lr)
        self.momentum = self._float("momentum", 0.0, 0.999, 3, 0.05)
        self.weight_decay = self._float("weight_decay", 0.0, 1.0, 6, 1e-4)
        self.batch_size = self._int("batch_size", 1, 65536)
        self.epochs = self._int("epochs", 1, 100_000)
        self.seed = self._int("seed", 0, 2**31 - 1)
        self.device = DeviceCombo()
        self.device.addItem("auto", "auto")
        self.device.addItem("cpu", "cpu")
        self.device.currentIndexChanged.connect(
            lambda *_: self._commit("device", self.device.currentData()))
        self.fields["device"] = self.device
        for label, w in (("Loss", self.loss), ("Optimizer", self.optimizer),
                         ("Learning rate", lr_row), ("Momentum", self.momentum),
                         ("Weight decay", self.weight_decay), ("LR schedule", self.schedule),
                         ("Batch size", self.batch_size), ("Epochs", self.epochs),
                         ("Seed", self.seed), ("Device", self.device)):
            form.addRow(self._sweep_label(label, self.lr if w is lr_row else w), w)
        for w in self.fields.values():  # a narrow column: combo texts elide
            if isinstance(w, QComboBox):
                w.setSizeAdjustPolicy(
                    QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                w.setMinimumContentsLength(6)
            # a spin box keeps Qt's minimum width: it fits its longest value in the font in
            # use, so a number is never cut (a fixed pixel minimum cut "0.003000" to
            # "0.003" beside Find… with a larger font); the dock scrolls instead
        self.form = form
        self.settings_box = QWidget()
        self.settings_box.setLayout(form)
        lay.addWidget(self.settings_box)
        self.field_error = QLabel(wordWrap=True)
        self.field_error.setStyleSheet(f"color: {theme.css(theme.severity_colour('error'))};")
        self.field_error.hide()
        lay.addWidget(self.field_error)

        # run controls (QActions, so the menu, toolbar and buttons share their state)
        K = QKeySequence
        self.act_start = self._action("Train", "Start training (Ctrl+Enter)",
                                      [K("Ctrl+Return"), K("Ctrl+Enter")], self.start)
        self.act_pause = self._action("Pause", "Pause at the next batch; then you may edit "
                                      "the network (Ctrl+P)", [K("Ctrl+P")], self.pause)
        self.act_resume = self._action("Resume", "Go on training, with your edits "
                                       "(Ctrl+R)", [K("Ctrl+R")], self.resume)
        self.act_stop = self._action("Stop", "Stop and keep the last checkpoint "
                                     "(Ctrl+Shift+Enter)", [K("Ctrl+Shift+Return")], self.stop)
        self.actions = [self.act_start, self.act_pause, self.act_resume, self.act_stop]
        row = QHBoxLayout()
        row.setSpacing(4)
        self.buttons = {}
        for act in self.actions:
            b = QToolButton()
            b.setDefaultAction(act)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            row.addWidget(b)
            self.buttons[act.text()] = b
        lay.addLayout(row)

        grid = QGridLayout()
        grid.setVerticalSpacing(3)
        self.epoch_bar = QProgressBar()
        self.batch_bar = QProgressBar()
        for bar in (self.epoch_bar, self.batch_bar):
            bar.setTextVisible(True)
            bar.setMaximumHeight(16)
            bar.setMinimumWidth(60)
            bar.setValue(0)
        grid.addWidget(QLabel("Epoch"), 0, 0)
        grid.addWidget(self.epoch_bar, 0, 1)
        grid.addWidget(QLabel("Batch"), 1, 0)
        grid.addWidget(self.batch_bar, 1, 1)
        lay.addLayout(grid)
        self.rate_label = ElidedLabel("Not training")  # a long status never widens the dock
        self.rate_label.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        lay.addWidget(self.rate_label)
        self.error = QLabel(wordWrap=True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(
            f"color: {theme.css(theme.severity_colour('error'))}; border: 1px solid "
            f"{theme.css(theme.severity_colour('error'))}; border-radius: 4px; padding: 4px;")
        self.error.hide()
        lay.addWidget(self.error)
        self.note = QLabel(wordWrap=True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.hide()
        lay.addWidget(self.note)
        lay.addStretch(1)

        self._t0 = None
        self._pending_batch, self._last_progress = None, 0.0  # see consume
        self._total = self._batches = None  # of the run shown
        self._epochs_done = 0  # completed epochs of the run shown
        self._refusal_shown = False  # the error box holds a refusal, gone with the next edit
        doc.trainingChanged.connect(self.show_values)
        doc.trainingChanged.connect(self._settings_progress)
        doc.projectReplaced.connect(self.reset)
        doc.analysisChanged.connect(self._analysis_changed)
        bridge.stateChanged.connect(self._state_changed)
        bridge.eventsReady.connect(self.consume)
        bridge.refused.connect(self._refused)
        bridge.finished.connect(self._finished)
        self.show_values()
        self.reset()
        self._state_changed(bridge.state)

    # ---- widgets -----------------------------------------------------------------------------

    def _action(self, text, tip, keys, slot) -> QAction:
        act = QAction(text, self)
        act.setShortcuts(keys)
        act.setToolTip(tip)
        act.setStatusTip(tip)
        act.triggered.connect(slot)
        return act

    def _sweep_label(self, text: str, w: QWidget) -> QLabel:
        label = QLabel(text)
        name = next(k for k, v in self.fields.items() if v is w)
        if name not in ("seed", "device"):
            act = QAction("Sweep this…", label)
            act.triggered.connect(lambda _=False: self.sweepRequested.emit(
                name, getattr(self.doc.project.training, name)))
            label.addAction(act)
            label.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        return label

    def _combo(self, name, items: dict) -> QComboBox:
        c = QComboBox()
        for key, label in items.items():
            c.addItem(label, key)
        c.currentIndexChanged.connect(lambda *_: self._commit(name, c.currentData()))
        self.fields[name] = c
        return c

    def _float(self, name, lo, hi, decimals, step) -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(lo, hi)
        s.setDecimals(decimals)
        s.setSingleStep(step)
        s.setKeyboardTracking(False)
        s.editingFinished.connect(lambda: self._commit(name, s.value()))
        self.fields[name] = s
        return s

    def _int(self, name, lo, hi) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setKeyboardTracking(False)
        s.editingFinished.connect(lambda: self._commit(name, s.value()))
        self.fields[name] = s
        return s

    def show_values(self) -> None:
        t = self.doc.project.training
        self._showing = True
        try:
            for name, w in self.fields.items():
                v = getattr(t, name)
                if isinstance(w, DeviceCombo):
                    if w.findData(v) < 0:
                        w.addItem(v, v)
                    w.setCurrentIndex(w.findData(v))
                elif isinstance(w, QComboBox):
                    w.setCurrentIndex(max(0, w.findData(v)))
                else:
                    w.setValue(v)
            uses_momentum = t.optimizer in ("sgd", "rmsprop")
            self.momentum.setEnabled(uses_momentum)
            self.momentum.setToolTip("" if uses_momentum else
                                     f"{OPTIMIZERS[t.optimizer]} has no momentum setting")
        finally:
            self._showing = False

    def _commit(self, name: str, value) -> None:
        """An editor finished: one undo command when the value really changed."""
        if self._showing:
            return
        old = self.doc.project.training
        if getattr(old, name) == value:
            return
        from pydantic import ValidationError

        try:
            new = TrainingSettings.model_validate({**old.model_dump(), name: value})
        except ValidationError as e:
            msg = e.errors()[0].get("msg", str(e))
            self.field_error.setText(f"{name.replace('_', ' ')}: {msg}")
            self.field_error.show()
            self.show_values()
            return
        self.field_error.hide()
        self.doc.undo_stack.push(SetTraining(self.doc, old, new,
                                             f"Set {name.replace('_', ' ')}"))
        if self.doc.project.training is old:  # refused (locked): show the real value
            self.show_values()

    # ---- run control ----------------------------------------------------------------------

    def reset(self) -> None:
        """Nothing of a previous run (or document): progress at zero of the project's
        epochs, no rate, no error."""
        self.error.hide()
        self.note.hide()
        self._refusal_shown = False
        self._pending_batch, self._t0, self._epochs_done = None, None, 0
        self._show_progress(0, self.doc.project.training.epochs, None, None)
        self.rate_label.setText("Not training")

    def _show_progress(self, epochs_done: int, epochs: int, batches_done, batches) -> None:
        """Completed epochs of `epochs`; completed batches of this epoch (None: unknown)."""
        self.epoch_bar.setMaximum(max(1, epochs))
        self.epoch_bar.setValue(min(epochs_done, epochs))
        self.epoch_bar.setFormat(f"epoch {epochs_done} / {epochs}")
        if batches is None:
            self.batch_bar.setMaximum(1)
            self.batch_bar.setValue(0)
            self.batch_bar.setFormat("batch —")
        else:
            self.batch_bar.setMaximum(max(1, batches))
            self.batch_bar.setValue(min(batches_done, batches))
            self.batch_bar.setFormat(f"batch {batches_done} / {batches}")

    def _settings_progress(self) -> None:
        """Before a run the bar counts the project's epochs (they may just have changed)."""
        if not self.bridge.active and self._t0 is None:
            self._show_progress(0, self.doc.project.training.epochs, None, None)

    def _analysis_changed(self) -> None:
        if self._refusal_shown:  # the graph, settings or data changed: judge again
            self.error.hide()
            self._refusal_shown = False
            if not self.bridge.active:
                self.rate_label.setText("Not training")

    def start(self) -> None:
        if self.bridge.active:
            return
        if self.doc.analysis_enabled:
            self.doc.refresh()  # the newest edit counts
        first = self.doc.first_error
        if first is not None:
            errors = sum(p.severity == "error" for p in self.doc.problems)
            self.rate_label.setText(f"Cannot train: {first.message}"
                                    + (f" (and {errors - 1} more in Problems)"
                                       if errors > 1 else ""))
            self.rate_label.setToolTip(first.message)
            self._refusal_shown = True
            self.refusedByProblems.emit(first)
            return
        blocked = self.start_guard() if self.start_guard is not None else None
        if blocked:
            self.rate_label.setText(f"Cannot train: {blocked}")
            self._refusal_shown = True
            return
        self.reset()
        self.rate_label.setText("Loading data…")
        self.startRequested.emit()
        self.bridge.start(self.doc.project)

    def pause(self) -> None:
        self.bridge.pause()

    def resume(self) -> None:
        from ...training import TrainingConfigError

        if self.doc.analysis_enabled:
            self.doc.refresh()
        if not self.doc.valid:
            self.show_error("The edited network has errors (see Problems); fix them, then "
                            "Resume. Training stays paused.")
            return
        try:
            report = self.bridge.resume(self.doc.project)
        except TrainingConfigError as e:
            self.show_error(f"Cannot resume with this network: {e}. Training stays paused.")
            return
        self.error.hide()
        if report is not None:
            self.show_note(f"Network changed: {report.summary()}. Unchanged layers kept "
                           f"their weights and optimizer state.")

    def stop(self) -> None:
        self.bridge.stop()

    def _state_changed(self, state: str) -> None:
        idle, running = state == "idle", state in ("starting", "running")
        self.act_start.setEnabled(idle)
        self.act_pause.setEnabled(running)
        self.act_resume.setEnabled(state in ("paused", "pausing"))
        self.act_stop.setEnabled(not idle and state != "stopping")
        self.settings_box.setEnabled(idle)
        text = self._state_text(state)
        if text:
            self.rate_label.setText(text)

    @staticmethod
    def _state_text(state: str) -> str | None:
        """What the rate line says in a state that has no rate (no ETA while paused)."""
        return {"pausing": "Pausing at the end of this batch…",
                "paused": "Paused: edit the network if you like, then Resume "
                          "(unchanged layers keep their weights).",
                "stopping": "Stopping at the end of this batch…"}.get(state)

    # ---- events ------------------------------------------------------------------------------

    PROGRESS_S = 0.1  # progress bars and the rate line refresh at most 10 times a second

    def consume(self, events: list) -> None:
        last_batch, flush = None, False
        for e in events:
            if isinstance(e, Started):
                self._t0 = time.perf_counter()
                self._start_pos = e.start_epoch + e.start_batch / max(1, e.batches_per_epoch)
                self._total, self._batches = e.epochs, e.batches_per_epoch
                self._epochs_done = e.start_epoch
                self._show_progress(e.start_epoch, e.epochs, e.start_batch,
                                    e.batches_per_epoch)
                self.rate_label.setText(f"Training on {e.device}: {e.train_samples:,} "
                                        f"samples, {e.parameters:,} parameters")
            elif isinstance(e, BatchEnd):
                last_batch = e
            elif isinstance(e, EpochEnd):
                self._epochs_done = max(self._epochs_done, e.epoch + 1)
            elif isinstance(e, Failed):
                self._show_failure(e)
            flush = flush or isinstance(e, (Paused, Finished, Failed, EpochEnd))
        if last_batch is not None:
            self._pending_batch = last_batch
        now = time.perf_counter()
        e = self._pending_batch
        if e is None or self._t0 is None or not (flush or now - self._last_progress
                                                   >= self.PROGRESS_S):
            return
        # each repaint of a bar costs ~0.7 ms: at most PROGRESS_S apart
        self._pending_batch, self._last_progress = None, now
        # completed: the batches of this epoch so far, the epochs that ended
        batches_done = e.batch + 1
        if self._epochs_done > e.epoch:  # this epoch has ended: a full bar
            batches_done = e.batches
        self._show_progress(max(self._epochs_done, e.epoch), self._total, batches_done,
                            e.batches)
        state_text = self._state_text(self.bridge.state)
        if state_text:  # paused (or about to be): no ETA, no rate
            self.rate_label.setText(state_text)
            return
        done = e.epoch + (e.batch + 1) / e.batches - self._start_pos
        todo = self._total - self._start_pos
        elapsed = time.perf_counter() - self._t0
        eta = elapsed * (todo - done) / done if done > 0 else 0.0
        what = f"acc {e.accuracy:.1%}" if e.accuracy is not None else f"loss {e.loss:.4g}"
        if e.accuracy is not None:
            what = f"loss {e.loss:.4g} · {what}"
        self.rate_label.setText(f"ETA {fmt_eta(eta)} · {e.samples_per_s:,.0f} samples/s"
                                f" · {what}")

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.show()

    def _show_failure(self, e) -> None:
        kept = self.bridge.checkpoint
        tail = (f"<br>The project is unchanged and the last good checkpoint is kept: {kept}"
                if kept else "<br>The project is unchanged.")
        self.show_error(f"<b>Training failed.</b> {e.message}{tail}")

    def _refused(self, message: str) -> None:
        self.rate_label.setText("Not training")
        self.show_error(f"<b>Cannot train:</b> {message}")
        self._refusal_shown = True

    def _finished(self, result) -> None:
        if self._total is not None and result.status in ("completed", "stopped"):
            full = result.epochs_done >= self._total  # the bars agree with the line below
            self._show_progress(result.epochs_done, self._total,
                                self._batches if full else self.batch_bar.value(),
                                self._batches)
        if result.status == "completed":
            test = result.test or {}
            bits = [f"{k} {v:.4g}" for k, v in test.items() if k in ("loss", "accuracy", "mae")]
            self.rate_label.setText(f"Finished {result.epochs_done} epochs" +
                                    (f"; test {', '.join(bits)}" if bits else ""))
        elif result.status == "stopped":
            self.rate_label.setText(f"Stopped after {result.epochs_done} epoch(s); the last "
                                    f"checkpoint is kept")
        else:
            self.rate_label.setText("Failed (see below)")
            if not self.error.isVisible():
                self.show_error(f"<b>Training failed.</b> {result.message}")
