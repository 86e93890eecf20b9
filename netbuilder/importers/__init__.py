"""Import existing PyTorch models as editable netbuilder graphs (torch.fx)."""
from __future__ import annotations

from .fx_import import ImportResult, ModelImportError, import_model
from .source import Source, load_source
from .trust import trust, untrusted_packages

__all__ = ["ImportResult", "ModelImportError", "import_model", "Source", "load_source",
           "trust", "untrusted_packages"]
