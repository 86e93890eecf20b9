"""The open project as the UI sees it: the Qt face of one `DocumentModel`
(netbuilder/document/model.py) + live analysis + undo stack.

The model owns the state (project, selection, run state, run history) and its psygnal
events; this class turns them into Qt signals and runs the analysis. Views read from the
Document and change it only by pushing undo commands (`netbuilder.ui.document.commands`).
Analysis (shape inference + problems, the dataset fit included) runs coalesced: any number
of graph events in one event-loop turn cost one update. It runs in two steps so an edit's
new shapes reach the canvas first: the shapes (`shapesChanged`, with `changed_infos` naming
the nodes whose info is new), then in the next event-loop turn, after the repaint, the
problems (`analysisChanged`). A user dataset whose classes are
only known by reading it is read off the UI thread, then analysed again.
"""
from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from ...core.analysis import ERROR, Problem
from ...core.graph import Graph
from ...core.project import Project, load_project, save_project
from ...core.shapes import NodeInfo, ShapeInference, quick_pass
from ...document import DocumentModel
from .levels import Levels


class LockableUndoStack(QUndoStack):
    """Refuses new commands while the document is locked (a training run uses the graph)."""

    def __init__(self, doc: "Document"):
        super().__init__(doc)
        self._doc = doc

    def push(self, cmd) -> None:
        if self._doc.locked:
            self._doc.editRefused.emit(self._doc.lock_reason)
            return
        super().push(cmd)

    def __del__(self):
        # When Python's cycle collector frees a document, every finalizer runs before any
        # object is cleared (PEP 442). Emptying the stack here, silently, means that Qt's
        # own destructor, which runs later mid-collection, finds nothing to delete and
        # nothing to announce: its clear() used to delete our Python commands and signal
        # slots whose Python halves were already cleared (a segfault, seen in the tests).
        try:
            self.blockSignals(True)
            self.clear()
        except RuntimeError:  # the C++ stack is gone already: nothing left to empty
            pass


