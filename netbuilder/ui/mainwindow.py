"""The main window, the composition root: it creates every dock and menu and does all the
wiring between the features (editor, training, data, results, dialogs), which never import
each other. palette | canvas | inspector; problems/summary/code/data/results below; the
training panel under the palette and the live views beside the details.
"""
from __future__ import annotations

import json
from pathlib import Path

import shiboken6
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QInputDialog, QLabel,
                               QMainWindow, QMessageBox, QTabWidget, QWidget)

from .. import examples
from ..core.project import Project, ProjectError
from .data.panel import DataPanel
from .dialogs.export import ExportDialog
from .dialogs.gallery import ExampleGallery
from .document import commands, persistence
from .document.document import Document
from .editor.block_actions import BlockActions
from .editor.breadcrumb import Breadcrumb
from .editor.inspector import Inspector
from .editor.palette import Palette
from .editor.palette_blocks import PaletteBlocks
from .editor.panels import CodePanel, ProblemsPanel, SummaryPanel
from .editor.scene import Canvas
from .editor.view import CanvasView, LockBanner, Minimap
from .results.panel import ResultsPanel
from .training.feature import TrainingUi
from .widgets.text import short_int

NODES_MIME = "application/x-netbuilder-nodes"
ASSETS = Path(__file__).resolve().parents[2] / "assets"


def release_clipboard() -> None:
    """Drop netbuilder's own clipboard data before Qt shuts down: QMimeData handed to the
    clipboard from Python is otherwise deleted twice at exit (a crash on quit)."""
    app = QGuiApplication.instance()
    if app is not None:
        md = app.clipboard().mimeData()
        if md is not None and md.hasFormat(NODES_MIME):
            app.clipboard().clear()


def app_icon() -> QIcon:
    for name in ("netbuilder.svg", "netbuilder.png"):
        if (ASSETS / name).exists():
            return QIcon(str(ASSETS / name))
    return QIcon()


