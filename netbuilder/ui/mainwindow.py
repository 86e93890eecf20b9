"""The main window, the composition root: it creates every dock and menu and does all the
wiring between the features (editor, training, data, results, dialogs), which never import
each other. The layer palette on the left, the canvas in the centre, the inspector and the
training settings as tabs on the right (both full height), and below the canvas the details
(problems, summary, code, data, results) with the live views as a tab beside them. The
window fits the screen, and its layout is remembered between launches (View > Reset Layout).
"""
from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QInputDialog, QLabel,
                               QMainWindow, QMessageBox, QTabWidget, QWidget)

from .. import examples
from ..document import RunRecord
from .data.panel import DataPanel
from .dialogs import help as help_dialogs
from .dialogs.export import ExportDialog
from .dialogs.gallery import ExampleGallery
from .document import commands, persistence
from .document.document import Document
from .editor.block_actions import BlockActions
from .editor.tuning_actions import TuningActions
from .editor.breadcrumb import Breadcrumb
from .editor.clipboard import NodeClipboard
from .editor.inspector import Inspector
from .editor.palette import Palette
from .editor.palette_blocks import PaletteBlocks
from .editor.panels import CodePanel, ProblemsPanel, SummaryPanel
from .editor.scene import Canvas
from .editor.view import CanvasView, LockBanner, Minimap
from .experiments.compare import CompareOverlay
from .experiments.panel import ExperimentsPanel
from .insight.panel import InsightPanel
from .preflight import PreflightPanel
from .results.panel import ResultsPanel
from .training.feature import TrainingUi
from .window_files import ProjectFiles
from .widgets.compact import ScrollingTabs, scrollable
from .widgets.text import short_int
from .widgets.window_layout import LayoutStore, dock_action, fit_to_screen, hide_spare_tab_bars

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def app_icon() -> QIcon:
    for name in ("netbuilder.svg", "netbuilder.png"):
        if (ASSETS / name).exists():
            return QIcon(str(ASSETS / name))
    return QIcon()


