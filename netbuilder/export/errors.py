"""The one error type export raises; its message is meant for a person."""
from __future__ import annotations


class ExportError(ValueError):
    pass
