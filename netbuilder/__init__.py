"""netbuilder: design neural networks visually, compile them to real PyTorch.

The Python API lives in `netbuilder.api`; its names are also reachable here, imported on
first use so that `import netbuilder` stays cheap.
"""
__version__ = "0.1.0"

_API = {"Graph", "Node", "Edge", "GraphError", "Project", "ProjectError", "TrainingSettings",
        "DatasetChoice", "load_project", "save_project", "validate", "compile", "summary",
        "example", "open_project", "Problem", "CompileError", "apply_layout"}


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'netbuilder' has no attribute {name!r}")