class Document(QObject):
    analysisChanged = Signal()  # infos / problems are new
    shapesChanged = Signal()  # infos are new (`changed_infos`); problems follow
    projectReplaced = Signal()  # a different project (or graph object) is now shown
    pathChanged = Signal()
    lockChanged = Signal(bool)  # edits are refused while locked (training is running)
    editRefused = Signal(str)  # a command was refused because of the lock; the reason
    trainingChanged = Signal()  # project.training was replaced
    datasetChanged = Signal()  # project.dataset was replaced (also on undo/redo)
    runStateChanged = Signal(str)  # this document's run: idle | starting | running | ...
    runsChanged = Signal()  # this document's run history
    _datasetRead = Signal(object, object)  # a background dataset read ended: choice, error

    def __init__(self, project: Project | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.model = DocumentModel(project)
        ev = self.model.events
        ev.lock_changed.connect(self.lockChanged.emit)
        ev.training_changed.connect(self._training_changed)
        ev.dataset_changed.connect(self._dataset_changed)
        ev.run_state_changed.connect(self.runStateChanged.emit)
        ev.runs_changed.connect(self.runsChanged.emit)
        ev.path_changed.connect(self.pathChanged.emit)
        self._datasetRead.connect(self._dataset_read)
        self._reading: set[str] = set()  # dataset choices being read (their JSON)
        self._read_errors: dict[str, str] = {}  # choice JSON -> why it cannot be read
        self.undo_stack = LockableUndoStack(self)
        self.infos: dict[str, NodeInfo] = {}
        self.problems: list[Problem] = []
        self.changed_infos: set[str] = set()  # top-level ids the last shapes step renewed
        # Analysis needs torch; the app turns this on once torch is imported in the
        # background so the window can paint first.
        self.analysis_enabled = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._refresh_in_steps)
        self._problems_timer = QTimer(self)
        self._problems_timer.setSingleShot(True)
        # Not 0: a zero timer can fire before the repaint the shapes step asked for (Qt
        # delivers the scene's update in a later pass); a few ms later it comes after it.
        self._problems_timer.setInterval(10)
        self._problems_timer.timeout.connect(self._refresh_problems)
        self._inference: ShapeInference | None = None
        self._attach()
        self.levels = Levels(self)  # the block level the editor shows (levels.py)

    # ---- the model's state -------------------------------------------------------------

    project = property(lambda self: self.model.project)
    path = property(lambda self: self.model.path)
    locked = property(lambda self: self.model.locked)
    lock_reason = property(lambda self: self.model.lock_reason)
    run_state = property(lambda self: self.model.run_state)
    runs = property(lambda self: self.model.runs)

    @property
    def graph(self) -> Graph:
        return self.project.graph

    def set_run_state(self, state: str) -> None:
        """This document's run changed state (the training bridge says so); the edit lock
        follows from it in the model."""
        self.model.set_run_state(state)

    def _training_changed(self, _settings) -> None:
        self.trainingChanged.emit()
        self._schedule()  # the analysis checks the graph against the loss

    def _dataset_changed(self, _choice) -> None:
        self._read_errors.clear()  # a new choice (or the same one again): read it anew
        self.datasetChanged.emit()
        self._schedule()  # ... and against the dataset

    def _attach(self) -> None:
        if self._inference is not None:
            self._inference.close()
        g = self.graph
        self._inference = ShapeInference(g)
        ev = g.events
        for sig in (ev.node_added, ev.node_removed, ev.node_changed, ev.edge_added,
                    ev.edge_removed, ev.reset):
            sig.connect(self._schedule)
        lib = g.blocks.events  # edits inside block definitions change the analysis too
        for sig in (lib.changed, lib.defined, lib.removed, lib.renamed):
            sig.connect(self._schedule)
        self.infos, self.problems = {}, []
        self._schedule()

    def set_project(self, project: Project, path: Path | None = None) -> None:
        """Replace the document (New, Open, an example). Its run must be stopped first."""
        self.undo_stack.clear()
        self.model.replace(project, path)
        self._attach()
        self.undo_stack.setClean()
        self.projectReplaced.emit()
        self.datasetChanged.emit()
        self.trainingChanged.emit()

    def open(self, path: str | Path) -> None:
        """Raises ProjectError with a human message; the current project is kept then."""
        self.set_project(load_project(path), Path(path))

    def save(self, path: str | Path | None = None) -> None:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no file name yet; use Save As")
        if path is not None and (not self.project.name or self.project.name == "untitled"):
            self.project.name = target.stem
        save_project(self.project, target)
        self.undo_stack.setClean()
        self.model.set_path(target)

    def set_training(self, settings) -> None:
        """Replace the training settings (called by undo commands); the project emits."""
        self.project.training = settings

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def title(self) -> str:
        return self.path.name if self.path else (self.project.name or "untitled")

    # ---- analysis ----------------------------------------------------------------------

    def _schedule(self, *args) -> None:
        if self.analysis_enabled and not self._timer.isActive():
            self._timer.start()

    def enable_analysis(self) -> None:
        self.analysis_enabled = True
        self._schedule()

    def refresh(self) -> None:
        """Bring infos and problems up to date now (normally runs from the timers)."""
        if not self.analysis_enabled:
            return
        self._timer.stop()
        self._refresh_shapes()
        self._refresh_problems()

    def _refresh_in_steps(self) -> None:
        """The timer's way: shapes now, problems in the next turn (after the repaint)."""
        if not self.analysis_enabled:
            return
        with quick_pass():  # FLOPs are counted by the problems step
            self._refresh_shapes()
        self._problems_timer.start()

    def _refresh_shapes(self) -> None:
        old = self.infos
        new = self._inference.update()
        self.changed_infos = self._inference.renewed | (old.keys() - new.keys())
        self.infos = dict(new)
        self.shapesChanged.emit()

    def _refresh_problems(self) -> None:
        self._problems_timer.stop()
        if not self.analysis_enabled:
            return
        if self._inference.dirty:  # an edit since the shapes step: take it along
            self._refresh_shapes()
        problems = self.model.analyze(self._inference, load=False)
        ds = self.project.dataset
        if ds is not None and self.model.needs_dataset_load():
            error = self._read_errors.get(ds.model_dump_json())
            if error is None:
                self._read_dataset(ds)
            else:  # worded as compat.dataset_problems words a bad dataset
                problems = sorted(problems + [Problem(ERROR, f"dataset {ds.name!r}: {error}",
                                                      None, "dataset")],
                                  key=lambda p: p.severity != ERROR)
        self.problems = problems
        self.analysisChanged.emit()

    def _read_dataset(self, choice) -> None:
        """Read a user dataset's metadata in a thread; analyse again when it is known."""
        key = choice.model_dump_json()
        if key in self._reading:
            return
        self._reading.add(key)

        def work():
            error = None
            try:
                self.model.load_dataset_info(choice)
            except Exception as e:  # noqa: BLE001 (reported as a problem of the project)
                error = str(e) or type(e).__name__
            try:
                self._datasetRead.emit(choice, error)
            except RuntimeError:  # the document was deleted meanwhile (window closed)
                pass
        threading.Thread(target=work, daemon=True, name="netbuilder-dataset-info").start()

    def _dataset_read(self, choice, error) -> None:
        key = choice.model_dump_json()
        self._reading.discard(key)
        if error is not None:
            self._read_errors[key] = error
        if choice == self.project.dataset:
            self._schedule()

    @property
    def first_error(self) -> Problem | None:
        return next((p for p in self.problems if p.severity == ERROR), None)

    def analysis_pending(self) -> bool:
        """True while an edit has not been analysed yet (or a dataset is being read)."""
        return self._timer.isActive() or self._problems_timer.isActive() \
            or bool(self._reading)

    def problems_for(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node_id == node_id]

    @property
    def valid(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)

    def totals(self) -> tuple[int, int]:
        return (sum(i.params for i in self.infos.values()),
                sum(i.flops for i in self.infos.values()))

    def input_infos(self, node_id: str):
        return self._inference.input_infos(node_id)