class MainWindow(QMainWindow):
    closed = Signal()  # the window accepted a close (after the unsaved-changes question)
    AUTOSAVE_MS = 5000

    def __init__(self, doc: Document | None = None):
        super().__init__()
        self.doc = doc or Document(parent=self)
        self.setWindowIcon(app_icon())
        self.resize(1440, 900)
        self.canvas = Canvas(self.doc, self)
        self.view = CanvasView(self.canvas)
        self.view.context_menu_hook = self._extend_context_menu
        self.minimap = Minimap(self.view, self.view)
        self.setCentralWidget(self.view)
        self.setAcceptDrops(True)

        # ---- the features ----
        self.palette_panel = Palette()
        # blocks: the palette's Blocks entries, group/ungroup/open gestures, the breadcrumb
        self.palette_blocks = PaletteBlocks(self.palette_panel, self.doc)
        self.blocks = BlockActions(self.doc, self.canvas, self.view, self)
        self.breadcrumb = Breadcrumb(self.doc.levels, self.view)
        self.view.key_hook = self.blocks.key_pressed
        self.view.block_drop_hook = self.blocks.add_block_at
        self.inspector = Inspector(self.doc)
        self.problems_panel = ProblemsPanel(self.doc)
        self.summary_panel = SummaryPanel(self.doc)
        self.code_panel = CodePanel(self.doc)
        self.training = TrainingUi(self.doc, self)
        self.data_panel = DataPanel(self.doc)
        self.results_panel = ResultsPanel(self.doc)
        self.banner = LockBanner(self.doc, self.view)
        self.export_dialog: ExportDialog | None = None

        # ---- docks ----
        layers = self._dock("Layers", self.palette_panel, Qt.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.RightDockWidgetArea)
        self.bottom = QTabWidget()
        for widget, title in ((self.problems_panel, "Problems"), (self.summary_panel, "Summary"),
                              (self.code_panel, "Code"), (self.data_panel, "Data"),
                              (self.results_panel, "Results")):
            self.bottom.addTab(widget, title)
        details = self._dock("Details", self.bottom, Qt.BottomDockWidgetArea)
        self.resizeDocks([details], [190], Qt.Vertical)
        self.training_dock = self._dock("Training", self.training.panel, Qt.LeftDockWidgetArea)
        self.splitDockWidget(layers, self.training_dock, Qt.Vertical)
        self.live_dock = self._dock("Live", self.training.views, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(details, self.live_dock)
        details.raise_()

        # ---- menus, toolbar, status bar ----
        self._build_actions()
        self._build_status()
        self._update_title()
        self.ask = QMessageBox.question  # replaced in tests to answer prompts

        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start(self.AUTOSAVE_MS)
        self._wire()

    def _wire(self) -> None:
        """Everything that connects one feature to another."""
        doc, canvas, training = self.doc, self.canvas, self.training
        self.palette_panel.addRequested.connect(self.add_layer_at_center)
        self.palette_panel.blockRequested.connect(self.blocks.add_block_at_center)
        self.blocks.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.palette_blocks.message.connect(lambda t: self.statusBar().showMessage(t, 6000))
        self.problems_panel.nodeActivated.connect(self.blocks.show_path_to)
        self.problems_panel.blockNodeActivated.connect(self.blocks.show_in_block)
        self.problems_panel.pathActivated.connect(self.blocks.show_path)
        self.summary_panel.nodeActivated.connect(self.blocks.show_path_to)
        self.summary_panel.pathActivated.connect(self.blocks.show_path)
        canvas.selectionChanged.connect(self._selection_changed)
        canvas.selectionChanged.connect(self._select_in_live_views)
        canvas.nodeDoubleClicked.connect(self._node_double_clicked)
        doc.analysisChanged.connect(self._update_status)
        doc.undo_stack.cleanChanged.connect(self._update_title)
        doc.pathChanged.connect(self._update_title)
        doc.projectReplaced.connect(self._project_replaced)
        doc.editRefused.connect(self._edit_refused)
        doc.lockChanged.connect(self._lock_changed)
        training.badgesChanged.connect(canvas.set_badges)
        training.failedAt.connect(self.blocks.show_path_to)  # a top-level node
        training.runStarting.connect(self._show_live)
        training.bridge.finished.connect(self._run_finished)
        self.live_dock.visibilityChanged.connect(self._grow_live)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(training.shutdown)
        self.closed.connect(training.shutdown)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    # ---- actions ----------------------------------------------------------------------------

    def _action(self, menu, text, slot, shortcut=None, checkable=False, checked=False):
        act = QAction(text, self)
        if shortcut:
            act.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
        act.setCheckable(checkable)
        if checkable:
            act.setChecked(checked)
            act.toggled.connect(slot)
        else:
            act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        mb = self.menuBar()
        K = QKeySequence
        f = mb.addMenu("&File")
        self._action(f, "&New", self.new_project, K.New)
        self._action(f, "New from &Example…", self.new_from_example, K("Ctrl+Shift+N"))
        self._action(f, "&Open…", self.open_dialog, K.Open)
        self.recent_menu = f.addMenu("Open &Recent")
        self._refresh_recent_menu()
        f.addSeparator()
        self._action(f, "&Save", self.save, K.Save)
        self._action(f, "Save &As…", self.save_as, K("Ctrl+Shift+S"))
        f.addSeparator()
        self.act_export = self._action(f, "&Export…", self.open_export_dialog, K("Ctrl+E"))
        f.addSeparator()
        self._action(f, "&Quit", self.close, K.Quit)

        e = mb.addMenu("&Edit")
        undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(K.Undo)
        redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([K("Ctrl+Shift+Z"), K("Ctrl+Y")])
        e.addAction(undo)
        e.addAction(redo)
        self.act_undo, self.act_redo = undo, redo
        e.addSeparator()
        self.act_cut = self._action(e, "Cu&t", self.cut, K.Cut)
        self.act_copy = self._action(e, "&Copy", self.copy, K.Copy)
        self.act_paste = self._action(e, "&Paste", self.paste, K.Paste)
        self.act_dup = self._action(e, "&Duplicate", self.duplicate, K("Ctrl+D"))
        self.act_delete = self._action(e, "De&lete", self.canvas.delete_selection, K.Delete)
        self._action(e, "Select &All", self.select_all, K.SelectAll)
        self._action(e, "Re&name…", lambda: self.rename_node(), K("F2"))
        e.addSeparator()
        for act in self.blocks.actions:
            e.addAction(act)

        v = mb.addMenu("&View")
        self._action(v, "&Fit to View", self.view.fit_all, [K("F"), K("Ctrl+0")])
        self._action(v, "Zoom &In", lambda: self.view.zoom_by(1.25), K.ZoomIn)
        self._action(v, "Zoom &Out", lambda: self.view.zoom_by(0.8), K.ZoomOut)
        self._action(v, "Auto &Layout", self.canvas.auto_layout, K("Ctrl+L"))
        v.addSeparator()
        self._action(v, "&Snap to Grid", self._set_snap, None, True, True)
        self._action(v, "&Minimap (when the graph does not fit)", self.minimap.set_wanted,
                     K("Ctrl+M"), True, True)
        v.addSeparator()
        for dock in self.findChildren(QDockWidget):
            v.addAction(dock.toggleViewAction())

        t = mb.addMenu("&Train")
        for act in self.training.panel.actions:
            t.addAction(act)
        t.addSeparator()
        t.addAction(self.training_dock.toggleViewAction())
        t.addAction(self.live_dock.toggleViewAction())
        bar = self.addToolBar("Training")
        bar.setObjectName("Training toolbar")
        for act in self.training.panel.actions:
            bar.addAction(act)

        h = mb.addMenu("&Help")
        self._action(h, "&About netbuilder", self.about)

    def _set_snap(self, on: bool) -> None:
        self.canvas.snap = on

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status_valid = QLabel()
        self.status_params = QLabel()
        self.status_flops = QLabel()
        for w in (self.status_valid, self.status_params, self.status_flops):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)
        self._update_status()

    def _update_status(self) -> None:
        errs = sum(p.severity == "error" for p in self.doc.problems)
        warns = len(self.doc.problems) - errs
        if not self.doc.analysis_enabled or (not self.doc.infos and self.doc.graph.nodes):
            self.status_valid.setText("Analysing…")
        elif errs:
            self.status_valid.setText(f"<span style='color:#e53935'>✖ {errs} error(s)</span>"
                                      f", {warns} warning(s)")
        else:
            self.status_valid.setText("<span style='color:#43a047'>✔ valid</span>"
                                      + (f", {warns} warning(s)" if warns else ""))
        params, flops = self.doc.totals()
        self.status_params.setText(f"{params:,} parameters")
        self.status_flops.setText(f"{short_int(flops)} FLOPs/sample")

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.doc.title}[*] — netbuilder")
        self.setWindowModified(self.doc.modified)

    def _selection_changed(self) -> None:
        ids = self.canvas.selected_node_ids()
        self.inspector.set_node(ids[0] if len(ids) == 1 else None)

    def _select_in_live_views(self) -> None:
        if not shiboken6.isValid(self.canvas):
            return  # the window is being torn down
        ids = self.canvas.selected_node_ids()
        if len(ids) == 1 and self.doc.levels.depth == 0:  # (ids inside a block differ)
            self.training.select_layer(ids[0])

    # ---- training, data and results ------------------------------------------------------

    def _edit_refused(self, reason: str) -> None:
        self.statusBar().showMessage(reason or "Editing is locked", 4000)

    def _lock_changed(self, locked: bool) -> None:
        stack = self.doc.undo_stack
        self.act_undo.setEnabled(not locked and stack.canUndo())
        self.act_redo.setEnabled(not locked and stack.canRedo())

    def _show_live(self) -> None:
        self.live_dock.show()
        self.live_dock.raise_()

    def _grow_live(self, visible: bool) -> None:
        if visible and self.live_dock.height() < 300:
            QTimer.singleShot(0, lambda: self.resizeDocks([self.live_dock], [330],
                                                          Qt.Vertical))

    def _run_finished(self, result) -> None:
        """A run ended: show its results from its folder."""
        out = self.training.bridge.out_dir
        if out is not None and getattr(result, "status", "") in ("completed", "stopped"):
            self.results_panel.show_run(out)

    def open_export_dialog(self) -> ExportDialog:
        dlg = ExportDialog(self.doc, weights=self.results_panel.checkpoint, parent=self)
        self.export_dialog = dlg
        dlg.show()
        return dlg

    def _project_replaced(self) -> None:
        self.inspector.set_node(None)
        self._update_title()
        QTimer.singleShot(0, self.view.fit_all)

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self._place_minimap()

    def showEvent(self, e):
        super().showEvent(e)
        self._place_minimap()

    def _place_minimap(self) -> None:
        vp = self.view.viewport()
        self.minimap.move(vp.width() - self.minimap.width() - 12,
                          vp.height() - self.minimap.height() - 12)

    # ---- editing ----------------------------------------------------------------------------

    def add_layer_at_center(self, type_name: str) -> str:
        center = self.view.mapToScene(self.view.viewport().rect().center())
        return self.canvas.add_node_at(type_name, QPointF(center))

    def select_all(self) -> None:
        for item in self.canvas.nodes.values():
            item.setSelected(True)

    def copy(self) -> None:
        ids = self.canvas.selected_node_ids()
        if not ids:
            return
        data = commands.clipboard_data(self.canvas.graph, ids)
        md = QMimeData()
        md.setData(NODES_MIME, json.dumps(data).encode("utf-8"))
        md.setText(json.dumps(data, indent=1))
        QGuiApplication.clipboard().setMimeData(md)

    def cut(self) -> None:
        self.copy()
        self.canvas.delete_selection()

    def paste(self) -> list[str]:
        md = QGuiApplication.clipboard().mimeData()
        if md is None or not md.hasFormat(NODES_MIME):
            return []
        try:
            data = json.loads(bytes(md.data(NODES_MIME)).decode("utf-8"))
            cmd, ids = commands.paste(self.canvas.graph, data)
        except (ValueError, KeyError, TypeError) as e:
            self.statusBar().showMessage(f"Cannot paste: {e}", 5000)
            return []
        self.doc.undo_stack.push(cmd)
        self.canvas.select_nodes(ids)
        return ids

    def duplicate(self) -> list[str]:
        ids = self.canvas.selected_node_ids()
        if not ids:
            return []
        graph = self.canvas.graph  # the shown level: the top graph or an opened block
        cmd, new = commands.paste(graph, commands.clipboard_data(graph, ids))
        cmd.setText("Duplicate")
        self.doc.undo_stack.push(cmd)
        self.canvas.select_nodes(new)
        return new

    def _node_double_clicked(self, node_id: str) -> None:
        if not self.blocks.open_instance(node_id):  # a block opens, other nodes rename
            self.rename_node(node_id)

    def rename_node(self, node_id: str | None = None) -> None:
        if node_id is None:
            ids = self.canvas.selected_node_ids()
            if len(ids) != 1:
                return
            node_id = ids[0]
        node = self.canvas.graph.node(node_id)
        name, ok = QInputDialog.getText(self, "Rename layer", "Name:", text=node.name)
        if ok and name.strip() and name != node.name:
            self.doc.undo_stack.push(commands.Rename(self.canvas.graph, node_id, name.strip()))

    def _extend_context_menu(self, menu, item) -> None:
        menu.addSeparator()
        for act in (self.act_cut, self.act_copy, self.act_paste, self.act_dup):
            menu.addAction(act)
        menu.addSeparator()
        for act in self.blocks.actions:
            if act.isEnabled():
                menu.addAction(act)

    # ---- files --------------------------------------------------------------------------------

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

    def new_project(self) -> None:
        if self.maybe_save():
            self.doc.set_project(Project())
            self.clear_recovery()

    def new_from_example(self) -> None:
        if not self.maybe_save():
            return
        dlg = ExampleGallery(self)
        if dlg.exec() and dlg.chosen():
            self.load_example(dlg.chosen())

    def load_example(self, name: str) -> None:
        self.doc.set_project(examples.load(name))
        self.clear_recovery()

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
            self.doc.open(path)
        except ProjectError as e:
            QMessageBox.warning(self, "Cannot open project", str(e))
            return False
        self._add_recent(Path(path))
        self.clear_recovery()
        return True

    def _trust_code_in(self, path: Path) -> bool:
        """A project that names code outside torch/torchvision (generic nodes) would run it
        when built: ask first, as opening a file must never run code nobody chose."""
        from ..importers.trust import trust, untrusted_packages

        packages = untrusted_packages(path)
        if not packages:
            return True
        answer = self.ask(
            self, "Run code from this project?",
            f"{path.name} uses code from {', '.join(packages)}. Opening it imports "
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

    # drop a project file on the window to open it
    def dragEnterEvent(self, e):
        if any(u.toLocalFile().endswith(".json") for u in e.mimeData().urls()):
            e.acceptProposedAction()

    def dropEvent(self, e):
        for u in e.mimeData().urls():
            if u.toLocalFile().endswith(".json") and self.maybe_save():
                self.open_path(u.toLocalFile())
                return

    def about(self) -> None:
        QMessageBox.about(self, "About netbuilder",
                          "<b>netbuilder</b><br>Design neural networks visually; see every "
                          "shape and mistake as you build; compile to real PyTorch.")
