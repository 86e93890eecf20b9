"""The step-through: one sample forward node by node, the loss, the gradients back node by
node, then one optimizer step with every weight's change.

The whole pass is computed at once by `insight.Stepper` (real autograd); the buttons reveal
it one node at a time, and `nodeHighlighted` names the node shown (ids from the top level
down, so the main window can open the blocks on the way to it).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from ..widgets.forms import plain
from .values import FEW, ValueView

IDLE, FORWARD, LOSS, BACKWARD, STEPPED = "idle", "forward", "loss", "backward", "stepped"


def short(a, n: int = 4) -> str:
    if a is None:
        return "—"
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    text = ", ".join(f"{v:.3g}" for v in flat[:n])
    return f"[{text}{', …' if flat.size > n else ''}]"


def matrix_text(a: np.ndarray) -> str:
    """A few values as they are laid out (a matrix row a line); more: the first ones."""
    if a.size > FEW:
        return short(a, 8)
    rows = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)
    return "\n".join("  ".join(f"{v:.3g}" for v in row) for row in rows)


def shape_text(a) -> str:
    return "×".join(str(d) for d in np.shape(a)) or "scalar"


class StepThrough(QWidget):
    # node ids from the top level down to the node shown, and the repeat copy at each block
    # on the way (the canvas opens that copy, so its shapes are the ones shown)
    nodeHighlighted = Signal(tuple, tuple)
    # node id, or (node id, port) for a block with several outputs -> the value its output
    # wires carry (that level)
    wiresChanged = Signal(object)
    changed = Signal()  # a step was shown (tests wait for it)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.stepper = self.trace = self.step_result = None
        self.sample = None  # (x, target) being traced
        self.phase, self.pos = IDLE, -1
        self.forward_btn = QPushButton("Forward ▶")
        self.forward_btn.setToolTip("Show the next node's output (then the loss)")
        self.back_btn = QPushButton("◀ Back")
        self.back_btn.setToolTip("After the loss: the gradient of the loss with respect to "
                                 "the next node's output, going back to the input")
        self.step_btn = QPushButton("Step")
        self.step_btn.setToolTip("One optimizer step with these gradients: every weight's "
                                 "change")
        self.forward_btn.clicked.connect(self.forward)
        self.back_btn.clicked.connect(self.back)
        self.step_btn.clicked.connect(self.step)
        buttons = QHBoxLayout()
        for b in (self.forward_btn, self.back_btn, self.step_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.nodes = QTreeWidget()  # one row a node: its output, then its gradient
        self.nodes.setHeaderLabels(["node", "output", "d loss / d output"])
        self.nodes.setRootIsDecorated(False)
        self.nodes.setUniformRowHeights(True)
        self.nodes.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.title = plain(QLabel("Choose a sample above and press Start."))
        self.title.setWordWrap(True)
        self.view = ValueView()
        self.weights = QTableWidget(0, 4)
        self.weights.setHorizontalHeaderLabels(["weight", "shape", "norm", "values"])
        self.weights.verticalHeader().hide()
        self.weights.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.weights.setWordWrap(False)
        self.weights.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)  # the values scroll, never elide
        shown = QSplitter()  # the node's values beside its layer's weights
        shown.addWidget(self.view)
        shown.addWidget(self.weights)
        shown.setSizes([170, 530])
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.title)
        rl.addWidget(shown, 1)
        split = QSplitter()
        split.addWidget(self.nodes)
        split.addWidget(right)
        split.setSizes([300, 750])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(buttons)
        lay.addWidget(split, 1)
        self._enable()

    # ---- the pass ------------------------------------------------------------------------

    @property
    def records(self):
        return self.trace.records if self.trace is not None else []

    def start(self, stepper, x, target) -> None:
        """Trace (x, target) with `stepper` and show its input node."""
        self.stepper, self.sample = stepper, (x, target)
        self._trace()

    def _trace(self) -> None:
        self.trace = self.stepper.trace(*self.sample)
        self.step_result = None
        self.nodes.clear()
        for r in self.records:
            item = QTreeWidgetItem([r.name, "", ""])
            item.setToolTip(0, f"{r.type}, output {shape_text(self.trace.output_of(r))}")
            self.nodes.addTopLevelItem(item)
        self.nodes.addTopLevelItem(QTreeWidgetItem([f"loss ({self.stepper.settings.loss})",
                                                    "", ""]))
        self.nodes.resizeColumnToContents(0)
        self.phase, self.pos = FORWARD, -1
        self.forward()

    def forward(self) -> None:
        if self.phase == STEPPED:  # the same sample again, with the new weights
            self._trace()
            return
        if self.phase != FORWARD:
            return
        self.pos += 1
        if self.pos >= len(self.records):
            self._show_loss()
        else:
            r = self.records[self.pos]
            out = self.trace.output_of(r)
            self._mark(self.pos, 1, short(out, 3))
            ports = self.trace.port_outputs(r)
            shapes = shape_text(out) if len(ports) == 1 else ", ".join(  # one per port
                f"{port} {shape_text(v)}" for port, v in ports.items())
            self.title.setText(f"Forward {self.pos + 1}/{len(self.records)}: {r.name} "
                               f"({r.type}) outputs {shapes}")
            self.view.show_array(out)
            self._weight_rows(r, grads=False)
            self.nodeHighlighted.emit(tuple(r.path), tuple(r.copies))
            self._wires(r, range(self.pos + 1), self.trace.port_outputs)
        self._enable()
        self.changed.emit()

    def _show_loss(self) -> None:
        t, s = self.trace, self.stepper.settings
        self.phase = LOSS
        self.pos = len(self.records)
        self._mark(self.pos, 1, f"{t.loss:.5g}")
        target = t.target[0].numpy()
        self.title.setText(f"Loss ({s.loss}) = {t.loss:.6g}: the output "
                           f"{short(t.output[0].numpy(), 6)} against the target "
                           f"{short(target, 6)}. Press Back for the gradients.")
        self.view.show_array(t.output[0].numpy())
        self.weights.setRowCount(0)

    def back(self) -> None:
        if self.phase not in (LOSS, BACKWARD) or self.pos <= 0:
            return
        self.phase = BACKWARD
        self.pos -= 1
        r = self.records[self.pos]
        g = self.trace.grad_of(r)
        self._mark(self.pos, 2, short(g, 3))
        self.title.setText(f"Backward: d loss / d output of {r.name} ({r.type})"
                           + ("" if g is not None else " — none (integer values, or the "
                                                       "loss does not depend on it)"))
        self.view.show_array(g, "no gradient")
        self._weight_rows(r, grads=True)
        self.nodeHighlighted.emit(tuple(r.path), tuple(r.copies))
        self._wires(r, range(self.pos, len(self.records)), self.trace.port_grads, "∇ ")
        self._enable()
        self.changed.emit()

    def step(self) -> None:
        if self.phase not in (LOSS, BACKWARD):
            return
        self.step_result = res = self.stepper.step()
        self.phase = STEPPED
        before = self.trace.loss
        after = f"; the loss of this sample goes {before:.5g} → {res.loss_after:.5g}" \
            if res.loss_after is not None else ""
        self.title.setText(f"One optimizer step — {res.rule}{after}. Forward traces the "
                           f"sample again with the new weights.")
        self.view.clear()
        rows = [(k, d) for k, d in res.deltas.items()]
        self._fill(rows, "ΔW")
        self._enable()
        self.changed.emit()

    # ---- display -------------------------------------------------------------------------

    def _wires(self, record, rows, values_of, prefix: str = "") -> None:
        """The values seen so far on the wires of the level (and repeat copy) `record` is
        on, after the canvas has opened it (nodeHighlighted comes first). `values_of` gives
        a record's {port: array}; a block with several outputs gets a note per port."""
        level = record.place.rpartition("/")[0]
        notes: dict = {}
        for i in rows:
            r = self.records[i]
            if r.place.rpartition("/")[0] != level:
                continue
            nid, values = r.path[-1], values_of(r)
            if len(values) == 1:
                notes[nid] = prefix + short(next(iter(values.values())), 3)
            else:
                notes.update({(nid, port): prefix + short(v, 3) for port, v in values.items()})
        self.wiresChanged.emit(notes)

    def _mark(self, row: int, column: int, text: str) -> None:
        item = self.nodes.topLevelItem(row)
        if item is None:
            return
        item.setText(column, text)
        item.setToolTip(column, text)
        self.nodes.setCurrentItem(item)
        self.nodes.scrollToItem(item)

    def _weight_rows(self, record, grads: bool) -> None:
        from ...insight.capture import own_parameters

        params = own_parameters(self.stepper.model, record)
        if grads:
            rows = [(k, self.trace.grads.get(k)) for k in params]
            self._fill(rows, "∇W")
        else:
            self._fill([(k, self.trace.params[k]) for k in params], "W")

    def _fill(self, rows, what: str) -> None:
        t = self.weights
        t.setHorizontalHeaderLabels(["weight", "shape", f"|{what}|", what])
        t.setRowCount(len(rows))
        for i, (key, v) in enumerate(rows):
            a = None if v is None else v.detach().cpu().numpy()
            cells = (key, shape_text(a) if a is not None else "",
                     f"{float(np.linalg.norm(a)):.4g}" if a is not None else "—",
                     matrix_text(a) if a is not None else "no gradient")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(i, j, item)
        t.resizeColumnsToContents()
        t.resizeRowsToContents()

    def _enable(self) -> None:
        self.forward_btn.setEnabled(self.phase in (FORWARD, STEPPED))
        self.back_btn.setEnabled(self.phase in (LOSS, BACKWARD) and self.pos > 0)
        self.step_btn.setEnabled(self.phase in (LOSS, BACKWARD))

    def clear(self) -> None:
        self.stepper = self.trace = self.step_result = self.sample = None
        self.phase, self.pos = IDLE, -1
        self.nodes.clear()
        self.view.clear()
        self.weights.setRowCount(0)
        self.title.setText("Choose a sample above and press Start.")
        self.wiresChanged.emit({})
        self._enable()
