"""The importer's error (its own module so every importer module can raise it)."""
from __future__ import annotations


class ModelImportError(ValueError):
    """The model cannot become a netbuilder graph; the message names the place."""
