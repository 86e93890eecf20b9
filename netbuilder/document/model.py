"""One window's document, Qt-free: what it holds and the events that say it changed.

    model = DocumentModel(project)
    model.events.dataset_changed.connect(...)  # psygnal, also from undo/redo
    model.project.dataset = choice             # the Project itself emits (psygnal evented)
    model.set_run_state("running")             # -> model.locked, events.lock_changed(True)

The edit lock is derived from the run state here and nowhere else: a run that is starting,
running, pausing or stopping uses the graph, so edits are refused; a paused run allows them
(Resume carries them over). `replace` swaps the whole document (New, Open, an example): the
selection, the run state and the run history go with the old project, so no view can keep
showing the previous document's run.

`analyze` gives every problem of the project, the graph analysis and the dataset fit in one
list (training/compat.py), so the Problems panel, the status bar, the Train button and
`netbuilder validate` say the same thing in the same words.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psygnal import Signal

from ..core.project import Project

LOCKING_STATES = frozenset({"starting", "running", "pausing", "stopping"})
LOCK_TEXT = "Training is running: pause it (Ctrl+P) to edit the network."


@dataclass(frozen=True)
class RunRecord:
    """A finished run of this document: its folder and how it ended."""

    out_dir: Path
    status: str  # completed | stopped | failed
    epochs_done: int = 0


class DocumentEvents:
    """psygnal signals of one DocumentModel."""

    project_replaced = Signal()  # a different project: everything shown must be rebuilt
    path_changed = Signal()
    training_changed = Signal(object)  # the new TrainingSettings
    dataset_changed = Signal(object)  # the new DatasetChoice or None
    selection_changed = Signal(tuple)  # node ids
    run_state_changed = Signal(str)  # idle | starting | running | pausing | paused | stopping
    lock_changed = Signal(bool)
    runs_changed = Signal()  # the run history changed (a run ended, or a new document)


class DocumentModel:
    def __init__(self, project: Project | None = None, path: Path | None = None):
        self.events = DocumentEvents()
        self.project: Project = Project()
        self.path: Path | None = None
        self.selection: tuple[str, ...] = ()
        self.run_state = "idle"
        self.runs: list[RunRecord] = []
        self._hook(project or Project(), path)

    # ---- the project -------------------------------------------------------------------

    def _hook(self, project: Project, path: Path | None) -> None:
        old = self.project.events
        old.training.disconnect(self._training_changed)
        old.dataset.disconnect(self._dataset_changed)
        self.project = project
        self.path = Path(path) if path else None
        project.events.training.connect(self._training_changed)
        project.events.dataset.connect(self._dataset_changed)

    def _training_changed(self, new, old=None) -> None:
        self.events.training_changed.emit(new)

    def _dataset_changed(self, new, old=None) -> None:
        self.events.dataset_changed.emit(new)

    def replace(self, project: Project, path: Path | None = None) -> None:
        """Show another project. The caller has stopped this document's run first (a run
        belongs to the document that started it)."""
        if self.run_state != "idle":
            raise RuntimeError("stop the training run before replacing the document")
        self._hook(project, path)
        self.selection = ()
        self.runs = []
        self.events.project_replaced.emit()
        self.events.path_changed.emit()
        self.events.selection_changed.emit(())
        self.events.runs_changed.emit()

    def set_path(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self.events.path_changed.emit()

    # ---- selection, run state, history -------------------------------------------------

    def set_selection(self, node_ids) -> None:
        ids = tuple(n for n in node_ids if n in self.project.graph.nodes)
        if ids != self.selection:
            self.selection = ids
            self.events.selection_changed.emit(ids)

    @property
    def locked(self) -> bool:
        return self.run_state in LOCKING_STATES

    @property
    def lock_reason(self) -> str:
        return LOCK_TEXT if self.locked else ""

    def set_run_state(self, state: str) -> None:
        if state == self.run_state:
            return
        was = self.locked
        self.run_state = state
        self.events.run_state_changed.emit(state)
        if self.locked != was:
            self.events.lock_changed.emit(self.locked)

    def add_run(self, record: RunRecord) -> None:
        self.runs = [r for r in self.runs if r.out_dir != record.out_dir] + [record]
        self.events.runs_changed.emit()

    # ---- analysis ---------------------------------------------------------------------

    def analyze(self, inference, load: bool = False) -> list:
        """Every problem of the project (graph analysis merged with the dataset fit), errors
        first. With load=False a user dataset not read yet adds no dataset problems: see
        `needs_dataset_load`."""
        from ..training.compat import project_problems

        return project_problems(self.project, inference, load=load)

    def needs_dataset_load(self) -> bool:
        """True when the dataset's classes are only known by reading it (a CSV or image
        folder not read yet): the window reads it off the UI thread, then analyses again."""
        from ..data.registry import DataError
        from ..training.compat import dataset_info

        ds = self.project.dataset
        if ds is None:
            return False
        try:
            return dataset_info(ds, load=False) is None
        except DataError:
            return False  # the analysis reports the bad choice itself

    @staticmethod
    def load_dataset_info(choice) -> None:
        """Read a dataset's metadata into the cache (call off the UI thread)."""
        from ..training.compat import dataset_info

        dataset_info(choice, load=True)
