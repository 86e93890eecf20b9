"""Export projects (TorchScript, ONNX, torch.export, safetensors, PyTorch source), each
verified against the PyTorch model before the file is put in place."""
from __future__ import annotations

from .errors import ExportError
from .exporter import FORMAT_NAMES, ExportReport, export_project, probe_inputs
from .weights import load_weights, save_weights

__all__ = ["ExportError", "ExportReport", "FORMAT_NAMES", "export_project", "probe_inputs",
           "load_weights", "save_weights"]
