"""The open project as the UI sees it: graph + live analysis + undo stack + file state.

Views read from the Document and change it only by pushing undo commands
(`netbuilder.ui.document.commands`). Analysis (shape inference + problems) runs coalesced: any
number of graph events in one event-loop turn cost one update.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from ...core.analysis import ERROR, Problem, analyze
from ...core.graph import Graph
from ...core.project import Project, load_project, save_project
from ...core.shapes import NodeInfo, ShapeInference
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


class Document(QObject):
    analysisChanged = Signal()  # infos / problems are new
    projectReplaced = Signal()  # a different project (or graph object) is now shown
    pathChanged = Signal()
    lockChanged = Signal(bool)  # edits are refused while locked (training is running)
    editRefused = Signal(str)  # a command was refused because of the lock; the reason
    trainingChanged = Signal()  # project.training was replaced

    def __init__(self, project: Project | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.locked = False
        self.lock_reason = ""
        self.undo_stack = LockableUndoStack(self)
        self.project: Project = project or Project()
        self.path: Path | None = None
        self.infos: dict[str, NodeInfo] = {}
        self.problems: list[Problem] = []
        # Analysis needs torch; the app turns this on once torch is imported in the
        # background so the window can paint first.
        self.analysis_enabled = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        self._inference: ShapeInference | None = None
        self._attach()
        self.levels = Levels(self)  # the block level the editor shows (levels.py)

    # ---- project ---------------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        return self.project.graph

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
        self.undo_stack.clear()
        self.project = project
        self.path = Path(path) if path else None
        self._attach()
        self.undo_stack.setClean()
        self.projectReplaced.emit()
        self.pathChanged.emit()

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
        self.path = target
        self.undo_stack.setClean()
        self.pathChanged.emit()

    def set_locked(self, locked: bool, reason: str = "") -> None:
        """Lock (or unlock) the graph against edits; views show `reason` as a banner."""
        self.lock_reason = reason if locked else ""
        if locked != self.locked:
            self.locked = locked
            self.lockChanged.emit(locked)

    def set_training(self, settings) -> None:
        """Replace the training settings (called by undo commands)."""
        self.project.training = settings
        self.trainingChanged.emit()
        self._schedule()  # the analysis checks the graph against the loss

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
        """Bring infos and problems up to date now (normally runs from the timer)."""
        if not self.analysis_enabled:
            return
        self._timer.stop()
        self.infos = dict(self._inference.update())
        self.problems = analyze(self.graph, self._inference, loss=self.project.training.loss)
        self.analysisChanged.emit()

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
