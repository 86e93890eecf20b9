"""Parameter editors generated from a `core.registry.Param` (used by the inspector, the Data
panel and the export dialog) and small form/label helpers.

A typed value is checked with `Param.check` before anything changes; a bad value stays in
the editor, framed in red, with a message saying what is wrong.
"""
from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QLabel, QLineEdit,
                               QSpinBox, QVBoxLayout, QWidget)

from ...core.registry import BOOL, CHOICE, FLOAT, INT, SHAPE, Param
from . import theme

INT_LIMIT = 2**31 - 1  # QSpinBox range when a Param has no bound


def fmt_count(n: int) -> str:
    return f"{n:,}"


def fmt_float(x: float) -> str:
    """Shortest text that reads back as the same float (0.1, 1e-05, 2.0)."""
    return repr(float(x))


def parse_shape(text: str) -> list[int]:
    """'1, 8, 8', '1 8 8', '1×8×8' or '[1, 8, 8]' -> [1, 8, 8]; ValueError with a message."""
    # 'x', '×' and '*' count as separators only between numbers ("1, x" stays an error).
    text = re.sub(r"(?<=\d)\s*[xX×*]\s*(?=[-−\d])", ",", text.replace("−", "-"))
    parts = [p for p in re.split(r"[\s,]+", text.strip().strip("[]()")) if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ValueError("must be whole numbers separated by commas, like 1, 8, 8") from None


def parse_float(text: str) -> float:
    try:
        return float(text.strip().replace("−", "-"))
    except ValueError:
        shown = text.strip() or "nothing"
        raise ValueError(f"must be a number such as 0.1 or 1e-5, not {shown!r}") from None


class _IntSpin(QSpinBox):
    """A spin box whose arrows stop at the Param's bounds while typing is unrestricted,
    so a typed out-of-range value reaches `Param.check` and gets an explanation instead
    of being silently refused (and a stored out-of-range value shows as it is)."""

    def __init__(self, param: Param):
        super().__init__()
        self.lo = int(param.min) if param.min is not None else -INT_LIMIT
        self.hi = int(param.max) if param.max is not None else INT_LIMIT
        self.setRange(-INT_LIMIT, INT_LIMIT)
        self.setKeyboardTracking(False)  # valueChanged on Enter / focus loss / arrows only
        self.setAccelerated(True)

    def stepBy(self, steps: int) -> None:
        target = min(max(self.value() + steps, self.lo), self.hi)
        if target != self.value():
            self.setValue(target)

    def stepEnabled(self):
        E = QSpinBox.StepEnabledFlag
        flags = E.StepNone
        if self.value() < self.hi:
            flags |= E.StepUpEnabled
        if self.value() > self.lo:
            flags |= E.StepDownEnabled
        return flags


class ErrorFrame(QFrame):
    """Holds one editor and can draw a red frame around it. Styling the frame, not the
    editor, keeps native editors intact (a style sheet on a QSpinBox breaks its arrows)."""

    def __init__(self, editor: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("errorFrame")
        self.editor = editor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(editor)
        self.set_invalid(False)  # the 1px border is always there, so nothing jumps

    def set_invalid(self, invalid: bool) -> None:
        colour = theme.css(theme.severity_colour('error')) if invalid else "transparent"
        self.setStyleSheet(f"#errorFrame {{ border: 1px solid {colour}; border-radius: 3px; }}")
        self.invalid = invalid


class ParamField(QWidget):
    """One parameter: its editor with a problem message underneath."""

    edited = Signal()  # the user finished an edit (not emitted while values are shown)

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self.shown: Any = None  # the stored value last displayed
        self.pending = False  # the editor holds a rejected value the user typed
        self.editor = self._make_editor(param)
        tip = param.doc + bounds_text(param)
        self.editor.setToolTip(tip)
        self.message = plain(QLabel(wordWrap=True))
        self.message.setStyleSheet(f"color: {theme.css(theme.severity_colour('error'))};")
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.frame = ErrorFrame(self.editor)
        layout.addWidget(self.frame)
        layout.addWidget(self.message)

    def _make_editor(self, p: Param) -> QWidget:
        if p.kind == INT:
            w = _IntSpin(p)
            w.valueChanged.connect(self.edited)
            w.editingFinished.connect(self.edited)
        elif p.kind == BOOL:
            w = QCheckBox()
            w.toggled.connect(self.edited)
        elif p.kind == CHOICE:
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self.edited)
        else:  # FLOAT, SHAPE, STR: typed text, parsed when the edit is finished
            w = QLineEdit()
            if p.kind == SHAPE:
                w.setPlaceholderText("e.g. 1, 8, 8")
            w.editingFinished.connect(self.edited)
        return w

    def show_value(self, value: Any) -> None:
        """Display a stored value without emitting `edited`."""
        w, kind = self.editor, self.param.kind
        self.shown, self.pending = value, False
        with QSignalBlocker(w):
            if kind == INT:
                w.setValue(int(min(max(value, -INT_LIMIT), INT_LIMIT))
                           if isinstance(value, (int, float)) else 0)
            elif kind == BOOL:
                w.setChecked(bool(value))
            elif kind == CHOICE:
                i = w.findData(value)
                if i < 0:  # a stored value outside the choices: show it so it can be fixed
                    w.addItem(f"{value} (invalid)", value)
                    i = w.count() - 1
                w.setCurrentIndex(i)
            elif kind == SHAPE and isinstance(value, (list, tuple)):
                w.setText(", ".join(str(v) for v in value))
            elif kind == FLOAT and isinstance(value, (int, float)) and not isinstance(value, bool):
                w.setText(fmt_float(value))
            else:
                w.setText(str(value))

    def read(self) -> tuple[Any, str | None]:
        """(value, None) or (None, message) for what the editor holds now."""
        w, kind = self.editor, self.param.kind
        try:
            if kind == INT:
                w.interpretText()
                return w.value(), None
            if kind == BOOL:
                return w.isChecked(), None
            if kind == CHOICE:
                return w.currentData(), None
            if kind == FLOAT:
                return parse_float(w.text()), None
            if kind == SHAPE:
                return parse_shape(w.text()), None
            return w.text(), None
        except ValueError as e:
            return None, str(e)

    def set_problem(self, message: str | None) -> None:
        self.message.setText(message or "")
        self.message.setVisible(bool(message))
        self.frame.set_invalid(bool(message))


def bounds_text(p: Param) -> str:
    if p.kind not in (INT, FLOAT, SHAPE) or (p.min is None and p.max is None):
        return ""
    lo = "" if p.min is None else Param._fmt(p.min)
    hi = "" if p.max is None else Param._fmt(p.max)
    return f" ({lo} … {hi})"


# ---- small layout helpers ----------------------------------------------------------------------

def tidy_form(form: QFormLayout) -> None:
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(6)


def value_label(text: str) -> QLabel:
    label = plain(QLabel(text))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def plain(label: QLabel) -> QLabel:
    """Messages quote what the user typed; never let Qt guess that it is HTML."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def rule() -> QFrame:
    # A flat 1px line in the theme's mid tone (a sunken HLine glares white in dark themes
    # whose palette leaves the Light role at its default).
    line = QFrame(frameShape=QFrame.Shape.NoFrame)
    line.setFixedHeight(1)
    line.setStyleSheet("background-color: palette(mid);")
    return line


def section(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def clear_layout(layout: QVBoxLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().hide()
            item.widget().deleteLater()
