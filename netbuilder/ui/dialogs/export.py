"""File > Export…: write the project as TorchScript, ONNX, torch.export, safetensors or
PyTorch source, with fresh or trained weights, and show the export's own verification.

The export runs in a worker thread on a snapshot of the project (edits made meanwhile do not
race with it). `netbuilder.export.export_project` writes beside the target, reloads the
artefact, compares it with the PyTorch model and renames it into place only when it
matches, so a failed export leaves nothing behind; the dialog shows its message.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
                               QPushButton, QRadioButton, QVBoxLayout, QWidget)

from ..document.document import Document
from ..widgets import theme
from ..widgets.background import Background
from ..widgets.forms import plain, tidy_form

# format key -> (label, suffix or "" for a folder, what it is for)
FORMATS = {
    "onnx": ("ONNX (.onnx)", ".onnx", "Runs in onnxruntime, TensorRT, browsers, phones…; "
             "verified with onnxruntime, dynamic batch size."),
    "pt2": ("torch.export (.pt2)", ".pt2", "PyTorch's exported program: load with "
            "torch.export.load, no netbuilder needed."),
    "torchscript": ("TorchScript (.pt)", ".pt", "Loads with torch.jit.load, also from C++ "
                    "(libtorch)."),
    "safetensors": ("safetensors weights (.safetensors)", ".safetensors",
                    "The weights only, as plain tensors (never pickled)."),
    "python": ("Python source (folder)", "", "A folder with model.py (a readable nn.Module), "
               "train.py and weights.pt."),
}
TORCHSCRIPT_NOTE = ("TorchScript is deprecated in current PyTorch: the file still loads with "
                    "torch.jit.load, but prefer torch.export (.pt2) for new deployments.")


class ExportDialog(QDialog):
    exported = Signal(object)  # the ExportReport
    failed = Signal(str)  # the message

    def __init__(self, doc: Document, weights: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.setWindowTitle("Export model")
        self.setMinimumWidth(560)
        self.report = None
        self.error = ""
        self.worker = Background(self)
        self.worker.done.connect(self._done)
        # replaced in tests; return "" to cancel
        self.ask_path = self._ask_path
        self.ask_folder = lambda: QFileDialog.getExistingDirectory(
            self, "Checkpoint folder", self.weights_edit.text())

        self.format = QComboBox()
        for key, (label, _, _) in FORMATS.items():
            self.format.addItem(label, key)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.format_doc = plain(QLabel(wordWrap=True))
        self.format_doc.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        self.note = plain(QLabel(TORCHSCRIPT_NOTE, wordWrap=True))
        self.note.setStyleSheet(f"color: {theme.css(theme.severity_colour('warning'))};")

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("where to write it")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse_path)
        self.browse_button = browse
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        self.fresh = QRadioButton("Fresh weights (initialised from the training seed)")
        self.trained = QRadioButton("Trained weights from a checkpoint folder:")
        group = QButtonGroup(self)
        group.addButton(self.fresh)
        group.addButton(self.trained)
        self.weights_edit = QLineEdit(weights or "")
        self.weights_edit.setPlaceholderText("runs/NAME/checkpoints/last")
        self.weights_edit.textEdited.connect(lambda _: self.trained.setChecked(True))
        wbrowse = QPushButton("Browse…")
        wbrowse.clicked.connect(self.browse_weights)
        self.weights_browse = wbrowse
        wrow = QHBoxLayout()
        wrow.setContentsMargins(20, 0, 0, 0)
        wrow.addWidget(self.weights_edit, 1)
        wrow.addWidget(wbrowse)
        (self.trained if weights else self.fresh).setChecked(True)

        form = QFormLayout()
        tidy_form(form)
        form.addRow("Format", self.format)
        form.addRow("", self.format_doc)
        form.addRow("Save to", path_row)
        weights_box = QVBoxLayout()
        weights_box.addWidget(self.fresh)
        weights_box.addWidget(self.trained)
        weights_box.addLayout(wrow)
        form.addRow("Weights", weights_box)

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # an indeterminate "working" bar
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(8)
        self.busy.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.result_text = QPlainTextEdit(readOnly=True)
        self.result_text.setFont(theme.monospace_font())
        self.result_text.setPlaceholderText("The verification result appears here.")
        self.result_text.setMinimumHeight(110)

        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.note)
        lay.addWidget(self.busy)
        lay.addWidget(self.status)
        lay.addWidget(self.result_text, 1)
        lay.addLayout(buttons)
        self._format_changed()

    # ---- choices -----------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        return self.format.currentData()

    def set_format(self, fmt: str) -> None:
        self.format.setCurrentIndex(self.format.findData(fmt))

    def _default_name(self) -> str:
        p = self.doc.path
        name = p.stem if p else (self.doc.project.name or "model")
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "model"

    def _format_changed(self) -> None:
        label, suffix, doc = FORMATS[self.fmt]
        self.format_doc.setText(doc)
        self.note.setVisible(self.fmt == "torchscript")
        text = self.path_edit.text().strip()
        if text:  # keep the name, change the suffix to the format's
            p = Path(text)
            known = {s for _, s, _ in FORMATS.values() if s}
            stem = p.with_suffix("") if p.suffix in known else p
            self.path_edit.setText(str(stem) + suffix)
        else:
            folder = self.doc.path.parent if self.doc.path else Path.cwd()
            self.path_edit.setText(str(folder / (self._default_name() + suffix)))

    def _ask_path(self) -> str:
        label, suffix, _ = FORMATS[self.fmt]
        if not suffix:
            return QFileDialog.getExistingDirectory(self, "Folder for the Python source",
                                                    str(Path(self.path_edit.text()).parent))
        path, _ = QFileDialog.getSaveFileName(self, "Export as", self.path_edit.text(),
                                              f"{label} (*{suffix})")
        return path

    def browse_path(self) -> None:
        path = self.ask_path()
        if path:
            suffix = FORMATS[self.fmt][1]
            if suffix and not path.endswith(suffix):
                path += suffix
            self.path_edit.setText(path)

    def browse_weights(self) -> None:
        folder = self.ask_folder()
        if folder:
            self.weights_edit.setText(folder)
            self.trained.setChecked(True)

    # ---- the export ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.worker.busy

    def start_export(self) -> None:
        from ...core.project import parse_project
        from ...export import export_project

        target = self.path_edit.text().strip()
        if not target:
            self._show_failure("Choose where to write the export.")
            return
        weights = None
        if self.trained.isChecked():
            weights = self.weights_edit.text().strip()
            if not weights:
                self._show_failure("Choose a checkpoint folder, or export fresh weights.")
                return
        project = parse_project(self.doc.project.to_json(), "the open project")  # a snapshot
        fmt, seed = self.fmt, project.training.seed
        self.report, self.error = None, ""
        self._set_busy(True)
        self.status.setText(f"Exporting to {FORMATS[fmt][0]} and verifying…")
        self.result_text.clear()
        self.worker.run(lambda: export_project(project, fmt, Path(target), weights=weights,
                                               seed=seed))

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        for w in (self.export_button, self.format, self.path_edit, self.browse_button,
                  self.fresh, self.trained, self.weights_edit, self.weights_browse):
            w.setEnabled(not busy)

    def _done(self, token: int, report, error) -> None:
        if token != self.worker.token:
            return
        self._set_busy(False)
        if error is not None:
            from ...export import ExportError

            msg = str(error) if isinstance(error, ExportError) else \
                f"{type(error).__name__}: {error}"
            self._show_failure(msg)
            return
        self.report = report
        ok = theme.css(theme.ok_colour(self.palette()))
        b1, b2 = report.batch_sizes
        self.status.setText(f"<span style='color:{ok}'>✔ Verified</span>: the exported model "
                            f"matches PyTorch (largest difference {report.max_diff:.3g} over "
                            f"batch sizes {b1} and {b2}) — written in {report.seconds:.1f} s")
        self.result_text.setPlainText(report.summary())
        self.exported.emit(report)

    def _show_failure(self, msg: str) -> None:
        self.error = msg
        err = theme.css(theme.severity_colour("error", self.palette()))
        self.status.setText(f"<span style='color:{err}'>✖ Export failed; nothing was "
                            f"written.</span>")
        self.result_text.setPlainText(msg)
        self.failed.emit(msg)

    def reject(self) -> None:
        if self.running:  # the worker cannot be interrupted; let it finish first
            self.status.setText("Still exporting; close the dialog when it has finished.")
            return
        super().reject()
