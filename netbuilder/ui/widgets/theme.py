"""Colours and fonts shared by the panels, derived from the application palette.

Widgets ask for colours here instead of hard-coding them, so the same code reads well in a
light and a dark theme. `dark_palette()` / `light_palette()` are helpers for the app to
offer a theme switch (use them with the Fusion style, which honours every palette role).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

# One hue per registry category; saturated enough for a dot or a node header in either theme.
CATEGORY_COLOURS = {
    "Input/Output": "#607d8b",
    "Dense": "#3f7fd9",
    "Convolution": "#2e9d8f",
    "Pooling": "#5aa13a",
    "Normalization": "#a77bd1",
    "Shape": "#8d8d8d",
    "Activation": "#e08a1e",
    "Sequence": "#d0527a",
    "Merge": "#b08d2a",
    "Blocks": "#5c6bc0",  # block instances and ports: indigo, unlike any layer
}
_FALLBACK = "#8d8d8d"

# The one palette for classes and for series of equal rank (training vs validation, layers,
# runs): Tableau 10, readable on light and dark backgrounds.
CLASS_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                 "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")

# (light theme, dark theme): dark backgrounds need lighter tints to stay readable.
_SEVERITY = {"error": ("#c62828", "#ff6b6b"), "warning": ("#b26a00", "#ffb74d")}
_OK = ("#2e7d32", "#81c784")


def palette() -> QPalette:
    return QApplication.palette()


def is_dark(pal: QPalette | None = None) -> bool:
    pal = pal or palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def category_colour(category: str) -> QColor:
    return QColor(CATEGORY_COLOURS.get(category, _FALLBACK))


def severity_colour(severity: str, pal: QPalette | None = None) -> QColor:
    light, dark = _SEVERITY.get(severity, _SEVERITY["error"])
    return QColor(dark if is_dark(pal) else light)


def ok_colour(pal: QPalette | None = None) -> QColor:
    return QColor(_OK[1] if is_dark(pal) else _OK[0])


def muted_colour(pal: QPalette | None = None) -> QColor:
    """Secondary text (docs, hints): the placeholder colour of the current theme."""
    return (pal or palette()).color(QPalette.ColorRole.PlaceholderText)


def class_colour(i: int) -> QColor:
    """The colour of class (or series) number i."""
    return QColor(CLASS_COLOURS[int(i) % len(CLASS_COLOURS)])


def css(colour: QColor) -> str:
    return colour.name(QColor.NameFormat.HexRgb)


def dot_icon(colour: QColor, size: int = 12, mark: str = "") -> QIcon:
    """A filled circle, optionally with a one-character mark (for severity icons)."""
    ratio = 2.0  # draw at 2x so the icon stays crisp on high-dpi screens
    pix = QPixmap(int(size * ratio), int(size * ratio))
    pix.setDevicePixelRatio(ratio)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawEllipse(QPointF(size / 2, size / 2), size / 2 - 0.5, size / 2 - 0.5)
    if mark:
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(size * 0.75))
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, mark)
    p.end()
    return QIcon(pix)


def severity_icon(severity: str) -> QIcon:
    return dot_icon(severity_colour(severity), 14, "!" if severity == "warning" else "×")


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    # Some platforms report a bare family name; the hints make the matcher pick a mono face.
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setFixedPitch(True)
    return font


# ---- whole-application palettes (for a theme switch) ---------------------------------------

def _build(colours: dict[QPalette.ColorRole, str], disabled_text: str) -> QPalette:
    pal = QPalette()
    for role, value in colours.items():
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled_text))
    return pal


def dark_palette() -> QPalette:
    R = QPalette.ColorRole
    return _build({
        R.Window: "#2b2d30", R.WindowText: "#dfe1e5", R.Base: "#1e1f22",
        R.AlternateBase: "#26282b", R.ToolTipBase: "#3c3f41", R.ToolTipText: "#dfe1e5",
        R.PlaceholderText: "#8c9096", R.Text: "#dfe1e5", R.Button: "#393b40",
        R.ButtonText: "#dfe1e5", R.BrightText: "#ff6b6b", R.Light: "#4a4d52",
        R.Midlight: "#3c3f44", R.Mid: "#2f3135", R.Dark: "#1a1b1e", R.Shadow: "#000000",
        R.Highlight: "#3574f0", R.HighlightedText: "#ffffff", R.Link: "#6ea6ff",
        R.LinkVisited: "#b38cf0",
    }, "#6f737a")


def light_palette() -> QPalette:
    R = QPalette.ColorRole
    return _build({
        R.Window: "#f3f3f3", R.WindowText: "#1f1f1f", R.Base: "#ffffff",
        R.AlternateBase: "#f5f7fa", R.ToolTipBase: "#ffffdc", R.ToolTipText: "#1f1f1f",
        R.PlaceholderText: "#6b6f76", R.Text: "#1f1f1f", R.Button: "#eaeaea",
        R.ButtonText: "#1f1f1f", R.BrightText: "#c62828", R.Light: "#ffffff",
        R.Midlight: "#e3e3e3", R.Mid: "#bdbdbd", R.Dark: "#9e9e9e", R.Shadow: "#505050",
        R.Highlight: "#2f6fde", R.HighlightedText: "#ffffff", R.Link: "#1a5fd0",
        R.LinkVisited: "#7b3fc4",
    }, "#9e9e9e")
