"""The Data panel: choose the project's dataset, edit its options, preview it, and see
whether the graph fits it before training.

The dataset is part of the project: changes are `SetDataset` undo commands
(ui/document/dataset.py) and `doc.datasetChanged` says when it changed; a new document
(`projectReplaced`) rebuilds everything, the preview included.

Choosing a dataset also sets the Input node's shape and dtype to the data's (checkbox
"Match the Input node", on by default) in the same undo entry: a new dataset almost always
needs it, and one Ctrl+Z restores both. The "Match Input node" button does the same later,
e.g. after the graph was edited. Mismatches the Input cannot fix (output width, loss) are
explained by the training package's own `config.check`, run on every analysis update.

Loading for the preview runs in a worker thread (scikit-learn and torchvision sets take
0.1-2 s); torchvision sets are always previewed with download=false. An image folder's
preview scans the folder (names only; cached) and decodes the 32 images it shows; a
progress bar with a Cancel button follows the scan. What a load skipped or dropped (bad
images, CSV rows with missing cells) is listed under the counts. A CSV's columns get a role
each in the "Columns" table (the options roles and target).
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from ...core.project import DatasetChoice
from ...core.registry import Param
from ...data.preview import load_preview
from ...data.resources import Cancelled
from ..document.commands import MacroCommand
from ..document.dataset import SetDataset, change_dataset, input_mismatch, match_input_command
from ..document.document import Document
from ..widgets import theme
from ..widgets.background import Background
from ..widgets.compact import WidthFittingScroll
from ..widgets.forms import ParamField, plain, rule, section, tidy_form
from ..widgets.text import html, info_text
from .preview import Preview
from .roles import ColumnRoles


class DataPanel(QWidget):
    """Dataset chooser, option editors, preview, and the pre-training check."""

    previewReady = Signal()  # a preview (or its error message) is shown
    checked = Signal()  # the fit between graph and dataset was re-checked

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.fields: dict[str, ParamField] = {}
        self.preview_data: dict | None = None
        self.info = None  # DataInfo of the current choice, when known
        self.check_message = ""
        self.fits = False
        self._loaded_key = None
        self.loader = Background(self)
        self.loader.done.connect(self._preview_loaded)

        self.combo = QComboBox()
        self.combo.setModel(self._model())
        self.combo.setMaxVisibleItems(30)
        self.combo.activated.connect(self._combo_activated)
        self.doc_label = plain(QLabel(wordWrap=True))
        self.doc_label.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        self.info_label = plain(QLabel(wordWrap=True))
        self.match_box = QCheckBox("Match the Input node when choosing")
        self.match_box.setChecked(True)
        self.match_box.setToolTip("Set the Input node's shape and dtype to the dataset's, in "
                                  "the same undo step as the dataset change")
        self.match_button = QPushButton("Match Input node")
        self.match_button.setToolTip("Set the Input node's shape and dtype to the dataset's")
        self.match_button.clicked.connect(self.match_input)

        self.options_form = QFormLayout()
        self.split_form = QFormLayout()
        for f in (self.options_form, self.split_form):
            tidy_form(f)
        self.options_title = section("Options")
        self.counts_label = plain(QLabel())
        self.counts_label.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        self.notes_label = plain(QLabel(wordWrap=True))  # skipped files, dropped rows
        self.roles_title = section("Columns")
        self.roles = ColumnRoles()
        self.roles.edited.connect(self._roles_edited)
        self.check_label = QLabel(wordWrap=True)
        self.check_label.setTextFormat(Qt.TextFormat.RichText)
        self.check_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        side = QWidget()
        body = QVBoxLayout(side)
        body.setContentsMargins(10, 10, 10, 10)
        body.setSpacing(6)
        body.addWidget(section("Dataset"))
        body.addWidget(self.combo)
        body.addWidget(self.doc_label)
        body.addWidget(self.info_label)
        body.addWidget(self.match_box)
        body.addWidget(rule())
        body.addWidget(section("Fit with the graph"))  # first: it decides whether it trains
        body.addWidget(self.check_label)
        row = QHBoxLayout()
        row.addWidget(self.match_button)
        row.addStretch(1)
        body.addLayout(row)
        body.addWidget(rule())
        body.addWidget(self.options_title)
        body.addLayout(self.options_form)
        body.addWidget(self.roles_title)
        body.addWidget(self.roles)
        body.addWidget(section("Split and augmentation"))
        body.addLayout(self.split_form)
        body.addWidget(self.counts_label)
        body.addWidget(self.notes_label)
        body.addStretch(1)
        scroll = WidthFittingScroll(side)  # never cuts the column's right edge off

        self.preview = Preview()
        self.preview_title = section("Preview")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 10, 6, 6)
        rl.addWidget(self.preview_title)
        self.progress = QProgressBar()  # the scan of an image folder
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop scanning the folder")
        self.cancel_button.clicked.connect(self.cancel_preview)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        rl.addLayout(bar)
        rl.addWidget(self.preview, 1)
        self._progress_state = None  # (message, fraction) from the loading thread
        self._cancel = threading.Event()
        self._progress_timer = QTimer(self, interval=50)
        self._progress_timer.timeout.connect(self._show_progress)
        self._set_progress_visible(False)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([320, 600])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(0)
        self._check_timer.timeout.connect(self.run_check)
        doc.datasetChanged.connect(self.refresh)  # also emitted for a new document
        doc.analysisChanged.connect(self._check_timer.start)
        doc.trainingChanged.connect(self._check_timer.start)  # the loss is part of the check
        doc.lockChanged.connect(self._lock_changed)  # a run uses the data: no edits meanwhile
        self.refresh()

    def sizeHint(self) -> QSize:
        return QSize(900, 320)

    def _lock_changed(self, locked: bool) -> None:
        for w in [self.combo, self.match_button, self.match_box, self.roles] + [
                f.editor for f in self.fields.values()]:
            w.setEnabled(not locked)
        if not locked:
            self._update_augment()
            self.run_check()

    def _push(self, cmd) -> None:
        self.doc.undo_stack.push(cmd)
        self._show_choice()  # a refused push (document locked): show what is stored
        self._build_fields()

    # ---- the chooser -------------------------------------------------------------------

    def _model(self) -> QStandardItemModel:
        from ...data import all_specs

        model = QStandardItemModel(self)
        placeholder = QStandardItem("Choose a dataset…")
        placeholder.setData(None, Qt.ItemDataRole.UserRole)
        model.appendRow(placeholder)
        bold = QFont()
        bold.setBold(True)
        by_cat: dict[str, list] = {}
        for spec in all_specs():
            by_cat.setdefault(spec.category, []).append(spec)
        for cat, specs in by_cat.items():
            head = QStandardItem(cat)
            head.setFont(bold)
            head.setFlags(Qt.ItemFlag.NoItemFlags)
            model.appendRow(head)
            for spec in specs:
                extra = "" if spec.offline else ", local files"
                item = QStandardItem(f"    {spec.name}  ({spec.task}{extra})")
                item.setData(spec.name, Qt.ItemDataRole.UserRole)
                item.setToolTip(spec.doc)
                model.appendRow(item)
        return model

    def dataset_names(self) -> list[str]:
        m = self.combo.model()
        return [m.item(i).data(Qt.ItemDataRole.UserRole) for i in range(m.rowCount())
                if m.item(i).data(Qt.ItemDataRole.UserRole)]

    def _combo_activated(self, index: int) -> None:
        name = self.combo.itemData(index, Qt.ItemDataRole.UserRole)
        current = self.doc.project.dataset
        if name is None or (current is not None and current.name == name):
            self._show_choice()
            return
        self.choose(name)

    def choose(self, name: str) -> None:
        """Make `name` (with default options) the project's dataset: one undo entry."""
        self._push(change_dataset(self.doc, DatasetChoice(name=name, options={}),
                                  self.match_box.isChecked()))

    def match_input(self) -> None:
        cmd = match_input_command(self.doc, self.info)
        if cmd is not None:
            self._push(cmd)

    # ---- showing the choice ------------------------------------------------------------

    def spec(self):
        from ...data import DataError, get

        ds = self.doc.project.dataset
        if ds is None:
            return None
        try:
            return get(ds.name)
        except DataError:
            return None

    def refresh(self) -> None:
        self._show_choice()
        self._build_fields()
        self._update_info()
        self._load_preview()
        self._check_timer.start()

    def _show_choice(self) -> None:
        ds = self.doc.project.dataset
        i = self.combo.findData(ds.name if ds else None, Qt.ItemDataRole.UserRole)
        self.combo.setCurrentIndex(max(0, i))
        spec = self.spec()
        if ds is not None and spec is None:
            self.doc_label.setText(f"Unknown dataset {ds.name!r}; choose another.")
        else:
            self.doc_label.setText(spec.doc if spec else "The project has no dataset yet.")

    def _build_fields(self) -> None:
        spec = self.spec()
        names = tuple(p.name for p in spec.all_params) if spec else ()
        if tuple(self.fields) != names:
            for form in (self.options_form, self.split_form):
                while form.rowCount():
                    form.removeRow(0)
            self.fields = {}
            if spec:
                for p in spec.all_params:
                    f = ParamField(p)
                    f.edited.connect(lambda p=p: self._field_edited(p))
                    form = self.split_form if p in _common() else self.options_form
                    label = QLabel(p.name.replace("_", " "))
                    label.setToolTip(p.doc)
                    form.addRow(label, f)
                    self.fields[p.name] = f
        self.options_title.setVisible(bool(spec and spec.params))
        self._show_roles()
        if spec:
            opts = {p.name: p.default for p in spec.all_params}
            opts.update(self.doc.project.dataset.options)
            for name, f in self.fields.items():
                f.show_value(opts.get(name))
                f.set_problem(None)
            self._problem_from_fill()
        self._update_augment()

    def _show_roles(self) -> None:
        """The Columns table, for a CSV whose header can be read (first line only)."""
        from ...data import DataError
        from ...data.csvfile import header, parse_roles

        ds, columns, roles = self.doc.project.dataset, [], {}
        if ds is not None and ds.name == "csv" and ds.options.get("path"):
            try:
                path = self.spec().fill(ds.options)["path"]
                columns = header(_expand(path))
                roles = parse_roles(ds.options.get("roles", ""), columns, path)
            except (DataError, OSError, ValueError):
                columns = columns or []
        self.roles.show_columns(columns, ds.options.get("target", "") if ds else "", roles)
        for w in (self.roles_title, self.roles):
            w.setVisible(bool(columns))

    def _roles_edited(self, roles: str, target: str) -> None:
        ds = self.doc.project.dataset
        options = {k: v for k, v in ds.options.items() if k not in ("roles", "target")}
        options.update({k: v for k, v in (("roles", roles), ("target", target)) if v})
        self._push(SetDataset(self.doc, DatasetChoice(name=ds.name, options=options),
                              f"Dataset {ds.name}: column roles", merge_key="roles"))

    def _update_augment(self) -> None:
        f = self.fields.get("augment")
        if f is None:
            return
        p = self.preview_data
        ok = bool(p and p["augmentable"]) if p else True
        f.editor.setEnabled(ok or bool(f.shown))
        f.editor.setToolTip(f.param.doc if ok else "augmentation works on image datasets only")

    def _problem_from_fill(self) -> str | None:
        """Show the registry's own complaint about the stored options (e.g. fractions that
        leave no training data) under the field it names, or the fraction fields."""
        spec, ds = self.spec(), self.doc.project.dataset
        try:
            spec.fill(ds.options)
        except ValueError as e:
            msg = str(e)
            target = next((n for n in self.fields if f"option {n} " in msg), None)
            for n in ([target] if target else ["val_fraction", "test_fraction"]):
                if n in self.fields:
                    self.fields[n].set_problem(msg)
            return msg
        return None

    def _field_edited(self, p: Param) -> None:
        f = self.fields[p.name]
        value, msg = f.read()
        if msg is None:
            msg = p.check(value)
            msg = f"{p.name} {msg}" if msg else None
        if msg:
            f.set_problem(msg)
            return
        ds = self.doc.project.dataset
        if value == f.shown:
            f.set_problem(None)
            return
        options = dict(ds.options)
        options[p.name] = value
        if value == p.default:
            options.pop(p.name)
        try:
            self.spec().fill(options)  # the registry's own cross-option checks
        except ValueError as e:
            f.set_problem(str(e))
            return
        f.set_problem(None)
        choice = DatasetChoice(name=ds.name, options=options)
        cmd = SetDataset(self.doc, choice, f"Dataset {ds.name}: {p.name}", merge_key=p.name)
        if p.name in [q.name for q in self.spec().params] and self.match_box.isChecked():
            # an option such as window or max_len changes the input shape: match it too
            spec = self.spec()
            try:
                info = spec.info(spec.fill(options)) if spec.info else None
            except ValueError:
                info = None
            params = match_input_command(self.doc, info)
            if params is not None:
                macro = MacroCommand(cmd.text())
                macro.children = [cmd, params]
                cmd = macro
        self._push(cmd)

    def _update_info(self) -> None:
        spec, ds = self.spec(), self.doc.project.dataset
        self.info = None
        if spec is not None and spec.info is not None:
            try:
                self.info = spec.info(spec.fill(ds.options))
            except ValueError:
                self.info = None
        if self.info is None and self.preview_data and ds and \
                self.preview_data["key"] == _key(ds):
            self.info = self.preview_data["info"]
        self.info_label.setText(info_text(self.info) if self.info else "")

    # ---- preview -----------------------------------------------------------------------

    def _load_preview(self) -> None:
        ds, spec = self.doc.project.dataset, self.spec()
        if ds is None or spec is None:
            self._loaded_key = None
            self.preview_data = None
            self.loader.token += 1  # a load still running for the previous choice is stale
            self.preview_title.setText("Preview")
            self.preview.show_message("Choose a dataset to preview it.")
            self.counts_label.setText("")
            self.previewReady.emit()
            return
        key = _key(ds)
        if key == self._loaded_key:
            return
        self._loaded_key = key
        try:
            spec.fill(ds.options)
        except ValueError as e:
            self.preview_data = None
            self.loader.token += 1
            self.preview_title.setText("Preview")
            self.preview.show_message(str(e))
            self.previewReady.emit()
            return
        self.preview_title.setText(f"Preview — loading {ds.name}…")
        options = dict(ds.options)
        self._cancel.set()  # a scan still running for the previous choice stops
        cancel = self._cancel = threading.Event()
        self._progress_state = ("Scanning…", None)
        if spec.preview is not None:  # it scans: show the bar until the preview arrives
            self._set_progress_visible(True)
            self._show_progress()
            self._progress_timer.start()

        def progress(message, fraction):
            self._progress_state = (message, fraction)  # read by the UI thread's timer
        self.loader.run(lambda: {**load_preview(ds.name, options, progress, cancel.is_set),
                                 "key": key})

    def cancel_preview(self) -> None:
        """Stop the running scan; the preview then says it was cancelled."""
        self._cancel.set()

    def _set_progress_visible(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)
        if not on:
            self._progress_timer.stop()

    def _show_progress(self) -> None:
        message, fraction = self._progress_state or ("Scanning…", None)
        if fraction is None:
            self.progress.setRange(0, 0)  # busy: how much is left is not known yet
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * fraction))
        self.progress.setFormat(message)

    def _preview_loaded(self, token: int, result, error) -> None:
        if token != self.loader.token:
            return  # a newer choice is loading
        self._show_progress()  # the scan's last word, e.g. how many files it found
        self._set_progress_visible(False)
        self.notes_label.setText("")
        if isinstance(error, Cancelled):
            self.preview_data, self._loaded_key = None, None  # a later refresh scans again
            self.preview_title.setText("Preview")
            self.preview.show_message("Scan cancelled. Change an option or choose the "
                                      "dataset again to scan the folder.")
            self.counts_label.setText("")
        elif error is not None:
            self.preview_data = None
            self.preview_title.setText("Preview")
            self.preview.show_message(str(error) if isinstance(error, ValueError)
                                      else f"{type(error).__name__}: {error}")
            self.counts_label.setText("")
        else:
            self.preview_data = result
            tr, va, te = result["counts"]
            self.counts_label.setText(f"{tr:,} training · {va:,} validation · {te:,} test "
                                      f"samples")
            self.preview_title.setText(f"Preview — {result['name']}")
            self.notes_label.setText("\n".join(result["info"].notes))
            self.preview.show_preview(result)
            self._update_info()
            self._update_augment()
            self._check_timer.start()
        self.previewReady.emit()

    # ---- the pre-training check --------------------------------------------------------

    def run_check(self) -> None:
        """Ask the training package whether this graph can train on this dataset."""
        if not self.doc.analysis_enabled:
            return  # needs torch; the first analysisChanged (torch ready) runs it again
        from ...training.config import TrainingConfigError, check

        ds = self.doc.project.dataset
        mismatch = input_mismatch(self.doc.graph, self.info)
        self.match_button.setEnabled(mismatch is not None)
        ok_c = theme.css(theme.ok_colour())
        err_c = theme.css(theme.severity_colour("error"))
        if ds is None:
            self.fits, self.check_message = False, "Choose a dataset to check the graph."
            self.check_label.setText(self.check_message)
        elif self.info is None:
            self.fits, self.check_message = False, "Waiting for the data…"
            self.check_label.setText(self.check_message)
        else:
            try:
                plan = check(self.doc.graph, self.doc.project.training, self.info, ds.name,
                             device="cpu")
            except TrainingConfigError as e:
                self.fits, self.check_message = False, str(e)
                lines = str(e).splitlines()
                items = "".join(f"<li>{html(line.strip().lstrip('- '))}</li>"
                                for line in lines[1:])
                self.check_label.setText(f"<span style='color:{err_c}'>✖ {html(lines[0])}"
                                         f"</span><ul style='margin-left:-20px'>{items}</ul>")
            except Exception as e:  # noqa: BLE001 (an analysis failure must not break the panel)
                self.fits, self.check_message = False, f"{type(e).__name__}: {e}"
                self.check_label.setText(html(self.check_message))
            else:
                self.fits = True
                self.check_message = (f"Ready to train: the graph fits {ds.name} "
                                      f"(loss {self.doc.project.training.loss}, output width "
                                      f"{plan.output_width})")
                warn = "".join(f"<br>{html(w)}" for w in plan.warnings)
                self.check_label.setText(f"<span style='color:{ok_c}'>✔ "
                                         f"{html(self.check_message)}</span>{warn}")
        self.checked.emit()


def _expand(path: str):
    import os
    from pathlib import Path

    return Path(os.path.expanduser(path))


def _key(ds: DatasetChoice):
    return ds.name, tuple(sorted(ds.options.items()))


def _common() -> tuple[Param, ...]:
    from ...data.registry import COMMON
    return COMMON
