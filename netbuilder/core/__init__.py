"""The graph model, layer registry, shapes, analysis, compiler and project files (no Qt).

Importing the package registers the built-in layer types (layers.py registers them into
registry.py, which imports nothing back), so the registry is complete whatever module of
the package is imported first.
"""
from . import blocks, layers  # noqa: F401  (register every built-in type)
from . import generic_layers  # noqa: F401,I001  (after the built-ins it builds on)
