"""The breadcrumb bar over the canvas while a block is open: Model › layer1 › Bottleneck.

Each level is a flat button; clicking one goes up to it. The bar sits at the top of the
canvas view and pushes the view's viewport down (so it never covers a node), and hides at
the top level.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QToolButton

from ..widgets import theme
from ..widgets.compact import ElidedLabel

SEPARATOR = "›"


class Breadcrumb(QFrame):
    def __init__(self, levels, view):
        super().__init__(view)
        self.levels, self.view = levels, view
        self.setObjectName("breadcrumb")
        self.setAutoFillBackground(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(8, 2, 8, 2)
        self.row.setSpacing(2)
        self.buttons: list[QToolButton] = []
        self._shown = None  # what the buttons say, to skip rebuilding them unchanged
        # elided when the canvas is narrow (the whole text is its tooltip)
        self.hint = ElidedLabel("Esc or Backspace: up a level · edits change every copy and "
                                "instance")
        self.hint.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        levels.changed.connect(self.refresh)
        levels.doc.analysisChanged.connect(self.refresh)  # instance names may change
        view.installEventFilter(self)
        self.refresh()

    def labels(self) -> list[str]:
        return [b.text() for b in self.buttons]

    def refresh(self) -> None:
        crumbs = self.levels.crumbs() if self.levels.depth else []
        shown = (crumbs, [(self.levels.copies(i), lv.copy)
                          for i, lv in enumerate(self.levels.stack)])
        if shown == self._shown:  # (after most edits: a rebuild would relayout the view)
            return
        self._shown = shown
        while self.row.count():
            w = self.row.takeAt(0).widget()
            if w is not None and w is not self.hint:
                w.deleteLater()
        self.buttons = []
        for depth, text in enumerate(crumbs):
            if depth:
                sep = QLabel(SEPARATOR)
                sep.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
                self.row.addWidget(sep)
            b = QToolButton(text=text, autoRaise=True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            last = depth == len(crumbs) - 1
            f = b.font()
            f.setBold(last)
            b.setFont(f)
            b.setToolTip("the level shown" if last else "go up to this level")
            b.clicked.connect(lambda _=False, d=depth: self.levels.go(d))
            if depth and self.levels.copies(depth - 1) > 1:
                # a repeat: the arrow picks which copy's shapes are shown
                b.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
                menu = QMenu(b)
                n, shown = self.levels.copies(depth - 1), self.levels.stack[depth - 1].copy
                for k in range(n):
                    act = menu.addAction(f"copy {k + 1} of {n}")
                    act.setCheckable(True)
                    act.setChecked(k == shown)
                    act.triggered.connect(
                        lambda _=False, i=depth - 1, k=k: self.levels.set_copy(i, k))
                b.setMenu(menu)
                b.setToolTip(b.toolTip() + "; the arrow shows another copy of the repeat")
            self.row.addWidget(b)
            self.buttons.append(b)
        self.row.addSpacing(16)
        self.row.addWidget(self.hint, 1)
        self.setVisible(bool(crumbs))
        self._place()

    def _place(self) -> None:
        h = self.sizeHint().height() if self.isVisibleTo(self.view) else 0
        if self.view.viewportMargins().top() != h:
            self.view.setViewportMargins(0, h, 0, 0)
        if h:
            frame = self.view.frameWidth()
            self.setGeometry(frame, frame, self.view.width() - 2 * frame, h)
            self.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.view and event.type() == QEvent.Type.Resize:
            self._place()
        return False