class MainWindow(ProjectFiles, QMainWindow):
    closed = Signal()  # the window accepted a close (after the unsaved-changes question)
    AUTOSAVE_MS = 5000
    LAYOUT_VERSION = 2  # bump when the docks change: a layout saved before is then ignored

    def __init__(self, doc: Document | None = None, restore_layout: bool = True):
        super().__init__()
        self.doc = doc or Document(parent=self)
        self.setWindowIcon(app_icon())
        self.canvas = Canvas(self.doc, self)
        self.clipboard = NodeClipboard(self.canvas, self.doc,
                                       lambda text: self.statusBar().showMessage(text, 5000))
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
        self.tuning = TuningActions(self.doc, self.canvas, self)  # freeze, load weights, fit head
        self.view.key_hook = self.blocks.key_pressed
        self.view.block_drop_hook = self.blocks.add_block_at
        self.inspector = Inspector(self.doc)
        self.problems_panel = ProblemsPanel(self.doc)
        self.summary_panel = SummaryPanel(self.doc)
        self.code_panel = CodePanel(self.doc)
        self.training = TrainingUi(self.doc, self)
        self.data_panel = DataPanel(self.doc)
        self.results_panel = ResultsPanel(self.doc)
        self.insight = InsightPanel(self.doc)  # step-through, attributions, projector
        self.preflight = PreflightPanel(self.doc)
        self.experiments = ExperimentsPanel(self.doc)  # sweeps; compare versions on the canvas
        self.compare = CompareOverlay(self.doc, self.canvas, self.view)
        self.banner = LockBanner(self.doc, self.view)
        self.export_dialog: ExportDialog | None = None

        # ---- docks ----
        self.bottom = ScrollingTabs()  # pages scroll rather than push the window taller
        for widget, title in ((self.problems_panel, "Problems"), (self.summary_panel, "Summary"),
                              (self.code_panel, "Code"), (self.data_panel, "Data"),
                              (self.results_panel, "Results"), (self.insight, "Insight"),
                              (self.preflight, "Pre-flight"),
                              (self.experiments, "Experiments")):
            self.bottom.addTab(widget, title)
        self.layers_dock = self._dock("Layers", self.palette_panel)
        self.inspector_dock = self._dock("Inspector", self.inspector)
        self.training_dock = self._dock("Training", scrollable(self.training.panel))
        self.details_dock = self._dock("Details", self.bottom)
        self.live_dock = self._dock("Live", scrollable(self.training.views))
        self.setDockNestingEnabled(True)
        for corner, area in ((Qt.TopLeftCorner, Qt.LeftDockWidgetArea),
                             (Qt.BottomLeftCorner, Qt.LeftDockWidgetArea),
                             (Qt.TopRightCorner, Qt.RightDockWidgetArea),
                             (Qt.BottomRightCorner, Qt.RightDockWidgetArea)):
            self.setCorner(corner, area)  # side columns full height, details under the canvas
        self.setTabPosition(Qt.RightDockWidgetArea, QTabWidget.North)
        self._arrange_docks()
        self.layout_store = LayoutStore(persistence.state_dir() / "layout.ini",
                                        self.LAYOUT_VERSION)
        self._sized = False  # the default dock sizes wait for the window's real size

        # ---- menus, toolbar, status bar ----
        self._build_actions()
        self._build_status()
        self._update_title()
        self.ask = QMessageBox.question  # replaced in tests to answer prompts

        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start(self.AUTOSAVE_MS)
        self._wire()
        if restore_layout and self.layout_store.restore(self):
            self._sized = True
        else:
            fit_to_screen(self)

    def _wire(self) -> None:
        """Everything that connects one feature to another."""
        doc, canvas, training = self.doc, self.canvas, self.training
        self.palette_panel.addRequested.connect(self.add_layer_at_center)
        self.palette_panel.blockRequested.connect(self.blocks.add_block_at_center)
        self.blocks.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.tuning.message.connect(self._show_message)
        self.palette_blocks.message.connect(lambda t: self.statusBar().showMessage(t, 6000))
        self.problems_panel.nodeActivated.connect(self.blocks.show_path_to)
        self.problems_panel.blockNodeActivated.connect(self.blocks.show_in_block)
        self.problems_panel.pathActivated.connect(self.blocks.show_path)
        self.summary_panel.nodeActivated.connect(self.blocks.show_path_to)
        self.summary_panel.pathActivated.connect(self.blocks.show_path)
        canvas.selectionChanged.connect(self._selection_changed)
        canvas.selectionChanged.connect(self._select_in_live_views)
        canvas.nodeDoubleClicked.connect(self._node_double_clicked)
        canvas.message.connect(self._show_message)
        doc.analysisChanged.connect(self._update_status)
        doc.undo_stack.cleanChanged.connect(self._update_title)
        doc.pathChanged.connect(self._update_title)
        doc.projectReplaced.connect(self._project_replaced)
        doc.editRefused.connect(self._edit_refused)
        doc.lockChanged.connect(self._lock_changed)
        training.badgesChanged.connect(canvas.set_badges)
        training.failedAt.connect(self.blocks.show_path_to)  # a top-level node
        training.runStarting.connect(self._show_live)
        training.trainRefused.connect(self._train_refused)
        training.panel.start_guard = self._preflight_guard
        training.panel.lrFindRequested.connect(self._find_lr)
        # the document's run state follows the training process; the model derives the
        # edit lock from it (netbuilder/document/model.py)
        training.bridge.stateChanged.connect(doc.set_run_state)
        training.runStarting.connect(self.training_dock.raise_)
        training.bridge.finished.connect(self._run_finished)
        self.live_dock.visibilityChanged.connect(self._grow_live)
        self.insight.nodeHighlighted.connect(self.blocks.show_path)
        self.insight.wiresChanged.connect(canvas.set_wire_notes)
        self.insight.try_it_input = self.results_panel.try_it.current_input
        self.results_panel.evaluated.connect(
            lambda: self.insight.set_evaluation(self.results_panel.evaluation))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(training.shutdown)
        self.closed.connect(training.shutdown)
        for source in (self.inspector, training.panel):  # "Sweep this"
            source.sweepRequested.connect(self._sweep_this)
        self.experiments.trialActivated.connect(self._show_trial)
        self.experiments.trialOpened.connect(lambda p: self.maybe_save() and self.open_path(p))
        self.experiments.message.connect(self._show_message)
        self.closed.connect(self.experiments.shutdown)

    def _sweep_this(self, name: str, value) -> None:
        self.experiments.add_param(name, value)
        self.details_dock.raise_()
        self.bottom.setCurrentWidget(self.experiments)

    def _show_trial(self, folder: str) -> None:
        """A sweep trial: its curves over the run history's, its graph over the canvas."""
        self.results_panel.history.add_run(folder)
        self.compare.compare_with_path(folder, f"trial {Path(folder).name}")

    def _dock(self, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable
                         | QDockWidget.DockWidgetFloatable)
        return dock

    # ---- layout -------------------------------------------------------------------------------

    def _arrange_docks(self) -> None:
        """The default arrangement (at start-up without a saved layout, and Reset Layout)."""
        for dock, area in ((self.layers_dock, Qt.LeftDockWidgetArea),
                           (self.inspector_dock, Qt.RightDockWidgetArea),
                           (self.details_dock, Qt.BottomDockWidgetArea)):
            dock.setFloating(False)
            self.addDockWidget(area, dock)
            dock.show()
        # one tab group on the right (inspector | training), one below (details | live)
        for first, second in ((self.inspector_dock, self.training_dock),
                              (self.details_dock, self.live_dock)):
            second.setFloating(False)
            self.tabifyDockWidget(first, second)
            second.show()
        if not self.isVisible():
            hide_spare_tab_bars(self)
        self.training_dock.raise_()  # nothing is selected yet: the settings, not the inspector
        self.details_dock.raise_()

    def _size_docks(self) -> None:
        """Dock sizes as shares of the window: the canvas keeps well over 40 % of it."""
        w, h = self.width(), self.height()
        left = int(min(max(0.15 * w, 180), 280))
        right = int(min(max(0.2 * w, 240), 360))
        # ...but wide enough that the training settings show whole in the font in use
        style = self.style()
        need = (self.training.panel.minimumSizeHint().width()
                + style.pixelMetric(style.PixelMetric.PM_ScrollBarExtent)
                + 2 * style.pixelMetric(style.PixelMetric.PM_DockWidgetFrameWidth) + 4)
        right = min(max(right, need), int(0.3 * w))
        # the details take a larger share of a taller window (the canvas needs less of it):
        # ~22 % at 768 px, 27 % at 1080, 25 % (360) at 1440
        bottom = int(min(max(0.4 * h - 140, 140), 360))
        self.resizeDocks([self.layers_dock, self.inspector_dock], [left, right], Qt.Horizontal)
        self.resizeDocks([self.details_dock], [bottom], Qt.Vertical)

    def reset_layout(self) -> None:
        """View > Reset Layout: the default docks and sizes; the saved layout is forgotten."""
        self.layout_store.clear()
        self._arrange_docks()
        self._size_docks()

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
        self._action(f, "Compare &with…", lambda: self.compare.ask_and_compare(
            self, self.doc.model.runs))
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
        e.addSeparator()
        for act in self.tuning.selection_actions:
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
        self.dock_actions = {}
        for i, dock in enumerate((self.layers_dock, self.inspector_dock, self.training_dock,
                                  self.details_dock, self.live_dock), start=1):
            self.dock_actions[dock.objectName()] = act = dock_action(self, dock, K(f"Ctrl+{i}"))
            v.addAction(act)
        v.addSeparator()
        self._action(v, "&Reset Layout", self.reset_layout)

        t = mb.addMenu("&Train")
        for act in self.training.panel.actions:
            t.addAction(act)
        t.addSeparator()
        for act in self.tuning.actions[3:]:  # fit the head, load / forget weights
            t.addAction(act)
        t.addSeparator()
        t.addAction(self.dock_actions["Training"])
        t.addAction(self.dock_actions["Live"])
        bar = self.addToolBar("Training")
        bar.setObjectName("Training toolbar")
        for act in self.training.panel.actions:
            bar.addAction(act)

        h = mb.addMenu("&Help")
        self._action(h, "&Quick Start", lambda: help_dialogs.show_quick_start(self),
                     K.keyBindings(K.HelpContents))
        self._action(h, "&Keyboard Shortcuts", self.show_shortcuts, K("Ctrl+/"))
        h.addSeparator()
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
        first = self.doc.first_error
        self.status_valid.setToolTip(first.message if first else "")
        if not self.doc.analysis_enabled or (not self.doc.infos and self.doc.graph.nodes):
            self.status_valid.setText("Analysing…")
        elif not errs and self.doc.analysis_pending():  # a user dataset is being read
            self.status_valid.setText("Checking the data…")
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
        if not shiboken6.isValid(self.canvas):
            return  # the window is being torn down
        ids = self.canvas.selected_node_ids()
        self.doc.model.set_selection(ids)
        self.inspector.set_node(ids[0] if len(ids) == 1 else None)
        if len(ids) == 1 and not self.inspector_dock.isHidden():
            self.inspector_dock.raise_()  # it shares the right column with Training

    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

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
        if visible and not self.live_dock.isFloating():
            QTimer.singleShot(0, self._live_height)  # its geometry is stale until then

    def _live_height(self) -> None:
        want = min(330, int(0.4 * self.height()))  # the canvas keeps most of a small window
        if self.live_dock.isVisible() and self.live_dock.height() < want - 30:
            self.resizeDocks([self.live_dock], [want], Qt.Vertical)

    def _train_refused(self, problem) -> None:
        """Train was refused by the analysis: keep the Problems list in view with its first
        error selected (and its layer shown), not the empty Live views."""
        details = self.findChild(QDockWidget, "Details")
        if details is not None:
            details.show()
            details.raise_()
        self.bottom.setCurrentWidget(self.problems_panel)
        self.problems_panel.select_first_error()
        if problem.node_id and problem.node_id in self.doc.graph.nodes:
            self.canvas.select_nodes([problem.node_id])
            self.view.center_on_node(problem.node_id)
        self.statusBar().showMessage(f"Cannot train: {problem.message}", 10000)

    def _preflight_guard(self) -> str | None:
        """Before Train: a run that will not fit is stopped, with Pre-flight in view."""
        why = self.preflight.train_guard()
        if why:
            self.details_dock.show()
            self.details_dock.raise_()
            self.bottom.setCurrentWidget(self.preflight)
        return why

    def _find_lr(self) -> None:
        self.details_dock.show()
        self.details_dock.raise_()
        self.bottom.setCurrentWidget(self.preflight)
        self.preflight.run_lr_find()

    def _run_finished(self, result) -> None:
        """A run ended: it joins this document's history; show its results."""
        out = self.training.bridge.out_dir
        status = getattr(result, "status", "")
        if out is not None and status:
            self.doc.model.add_run(RunRecord(Path(out), status,
                                             getattr(result, "epochs_done", 0)))
        if out is not None and status in ("completed", "stopped"):
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

    def showEvent(self, e):
        super().showEvent(e)
        if not self._sized:
            self._sized = True
            self._size_docks()

    # ---- editing ----------------------------------------------------------------------------

    def add_layer_at_center(self, type_name: str) -> str:
        center = self.view.mapToScene(self.view.viewport().rect().center())
        return self.canvas.add_node_at(type_name, QPointF(center))

    def select_all(self) -> None:
        for item in self.canvas.nodes.values():
            item.setSelected(True)

    # the clipboard actions live with the editor (editor/clipboard.py)
    def copy(self) -> None:
        self.clipboard.copy()

    def cut(self) -> None:
        self.clipboard.cut()

    def paste(self) -> list[str]:
        return self.clipboard.paste()

    def duplicate(self) -> list[str]:
        return self.clipboard.duplicate()

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
        menu.addSeparator()
        for act in self.tuning.selection_actions:
            if act.isEnabled():
                menu.addAction(act)

    # ---- files (the rest is in window_files.py) ---------------------------------------------

    def new_from_example(self) -> None:
        if not self.maybe_save():
            return
        dlg = ExampleGallery(self)
        if dlg.exec() and dlg.chosen():
            self.load_example(dlg.chosen())

    def load_example(self, name: str) -> bool:
        return self.replace_document(examples.load(name))

    # drop a project file on the window to open it
    def dragEnterEvent(self, e):
        if any(u.toLocalFile().endswith(".json") for u in e.mimeData().urls()):
            e.acceptProposedAction()

    def dropEvent(self, e):
        for u in e.mimeData().urls():
            if u.toLocalFile().endswith(".json") and self.maybe_save():
                self.open_path(u.toLocalFile())
                return

    def show_shortcuts(self) -> None:
        self.shortcuts_box = help_dialogs.show_shortcuts(self, self.menuBar())

    def about(self) -> None:
        QMessageBox.about(self, "About netbuilder",
                          "<b>netbuilder</b><br>Design neural networks visually; see every "
                          "shape and mistake as you build; compile to real PyTorch.")
