"""The Insight tab: see inside one sample. A sample row (a test sample, the try-it box's
input or typed values) above three views: the step-through (forward, loss, backward, one
optimizer step), what the network looks at (attributions) and how it organises the data
(the embedding projector).

The views work on a `insight.workspace.Workspace`: the last finished run's trained model
(`set_evaluation`, wired by the main window to the Results panel) or, before any run,
fresh seeded weights of the project being edited. `nodeHighlighted` carries the node the
step-through shows (ids from the top level down) for the canvas.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from ...insight.names import InsightError, parse_numbers  # the engine (torch) is imported on first use
from ..document.document import Document
from ..widgets.forms import plain
from .attribution_view import AttributionView
from .projector_view import ProjectorView
from .stepthrough import StepThrough

TEST, TRY_IT, TYPED = "Test sample", "Try-it box", "Typed values"


class InsightPanel(QWidget):
    nodeHighlighted = Signal(tuple, tuple)  # node ids from the top down; copy per block
    wiresChanged = Signal(object)  # node id (or (id, port)) -> the value on its output wires

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.workspace = None
        self._fresh_key = None  # the project text the untrained workspace was built from
        self.try_it_input = None  # callable: the try-it box's input (a person's units)
        self.source = QComboBox()
        self.source.addItems([TEST, TRY_IT, TYPED])
        self.source.currentTextChanged.connect(self._source_changed)
        self.index = QSpinBox()
        self.index.setRange(0, 0)
        self.index.setToolTip("Which test sample (its label is the target)")
        self.values = QLineEdit()
        self.values.setPlaceholderText("input values, comma-separated (as the Input takes "
                                       "them)")
        self.target = QLineEdit()
        self.target.setPlaceholderText("target: class id or values")
        self.target.setToolTip("A class id, or the output's values; empty with the try-it "
                               "box: the predicted class")
        self.start_btn = QPushButton("Start")
        self.start_btn.setToolTip("Load the sample and start the step-through")
        self.start_btn.clicked.connect(self.start)
        row = QHBoxLayout()
        for w in (QLabel("Sample:"), self.source, self.index):
            row.addWidget(w)
        row.addWidget(self.values, 2)
        row.addWidget(self.target, 1)
        row.addWidget(self.start_btn)
        self.status = plain(QLabel())
        self.status.setWordWrap(True)
        self.steps = StepThrough()
        self.attribution = AttributionView()
        self.projector = ProjectorView()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.steps, "Step-through")
        self.tabs.addTab(self.attribution, "What it looks at")
        self.tabs.addTab(self.projector, "Projector")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(row)
        lay.addWidget(self.status)
        lay.addWidget(self.tabs, 1)
        self.steps.nodeHighlighted.connect(self.nodeHighlighted)
        self.steps.wiresChanged.connect(self.wiresChanged)
        doc.projectReplaced.connect(self.reset)
        self._source_changed(TEST)

    def _source_changed(self, text: str) -> None:
        self.index.setVisible(text == TEST)
        self.values.setVisible(text == TYPED)

    # ---- what the views work on ----------------------------------------------------------

    def set_evaluation(self, ev) -> None:
        """A finished run: its trained model and test split; the projector refreshes."""
        if ev is None:
            return
        from ...insight.workspace import from_evaluation

        self._use(from_evaluation(ev))
        self._fresh_key = None
        self.status.setText(f"Trained weights of run {ev.run_dir.name}.")
        self.projector.set_workspace(self.workspace, run=True)

    def _use(self, ws) -> None:
        self.workspace = ws
        self.index.setRange(0, max(0, len(ws.y) - 1))
        self.attribution.set_workspace(ws)

    def ensure_workspace(self):
        """The trained run's workspace, or fresh weights of the project as it is now."""
        ws = self.workspace
        if ws is not None and ws.trained:
            return ws
        key = self.doc.project.to_json()
        if ws is None or key != self._fresh_key:
            from ...insight.workspace import from_project

            self._use(from_project(self.doc.project))
            self._fresh_key = key
            self.projector.set_workspace(self.workspace)
            self.status.setText("Untrained weights (the project's seed); train to see the "
                                "trained network.")
        return self.workspace

    def reset(self) -> None:
        self.workspace, self._fresh_key = None, None
        self.steps.clear()
        self.attribution.clear()
        self.projector.clear()
        self.status.setText("")

    # ---- the sample ------------------------------------------------------------------------

    def _target(self, stepper, x, default):
        text = self.target.text().strip()
        if text:
            return stepper.target_from_values(parse_numbers(text, "the target"))
        if default is not None:
            return default
        info = stepper.info
        if info is not None and info.is_classification:
            import torch

            with torch.no_grad():
                out = stepper.model(x)
            return torch.tensor([int(out.reshape(1, -1)[0].argmax())])
        raise InsightError("type a target: the loss compares the output with it")

    def sample(self):
        """(stepper, x, target, shown) of the chosen sample; raises InsightError."""
        source = self.source.currentText()
        if source == TYPED:
            try:
                ws = self.ensure_workspace()
                stepper = ws.stepper()
            except InsightError:  # no dataset: typed values still go through fresh weights
                from ...insight.stepper import Stepper

                ws, stepper = None, Stepper(self.doc.project)
            x = stepper.input_from_values(parse_numbers(self.values.text(), "the input"))
            shown = x.numpy() if ws is None or ws.mean is None else \
                x.numpy() * ws.std + ws.mean
            return stepper, x, self._target(stepper, x, None), shown
        ws = self.ensure_workspace()
        stepper = ws.stepper()
        if source == TEST:
            x, y = ws.sample(self.index.value())
            return stepper, x, self._target(stepper, x, y), ws.shown[self.index.value()][None]
        shown = self.try_it_input() if self.try_it_input is not None and ws.trained else None
        if shown is None:
            raise InsightError("the try-it box has no input yet: train a model, then draw "
                               "or type in Results › Try it")
        x = ws.model_input(shown)
        return stepper, x, self._target(stepper, x, None), np.asarray(shown)

    def start(self) -> bool:
        try:
            stepper, x, target, shown = self.sample()
            self.steps.start(stepper, x, target)
        except InsightError as e:
            self.status.setText(str(e))
            return False
        self.attribution.set_sample(x, target, shown)
        self.status.setText(("Trained" if self.workspace is not None and self.workspace.trained
                             else "Untrained") + " weights; Forward walks through the network.")
        return True
