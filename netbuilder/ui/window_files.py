"""The main window's project-file actions: new, open, save, recent files, crash recovery.

A mixin of MainWindow (it uses the window's document, training feature, status bar and
`ask`), kept apart so the composition root stays about composition.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.project import Project, ProjectError, load_project
from .document import persistence


class ProjectFiles:
    def maybe_save(self) -> bool:
        """True when it is fine to discard the current project."""
        if not self.doc.modified:
            return True
        answer = self.ask(self, "Unsaved changes",
                          f"Save the changes to {self.doc.title} before closing it?",
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def stop_run_first(self) -> bool:
        """Before another document replaces this one: its run is asked about and stopped
        (a run belongs to its document). True when no run is left."""
        return self.training.end_run(lambda: self.ask(
            self, "Stop training?", f"{self.doc.title} is training. Stop the run (its last "
            f"checkpoint is kept) and close the project?",
            QMessageBox.Yes | QMessageBox.No) == QMessageBox.Yes)

    def replace_document(self, project: Project, path: Path | None = None) -> bool:
        """Show another project: stop this document's run first; every panel rebuilds."""
        if not self.stop_run_first():
            return False
        self.doc.set_project(project, path)
        self.clear_recovery()
        return True

    def new_project(self) -> None:
        if self.maybe_save():
            self.replace_document(Project())

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "",
                                              "netbuilder projects (*.json);;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        if not self._trust_code_in(Path(path)):
            return False
        try:
            project = load_project(path)
        except ProjectError as e:
            QMessageBox.warning(self, "Cannot open project", str(e))
            return False
        if not self.replace_document(project, Path(path)):
            return False
        self._add_recent(Path(path))
        return True

    def _trust_code_in(self, path: Path) -> bool:
        """A project that names code outside torch/torchvision (generic nodes) would run it
        when built: ask first, as opening a file must never run code nobody chose."""
        from ..importers.trust import trust, untrusted_packages, wanted_code

        packages = untrusted_packages(path)
        if not packages:
            return True
        answer = self.ask(
            self, "Run code from this project?",
            f"{path.name} wants {wanted_code(path)}. Opening it imports "
            f"{'this package' if len(packages) == 1 else 'these packages'} and runs "
            f"their code. Trust {', '.join(packages)} and open the project?",
            QMessageBox.Yes | QMessageBox.No)
        if answer != QMessageBox.Yes:
            return False
        trust(*packages)
        return True

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project as",
                                              f"{self.doc.title}.json",
                                              "netbuilder projects (*.json)")
        if not path:
            return False
        if not path.endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            self.doc.save(path)
        except OSError as e:
            QMessageBox.critical(self, "Cannot save", f"{path}: {e.strerror or e}")
            return False
        self._add_recent(path)
        self.clear_recovery()
        self.statusBar().showMessage(f"Saved {path}", 3000)
        return True

    def closeEvent(self, e: QCloseEvent) -> None:
        if self.maybe_save():
            self.clear_recovery()
            self.layout_store.save(self)
            e.accept()
            self.closed.emit()
        else:
            e.ignore()

    # recent files
    def recent_files(self) -> list[str]:
        return persistence.recent_files()

    def _add_recent(self, path: Path) -> None:
        persistence.add_recent(path)
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            self.recent_menu.addAction(p, (lambda q: lambda: self.maybe_save()
                                           and self.open_path(q))(p))
        self.recent_menu.setEnabled(bool(files))

    # crash recovery: a copy of unsaved work every few seconds
    def recovery_path(self) -> Path:
        return persistence.recovery_path()

    def autosave(self) -> None:
        if self.doc.modified:
            persistence.write_recovery(self.doc.project, self.doc.path)

    def clear_recovery(self) -> None:
        persistence.clear_recovery()

    def offer_recovery(self) -> bool:
        """After a crash: offer the unsaved copy. True when it was restored."""
        found = persistence.read_recovery()
        if found is None:
            return False
        project, path = found
        answer = self.ask(self, "Recover unsaved work?",
                          "netbuilder did not close normally. Restore the unsaved changes "
                          f"to {path.name if path else 'untitled'}?",
                          QMessageBox.Yes | QMessageBox.No)
        if answer != QMessageBox.Yes:
            self.clear_recovery()
            return False
        self.doc.set_project(project, path)
        # Mark as modified so the user saves the restored work explicitly.
        self.doc.undo_stack.resetClean()
        self._update_title()
        return True

